"""32 concurrent clients against one ``statera serve`` (noop provider) on SQLite, PostgreSQL and
MariaDB: requests per second, latency per call, and what was lost or left stuck.

Each client loops for ``--seconds``: create a load balancer, get it, list, rename it, and delete
it at once (the lost-delete race of issue 13), keeping every fourth one. At the end the script
waits for convergence and counts deleted load balancers that came back (lost deletes) and
objects still PENDING_* (stuck).

Usage: .venv/bin/python -m bench.concurrency [--clients 32] [--seconds 60] [--db sqlite,...]
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from collections import defaultdict
from contextlib import ExitStack
from typing import Any

import httpx

from bench.common import percentiles, statera_server
from tests.dbs import temp_database

SUBNET = "7b1c6e3a-1d5e-4f5e-9a57-3c1f00000002"
READS = ("get", "list")


class Results:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.latency: dict[str, list[float]] = defaultdict(list)
        self.errors: list[str] = []
        self.deleted: list[str] = []
        self.kept: list[str] = []

    def timed(self, call: str, fn: Any, *args: Any, ok: tuple[int, ...], **kw: Any) -> Any:
        start = time.perf_counter()
        resp = fn(*args, **kw)
        elapsed = time.perf_counter() - start
        with self.lock:
            self.latency[call].append(elapsed)
            if resp.status_code not in ok:
                self.errors.append(f"{call}: {resp.status_code} {resp.text[:200]}")
        return resp


def _client(url: str, seconds: float, index: int, res: Results) -> None:
    end = time.monotonic() + seconds
    n = 0
    with httpx.Client(base_url=url + "/v2/lbaas", timeout=120) as c:
        while time.monotonic() < end:
            n += 1
            resp = res.timed("create", c.post, "/loadbalancers", ok=(201,), json={
                "loadbalancer": {"vip_subnet_id": SUBNET, "name": f"c{index}"}})
            if resp.status_code != 201:
                continue
            lb_id = resp.json()["loadbalancer"]["id"]
            res.timed("get", c.get, f"/loadbalancers/{lb_id}", ok=(200,))
            res.timed("list", c.get, "/loadbalancers?limit=50", ok=(200,))
            res.timed("update", c.put, f"/loadbalancers/{lb_id}", ok=(200,),
                      json={"loadbalancer": {"name": f"c{index}-{n}"}})
            if n % 4 == 0:
                with res.lock:
                    res.kept.append(lb_id)
                continue
            resp = res.timed("delete", c.delete, f"/loadbalancers/{lb_id}", ok=(204,))
            if resp.status_code == 204:
                with res.lock:
                    res.deleted.append(lb_id)


def _settle(url: str, res: Results) -> tuple[int, int]:
    """(lost deletes, stuck objects) once the agent has had 30 s to converge."""
    with httpx.Client(base_url=url + "/v2/lbaas", timeout=120) as c:
        deadline = time.monotonic() + 30
        while True:
            lbs = c.get("/loadbalancers?limit=100000").json()["loadbalancers"]
            stuck = sum(1 for lb in lbs if lb["provisioning_status"].startswith("PENDING_"))
            if stuck == 0 or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        lost = sum(1 for lb_id in res.deleted
                   if c.get(f"/loadbalancers/{lb_id}").status_code != 404)
    return lost, stuck


def run(backend: str, clients: int, seconds: float) -> None:
    with ExitStack() as stack:
        tmp = stack.enter_context(tempfile.TemporaryDirectory())
        env: dict[str, str] = {}
        if backend != "sqlite":
            env["STATERA_DATABASE__CONNECTION"] = stack.enter_context(temp_database(backend, tmp))
        url, _data = stack.enter_context(statera_server(**env))
        res = Results()
        threads = [threading.Thread(target=_client, args=(url, seconds, i, res))
                   for i in range(clients)]
        started = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - started
        lost, stuck = _settle(url, res)
    total = sum(len(v) for v in res.latency.values())
    print(f"\n**{backend}**: {clients} clients x {seconds:.0f} s: {total / wall:.0f} requests/s, "
          f"{len(res.errors)} errors, {lost} lost deletes (of {len(res.deleted)}), "
          f"{stuck} stuck")
    print("\n| call | n | p50 | p99 | max |\n|---|---|---|---|---|")
    for call in ("create", "get", "list", "update", "delete"):
        p = percentiles(res.latency[call])
        print(f"| {call} | {len(res.latency[call])} | {p['p50'] * 1000:.0f} ms | "
              f"{p['p99'] * 1000:.0f} ms | {p['max'] * 1000:.0f} ms |")
    for kind, calls in (("reads", READS), ("writes", ("create", "update", "delete"))):
        p = percentiles([x for c in calls for x in res.latency[c]])
        print(f"| all {kind} | | {p['p50'] * 1000:.0f} ms | {p['p99'] * 1000:.0f} ms | "
              f"{p['max'] * 1000:.0f} ms |")
    for error in res.errors[:5]:
        print("error:", error)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--db", default="sqlite,postgresql,mariadb")
    args = parser.parse_args()
    for backend in args.db.split(","):
        run(backend, args.clients, args.seconds)


if __name__ == "__main__":
    main()
