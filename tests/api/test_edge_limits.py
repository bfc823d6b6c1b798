"""Limits of the API's edge that need a database or the app itself: the statement timeout on
PostgreSQL and MariaDB (503 in Octavia's body; the driver agent's transactions unbounded), the
body limit as the app answers it, and the noauth warning of ``statera serve``."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, select, text

from statera.api.app import create_app
from statera.cli import _warn_open_noauth
from statera.config import Settings
from statera.db import models as m
from tests.api.conftest import Api, make_services, make_settings
from tests.api.helpers import assert_fault


def _lock_load_balancers(url: str) -> Any:
    """Another client holding the load-balancer table locked; returns the connection."""
    engine = create_engine(url)
    conn = engine.connect()
    if engine.dialect.name == "postgresql":
        conn.execute(text("LOCK TABLE load_balancer IN ACCESS EXCLUSIVE MODE"))
    else:
        conn.exec_driver_sql("LOCK TABLES load_balancer WRITE")
    return conn


def _unlock(conn: Any) -> None:
    if conn.engine.dialect.name != "postgresql":
        conn.exec_driver_sql("UNLOCK TABLES")
    conn.rollback()
    conn.close()
    conn.engine.dispose()


def test_statement_timeout_bounds_api_queries_only(api: Api, backend: str,
                                                   tmp_path: Any) -> None:
    if backend == "sqlite":
        pytest.skip("SQLite has no statement timeout (and one writer at a time)")
    url = api.services.settings.database.connection
    settings = make_settings(tmp_path, url)
    settings.database.api_statement_timeout = 0.5
    svc = make_services(settings)
    client = TestClient(create_app(svc))
    api.lb()
    lock = _lock_load_balancers(url)
    try:
        started = time.perf_counter()
        resp = client.get("/v2/lbaas/loadbalancers")
        waited = time.perf_counter() - started
        assert_fault(resp, 503, "statement timeout")
        assert waited < 10
        # The same database outside an API request (the driver agent) waits for the lock.
        done: list[int] = []

        def agent_read() -> None:
            with svc.db.session() as s:
                done.append(len(s.scalars(select(m.LoadBalancer)).all()))

        reader = threading.Thread(target=agent_read)
        reader.start()
        time.sleep(1.0)  # twice the API's timeout
        assert done == []  # still waiting, not cancelled
    finally:
        _unlock(lock)
    reader.join(10)
    assert done == [1]
    assert client.get("/v2/lbaas/loadbalancers").status_code == 200
    svc.db.dispose()


def test_body_limit_in_the_app(api_factory: Any) -> None:
    api = api_factory(max_body_size=1000)
    before = api.count(m.LoadBalancer)
    resp = api.post("/v2/lbaas/loadbalancers", json={"loadbalancer": {"name": "x" * 1000}})
    assert_fault(resp, 413, "Request body too large: the limit is 1000 bytes")
    assert resp.headers["connection"] == "close"

    def chunks() -> Any:
        yield b'{"loadbalancer": {"name": "'
        for _ in range(100):
            yield b"x" * 100
        yield b'"}}'

    resp = api.post("/v2/lbaas/loadbalancers", content=chunks(),
                    headers={"Content-Type": "application/json"})
    assert_fault(resp, 413, "Request body too large")
    resp = api.post("/v2/lbaas/loadbalancers", content=b"{}",
                    headers={"Content-Type": "application/json", "Content-Length": "x"})
    assert resp.status_code == 400
    assert api.count(m.LoadBalancer) == before
    small = api.post("/v2/lbaas/loadbalancers", json={"loadbalancer": {
        "vip_subnet_id": "7b1c6e3a-1d5e-4f5e-9a57-3c1f00000002"}})
    assert small.status_code == 201, small.text


@pytest.mark.parametrize(("strategy", "host", "warns"), [
    ("noauth", "0.0.0.0", True), ("noauth", "::", True), ("noauth", "10.1.2.3", True),
    ("noauth", "api.example.com", True), ("noauth", "127.0.0.1", False),
    ("noauth", "127.0.0.5", False), ("noauth", "::1", False), ("noauth", "localhost", False),
    ("testing", "0.0.0.0", False),
])
def test_noauth_beyond_loopback_warns(caplog: pytest.LogCaptureFixture, strategy: str,
                                      host: str, warns: bool) -> None:
    settings = Settings()
    settings.api.auth_strategy, settings.api.host = strategy, host
    with caplog.at_level(logging.WARNING, logger="statera"):
        _warn_open_noauth(settings)
    text_ = caplog.text
    assert ("EVERY CALLER IS ADMIN" in text_) is warns
    if warns:
        assert host in text_
