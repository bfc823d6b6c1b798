"""The kit's health prober against real sockets on loopback."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from statera.providers.kit.prober import Check, Prober, probe, request_bytes


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def http_server() -> Iterator[tuple[int, list[str]]]:
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            seen.append(f"{self.command} {self.path} {self.request_version} "
                        f"{self.headers.get('Host')}")
            self.send_response(404 if self.path.startswith("/missing") else 200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        do_HEAD = do_GET  # noqa: N815

        def log_message(self, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], seen
    server.shutdown()
    server.server_close()


def test_http_check_sends_the_monitor_request_and_honours_expected_codes(http_server):
    port, seen = http_server
    check = Check("HTTP", "127.0.0.1", port, timeout=2, method="HEAD", path="/health",
                  host="example.org", http_version="1.1", codes=(200, 204))
    assert probe(check)
    assert seen[-1] == "HEAD /health HTTP/1.1 example.org"
    assert not probe(Check("HTTP", "127.0.0.1", port, timeout=2, path="/missing"))
    assert probe(Check("HTTP", "127.0.0.1", port, timeout=2, path="/missing", codes=(404,)))
    assert not probe(Check("HTTP", "127.0.0.1", free_port(), timeout=1))


def test_http_check_cannot_be_made_to_send_another_line():
    raw = request_bytes(Check("HTTP", "127.0.0.1", 80, path="/a\r\nX-Evil: 1 /b",
                              host="h\r\nX-Evil: 2", method="GET\r\n"))
    head = raw.decode().split("\r\n")
    assert head[0].startswith("GET /a%0D%0AX-Evil:%201%20/b HTTP/1.0")
    assert not any(line.startswith("X-Evil") for line in head)


def test_tcp_and_udp_connect_checks():
    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        assert probe(Check("TCP", "127.0.0.1", listening.getsockname()[1], timeout=1))
    assert not probe(Check("TCP", "127.0.0.1", free_port(), timeout=1))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.bind(("127.0.0.1", 0))
        assert probe(Check("UDP-CONNECT", "127.0.0.1", udp.getsockname()[1], timeout=0.3))
    # Nobody listens: the kernel answers ICMP port unreachable.
    assert not probe(Check("UDP-CONNECT", "127.0.0.1", free_port(socket.SOCK_DGRAM),
                           timeout=0.3))


def test_ping_check_on_loopback():
    assert probe(Check("PING", "127.0.0.1", 0, timeout=1))


def test_member_has_no_state_before_its_first_check_and_honours_rise_and_fall():
    results = {"ok": True}
    started = threading.Event()

    def run(check: Check) -> bool:
        started.wait(5)
        return results["ok"]

    prober = Prober(run=run)
    try:
        prober.watch("lb", {"m": Check("TCP", "127.0.0.1", 1, delay=0.05, rise=2, fall=3)})
        assert prober.state("lb", "m") is None  # never ONLINE before a check passed
        started.set()
        deadline = time.monotonic() + 5
        while prober.state("lb", "m") is None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert prober.state("lb", "m") is True
        assert prober.take_changed() == {"lb"}
        results["ok"] = False
        deadline = time.monotonic() + 5
        while prober.state("lb", "m") is True and time.monotonic() < deadline:
            time.sleep(0.01)
        assert prober.state("lb", "m") is False
        prober.forget("lb")
        assert prober.states("lb") == {}
    finally:
        prober.stop()
