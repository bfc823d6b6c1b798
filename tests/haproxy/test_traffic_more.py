"""More real traffic through a real HAProxy driven by the converger: algorithms, weights,
persistence, backups, monitor endpoints, admin states, headers, limits, timeouts, PROXY.

Every claim is counted from what the backends answered or saw. The backends here are richer
than ``helpers.Backend``: they can hold a request open, sleep, echo the request headers and
issue an application cookie; ``ProxyBackend`` reads the PROXY protocol header HAProxy sends.
"""

from __future__ import annotations

import collections
import contextlib
import json
import socket
import struct
import sys
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests.haproxy.helpers import (
    Recorder,
    first_checks_done,
    free_vip,
    get,
    listener,
    loadbalancer,
    member,
    monitor,
    pool,
    simple_lb,
    tick,
    wait_for,
)

HOLD_SECONDS = 10.0  # a held request is released by the test (or the fixture) long before


# --- backends ---------------------------------------------------------------------------------

class QuietHTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A peer that went away (HAProxy giving up on a slow answer) is expected here."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class EchoBackend:
    """An HTTP server answering with its name, recording every request it gets.

    ``/hold`` waits until :meth:`release`; ``/sleep/<ms>`` sleeps first; ``/headers`` answers
    the request headers as JSON (``{lower-case name: [values]}``). With ``app_cookie`` set, a
    response to a request without that cookie sets it to a new session id ``<name>-<n>``.
    """

    def __init__(self, name: str, host: str = "127.0.0.1", app_cookie: str | None = None
                 ) -> None:
        self.name = name
        self.paths: list[str] = []
        self.held = 0
        self._released = threading.Event()
        self._lock = threading.Lock()
        backend = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                with backend._lock:
                    backend.paths.append(self.path)
                    sessions = len(backend.paths)
                if self.path == "/hold":
                    with backend._lock:
                        backend.held += 1
                    backend._released.wait(HOLD_SECONDS)
                elif self.path.startswith("/sleep/"):
                    time.sleep(int(self.path.rsplit("/", 1)[1]) / 1000)
                if self.path == "/headers":
                    body = json.dumps({k.lower(): self.headers.get_all(k)
                                       for k in set(self.headers.keys())}).encode()
                else:
                    body = backend.name.encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                cookies = self.headers.get("Cookie", "")
                if app_cookie and f"{app_cookie}=" not in cookies:
                    self.send_header("Set-Cookie", f"{app_cookie}={backend.name}-{sessions}")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                return None

        self.server = QuietHTTPServer((host, 0), Handler)
        self.host = host
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.running = True

    def release(self) -> None:
        self._released.set()

    def stop(self) -> None:
        self.release()
        if self.running:
            self.running = False
            self.server.shutdown()
            self.server.server_close()


@pytest.fixture
def echo() -> Iterator[Callable[..., EchoBackend]]:
    started: list[EchoBackend] = []

    def start(name: str, **kw: Any) -> EchoBackend:
        b = EchoBackend(name, **kw)
        started.append(b)
        return b

    yield start
    for b in started:
        b.stop()


PP2_SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"


