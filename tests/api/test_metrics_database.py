"""The database's gauges for /metrics on SQLite, PostgreSQL and MariaDB: one GROUP BY that
counts load balancers exactly as the API lists them."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator

from prometheus_client.core import Metric
from sqlalchemy import text, update
from sqlalchemy.orm import Session

from statera.db import models as m
from statera.metrics.database import SOURCES, DatabaseCollector
from tests.api.conftest import Api


def gauges(api: Api, sources: tuple = SOURCES) -> dict[str, Metric]:
    return {family.name: family for family in DatabaseCollector(api.db, sources).collect()}


def by_status(family: Metric) -> Counter[tuple[str, str, str]]:
    return Counter({(s.labels["provider"], s.labels["provisioning_status"],
                     s.labels["operating_status"]): int(s.value) for s in family.samples})


def test_load_balancers_by_status_match_the_api_list(api: Api) -> None:
    ids = [api.lb(name=f"lb{i}")["id"] for i in range(4)]  # no agent: PENDING_CREATE
    with api.db.session() as s:
        s.execute(update(m.LoadBalancer).where(m.LoadBalancer.id.in_(ids[:2]))
                  .values(reported_status="ACTIVE", operating_status="ONLINE",
                          reported_generation=m.LoadBalancer.desired_generation))
        s.execute(update(m.LoadBalancer).where(m.LoadBalancer.id == ids[2])
                  .values(reported_status="DELETED",  # a tombstone: not listed
                          reported_generation=m.LoadBalancer.desired_generation))
    listed = Counter((lb["provider"], lb["provisioning_status"], lb["operating_status"])
                     for lb in api.get("/v2/lbaas/loadbalancers").json()["loadbalancers"])

    found = gauges(api)

    assert by_status(found["statera_loadbalancers"]) == listed
    assert listed == {("noop", "ACTIVE", "ONLINE"): 2, ("noop", "PENDING_CREATE", "OFFLINE"): 1}
    assert found["statera_database_up"].samples[0].value == 1


def test_an_empty_database_exports_the_family_without_samples(api: Api) -> None:
    assert gauges(api)["statera_loadbalancers"].samples == []


def test_a_failing_source_costs_only_its_own_series(api: Api) -> None:
    """A source whose query fails (a table not migrated yet) is left out and
    statera_database_up says so; the other sources are still served."""
    api.lb(name="one")

    def broken(session: Session) -> Iterator[Metric]:
        session.execute(text("SELECT count(*) FROM no_such_table"))
        yield from ()

    found = gauges(api, (broken, *SOURCES))

    assert sum(by_status(found["statera_loadbalancers"]).values()) == 1
    assert found["statera_database_up"].samples[0].value == 0


def test_agent_hosts_up_down_and_lease_age(api: Api) -> None:
    """Hosts as an operator alerts on them: one whose lease is fresh is up, one that stopped
    renewing past its down_after is down, each with the age of its lease."""
    now = time.time()
    with api.db.session() as s:
        s.add(m.AgentHost(name="fresh", providers=["haproxy"], renewed_at=now - 1,
                          down_after=10))
        s.add(m.AgentHost(name="gone", providers=["haproxy"], renewed_at=now - 60,
                          down_after=10))

    found = gauges(api)

    states = {s.labels["state"]: s.value for s in found["statera_agent_hosts"].samples}
    assert states == {"up": 1, "down": 1}
    up = {s.labels["host"]: s.value for s in found["statera_agent_host_up"].samples}
    assert up == {"fresh": 1, "gone": 0}
    age = {s.labels["host"]: s.value
           for s in found["statera_agent_host_lease_age_seconds"].samples}
    assert 1 <= age["fresh"] < 30 and 60 <= age["gone"] < 90
