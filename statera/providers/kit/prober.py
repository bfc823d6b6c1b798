"""Active health checks run by Statera itself, for data planes without checks of their own.

Open-source NGINX only notices failures passively (a refused connection on a real request), so
Octavia's health monitors need someone to probe members on their own schedule. The prober does,
for any provider: each member is a :class:`Check` (what to send where, ``delay``/``timeout``,
``max_retries`` successes to come up and ``max_retries_down`` failures to go down); a scheduler
thread runs every check every ``delay`` seconds on a small thread pool, so a slow member never
delays the others. A member has no state (``None``) until its first check completed: it never
reads ONLINE before a check passed. The first result sets the state; afterwards it flips only
after ``rise`` successes or ``fall`` failures in a row, as HAProxy's checks do.

Probes (one attempt each, all bounded by ``timeout``):
- ``HTTP``/``HTTPS``: a request with the monitor's method, url_path, http_version and Host
  (domain_name), passing when the status code is one of ``expected_codes``; HTTPS does not
  verify the member's certificate (Octavia's checks do not either).
- ``TCP``: a connection is accepted. ``TLS-HELLO``: a TLS handshake completes.
- ``PING``: an ICMP echo is answered (unprivileged ICMP socket, else a raw one).
- ``UDP-CONNECT``: a datagram is sent and no ICMP port-unreachable comes back within the
  timeout (Octavia's semantics; an answer passes too).
"""

from __future__ import annotations

import heapq
import logging
import os
import select
import socket
import ssl
import struct
import threading
import time
import urllib.parse
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

LOG = logging.getLogger(__name__)
KINDS = ("HTTP", "HTTPS", "TCP", "TLS-HELLO", "PING", "UDP-CONNECT")
HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "TRACE", "OPTIONS",
                          "CONNECT", "PATCH"})
_PATH_SAFE = "/?&=%:@!$'()*+,;~-._"


@dataclass(frozen=True)
class Check:
    kind: str
    address: str  # a plain IP address (no brackets)
    port: int
    delay: float = 5.0
    timeout: float = 5.0
    rise: int = 3
    fall: int = 3
    method: str = "GET"
    path: str = "/"
    codes: tuple[int, ...] = (200,)
    host: str | None = None
    http_version: str = "1.0"


# --- one attempt ----------------------------------------------------------------------------

def probe(check: Check) -> bool:
    """Run ``check`` once; True when the member passed."""
    try:
        if check.kind in ("HTTP", "HTTPS"):
            return _http(check)
        if check.kind == "TCP":
            with socket.create_connection((check.address, check.port), check.timeout):
                return True
        if check.kind == "TLS-HELLO":
            with socket.create_connection((check.address, check.port), check.timeout) as raw:
                with _client_context().wrap_socket(raw):
                    return True
        if check.kind == "UDP-CONNECT":
            return _udp(check)
        if check.kind == "PING":
            return _ping(check)
    except (OSError, ValueError):
        return False
    raise ValueError(f"unknown health check kind {check.kind!r}")


def _client_context() -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def request_bytes(check: Check) -> bytes:
    """The request line and headers of an HTTP check; user strings cannot add a line."""
    method = check.method.upper() if check.method.upper() in HTTP_METHODS else "GET"
    path = urllib.parse.quote(check.path or "/", safe=_PATH_SAFE)
    if not path.startswith("/"):
        path = "/" + path
    lines = [f"{method} {path} HTTP/{'1.1' if check.http_version == '1.1' else '1.0'}"]
    host = check.host
    if host:
        lines.append("Host: " + urllib.parse.quote(host, safe=":[].-"))
    elif check.http_version == "1.1":
        lines.append(f"Host: {check.address}")
    lines += ["Connection: close", "User-Agent: statera-health-check", "", ""]
    return "\r\n".join(lines).encode("ascii")


