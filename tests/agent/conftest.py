"""Driver-agent fixtures: a real DriverAgent on a migrated temporary database (SQLite unless a
test asks for a backend), its sockets in ``tmp_path``, octavia-lib's real DriverLibrary talking
to it, and an ORM-built load-balancer graph to report on.

Every fixture stops what it starts.
"""

from __future__ import annotations

import json
import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from octavia_lib.api.drivers import driver_lib
from sqlalchemy.orm import Session

from statera.agent.client import StateraDriverLibrary
from statera.agent.driver_agent import DriverAgent
from statera.bus.inprocess import InProcessBus
from statera.config import DriverAgentSettings, Settings
from statera.db import models as m
from statera.db.engine import Database
from statera.db.migrate import upgrade
from tests.statuses import force_status


def make_settings(tmp_path: Any, **agent: Any) -> Settings:
    options: dict[str, Any] = {
        "enabled_provider_agents": [],
        "agent_restart_delay": 0.05,
        "provider_agent_shutdown_timeout": 5.0,
    }
    options.update(agent)
    return Settings(data_dir=str(tmp_path), driver_agent=DriverAgentSettings(**options))


@pytest.fixture
def settings(tmp_path: Any) -> Settings:
    return make_settings(tmp_path)


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated SQLite file per session; each test gets a copy (migrating is the slow
    part of a test's set-up)."""
    path = tmp_path_factory.mktemp("template") / "statera.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture
def database(settings: Settings, migrated_template: Path) -> Iterator[Database]:
    target = settings.database_url.removeprefix("sqlite:///")
    shutil.copyfile(migrated_template, target)
    db = Database(settings.database_url)
    yield db
    db.dispose()


@pytest.fixture
def bus() -> InProcessBus:
    return InProcessBus()


@dataclass
class VipReleases:
    """A real ``release_vip`` hook that remembers which load balancers it was called for."""

    lb_ids: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, session: Session, lb: m.LoadBalancer) -> None:
        assert session.get(m.LoadBalancer, lb.id) is lb  # called inside the status transaction
        with self.lock:
            self.lb_ids.append(lb.id)


@pytest.fixture
def vip_releases() -> VipReleases:
    return VipReleases()


class CertStore(dict[str, Any]):
    """Certificate data by reference; the agent's ``cert_loader`` is ``load``. A stored
    exception is raised, as a failing certificate backend would. ``kinds`` records what each
    reference was asked for."""

    def __init__(self) -> None:
        super().__init__()
        self.kinds: dict[str, str] = {}

    def load(self, ref: str, kind: str = "bundle") -> Any:
        self.kinds[ref] = kind
        value = self.get(ref)
        if isinstance(value, Exception):
            raise value
        return value


@pytest.fixture
def cert_store() -> CertStore:
    return CertStore()


@pytest.fixture
def agent(
    settings: Settings,
    database: Database,
    bus: InProcessBus,
    vip_releases: VipReleases,
    cert_store: CertStore,
) -> Iterator[DriverAgent]:
    driver_agent = DriverAgent(
        settings, database, bus, release_vip=vip_releases, cert_loader=cert_store.load
    )
    driver_agent.start()
    yield driver_agent
    driver_agent.stop()


def library(settings: Settings, cls: type[Any] = driver_lib.DriverLibrary) -> Any:
    return cls(
        status_socket=settings.socket_path("status"),
        stats_socket=settings.socket_path("stats"),
        get_socket=settings.socket_path("get"),
    )


@pytest.fixture
def lib(agent: DriverAgent, settings: Settings) -> driver_lib.DriverLibrary:
    """octavia-lib's own DriverLibrary, exactly as a third-party provider uses it."""
    return library(settings)


@pytest.fixture
def slib(agent: DriverAgent, settings: Settings) -> StateraDriverLibrary:
    """Statera's subclass: the loadbalancer_ids extension and graphs rebuilt as models."""
    return library(settings, StateraDriverLibrary)


@dataclass
class Graph:
    """Ids of one load balancer's objects.

    lb ─┬─ listener (default pool: pool) ── l7policy (REDIRECT_TO_POOL → pool2) ── l7rule
        ├─ pool ─┬─ member, member2
        │        └─ hm
        └─ pool2 ── member3
    """

    lb: str
    listener: str
    pool: str
    pool2: str
    member: str
    member2: str
    member3: str
    hm: str
    l7policy: str
    l7rule: str

    def ids(self) -> dict[str, str]:
        return dict(self.__dict__)


