"""Shared pieces of the HAProxy end-to-end tests: a ``statera serve`` that runs the haproxy
provider, real backend HTTP servers, traffic through the VIP, and the provider's state files.

Each server gets its own random /24 inside 127.0.0.0/8 for VIPs, so tests running in parallel
(pytest-xdist) never bind the same address and port.
"""

from __future__ import annotations

import http.client
import json
import os
import random
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from statera.providers.haproxy.process import resolve_binary
from tests.e2e.conftest import (
    LOOPBACK_SUBNET,
    VENV_BIN,
    Server,
    kill_leftovers,
    wait_for,
)
from tests.e2e.conftest import (
    pids_naming as pids_under,
)

HAPROXY = resolve_binary("haproxy")
NETWORK_ID = "7b1c6e3a-1d5e-4f5e-9a57-3c1f00000001"
SUBNET_ID = LOOPBACK_SUBNET

#: Settings the brief asks for: short resync, half-second health polls, statistics every second.
HEALTH_POLL = 0.5
STATS_INTERVAL = 1.0


def haproxy_available() -> bool:
    return shutil.which(HAPROXY) is not None or os.access(HAPROXY, os.X_OK)


requires_haproxy = pytest.mark.skipif(not haproxy_available(), reason="haproxy is not installed")


def random_subnet() -> str:
    return f"127.{random.randrange(101, 250)}.{random.randrange(0, 256)}.0/24"


def haproxy_env(cidr: str | None = None, **extra: str) -> dict[str, str]:
    networks = [{"id": NETWORK_ID, "name": "loopback", "subnets": [
        {"id": SUBNET_ID, "name": "loopback-v4", "cidr": cidr or random_subnet()}]}]
    return {
        "STATERA_API__DEFAULT_PROVIDER_DRIVER": "haproxy",
        "STATERA_DRIVER_AGENT__RESYNC_INTERVAL": "2",
        "STATERA_HAPROXY__HEALTH_POLL_INTERVAL": str(HEALTH_POLL),
        "STATERA_HAPROXY__STATS_INTERVAL": str(STATS_INTERVAL),
        "STATERA_NETWORKING__NETWORKS": json.dumps(networks),
        **extra,
    }




@pytest.fixture
def haproxy_server(tmp_path: Path) -> Iterator[Server]:
    """``statera serve`` with the haproxy provider; every HAProxy must be gone after it and
    ``statera dataplanes stop``'s function are done (data planes outlive the server)."""
    srv = Server(tmp_path / "data", haproxy_env())
    srv.data_dir.mkdir()
    srv.start()
    try:
        yield srv
    finally:
        srv.close()
        # Nothing started for this server may outlive the data-plane stop.
        leftovers = wait_gone(srv.data_dir)
        kill_leftovers(srv.data_dir)
        assert leftovers == [], f"processes survived statera dataplanes stop: {leftovers}"


def wait_gone(path: Path, timeout: float = 5.0) -> list[int]:
    deadline = time.monotonic() + timeout
    while True:
        left = pids_under(path)
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.05)


@pytest.fixture
def sdk_for(haproxy_server: Server) -> Any:
    import openstack

    return openstack.connection.Connection(
        auth_type="none", load_balancer_endpoint_override=haproxy_server.url,
        network_endpoint_override=haproxy_server.url)


def openstack_cli(server: Server, *args: str, parse: bool = True) -> Any:
    """Run ``openstack <args>`` against ``server``; parsed JSON output when ``parse``."""
    env = {**os.environ, "OS_CLIENT_CONFIG_FILE": str(server.clouds_yaml()),
           "OS_CLOUD": "statera"}
    cmd = [str(VENV_BIN / "openstack"), *args, *(["-f", "json"] if parse else [])]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120,
                          check=False)
    if done.returncode != 0:
        raise AssertionError(f"openstack {' '.join(args)} failed: {done.stderr}")
    return json.loads(done.stdout) if parse and done.stdout.strip() else None


# --- backends --------------------------------------------------------------------------------

class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 1024  # the default 5 drops SYNs under wrk

    def handle_error(self, request: Any, client_address: Any) -> None:
        return None  # health checks and killed proxies reset connections; that is expected


class Backend:
    """An HTTP/1.1 server on 127.0.0.1 that answers every request with its own name.

    ``stop`` closes the listening socket (connections are refused); ``start`` binds the same
    port again.
    """

    def __init__(self, name: str, port: int = 0) -> None:
        self.name = name
        self.port = port
        self.requests = 0
        self._lock = threading.Lock()
        self.server: _Server | None = None
        self.start()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        backend = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                with backend._lock:
                    backend.requests += 1
                body = backend.name.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                return None

        return Handler

    def start(self) -> None:
        self.server = _Server(("127.0.0.1", self.port), self._handler())
        self.port = int(self.server.server_address[1])
        threading.Thread(target=self.server.serve_forever, daemon=True,
                         name=f"backend-{self.name}").start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None


@pytest.fixture
def backends() -> Iterator[Callable[[str], Backend]]:
    started: list[Backend] = []

    def make(name: str) -> Backend:
        backend = Backend(name)
        started.append(backend)
        return backend

    yield make
    for backend in started:
        backend.stop()


# --- traffic ---------------------------------------------------------------------------------

def get(address: str, port: int, path: str = "/",
        headers: dict[str, str] | None = None) -> tuple[int, str, dict[str, str]]:
    """One request on a new connection (so one frontend session per request)."""
    conn = http.client.HTTPConnection(address, port, timeout=5)
    try:
        conn.request("GET", path, headers={"Connection": "close", **(headers or {})})
        resp = conn.getresponse()
        return (resp.status, resp.read().decode("latin-1"),
                {k.lower(): v for k, v in resp.getheaders()})
    finally:
        conn.close()


def serving(address: str, port: int) -> bool:
    try:
        return get(address, port)[0] == 200
    except OSError:
        return False


# --- provider state --------------------------------------------------------------------------

def lb_dir(server: Server, lb_id: str) -> Path:
    return server.data_dir / "providers" / "haproxy" / lb_id


def counters(server: Server, lb_id: str) -> dict[str, int]:
    try:
        data: dict[str, int] = json.loads((lb_dir(server, lb_id) / "counters.json").read_text())
    except (OSError, ValueError):
        return {}
    return data


def haproxy_pid(server: Server, lb_id: str) -> int | None:
    """The pid of the HAProxy serving ``lb_id`` (draining old processes excluded)."""
    try:
        pid = int((lb_dir(server, lb_id) / "haproxy.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return pid if pid in pids_under(lb_dir(server, lb_id)) else None


def kill_haproxy(server: Server, lb_id: str) -> list[int]:
    """SIGKILL every HAProxy of ``lb_id`` (found by ``pgrep -f`` on its state directory)."""
    pids = pids_under(lb_dir(server, lb_id))
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
    return pids


def wait_active(sdk: Any, lb_id: str, timeout: float = 15) -> Any:
    return wait_for(
        lambda: (lb := sdk.load_balancer.get_load_balancer(lb_id)).provisioning_status
        == "ACTIVE" and lb, timeout=timeout, what=f"load balancer {lb_id} ACTIVE")


def stats(sdk: Any, lb_id: str) -> dict[str, int]:
    s = sdk.load_balancer.get_load_balancer_statistics(lb_id)
    return {k: int(getattr(s, k) or 0) for k in (
        "bytes_in", "bytes_out", "active_connections", "total_connections", "request_errors")}