def _http(check: Check) -> bool:
    deadline = time.monotonic() + check.timeout
    with socket.create_connection((check.address, check.port), check.timeout) as raw:
        sock: socket.socket = raw
        if check.kind == "HTTPS":
            sock = _client_context().wrap_socket(raw, server_hostname=check.host or None)
        sock.sendall(request_bytes(check))
        data = b""
        while b"\r\n" not in data and len(data) < 4096:
            sock.settimeout(max(0.01, deadline - time.monotonic()))
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
    parts = data.split(b"\r\n", 1)[0].split()
    return len(parts) >= 2 and parts[1].isdigit() and int(parts[1]) in check.codes


def _udp(check: Check) -> bool:
    family = socket.AF_INET6 if ":" in check.address else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        sock.settimeout(check.timeout)
        sock.connect((check.address, check.port))
        sock.send(b"\n")
        try:
            sock.recv(65535)
        except ConnectionRefusedError:
            return False  # ICMP port unreachable: nothing listens there
        except TimeoutError:
            pass  # silence: Octavia counts it as up
        return True


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(int.from_bytes(data[i:i + 2], "big") for i in range(0, len(data), 2))
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    return ~total & 0xFFFF


def _ping(check: Check) -> bool:
    v6 = ":" in check.address
    family, proto = ((socket.AF_INET6, socket.IPPROTO_ICMPV6) if v6
                     else (socket.AF_INET, socket.IPPROTO_ICMP))
    request_type, reply_type = (128, 129) if v6 else (8, 0)
    ident, seq = os.getpid() & 0xFFFF, int(time.monotonic() * 1000) & 0xFFFF
    payload = b"statera-ping"
    header = struct.pack("!BBHHH", request_type, 0, 0, ident, seq)
    packet = struct.pack("!BBHHH", request_type, 0, _checksum(header + payload), ident,
                         seq) + payload
    try:
        sock = socket.socket(family, socket.SOCK_DGRAM, proto)
        raw = False
    except PermissionError:
        sock = socket.socket(family, socket.SOCK_RAW, proto)
        raw = True
    deadline = time.monotonic() + check.timeout
    with sock:
        sock.sendto(packet, (check.address, 0))
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([sock], [], [], left)[0]:
                return False
            data, _ = sock.recvfrom(65535)
            if raw and not v6:
                data = data[(data[0] & 0x0F) * 4:]
            if len(data) >= 8 and data[0] == reply_type and (raw is False or struct.unpack(
                    "!H", data[4:6])[0] == ident) and struct.unpack("!H", data[6:8])[0] == seq:
                return True


# --- scheduling -----------------------------------------------------------------------------

@dataclass
class _State:
    check: Check
    up: bool | None = None
    streak: int = 0  # results in a row contradicting ``up``
    running: bool = False
    generation: int = 0