def build_graph(
    database: Database,
    *,
    status: str = "ACTIVE",
    generation: int = 1,
    provider: str = "noop",
    flavor_id: str | None = None,
    availability_zone: str | None = None,
) -> Graph:
    """Insert a graph with every object in ``status`` and stamped with ``generation``."""
    common: dict[str, Any] = {"generation": generation, "project_id": "p1"}
    with database.session() as s:
        lb = m.LoadBalancer(
            name="lb1", provider=provider, vip_address="127.0.100.5",
            vip_subnet_id="sub-1", vip_network_id="net-1", vip_port_id="port-1",
            vip_sg_ids=["sg-1"], desired_generation=generation, flavor_id=flavor_id,
            availability_zone=availability_zone, **common,
        )
        pool = m.Pool(name="pool1", protocol="HTTP", lb_algorithm="ROUND_ROBIN",
                      session_persistence={"type": "HTTP_COOKIE"}, load_balancer=lb, **common)
        pool2 = m.Pool(name="pool2", protocol="HTTP", lb_algorithm="LEAST_CONNECTIONS",
                       load_balancer=lb, **common)
        member = m.Member(name="m1", address="127.0.0.11", protocol_port=8080, weight=3,
                          pool=pool, **common)
        member2 = m.Member(name="m2", address="127.0.0.12", protocol_port=8080, backup=True,
                           pool=pool, **common)
        member3 = m.Member(name="m3", address="127.0.0.13", protocol_port=8081, pool=pool2,
                           **common)
        hm = m.HealthMonitor(name="hm1", type="HTTP", delay=5, timeout=3, rise_threshold=2,
                             fall_threshold=4, http_method="GET", url_path="/health",
                             expected_codes="200", pool=pool, **common)
        listener = m.Listener(name="l1", protocol="HTTP", protocol_port=80, load_balancer=lb,
                              default_pool=pool, insert_headers={"X-Forwarded-For": "true"},
                              allowed_cidrs=["10.0.0.0/8"], **common)
        policy = m.L7Policy(name="p1", action="REDIRECT_TO_POOL", redirect_pool=pool2,
                            position=1, listener=listener, **common)
        rule = m.L7Rule(type="PATH", compare_type="STARTS_WITH", value="/api", l7policy=policy,
                        **common)
        rows = [lb, pool, pool2, member, member2, member3, hm, listener, policy, rule]
        for each in rows:
            force_status(each, status)
        s.add_all(rows)
        s.flush()
        return Graph(lb=lb.id, listener=listener.id, pool=pool.id, pool2=pool2.id,
                     member=member.id, member2=member2.id, member3=member3.id, hm=hm.id,
                     l7policy=policy.id, l7rule=rule.id)


@pytest.fixture
def graph(database: Database) -> Graph:
    return build_graph(database)


def row(database: Database, model: type[Any], obj_id: Any) -> Any:
    """A detached snapshot of a row (columns, and the parents its provisioning status is
    derived from), or None."""
    with database.session() as s:
        found = s.get(model, obj_id)
        if found is not None:
            getattr(found, "provisioning_status", None)  # loads the chain up to its LB
            s.expunge(found)
        return found


def update(database: Database, model: type[Any], obj_id: Any, **values: Any) -> None:
    with database.session() as s:
        target = s.get(model, obj_id)
        assert target is not None
        for key, value in values.items():
            if key == "provisioning_status":
                force_status(target, value)
            else:
                setattr(target, key, value)


def bump(database: Database, lb_id: str, *changes: tuple[type[Any], str, str]) -> int:
    """What the API does on a write: a new desired generation, stamped on the changed rows."""
    with database.session() as s:
        lb = s.get(m.LoadBalancer, lb_id)
        assert lb is not None
        if lb.provisioning_status != "PENDING_CREATE":
            lb.provisioning_status = "PENDING_UPDATE"
        lb.desired_generation += 1
        for model, obj_id, status in changes:
            target = s.get(model, obj_id)
            assert target is not None
            target.generation = lb.desired_generation
            force_status(target, status)
        return lb.desired_generation


def wait_for(condition: Callable[[], Any], timeout: float = 10.0, what: str = "") -> Any:
    """Poll ``condition`` until it returns something truthy; fail after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what or condition}")
        time.sleep(0.05)


def raw_request(path: str, data: bytes, *, close_write: bool = True,
                timeout: float = 10.0) -> dict[str, Any]:
    """Send raw bytes to a driver-agent socket and read one framed reply."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(path)
        if data:
            sock.sendall(data)
        if close_write:
            sock.shutdown(socket.SHUT_WR)
        return read_reply(sock)
    finally:
        sock.close()


def read_reply(sock: socket.socket) -> dict[str, Any]:
    reader = sock.makefile("rb")
    length = int(reader.readline())
    reply: dict[str, Any] = json.loads(reader.read(length))
    return reply


def frame(message: Any) -> bytes:
    body = json.dumps(message).encode()
    return f"{len(body)}\n".encode() + body
