"""API test fixtures: a real database (SQLite, PostgreSQL, MariaDB), the real app in a
TestClient, the noop provider, an in-process bus that records hints, and helpers.

``api`` runs each test on every backend; pick one with ``-k sqlite`` etc. Set
``STATERA_TEST_BACKENDS=sqlite`` to run only SQLite.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from statera.api.app import create_app
from statera.api.deps import Services
from statera.bus.inprocess import InProcessBus
from statera.certs.local import LocalCertManager
from statera.config import Settings
from statera.db.engine import Database
from statera.network import network_driver
from tests.dbs import BACKENDS, temp_database

SELECTED = [b for b in os.environ.get("STATERA_TEST_BACKENDS", ",".join(BACKENDS)).split(",")
            if b]
LOOPBACK_SUBNET = "7b1c6e3a-1d5e-4f5e-9a57-3c1f00000002"


def make_settings(tmp_path: Any, url: str, **api: Any) -> Settings:
    settings = Settings(data_dir=str(tmp_path))
    settings.database.connection = url
    settings.api.default_provider_driver = "noop"
    for key, value in api.items():
        setattr(settings.api, key, value)
    return settings


def make_services(settings: Settings) -> Services:
    db = Database(settings.database_url,
                  api_statement_timeout=settings.database.api_statement_timeout)
    return Services(settings=settings, db=db, bus=InProcessBus(),
                    network=network_driver(settings), certs=LocalCertManager(db.session))


class Api:
    """A TestClient plus shortcuts that fail loudly when a setup call does not succeed."""

    def __init__(self, client: TestClient, services: Services) -> None:
        self.client = client
        self.services = services
        self.db = services.db

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)

    def create(self, path: str, key: str, body: dict[str, Any], **kw: Any) -> dict[str, Any]:
        resp = self.client.post(f"/v2/lbaas/{path}", json={key: body}, **kw)
        assert resp.status_code == 201, resp.text
        result: dict[str, Any] = resp.json()[key]
        return result

    def lb(self, **body: Any) -> dict[str, Any]:
        body.setdefault("vip_subnet_id", LOOPBACK_SUBNET)
        return self.create("loadbalancers", "loadbalancer", body)

    def listener(self, lb_id: str, **body: Any) -> dict[str, Any]:
        body.setdefault("protocol", "HTTP")
        body.setdefault("protocol_port", 80)
        return self.create("listeners", "listener", {"loadbalancer_id": lb_id, **body})

    def pool(self, **body: Any) -> dict[str, Any]:
        body.setdefault("protocol", "HTTP")
        body.setdefault("lb_algorithm", "ROUND_ROBIN")
        return self.create("pools", "pool", body)

    def member(self, pool_id: str, **body: Any) -> dict[str, Any]:
        body.setdefault("address", "127.0.0.1")
        body.setdefault("protocol_port", 8080)
        return self.create(f"pools/{pool_id}/members", "member", body)

    def count(self, model: Any) -> int:
        from sqlalchemy import func, select

        with self.db.session() as s:
            return int(s.scalar(select(func.count()).select_from(model)) or 0)


@pytest.fixture(params=SELECTED)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def api_factory(backend: str, tmp_path: Any) -> Iterator[Any]:
    """Build an Api with custom API settings, e.g. ``api_factory(auth_strategy="testing")``."""
    made: list[Services] = []
    with temp_database(backend, str(tmp_path)) as url:
        def factory(**api_settings: Any) -> Api:
            svc = make_services(make_settings(tmp_path, url, **api_settings))
            made.append(svc)
            return Api(TestClient(create_app(svc)), svc)

        yield factory
        for svc in made:
            svc.db.dispose()


@pytest.fixture
def api(api_factory: Any) -> Api:
    return api_factory()
