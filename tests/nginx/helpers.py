"""Helpers and fixtures for NGINX provider tests: real nginx, real backends, real traffic.

The graph builders, HTTP backends and traffic helpers are the HAProxy tests' (same Octavia
models, same loopback set-up); what is NGINX's own is here: the converger fixture (which stops
every NGINX it started and checks that no process is left in its state directory, orphaned
workers included), UDP echo backends that count datagrams, and UDP traffic.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from statera.config import settings_class
from statera.providers.kit.procs import processes_in, resolve_binary
from statera.providers.nginx.converger import NginxConverger
from statera.providers.nginx.settings import NginxSettings
from tests.haproxy.helpers import Recorder, wait_for

NGINX = resolve_binary("nginx")
pytestmark = pytest.mark.nginx

if not os.access(NGINX, os.X_OK) or not os.path.exists(NginxSettings().stream_module):
    pytest.skip("nginx or its stream module is not installed", allow_module_level=True)


class UdpEcho:
    """A UDP server on 127.0.0.1 answering each datagram with ``<name>:<datagram>``."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.datagrams = 0
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = int(self.sock.getsockname()[1])
        self.running = True
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while self.running:
            try:
                data, peer = self.sock.recvfrom(65535)
            except OSError:
                return
            self.datagrams += 1
            try:
                self.sock.sendto(self.name.encode() + b":" + data, peer)
            except OSError:
                return

    def stop(self) -> None:
        if self.running:
            self.running = False
            self.sock.close()


@pytest.fixture
def udp_backends() -> Iterator[Callable[[str], UdpEcho]]:
    started: list[UdpEcho] = []

    def start(name: str) -> UdpEcho:
        server = UdpEcho(name)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def udp_ask(vip: str, port: int, payload: bytes = b"ping", timeout: float = 3.0) -> str:
    """One datagram from a fresh source port (a new NGINX session); the answer's sender."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        sock.sendto(payload, (vip, port))
        return sock.recv(65535).decode().split(":", 1)[0]


@pytest.fixture
def nginx_state_dir(tmp_path: Path) -> Path:
    return tmp_path / "providers" / "nginx"


def nginx_pids(state_dir: Path) -> list[int]:
    if not state_dir.exists():
        return []
    return [pid for d in state_dir.iterdir() for pid in processes_in(d, "nginx")]


@pytest.fixture
def nginx(tmp_path: Path, nginx_state_dir: Path) -> Iterator[NginxConverger]:
    settings = settings_class()(data_dir=str(tmp_path))
    settings = settings.model_copy(update={"nginx": settings.nginx.model_copy(
        update={"health_poll_interval": 0.2, "stats_interval": 0.2})})
    conv = NginxConverger(settings, nginx_state_dir)
    yield conv
    conv.close()
    conv.stop_all()
    assert wait_for(lambda: not nginx_pids(nginx_state_dir), timeout=5), \
        nginx_pids(nginx_state_dir)


def tick(conv: NginxConverger, rec: Recorder) -> None:
    """Run one health and statistics poll now."""
    conv._next_health = conv._next_stats = 0.0
    conv.tick(rec)
