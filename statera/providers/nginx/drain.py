"""A reload that no keep-alive client notices: close client connections politely first.

Open-source NGINX has no API for its upstreams, so every member change is a graceful reload,
and NGINX 1.22's graceful shutdown of the old worker is not graceful to HTTP/1.1 keep-alive
clients: on SIGQUIT it closes every idle keep-alive connection at once
(``ngx_close_idle_connections``: ``c->close = 1``, and the keep-alive handler closes it), and a
request still in flight is answered with the ``Connection: keep-alive`` its request decided at
the start (the header filter does not look at ``ngx_exiting``) and then closed
(``ngx_http_finalize_connection`` keeps nothing alive once exiting). A client that sends its
next request on such a connection a moment before or after the close gets a reset or an empty
reply: wrk saw about 1 % read errors under a member churn of 120 reloads.

No directive changes that (``lingering_close`` only reads what the client already sent,
``worker_shutdown_timeout`` only bounds the old worker's life, ``keepalive_requests`` and
``keepalive_time`` are static per configuration). So the provider opens a *drain window*
around each reload of a configuration with HTTP listeners:

1. it creates the flag file ``draining`` in the state directory; every HTTP ``server`` checks
   it per request (``if (-f ...)``, one stat) and then serves the request from a copy of its
   location with ``keepalive_timeout 0``: the response says ``Connection: close`` and NGINX
   closes the connection after it, which is HTTP's own way to end a persistent connection;
2. it waits until every client connection the old worker held when the window opened has been
   closed that way (the worker's socket descriptors in ``/proc/<worker>/fd``, less those it
   shares with the master), at most ``DRAIN_TIMEOUT`` (a client idle that long is not
   mid-request, and an idle connection NGINX closes is one the client sees closed before it
   reuses it; what remains is logged);
3. it reloads (SIGHUP): the old worker now holds only connections whose response says
   ``Connection: close``, and new connections reach the new workers;
4. it removes the flag, and keep-alive is back.

Cost: one extra TCP handshake per active client connection per reload, and the reload waits
for one request round trip of each active connection (measured in BENCHMARKS.md). A connection
busy for longer than the window (a long download, a WebSocket) is not at risk (the old worker
finishes it), but it makes that reload wait the whole ``DRAIN_TIMEOUT``. A flag left behind by
an agent killed inside the window costs keep-alive (every response closes its connection)
until the next reload removes it.
"""

from __future__ import annotations

import logging
import os
import re
import socket
import struct
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

LOG = logging.getLogger(__name__)

#: Name of the flag file (in the state directory) that the HTTP servers check per request.
FLAG = "draining"
#: Longest wait for the old worker's client connections to close before the reload.
DRAIN_TIMEOUT = 1.0
_POLL = 0.005
_NETLINK_SOCK_DIAG = 4
_SOCK_DIAG_BY_FAMILY = 20
_NLM_F_REQUEST, _NLM_F_DUMP = 0x1, 0x300
_NLMSG_ERROR, _NLMSG_DONE = 2, 3
_TCP_ESTABLISHED = 1
_LISTEN_LINE = re.compile(r"^\s*listen\s+([^\s;]+)", re.MULTILINE)


def http_ports(config: str | None) -> set[int]:
    """TCP ports of the HTTP listeners in an nginx.conf rendered by this provider (its
    ``http`` block comes before any ``stream`` block)."""
    if not config or "\nhttp {" not in config or f"(-f \"{FLAG}\")" not in config:
        return set()  # no HTTP listener, or rendered before the drain window existed
    block = config.split("\nhttp {", 1)[1].split("\nstream {", 1)[0]
    ports = set()
    for bind in _LISTEN_LINE.findall(block):
        head, _, port = bind.rpartition(":")
        if head and not bind.startswith("unix:") and port.isdigit():
            ports.add(int(port))
    return ports


def _socket_inodes(pids: list[int]) -> set[int]:
    inodes = set()
    for pid in pids:
        try:
            names = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for name in names:
            try:
                target = os.readlink(f"/proc/{pid}/fd/{name}")
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(int(target[8:-1]))
    return inodes


