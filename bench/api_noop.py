"""Control-plane latency with the noop provider, through openstacksdk against a real
``statera serve`` (SQLite):

- create+get of a load balancer (one POST, one GET);
- create→ACTIVE of a full load balancer (LB, listener, pool, two members, health monitor) in one
  graph request, polled every 2 ms;
- list latency with 1,000 load balancers (default page size 1,000).

Usage: .venv/bin/python -m bench.api_noop [--n 200]
"""

from __future__ import annotations

import argparse
import http.client
import json
import time
from typing import Any

import openstack

from bench.common import fmt_ms, percentiles, statera_server

SUBNET = "7b1c6e3a-1d5e-4f5e-9a57-3c1f00000002"
GRAPH = {
    "vip_subnet_id": SUBNET,
    "listeners": [{
        "protocol": "HTTP", "protocol_port": 80,
        "default_pool": {
            "name": "p", "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN",
            "members": [{"address": "127.0.0.1", "protocol_port": 8001},
                        {"address": "127.0.0.1", "protocol_port": 8002}],
            "healthmonitor": {"type": "HTTP", "delay": 5, "timeout": 3, "max_retries": 3},
        },
    }],
}


def _raw_create_get(url: str, n: int) -> list[float]:
    """The same create+get over one keep-alive connection, without the SDK's own overhead."""
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port))
    body = json.dumps({"loadbalancer": {"vip_subnet_id": SUBNET}})
    headers = {"Content-Type": "application/json"}
    samples: list[float] = []
    for _ in range(n):
        t0 = time.perf_counter()
        conn.request("POST", "/v2/lbaas/loadbalancers", body, headers)
        lb_id = json.loads(conn.getresponse().read())["loadbalancer"]["id"]
        conn.request("GET", f"/v2/lbaas/loadbalancers/{lb_id}")
        conn.getresponse().read()
        samples.append(time.perf_counter() - t0)
    conn.close()
    return samples


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--list-size", type=int, default=1000)
    args = parser.parse_args()
    with statera_server() as (url, _data):
        conn: Any = openstack.connection.Connection(
            auth_type="none", load_balancer_endpoint_override=url)
        session = conn.load_balancer
        base = url + "/v2/lbaas"
        http = conn.session
        for _ in range(10):  # warm-up
            session.create_load_balancer(vip_subnet_id=SUBNET)

        create_get: list[float] = []
        for _ in range(args.n):
            t0 = time.perf_counter()
            lb = session.create_load_balancer(vip_subnet_id=SUBNET)
            session.get_load_balancer(lb.id)
            create_get.append(time.perf_counter() - t0)

        raw_create_get = _raw_create_get(url, args.n)

        to_active: list[float] = []
        for _ in range(args.n):
            t0 = time.perf_counter()
            resp = http.post(f"{base}/loadbalancers", json={"loadbalancer": GRAPH},
                             endpoint_filter={"service_type": "load-balancer"})
            lb_id = resp.json()["loadbalancer"]["id"]
            while True:
                body = http.get(f"{base}/loadbalancers/{lb_id}").json()["loadbalancer"]
                if body["provisioning_status"] == "ACTIVE":
                    break
                time.sleep(0.002)
            to_active.append(time.perf_counter() - t0)

        existing = len(list(session.load_balancers()))
        for _ in range(max(0, args.list_size - existing)):
            session.create_load_balancer(vip_subnet_id=SUBNET)
        listing: list[float] = []
        for _ in range(20):
            t0 = time.perf_counter()
            count = len(http.get(f"{base}/loadbalancers").json()["loadbalancers"])
            listing.append(time.perf_counter() - t0)

    print(f"create+get LB, openstacksdk (n={args.n}):   {fmt_ms(percentiles(create_get))}")
    print(f"create+get LB, raw HTTP keep-alive (n={args.n}): "
          f"{fmt_ms(percentiles(raw_create_get))}")
    with statera_server(STATERA_DRIVER_AGENT__ENABLED_PROVIDER_AGENTS="[]") as (url2, _d):
        _raw_create_get(url2, 10)
        quiet = _raw_create_get(url2, args.n)
    print(f"create+get LB, raw HTTP, no agent converging in the same process (n={args.n}): "
          f"{fmt_ms(percentiles(quiet))}")
    print(f"create->ACTIVE full LB graph (n={args.n}): {fmt_ms(percentiles(to_active))}")
    print(f"list {count} LBs (n=20):              {fmt_ms(percentiles(listing))}")


if __name__ == "__main__":
    main()
