"""Cost of the tag filters (``tags``, ``tags-any``, ``not-tags``, ``not-tags-any``) as the
number of tags in the filter grows, on SQLite, PostgreSQL and MariaDB.

Each database gets 300 load balancers with 20 tags each (from 600 distinct tags), created
through the real API app (noop provider). Then, for 10, 30, 100, 1,000 and 5,000 tags in the
filter:

- "before": the query shape Statera used until the tag filters were rewritten, one
  ``EXISTS (SELECT ... FROM tag WHERE resource_id = id AND tag = :t)`` per tag, ANDed or ORed
  (built here; stopped by a 60 s statement timeout, and not tried beyond 100 tags);
- "after": the query the list code builds now, one ``id IN (SELECT resource_id FROM tag WHERE
  tag IN (...) [GROUP BY resource_id HAVING count(*) = n])``, timed alone like "before", and
  the whole ``GET /v2/lbaas/loadbalancers?<filter>=t1,t2,...`` through the app (which also
  renders every load balancer it lists, up to all 300).

Usage: .venv/bin/python -m bench.tag_filter [--backends sqlite,postgresql,mariadb]
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from typing import Any
from urllib.parse import urlencode

from fastapi.testclient import TestClient
from sqlalchemy import and_, exists, func, or_, select
from starlette.requests import Request

from statera.api.app import create_app
from statera.api.deps import Services
from statera.api.listing import apply_filters
from statera.api.resources.common import list_spec
from statera.bus.inprocess import InProcessBus
from statera.config import Settings
from statera.db import models as m
from statera.db.engine import Database
from statera.network import network_driver
from tests.dbs import temp_database

SUBNET = "7b1c6e3a-1d5e-4f5e-9a57-3c1f00000002"
COUNTS = [10, 30, 100, 1000, 2000]
BEFORE_MAX = 100
KEYS = ["tags", "tags-any", "not-tags", "not-tags-any"]


def _client(url: str) -> tuple[TestClient, Database]:
    settings = Settings(data_dir=tempfile.mkdtemp(prefix="statera-bench-"))
    settings.database.connection = url
    settings.api.default_provider_driver = "noop"
    settings.api.enforce_quotas = False
    settings.networking.driver = "noop"  # 300 VIPs would not fit the default /24
    db = Database(url, api_statement_timeout=120)
    svc = Services(settings=settings, db=db, bus=InProcessBus(),
                   network=network_driver(settings))
    return TestClient(create_app(svc)), db


def _old_query(tags: list[str], key: str) -> Any:
    """The query Statera's list used before: one EXISTS per tag."""
    def has(tag: str) -> Any:
        return exists().where(m.Tag.resource_id == m.LoadBalancer.id, m.Tag.tag == tag)

    every = and_(*[has(t) for t in tags])
    some = or_(*[has(t) for t in tags])
    where = {"tags": every, "tags-any": some, "not-tags": ~every, "not-tags-any": ~some}[key]
    return select(m.LoadBalancer).where(where).limit(1000)


def _new_query(tags: list[str], key: str) -> Any:
    """The query the list runs now, built by the list code itself from a request."""
    request = Request({"type": "http", "method": "GET", "path": "/", "headers": [],
                       "query_string": urlencode({key: ",".join(tags)}).encode()})
    spec = list_spec(m.LoadBalancer, "loadbalancers")
    return apply_filters(select(m.LoadBalancer), spec, request).limit(1000)


def _time(db: Database, query: Any) -> str:
    with db.engine.connect() as conn:
        if db.engine.dialect.name == "postgresql":
            conn.exec_driver_sql("SET statement_timeout = 60000")
        elif db.engine.dialect.name != "sqlite":
            conn.exec_driver_sql("SET SESSION max_statement_time = 60")
        started = time.perf_counter()
        try:
            conn.execute(query).all()
        except Exception:  # noqa: BLE001 (the timeout: report it)
            return "> 60 s (cancelled)"
        return f"{(time.perf_counter() - started) * 1000:.0f} ms"


def run(backend: str) -> None:
    rng = random.Random(7)
    universe = [f"tag-{i}" for i in range(600)]
    with temp_database(backend, tempfile.mkdtemp(prefix="statera-bench-")) as url:
        client, db = _client(url)
        for _ in range(300):
            resp = client.post("/v2/lbaas/loadbalancers", json={"loadbalancer": {
                "vip_subnet_id": SUBNET, "tags": rng.sample(universe, 20)}})
            assert resp.status_code == 201, resp.text
        for count in COUNTS:
            tags = (universe * 10)[:count] if count <= 600 else (
                universe + [f"absent-{i}" for i in range(count - 600)])
            tags = list(dict.fromkeys(tags))[:count]
            for key in KEYS:
                started = time.perf_counter()
                resp = client.get("/v2/lbaas/loadbalancers", params={key: ",".join(tags)})
                after = (time.perf_counter() - started) * 1000
                assert resp.status_code == 200, resp.text[:300]
                before = (_time(db, _old_query(tags, key)) if count <= BEFORE_MAX
                          else "not tried")
                now = _time(db, _new_query(tags, key))
                print(f"| {backend} | {count} | {key} | {before} | {now} | {after:.0f} ms | "
                      f"{len(resp.json()['loadbalancers'])} |", flush=True)
        with db.engine.connect() as conn:
            n = conn.execute(select(func.count()).select_from(m.Tag)).scalar()
        print(f"({backend}: {n} tag rows)")
        db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--backends", default="sqlite,postgresql,mariadb")
    args = parser.parse_args()
    print("| database | tags in filter | filter | before: SQL (EXISTS per tag) | after: SQL "
          "(one IN) | after: whole API call | LBs listed |")
    print("|---|---|---|---|---|---|---|")
    for backend in args.backends.split(","):
        run(backend)


if __name__ == "__main__":
    main()