class Prober:
    """Runs checks for groups of members (one group per load balancer) in the background."""

    def __init__(self, workers: int = 8, run: Callable[[Check], bool] = probe) -> None:
        self._run = run
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._states: dict[tuple[str, str], _State] = {}
        self._changed: set[str] = set()
        self._queue: list[tuple[float, int, tuple[str, str]]] = []
        self._seq = 0
        self._stopped = False
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="probe")
        self._thread = threading.Thread(target=self._schedule, daemon=True, name="prober")
        self._thread.start()

    def watch(self, group: str, checks: dict[str, Check]) -> None:
        """Probe exactly ``checks`` (member id -> Check) for ``group`` from now on. A member
        whose check did not change keeps its state; a changed check starts afresh."""
        with self._lock:
            for key in [k for k in self._states if k[0] == group and k[1] not in checks]:
                del self._states[key]
            for member_id, check in checks.items():
                key = (group, member_id)
                state = self._states.get(key)
                if state is not None and state.check == check:
                    continue
                generation = state.generation + 1 if state else 0
                self._states[key] = _State(check, generation=generation)
                self._push(time.monotonic(), key)
            self._wake.notify()

    def forget(self, group: str) -> None:
        self.watch(group, {})
        with self._lock:
            self._changed.discard(group)

    def state(self, group: str, member_id: str) -> bool | None:
        """True up, False down, None not checked yet (or not watched)."""
        with self._lock:
            state = self._states.get((group, member_id))
            return state.up if state else None

    def states(self, group: str) -> dict[str, bool | None]:
        with self._lock:
            return {k[1]: s.up for k, s in self._states.items() if k[0] == group}

    def take_changed(self) -> set[str]:
        """Groups in which a member changed state since the last call."""
        with self._lock:
            changed, self._changed = self._changed, set()
            return changed

    def mark_changed(self, group: str) -> None:
        """Have :meth:`take_changed` return ``group`` again (its change was not handled)."""
        with self._lock:
            self._changed.add(group)

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
            self._wake.notify()
        self._thread.join(timeout=5)
        self._pool.shutdown(wait=False, cancel_futures=True)

    # --- internals ------------------------------------------------------------------------
    def _push(self, when: float, key: tuple[str, str]) -> None:
        self._seq += 1
        heapq.heappush(self._queue, (when, self._seq, key))

    def _schedule(self) -> None:
        with self._lock:
            while not self._stopped:
                now = time.monotonic()
                if not self._queue:
                    self._wake.wait()
                    continue
                when, _, key = self._queue[0]
                if when > now:
                    self._wake.wait(when - now)
                    continue
                heapq.heappop(self._queue)
                state = self._states.get(key)
                if state is None or state.running:
                    continue
                state.running = True
                self._pool.submit(self._one, key, state.check, state.generation)

    def _one(self, key: tuple[str, str], check: Check, generation: int) -> None:
        started = time.monotonic()
        try:
            ok = self._run(check)
        except Exception:
            LOG.exception("health check of %s failed to run", key[1])
            ok = False
        with self._lock:
            state = self._states.get(key)
            if state is None or state.generation != generation:
                return  # removed or replaced while running
            state.running = False
            self._record(key[0], state, ok)
            self._push(started + max(check.delay, 0.05), key)
            self._wake.notify()

    def _record(self, group: str, state: _State, ok: bool) -> None:
        if state.up is None:
            state.up, state.streak = ok, 0
            self._changed.add(group)
            return
        if ok == state.up:
            state.streak = 0
            return
        state.streak += 1
        if state.streak >= (state.check.rise if ok else state.check.fall):
            state.up, state.streak = ok, 0
            self._changed.add(group)


# --- from the graph -------------------------------------------------------------------------

def checks_for(pools: list[Any]) -> dict[str, Check]:
    """A Check per enabled member of every pool in ``pools`` with an enabled health monitor
    (member id -> Check), following the monitor's and the member's options."""
    from statera.providers.kit.graph import enabled, expected_codes, val

    checks: dict[str, Check] = {}
    for pool in pools:
        hm = val(pool.healthmonitor)
        if hm is None or not enabled(hm):
            continue
        kind = str(val(hm.type, "TCP"))
        if kind == "HTTP" and val(getattr(pool, "tls_enabled", None), False):
            kind = "HTTPS"  # members of a re-encrypting pool speak TLS, checks too
        version = val(hm.http_version)
        for member in val(pool.members, []) or []:
            if not enabled(member):
                continue
            checks[str(member.member_id)] = Check(
                kind=kind,
                address=str(val(member.monitor_address) or member.address),
                port=int(val(member.monitor_port) or member.protocol_port),
                delay=float(val(hm.delay, 5)),
                timeout=float(val(hm.timeout, 5)),
                rise=int(val(hm.max_retries, 3)),
                fall=int(val(hm.max_retries_down, 3)),
                method=str(val(hm.http_method, "GET")),
                path=str(val(hm.url_path, "/")),
                codes=tuple(expected_codes(hm.expected_codes)) if kind in ("HTTP", "HTTPS")
                else (200,),
                host=str(val(hm.domain_name)) if val(hm.domain_name) else None,
                http_version="1.1" if str(version) == "1.1" else "1.0",
            )
    return checks