def established_tcp() -> list[tuple[int, int]]:
    """(local port, socket inode) of every established TCP socket of this network namespace,
    asked of the kernel through NETLINK_SOCK_DIAG (what ``ss`` uses) with a state filter:
    /proc/net/tcp lists every TIME_WAIT socket too, tens of thousands on a busy host."""
    found: list[tuple[int, int]] = []
    with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, _NETLINK_SOCK_DIAG) as nl:
        for seq, family in enumerate((socket.AF_INET, socket.AF_INET6), 1):
            request = struct.pack("=BBBBI48x", family, socket.IPPROTO_TCP, 0, 0,
                                  1 << _TCP_ESTABLISHED)
            nl.send(struct.pack("=IHHII", 16 + len(request), _SOCK_DIAG_BY_FAMILY,
                                _NLM_F_REQUEST | _NLM_F_DUMP, seq, 0) + request)
            found.extend(_read_dump(nl))
    return found


def _read_dump(nl: socket.socket) -> list[tuple[int, int]]:
    rows: list[tuple[int, int]] = []
    while True:
        data = nl.recv(1 << 16)
        offset = 0
        while offset + 16 <= len(data):
            length, kind = struct.unpack_from("=IH", data, offset)
            if kind == _NLMSG_DONE or length < 16:
                return rows
            if kind == _NLMSG_ERROR:
                raise OSError("sock_diag request refused")
            body = offset + 16
            (sport,) = struct.unpack_from("!H", data, body + 4)
            (inode,) = struct.unpack_from("=I", data, body + 68)
            rows.append((sport, inode))
            offset += (length + 3) & ~3


def has_stream(config: str | None) -> bool:
    """Whether an nginx.conf rendered by this provider has TCP/UDP (stream) listeners."""
    return bool(config) and "\nstream {" in str(config)


def client_connections(master: int, workers: list[int], ports: set[int],
                       classify: bool = True) -> set[int]:
    """Socket inodes of the connections ``workers`` hold besides the listening and channel
    sockets they share with ``master``: HTTP clients, and NGINX's connections to members
    (which close with their request: no upstream keep-alive is configured). With stream
    listeners (``classify``) only established TCP connections on one of ``ports`` count (a
    TCP or UDP session would hold the window open for nothing); that takes the kernel's
    socket table, which a busy host makes slow (a walk over every TIME_WAIT socket), so it is
    asked only then, and only when there is any connection at all."""
    candidates = _socket_inodes(workers) - _socket_inodes([master])
    if not ports or not candidates or not classify:
        return candidates if ports else set()
    return {inode for port, inode in established_tcp()
            if port in ports and inode in candidates}


@contextmanager
def window(lb_dir: Path, master: int, workers: list[int], config: str | None,
           timeout: float = DRAIN_TIMEOUT) -> Iterator[None]:
    """Open the drain window (flag file), wait for ``workers``' client connections on
    ``ports`` to close, run the body (the reload), close the window. Nothing to drain without
    HTTP listeners: stream sessions are not closed by a graceful shutdown. The connections are
    classified once; after that a closed one is one gone from the workers' descriptors.
    ``config`` is the running nginx.conf (what the old worker serves)."""
    ports = http_ports(config)
    if not ports or not workers:
        yield
        return
    flag = lb_dir / FLAG
    flag.touch()
    try:
        started = time.monotonic()
        deadline = started + timeout
        try:
            waiting = client_connections(master, workers, ports, has_stream(config))
            before = len(waiting)
            while waiting and time.monotonic() < deadline:
                time.sleep(_POLL)
                waiting &= _socket_inodes(workers)
        except OSError as exc:  # no sock_diag here (a restricted sandbox): reload at once
            LOG.warning("nginx %s: cannot list connections, not draining: %s",
                        lb_dir.name, exc)
            waiting, before = set(), 0
        took = (time.monotonic() - started) * 1000
        if waiting:
            LOG.info("nginx %s: %d of %d keep-alive connections still idle after %.0f ms; "
                     "reloading anyway", lb_dir.name, len(waiting), before, took)
        else:
            LOG.debug("nginx %s: %d keep-alive connections drained in %.0f ms",
                      lb_dir.name, before, took)
        yield
    finally:
        flag.unlink(missing_ok=True)
