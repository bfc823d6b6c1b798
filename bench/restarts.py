"""Data planes across restarts of Statera itself (HAProxy provider, real ``statera serve``).

1. Under load: three load balancers with real backends and a load generator on their VIPs
   (``tests/e2e/load.py``: per VIP one client opening a connection per request and one on
   keep-alive) while ``statera serve`` is restarted ``--restarts`` times, alternating SIGTERM
   and ``kill -9``: failed requests and the longest time any VIP went without an answer
   (targets 0 and no more than the load generator's own pace).
2. At scale: ``--lbs`` load balancers (default 200), ``statera serve`` restarted
   ``--scale-restarts`` times per signal: time from the new process's start until the API
   answers and until every load balancer is adopted (its running HAProxy kept: counter
   ``adoptions``), and the data-plane restarts this caused (pids changed, start/restart/reload
   counters increased; target 0), with the load generator on ten of the VIPs.

Usage: .venv/bin/python -m bench.restarts [--restarts 10] [--lbs 200] [--scale-restarts 3]
       [--db postgresql|sqlite] [--bus rabbitmq|inprocess]

Never part of the test run. PostgreSQL and RabbitMQ as the test set-up runs them (a fresh
database per run); everything it starts is stopped, data planes included.
"""

from __future__ import annotations

import argparse
import json
import signal
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench.common import fmt_ms, percentiles
from bench.haproxy import Api, Serve, full_lb, wait
from tests.dbs import temp_database
from tests.e2e.haproxy_support import Backend, pids_under
from tests.e2e.load import Load
from tests.services import AMQP_URL

PORT = 9000


def counters(serve: Serve, lb_id: str) -> dict[str, int]:
    path = serve.data / "providers" / "haproxy" / lb_id / "counters.json"
    try:
        return dict(json.loads(path.read_text()))
    except (OSError, ValueError):
        return {}


