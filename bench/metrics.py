"""Cost of /metrics: one scrape with many load balancers, and what each API request adds.

A scrape runs the database collector's one GROUP BY (in a read-only session) and renders
every instrument of the process; it runs in the exporter's own thread, never on the API's event
loop. Each API request adds one counter increment and one histogram observation.

Usage: .venv/bin/python -m bench.metrics [--lbs 10000] [--n 50] [--backends sqlite,postgresql]
"""

from __future__ import annotations

import argparse
import itertools
import tempfile
import time
import uuid

from prometheus_client import generate_latest

from bench.common import percentiles
from statera.api.edge import _observe
from statera.db import models as m
from statera.db.engine import Database
from statera.metrics.exporter import registry_for
from tests.dbs import temp_database

STATUSES = list(itertools.product(
    ["noop", "haproxy", "nginx"], ["ACTIVE", "PENDING_UPDATE", "ERROR", "DELETED"],
    ["ONLINE", "OFFLINE", "DEGRADED"]))


def fill(db: Database, count: int) -> None:
    rows = [{"id": str(uuid.uuid4()), "project_id": "bench", "provider": provider,
             "provisioning_status": prov, "operating_status": oper}
            for (provider, prov, oper), _ in zip(itertools.cycle(STATUSES), range(count),
                                                strict=False)]
    with db.session() as session:
        for start in range(0, len(rows), 1000):
            session.execute(m.LoadBalancer.__table__.insert(), rows[start:start + 1000])


def scrape_times(db: Database, n: int) -> list[float]:
    registry = registry_for(db)
    generate_latest(registry)  # warm the connection pool
    samples = []
    for _ in range(n):
        started = time.perf_counter()
        generate_latest(registry)
        samples.append(time.perf_counter() - started)
    return samples


def observe_times(n: int) -> list[float]:
    scope = {"method": "GET", "path": "/v2/lbaas/loadbalancers", "route": None}
    samples = []
    for _ in range(n):
        started = time.perf_counter()
        _observe(scope, 200, 0.01)
        samples.append(time.perf_counter() - started)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lbs", type=int, default=10000)
    parser.add_argument("--n", type=int, default=50)
    parser.add_argument("--backends", default="sqlite,postgresql,mariadb")
    args = parser.parse_args()
    for backend in args.backends.split(","):
        with temp_database(backend, tempfile.mkdtemp()) as url:
            db = Database(url)
            fill(db, args.lbs)
            stats = percentiles(scrape_times(db, args.n))
            db.dispose()
        print(f"{backend:10s} scrape with {args.lbs} load balancers: " + "  ".join(
            f"{k}={v * 1000:.2f} ms" for k, v in stats.items()))
    stats = percentiles(observe_times(10000))
    print("per API request (count + latency observation): " + "  ".join(
        f"{k}={v * 1e6:.1f} us" for k, v in stats.items()))


if __name__ == "__main__":
    main()
