"""f5 provider figures through a real ``statera serve`` against the BIG-IP emulator, which
answers each declaration after ``--delay`` seconds (300 ms by default).

- create -> ACTIVE: one POST of a full load balancer (listener, pool, two members, health
  monitor) with ``provider: f5``, until it is ACTIVE (p50/p99 over ``--samples``);
- member change -> ACTIVE: POST one member to an ACTIVE load balancer, until the load balancer
  and the member are ACTIVE again (p50/p99);
- burst: 100 member creates on one load balancer as fast as the API takes them; how many
  declarations reached the device for them, and the time until all are ACTIVE.

Usage: .venv/bin/python -m bench.f5 [--samples 30] [--delay 0.3] [--burst 100]

Never part of the test run.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import httpx

from bench.common import fmt_ms, percentiles, statera_server
from tests.f5.bigip_emulator import BigIPEmulator

SUBNET = "7b1c6e3a-1d5e-4f5e-9a57-3c1f00000002"


def wait_active(api: httpx.Client, lb_id: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        lb = api.get(f"/v2/lbaas/loadbalancers/{lb_id}").json()["loadbalancer"]
        if lb["provisioning_status"] == "ACTIVE":
            return
        if lb["provisioning_status"] == "ERROR":
            raise RuntimeError(f"load balancer {lb_id} went ERROR")
        time.sleep(0.01)
    raise RuntimeError(f"load balancer {lb_id} not ACTIVE after {timeout} s")


def full_lb(index: int) -> dict[str, Any]:
    members = [{"address": f"192.0.2.{1 + index % 200}", "protocol_port": 8080 + i}
               for i in range(2)]
    return {"loadbalancer": {
        "vip_subnet_id": SUBNET, "provider": "f5", "name": f"bench-{index}",
        "listeners": [{"protocol": "HTTP", "protocol_port": 80, "default_pool": {
            "name": f"pool-{index}", "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN",
            "members": members,
            "healthmonitor": {"type": "HTTP", "delay": 5, "timeout": 3, "max_retries": 3}}}]}}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=30)
    parser.add_argument("--delay", type=float, default=0.3)
    parser.add_argument("--burst", type=int, default=100)
    args = parser.parse_args()
    bigip = BigIPEmulator(declare_delay=args.delay).start()
    env = {"STATERA_F5__URL": bigip.url, "STATERA_F5__USERNAME": "admin",
           "STATERA_F5__PASSWORD": "f5-secret", "STATERA_F5__POLL_INTERVAL": "30"}
    try:
        with statera_server(**env) as (url, _data):
            api = httpx.Client(base_url=url, timeout=60,
                               headers={"X-Project-Id": "bench-project"})
            creates: list[float] = []
            lb_ids: list[str] = []
            for i in range(args.samples):
                start = time.monotonic()
                resp = api.post("/v2/lbaas/loadbalancers", json=full_lb(i))
                resp.raise_for_status()
                lb_id = resp.json()["loadbalancer"]["id"]
                wait_active(api, lb_id)
                creates.append(time.monotonic() - start)
                lb_ids.append(lb_id)
            print(f"create -> ACTIVE ({args.samples}, {args.delay * 1000:.0f} ms device): "
                  f"{fmt_ms(percentiles(creates))}")

            lb_id = lb_ids[0]
            pool_id = api.get("/v2/lbaas/pools", params={"loadbalancer_id": lb_id}).json()[
                "pools"][0]["id"]
            changes: list[float] = []
            for i in range(args.samples):
                start = time.monotonic()
                resp = api.post(f"/v2/lbaas/pools/{pool_id}/members", json={"member": {
                    "address": f"198.18.0.{1 + i}", "protocol_port": 9000}})
                resp.raise_for_status()
                wait_active(api, lb_id)
                changes.append(time.monotonic() - start)
            print(f"member change -> ACTIVE ({args.samples}): {fmt_ms(percentiles(changes))}")

            tenant = "Project_bench-project"
            resp = api.post("/v2/lbaas/loadbalancers", json=full_lb(args.samples + 1))
            burst_lb = resp.json()["loadbalancer"]["id"]
            wait_active(api, burst_lb)
            burst_pool = api.get("/v2/lbaas/pools", params={"loadbalancer_id": burst_lb}).json()[
                "pools"][0]["id"]
            before = bigip.declarations_for(tenant)
            start = time.monotonic()
            for i in range(args.burst):
                api.post(f"/v2/lbaas/pools/{burst_pool}/members", json={"member": {
                    "address": f"198.19.{i // 250}.{1 + i % 250}", "protocol_port": 9000}}
                ).raise_for_status()
            posted = time.monotonic() - start
            wait_active(api, burst_lb)
            done = time.monotonic() - start
            sent = bigip.declarations_for(tenant) - before
            print(f"burst: {args.burst} member creates posted in {posted:.2f} s, all ACTIVE "
                  f"after {done:.2f} s, {sent} declarations sent")
            api.close()
    finally:
        bigip.stop()


if __name__ == "__main__":
    main()
