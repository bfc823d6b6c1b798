"""Helpers and fixtures for HAProxy provider tests: real haproxy, backends and traffic.

Every test gets its own state directory; the converger fixture stops every HAProxy process it
started and checks that none whose command line names that directory survives.
"""

from __future__ import annotations

import http.client
import itertools
import os
import random
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from octavia_lib.api.drivers import data_models as dm

from statera.config import settings_class
from statera.providers.haproxy.converger import HAProxyConverger
from statera.providers.haproxy.health import unchecked
from statera.providers.haproxy.process import resolve_binary

HAPROXY = resolve_binary("haproxy")
pytestmark = pytest.mark.haproxy

if not os.path.exists(HAPROXY) and not any(
        os.access(os.path.join(d, HAPROXY), os.X_OK) for d in os.environ["PATH"].split(":")):
    pytest.skip("haproxy is not installed", allow_module_level=True)


# --- backends ---------------------------------------------------------------------------------

class Backend:
    """An HTTP server on 127.0.0.1 answering every request with its own name."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.requests = 0
        backend = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                backend.requests += 1
                body = backend.name.encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("X-Seen-Headers", str(len(self.headers)))
                self.end_headers()
                self.wfile.write(body)

            do_HEAD = do_GET  # noqa: N815

            def log_message(self, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.running = True

    def stop(self) -> None:
        if self.running:
            self.server.shutdown()
            self.server.server_close()
            self.running = False


@pytest.fixture
def backends() -> Iterator[Callable[[str], Backend]]:
    started: list[Backend] = []

    def start(name: str) -> Backend:
        b = Backend(name)
        started.append(b)
        return b

    yield start
    for b in started:
        b.stop()


# --- addresses --------------------------------------------------------------------------------

_octets = itertools.count(random.randrange(2, 250))


def free_vip() -> tuple[str, int]:
    """An unused loopback VIP address and port (random, so parallel tests do not collide)."""
    address = f"127.0.100.{2 + next(_octets) % 252}"
    with socket.socket() as s:
        s.bind((address, 0))
        return address, s.getsockname()[1]


# --- models -----------------------------------------------------------------------------------

def uid() -> str:
    return str(uuid.uuid4())


def member(b: Backend, **kw: Any) -> dm.Member:
    values: dict[str, Any] = dict(member_id=uid(), address="127.0.0.1", protocol_port=b.port,
                                  weight=1, admin_state_up=True, backup=False)
    values.update(kw)
    return dm.Member(**values)


def pool(members: list[dm.Member], **kw: Any) -> dm.Pool:
    values: dict[str, Any] = dict(pool_id=uid(), protocol="HTTP", lb_algorithm="ROUND_ROBIN",
                                  admin_state_up=True, members=members)
    values.update(kw)
    p = dm.Pool(**values)
    for m in members:
        m.pool_id = p.pool_id
    return p


def listener(port: int, default_pool: dm.Pool | None, **kw: Any) -> dm.Listener:
    values: dict[str, Any] = dict(listener_id=uid(), protocol="HTTP", protocol_port=port,
                                  admin_state_up=True, connection_limit=-1, l7policies=[],
                                  default_pool_id=default_pool.pool_id if default_pool else None)
    values.update(kw)
    return dm.Listener(**values)


def loadbalancer(vip: str, listeners: list[dm.Listener], pools: list[dm.Pool],
                 **kw: Any) -> dm.LoadBalancer:
    values: dict[str, Any] = dict(loadbalancer_id=uid(), vip_address=vip, admin_state_up=True,
                                  listeners=listeners, pools=pools)
    values.update(kw)
    return dm.LoadBalancer(**values)


def monitor(kind: str = "TCP", **kw: Any) -> dm.HealthMonitor:
    """A health monitor that checks every second and decides on one result."""
    values: dict[str, Any] = dict(healthmonitor_id=uid(), type=kind, delay=1, timeout=1,
                                  max_retries=1, max_retries_down=1, admin_state_up=True)
    values.update(kw)
    return dm.HealthMonitor(**values)


def simple_lb(members: list[dm.Member], **pool_kw: Any) -> tuple[dm.LoadBalancer, str, int]:
    vip, port = free_vip()
    p = pool(members, **pool_kw)
    lb = loadbalancer(vip, [listener(port, p)], [p])
    return lb, vip, port


# --- traffic ----------------------------------------------------------------------------------

def get(vip: str, port: int, path: str = "/", headers: dict[str, str] | None = None,
        source_port: int = 0) -> tuple[int, str, dict[str, str]]:
    conn = http.client.HTTPConnection(vip, port, timeout=5,
                                      source_address=("127.0.0.1", source_port))
    try:
        conn.request("GET", path, headers={"Connection": "close", **(headers or {})})
        resp = conn.getresponse()
        return (resp.status, resp.read().decode("latin-1"),
                {k.lower(): v for k, v in resp.getheaders()})
    finally:
        conn.close()


def wait_for(predicate: Callable[[], Any], timeout: float = 10.0, interval: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(interval)


# --- converger --------------------------------------------------------------------------------

class Recorder:
    """Stands in for DriverLibrary in ``tick``: records what would have been sent."""

    def __init__(self) -> None:
        self.statuses: list[dict[str, Any]] = []
        self.statistics: list[dict[str, Any]] = []

    def update_loadbalancer_status(self, status: dict[str, Any]) -> None:
        self.statuses.append(status)

    def update_listener_statistics(self, statistics: dict[str, Any]) -> None:
        self.statistics.append(statistics)

    def latest(self, kind: str, obj_id: str) -> str | None:
        for report in reversed(self.statuses):
            for record in report.get(kind, []):
                if record["id"] == obj_id:
                    return str(record["operating_status"])
        return None

    def latest_stats(self, listener_id: str) -> dict[str, Any] | None:
        for report in reversed(self.statistics):
            for record in report["listeners"]:
                if record["id"] == listener_id:
                    return record
        return None


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    return tmp_path / "providers" / "haproxy"


def haproxy_pids(state_dir: Path) -> list[str]:
    out = subprocess.run(["pgrep", "-f", str(state_dir)], capture_output=True, text=True)
    return [p for p in out.stdout.split() if p != str(os.getpid())]


@pytest.fixture
def converger(tmp_path: Path, state_dir: Path) -> Iterator[HAProxyConverger]:
    settings = settings_class()(data_dir=str(tmp_path))
    settings = settings.model_copy(update={"haproxy": settings.haproxy.model_copy(
        update={"health_poll_interval": 0.2, "stats_interval": 0.2})})
    conv = HAProxyConverger(settings, state_dir)
    yield conv
    conv.close()
    conv.stop_all()
    assert wait_for(lambda: not haproxy_pids(state_dir), timeout=5), haproxy_pids(state_dir)


def first_checks_done(conv: HAProxyConverger, lb_id: str) -> None:
    """Wait until HAProxy has run every server's first health check: before it, a monitored
    member reads OFFLINE, not ONLINE (HAProxy spreads first checks over one interval)."""
    runtime = conv.instance(lb_id).runtime
    assert wait_for(lambda: not any(unchecked(r) for r in runtime.show_stat()))


def tick(conv: HAProxyConverger, rec: Recorder) -> None:
    """Run one health and statistics poll now."""
    conv._next_health = conv._next_stats = 0.0
    conv.tick(rec)
