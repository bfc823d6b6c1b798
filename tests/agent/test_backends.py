"""The paths where databases differ (row locks on get, foreign keys on deletes, upserts of
statistics) on PostgreSQL and MariaDB as well as SQLite. A backend whose server is not running
here is skipped with the reason; ``STATERA_TEST_BACKENDS=sqlite`` limits the run."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from octavia_lib.api.drivers import driver_lib

from statera.agent.driver_agent import DriverAgent
from statera.bus.inprocess import InProcessBus
from statera.db import models as m
from statera.db.engine import Database
from tests.agent.conftest import build_graph, bump, library, make_settings, row
from tests.dbs import BACKENDS, temp_database

SELECTED = [b for b in os.environ.get("STATERA_TEST_BACKENDS", ",".join(BACKENDS)).split(",")
            if b]


@pytest.fixture(params=SELECTED)
def backend_agent(
    request: pytest.FixtureRequest, tmp_path: Any
) -> Iterator[tuple[Database, driver_lib.DriverLibrary, DriverAgent]]:
    with temp_database(request.param, str(tmp_path)) as url:
        settings = make_settings(tmp_path)
        database = Database(url)
        agent = DriverAgent(settings, database, InProcessBus())
        agent.start()
        try:
            yield database, library(settings), agent
        finally:
            agent.stop()
            database.dispose()


def test_status_get_and_stats_on_every_backend(
    backend_agent: tuple[Database, driver_lib.DriverLibrary, DriverAgent],
) -> None:
    database, lib, agent = backend_agent
    g = build_graph(database)
    bump(database, g.lb, (m.HealthMonitor, g.hm, "PENDING_DELETE"),
         (m.Member, g.member, "PENDING_CREATE"))
    lb = lib.get_loadbalancer(g.lb)
    assert lb is not None and len(lb.pools) == 2
    assert agent.served.get(g.lb) == 2

    lib.update_loadbalancer_status(
        {"loadbalancers": [{"id": g.lb, "provisioning_status": "ACTIVE"}]})
    assert row(database, m.HealthMonitor, g.hm) is None
    assert row(database, m.Member, g.member).provisioning_status == "ACTIVE"

    # A pool that is both a default pool and a redirect target.
    lib.update_loadbalancer_status({"pools": [
        {"id": g.pool2, "provisioning_status": "DELETED"},
        {"id": g.pool, "provisioning_status": "DELETED"}]})
    assert row(database, m.Listener, g.listener).default_pool_id is None
    assert row(database, m.L7Policy, g.l7policy).action == "REJECT"

    for total in (10, 20):
        lib.update_listener_statistics({"listeners": [
            {"id": g.listener, "bytes_in": total, "bytes_out": 0, "active_connections": 0,
             "total_connections": total, "request_errors": 0}]})
    assert row(database, m.ListenerStatistics, (g.listener, g.listener)).bytes_in == 20

    lib.update_loadbalancer_status(
        {"loadbalancers": [{"id": g.lb, "provisioning_status": "DELETED"}]})
    assert row(database, m.LoadBalancer, g.lb).provisioning_status == "DELETED"
    assert row(database, m.Listener, g.listener) is None
    assert lib.get_loadbalancer(g.lb) is None