class ProxyBackend:
    """A TCP server that reads a PROXY protocol v1 line or v2 header, then one HTTP request,
    and answers with what the header said as JSON (``{"version": 0}`` when there was none)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return  # closed
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    @staticmethod
    def parse(stream: Any) -> dict[str, Any]:
        head = stream.read(12)
        if head == PP2_SIGNATURE:
            ver_cmd, family, length = struct.unpack("!BBH", stream.read(4))
            payload = stream.read(length)
            assert ver_cmd == 0x21 and family == 0x11, (ver_cmd, family)  # PROXY, TCP over IPv4
            src, dst, sport, dport = struct.unpack("!4s4sHH", payload[:12])
            return {"version": 2, "src": socket.inet_ntoa(src), "dst": socket.inet_ntoa(dst),
                    "sport": sport, "dport": dport}
        if head.startswith(b"PROXY "):
            line = (head + stream.readline()).decode("ascii")
            assert line.endswith("\r\n"), line
            _, family, src, dst, sport, dport = line.split()
            assert family == "TCP4", line
            return {"version": 1, "src": src, "dst": dst, "sport": int(sport),
                    "dport": int(dport)}
        return {"version": 0}

    def _handle(self, conn: socket.socket) -> None:
        with conn, conn.makefile("rb") as stream:
            conn.settimeout(5)
            try:
                seen = self.parse(stream)
                while stream.readline() not in (b"\r\n", b""):
                    pass  # the HTTP request itself does not matter
            except Exception as exc:  # noqa: BLE001 - reported to the test through the body
                seen = {"error": repr(exc)}
            body = json.dumps(seen).encode()
            conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))

    def stop(self) -> None:
        self.sock.close()


@pytest.fixture
def proxy_backend() -> Iterator[ProxyBackend]:
    backend = ProxyBackend()
    yield backend
    backend.stop()


# --- helpers ----------------------------------------------------------------------------------

def operating(report: dict[str, Any]) -> dict[str, str]:
    return {r["id"]: r["operating_status"] for records in report.values() for r in records
            if "operating_status" in r}


def polled(conv: Any, rec: Recorder, kind: str, obj_id: str) -> str | None:
    """Run one health poll; the latest operating status reported for the object."""
    tick(conv, rec)
    return rec.latest(kind, obj_id)


def served(vip: str, port: int, count: int, path: str = "/") -> collections.Counter[str]:
    return collections.Counter(get(vip, port, path)[1] for _ in range(count))


def raw_exchange(vip: str, port: int, request: bytes = b"GET / HTTP/1.0\r\nHost: x\r\n\r\n"
                 ) -> tuple[int, bytes]:
    """Send ``request`` on a new connection; return (our source port, the whole response)."""
    with socket.create_connection((vip, port), timeout=5) as s:
        source_port = s.getsockname()[1]
        s.sendall(request)
        chunks = []
        while chunk := s.recv(65536):
            chunks.append(chunk)
    return source_port, b"".join(chunks)


def refused(vip: str, port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex((vip, port)) != 0


# --- balancing --------------------------------------------------------------------------------

@pytest.mark.parametrize("algorithm", ["LEAST_CONNECTIONS", "ROUND_ROBIN"])
def test_least_connections_avoids_the_busy_member(converger, echo, algorithm):
    """One request held open on a member: LEAST_CONNECTIONS sends every new request to the
    other member; ROUND_ROBIN (the control) keeps alternating regardless."""
    a, b = echo("a"), echo("b")
    lb, vip, port = simple_lb([member(a), member(b)], lb_algorithm=algorithm)
    converger.converge(lb.loadbalancer_id, lb)
    holder = threading.Thread(target=get, args=(vip, port, "/hold"))
    holder.start()
    try:
        wait_for(lambda: a.held + b.held == 1)
        busy, idle = (a, b) if a.held else (b, a)
        counts = served(vip, port, 10)
        assert busy.held == 1  # still held while the others were served
    finally:
        a.release()
        b.release()
        holder.join()
    if algorithm == "LEAST_CONNECTIONS":
        assert counts == {idle.name: 10}
    else:
        assert counts == {"a": 5, "b": 5}


def test_weights_split_round_robin_three_to_one(converger, echo):
    a, b = echo("a"), echo("b")
    lb, vip, port = simple_lb([member(a, weight=3), member(b, weight=1)])
    converger.converge(lb.loadbalancer_id, lb)
    assert served(vip, port, 40) == {"a": 30, "b": 10}


def test_app_cookie_persistence_follows_the_backend_session(converger, echo):
    a = echo("a", app_cookie="JSESSIONID")
    b = echo("b", app_cookie="JSESSIONID")
    lb, vip, port = simple_lb([member(a), member(b)], session_persistence={
        "type": "APP_COOKIE", "cookie_name": "JSESSIONID"})
    converger.converge(lb.loadbalancer_id, lb)
    # Without a session, requests alternate and each member issues its own session id.
    issued = {}
    for _ in range(2):
        _, name, headers = get(vip, port)
        issued[name] = headers["set-cookie"].split(";")[0]
    assert set(issued) == {"a", "b"}
    # A session id sticks to the member that issued it (round robin would alternate).
    for name, cookie in issued.items():
        answers = collections.Counter(
            get(vip, port, headers={"Cookie": f"other=1; {cookie}"})[1] for _ in range(6))
        assert answers == {name: 6}
    # A session id no member issued pins nothing.
    unknown = {get(vip, port, headers={"Cookie": "JSESSIONID=forged"})[1] for _ in range(4)}
    assert unknown == {"a", "b"}


def test_backup_members_serve_only_without_primaries(converger, echo):
    a, b, c, d = echo("a"), echo("b"), echo("c"), echo("d")
    ma, mb = member(a), member(b)
    mc, md = member(c, backup=True), member(d, backup=True)
    lb, vip, port = simple_lb([ma, mb, mc, md], healthmonitor=monitor())
    converger.converge(lb.loadbalancer_id, lb)
    assert served(vip, port, 20) == {"a": 10, "b": 10}

    ma.admin_state_up = False  # one primary disabled: the other primary takes everything
    converger.converge(lb.loadbalancer_id, lb)
    assert served(vip, port, 6) == {"b": 6}

    b.stop()  # the last primary fails its health checks: the backups (all of them) take over
    rec = Recorder()
    wait_for(lambda: polled(converger, rec, "members", mb.member_id) == "ERROR")
    assert served(vip, port, 8) == {"c": 4, "d": 4}
    assert rec.latest("pools", lb.pools[0].pool_id) == "DEGRADED"

    ma.admin_state_up = True  # a primary is back: the backups are idle again
    converger.converge(lb.loadbalancer_id, lb)
    assert served(vip, port, 6) == {"a": 6}


# --- health monitor endpoint ------------------------------------------------------------------

def test_monitor_address_and_port_receive_the_checks(converger, echo):
    """Checks of a member with monitor_address/monitor_port go there, not to its traffic port:
    the member is ONLINE while only the monitor endpoint answers them, and ERROR once the
    monitor endpoint closes although its traffic port still serves."""
    a, b = echo("a"), echo("b")
    probe = echo("probe", host="127.0.0.77")
    # A check that ignored monitor_address would meet a closed port here.
    assert refused("127.0.0.1", probe.port)
    ma = member(a, monitor_address="127.0.0.77", monitor_port=probe.port)
    mb = member(b)
    lb, vip, port = simple_lb([ma, mb], healthmonitor=monitor(
        "HTTP", url_path="/health", expected_codes="200"))
    converger.converge(lb.loadbalancer_id, lb)
    first_checks_done(converger, lb.loadbalancer_id)
    report = converger.converge(lb.loadbalancer_id, lb)  # no change: only observes
    assert operating(report)[ma.member_id] == "ONLINE"

    rec = Recorder()
    wait_for(lambda: probe.paths.count("/health") >= 2)
    tick(converger, rec)
    assert rec.latest("members", ma.member_id) is None  # still ONLINE: nothing to report
    assert "/health" not in a.paths and b.paths.count("/health") >= 1
    assert served(vip, port, 10) == {"a": 5, "b": 5}

    probe.stop()
    wait_for(lambda: polled(converger, rec, "members", ma.member_id) == "ERROR")
    assert rec.latest("members", mb.member_id) is None  # unchanged: ONLINE
    assert rec.latest("pools", lb.pools[0].pool_id) == "DEGRADED"
    assert rec.latest("loadbalancers", lb.loadbalancer_id) == "DEGRADED"
    assert get("127.0.0.1", a.port)[1] == "a"  # the traffic port is fine ...
    assert served(vip, port, 6) == {"b": 6}  # ... but HAProxy no longer sends it traffic
    assert "/health" not in a.paths


# --- admin state ------------------------------------------------------------------------------

def test_admin_state_down_member_pool_listener(converger, echo):
    a, b, c, d = echo("a"), echo("b"), echo("c"), echo("d")
    vip, port1 = free_vip()
    _, port2 = free_vip()
    _, port3 = free_vip()
    mb = member(b, admin_state_up=False)
    p1 = pool([member(a), mb])
    p2 = pool([member(c)], admin_state_up=False)
    p3 = pool([member(d)])
    l1, l2 = listener(port1, p1), listener(port2, p2)
    l3 = listener(port3, p3, admin_state_up=False)
    lb = loadbalancer(vip, [l1, l2, l3], [p1, p2, p3])
    status = operating(converger.converge(lb.loadbalancer_id, lb))

    assert served(vip, port1, 6) == {"a": 6}  # disabled member: no traffic
    assert status[mb.member_id] == "OFFLINE"
    assert get(vip, port2)[0] == 503  # disabled pool: the listener has no backend
    assert status[p2.pool_id] == "OFFLINE" and status[l2.listener_id] == "ONLINE"
    assert refused(vip, port3)  # disabled listener: nothing listens
    assert status[l3.listener_id] == "OFFLINE"
    assert b.paths == [] and c.paths == [] and d.paths == []
    assert status[l1.listener_id] == "ONLINE" and status[p1.pool_id] == "ONLINE"
    assert status[lb.loadbalancer_id] == "ONLINE"

    rec = Recorder()
    tick(converger, rec)  # the health poll agrees with the converge report
    assert rec.statuses == []

    mb.admin_state_up = p2.admin_state_up = l3.admin_state_up = True
    status = operating(converger.converge(lb.loadbalancer_id, lb))
    assert served(vip, port1, 6) == {"a": 3, "b": 3}
    assert get(vip, port2)[1] == "c" and get(vip, port3)[1] == "d"
    assert status[mb.member_id] == "NO_MONITOR"
    assert status[p2.pool_id] == status[l3.listener_id] == "ONLINE"


# --- headers ----------------------------------------------------------------------------------

def test_insert_headers_reach_the_backend(converger, echo):
    a = echo("a")
    vip, port = free_vip()
    _, plain_port = free_vip()
    p = pool([member(a)])
    with_headers = listener(port, p, insert_headers={"X-Forwarded-For": "true",
                                                     "X-Forwarded-Port": "TRUE"})
    lb = loadbalancer(vip, [with_headers, listener(plain_port, p)], [p])
    converger.converge(lb.loadbalancer_id, lb)

    seen = json.loads(get(vip, port, "/headers")[1])
    assert seen["x-forwarded-for"] == ["127.0.0.1"]
    assert seen["x-forwarded-port"] == [str(port)]
    # A client cannot choose the port, and its own X-Forwarded-For comes before HAProxy's.
    seen = json.loads(get(vip, port, "/headers", headers={"X-Forwarded-Port": "1",
                                                          "X-Forwarded-For": "10.9.9.9"})[1])
    assert seen["x-forwarded-port"] == [str(port)]
    assert seen["x-forwarded-for"][-1] == "127.0.0.1"
    # The listener without insert_headers adds neither.
    seen = json.loads(get(vip, plain_port, "/headers")[1])
    assert "x-forwarded-for" not in seen and "x-forwarded-port" not in seen


# --- connection limit -------------------------------------------------------------------------

def test_connection_limit_queues_the_extra_connection(converger, echo):
    a = echo("a")
    vip, port = free_vip()
    p = pool([member(a)])
    lst = listener(port, p, connection_limit=2)
    lb = loadbalancer(vip, [lst], [p])
    converger.converge(lb.loadbalancer_id, lb)
    rec = Recorder()
    with contextlib.ExitStack() as stack:
        held = [stack.enter_context(socket.create_connection((vip, port), timeout=5))
                for _ in range(2)]

        def full() -> bool:
            tick(converger, rec)
            stats = rec.latest_stats(lst.listener_id)
            return stats is not None and stats["active_connections"] == 2

        wait_for(full)
        assert rec.latest("listeners", lst.listener_id) == "DEGRADED"  # FULL
        assert rec.latest("loadbalancers", lb.loadbalancer_id) == "DEGRADED"

        extra = stack.enter_context(socket.create_connection((vip, port), timeout=5))
        extra.sendall(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n")
        extra.settimeout(1.0)
        with pytest.raises(TimeoutError):
            extra.recv(1)  # accepted by the kernel, not by HAProxy: nothing is served
        assert a.paths == []

        held[0].close()  # one slot frees: the waiting connection is served
        extra.settimeout(5)
        response = b""
        while chunk := extra.recv(65536):
            response += chunk
        assert response.startswith(b"HTTP/1.0 200") and response.endswith(b"\r\n\r\na")
    wait_for(lambda: polled(converger, rec, "listeners", lst.listener_id) == "ONLINE")
    assert rec.latest("loadbalancers", lb.loadbalancer_id) == "ONLINE"


# --- timeouts ---------------------------------------------------------------------------------

@contextlib.contextmanager
def blackhole() -> Iterator[int]:
    """A loopback port where connecting hangs: a listener whose accept queue is full (Linux
    drops the SYNs; the client would retransmit after a second)."""
    with socket.socket() as hole:
        hole.bind(("127.0.0.1", 0))
        hole.listen(0)
        hole_port = hole.getsockname()[1]
        with socket.create_connection(("127.0.0.1", hole_port), timeout=1):  # fills the queue
            with socket.socket() as probe:
                probe.settimeout(0.3)
                with pytest.raises(TimeoutError):
                    probe.connect(("127.0.0.1", hole_port))
            yield hole_port


def test_member_and_client_timeouts(converger, echo):
    slow = echo("slow")
    vip, port = free_vip()
    _, slow_port = free_vip()
    with blackhole() as hole_port:
        p_hole = pool([member(slow, protocol_port=hole_port)])
        p_slow = pool([member(slow)])
        l_hole = listener(port, p_hole, timeout_member_connect=200, timeout_client_data=300)
        l_slow = listener(slow_port, p_slow, timeout_member_data=400)
        lb = loadbalancer(vip, [l_hole, l_slow], [p_hole, p_slow])
        converger.converge(lb.loadbalancer_id, lb)

        # timeout_member_connect: 503 after 4 attempts (1 + retries 3) of 200 ms, not 4 x 5 s.
        started = time.monotonic()
        assert get(vip, port)[0] == 503
        assert 0.7 < time.monotonic() - started < 1.6

        # timeout_member_data: a member slower than 400 ms gets 504; a quicker one answers.
        started = time.monotonic()
        assert get(vip, slow_port, "/sleep/2000")[0] == 504
        assert 0.3 < time.monotonic() - started < 1.5
        assert get(vip, slow_port, "/sleep/50")[1] == "slow"

        # timeout_client_data: a client that sends nothing gets 408 after 300 ms, not 50 s.
        with socket.create_connection((vip, port), timeout=5) as idle:
            started = time.monotonic()
            response = b""
            while chunk := idle.recv(65536):
                response += chunk
            assert 0.2 < time.monotonic() - started < 1.5
        assert response.startswith(b"HTTP/1.1 408 ")


# --- PROXY protocol ---------------------------------------------------------------------------

@pytest.mark.parametrize("listener_protocol", ["HTTP", "TCP"])
@pytest.mark.parametrize("pool_protocol,version", [("PROXY", 1), ("PROXYV2", 2)])
def test_proxy_protocol_pools_tell_the_member_the_client(converger, proxy_backend,
                                                         listener_protocol, pool_protocol,
                                                         version):
    vip, port = free_vip()
    p = pool([member(proxy_backend)], protocol=pool_protocol)
    lb = loadbalancer(vip, [listener(port, p, protocol=listener_protocol)], [p])
    converger.converge(lb.loadbalancer_id, lb)
    source_port, response = raw_exchange(vip, port)
    assert response.startswith(b"HTTP/1.0 200"), response
    seen = json.loads(response.split(b"\r\n\r\n", 1)[1])
    assert seen == {"version": version, "src": "127.0.0.1", "sport": source_port,
                    "dst": vip, "dport": port}