def haproxy_pid(serve: Serve, lb_id: str) -> int | None:
    lb_dir = serve.data / "providers" / "haproxy" / lb_id
    try:
        pid = int((lb_dir / "haproxy.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return pid if pid in pids_under(lb_dir) else None


def create(api: Api, count: int, backends: list[Backend], prefix: str) -> list[tuple[str, str]]:
    """``count`` full load balancers, ACTIVE and serving; (id, VIP) of each."""
    lbs = []
    for i in range(count):
        lb = api.call("POST", "/v2/lbaas/loadbalancers",
                      full_lb(f"{prefix}{i}", PORT, backends))["loadbalancer"]
        lbs.append((lb["id"], lb["vip_address"]))
    ids = {lb_id for lb_id, _ in lbs}

    def all_active() -> bool:
        rows = api.call("GET", "/v2/lbaas/loadbalancers?limit=1000")["loadbalancers"]
        return ids <= {r["id"] for r in rows if r["provisioning_status"] == "ACTIVE"}

    wait(all_active, timeout=900, interval=0.2)
    return lbs


def restart(serve: Serve, ids: list[str], sig: int, adopted_before: int) -> dict[str, Any]:
    """Stop ``statera serve`` with ``sig`` and start it again; seconds until the API answers
    and until every load balancer was adopted once more, and the data-plane restarts."""
    pids = {lb_id: haproxy_pid(serve, lb_id) for lb_id in ids}
    before = {lb_id: counters(serve, lb_id) for lb_id in ids}
    serve.stop(sig)
    t0 = time.monotonic()
    api_up = serve.start()
    wait(lambda: all(counters(serve, lb_id).get("adoptions", 0) > adopted_before
                     for lb_id in ids), timeout=600, interval=0.05)
    adopted = time.monotonic() - t0
    changed = sum(haproxy_pid(serve, lb_id) != pid for lb_id, pid in pids.items())
    bumps = sum(counters(serve, lb_id).get(name, 0) - before[lb_id].get(name, 0)
                for lb_id in ids for name in ("starts", "restarts", "reloads"))
    return {"api": api_up, "adopted": adopted, "pids_changed": changed, "bumps": bumps}


def under_load(serve: Serve, api: Api, backends: list[Backend], restarts: int) -> None:
    lbs = create(api, 3, backends, "load")
    ids = [lb_id for lb_id, _ in lbs]
    load = Load([(vip, PORT) for _, vip in lbs]).start()
    results = []
    t0 = time.monotonic()
    try:
        for n in range(restarts):
            results.append(restart(serve, ids, signal.SIGTERM if n % 2 == 0 else
                                   signal.SIGKILL, n))
    finally:
        load.stop()
    took = time.monotonic() - t0
    print(f"== {restarts} restarts of statera serve (alternating SIGTERM and kill -9) in "
          f"{took:.1f} s, load on 3 VIPs")
    print(f"  requests: {load.ok + load.failed}, failed: {load.failed}, longest gap without "
          f"an answer: {load.longest_gap * 1000:.0f} ms, slowest single request: "
          f"{load.slowest * 1000:.0f} ms (load generator pause 10 ms)")
    if load.failed:
        print("  first errors: " + "; ".join(load.errors()))
    print(f"  API answering after start: {fmt_ms(percentiles([r['api'] for r in results]))}")
    print("  all 3 adopted after start: "
          f"{fmt_ms(percentiles([r['adopted'] for r in results]))}")
    print(f"  data-plane pids changed: {sum(r['pids_changed'] for r in results)}, "
          f"start/restart/reload counters increased: {sum(r['bumps'] for r in results)}")


def at_scale(serve: Serve, api: Api, backends: list[Backend], count: int,
             restarts: int) -> None:
    t0 = time.monotonic()
    lbs = create(api, count, backends, "scale")
    print(f"== {count} load balancers created and ACTIVE in {time.monotonic() - t0:.1f} s")
    ids = [lb_id for lb_id, _ in lbs]
    load = Load([(vip, PORT) for _, vip in lbs[:10]]).start()
    rounds: dict[str, list[dict[str, Any]]] = {"SIGTERM": [], "kill -9": []}
    try:
        for n in range(2 * restarts):
            sig = signal.SIGTERM if n % 2 == 0 else signal.SIGKILL
            result = restart(serve, ids, sig, n)
            rounds["SIGTERM" if sig == signal.SIGTERM else "kill -9"].append(result)
    finally:
        load.stop()
    for name, results in rounds.items():
        print(f"  {name} x{len(results)}: API answering "
              f"{fmt_ms(percentiles([r['api'] for r in results]))}")
        print(f"    all {count} adopted (from the new process's start): "
              f"{fmt_ms(percentiles([r['adopted'] for r in results]))}")
        print(f"    data-plane pids changed: {sum(r['pids_changed'] for r in results)}, "
              f"start/restart/reload counters increased: {sum(r['bumps'] for r in results)}")
    print(f"  load on 10 of the VIPs meanwhile: {load.ok + load.failed} requests, "
          f"{load.failed} failed, longest gap {load.longest_gap * 1000:.0f} ms, slowest "
          f"single request {load.slowest * 1000:.0f} ms")
    t0 = time.monotonic()
    serve.close()
    print(f"  statera serve stopped, then all {count} data planes stopped (statera dataplanes "
          f"stop's function) in {time.monotonic() - t0:.2f} s")


@contextmanager
def database(kind: str, tmp: Path) -> Iterator[str]:
    if kind == "sqlite":
        yield ""
        return
    with temp_database(kind, str(tmp)) as url:
        yield url


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--restarts", type=int, default=10)
    parser.add_argument("--lbs", type=int, default=200)
    parser.add_argument("--scale-restarts", type=int, default=3,
                        help="restarts per signal at scale (default 3 SIGTERM + 3 kill -9)")
    parser.add_argument("--db", choices=["postgresql", "sqlite"], default="postgresql")
    parser.add_argument("--bus", choices=["rabbitmq", "inprocess"], default="rabbitmq")
    args = parser.parse_args()
    backends = [Backend("a"), Backend("b")]
    print(f"database {args.db}, bus {args.bus}")
    try:
        for phase in ("load", "scale"):
            if phase == "scale" and not args.lbs:
                continue
            data = Path(tempfile.mkdtemp(prefix=f"statera-bench-restarts-{phase}-"))
            with database(args.db, data) as url:
                env = {"STATERA_DRIVER_AGENT__RESYNC_INTERVAL": "30"}
                if url:
                    env["STATERA_DATABASE__CONNECTION"] = url
                if args.bus == "rabbitmq":
                    env.update(STATERA_BUS__DRIVER="rabbitmq", STATERA_BUS__URL=AMQP_URL)
                serve = Serve(data, **env)
                serve.start()
                try:
                    api = Api(serve.url)
                    if phase == "load":
                        under_load(serve, api, backends, args.restarts)
                    else:
                        at_scale(serve, api, backends, args.lbs, args.scale_restarts)
                finally:
                    serve.close()
    finally:
        for b in backends:
            b.stop()


if __name__ == "__main__":
    main()
