"""The edge of a real ``statera serve`` (noop provider), read from outside: the body limit
refuses a 100 MB body before reading it, log lines cannot be forged through a URL, a server
error is logged with its real status and its traceback (SQLite), and a client that hangs up has
its query cancelled (PostgreSQL and MariaDB)."""

from __future__ import annotations

import socket
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text

from tests.dbs import temp_database
from tests.e2e.conftest import Server, wait_for

LIMIT = 1024 * 1024
HUNDRED_MB = 100 * 1024 * 1024


def _rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def _connect(server: Server) -> socket.socket:
    return socket.create_connection(("127.0.0.1", server.port), timeout=10)


def _read_response(sock: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        rest += chunk
    return head + b"\r\n\r\n" + rest


def test_content_length_over_limit_is_413_before_the_body_is_sent(server: Server) -> None:
    assert server.proc is not None
    rss_before = _rss_kb(server.proc.pid)
    with _connect(server) as sock:
        sock.sendall(b"POST /v2/lbaas/loadbalancers HTTP/1.1\r\nHost: x\r\n"
                     b"Content-Type: application/json\r\nExpect: 100-continue\r\n"
                     b"Content-Length: %d\r\n\r\n" % HUNDRED_MB)
        answer = _read_response(sock)  # not one byte of the body was sent
    status_line, _, body = answer.partition(b"\r\n")
    assert b" 413 " in status_line, answer[:300]
    assert b'"faultcode":"Client"' in body and b"Request body too large" in body
    assert _rss_kb(server.proc.pid) - rss_before < 20 * 1024


def _chunks(sent: list[int], size: int = 64 * 1024) -> Iterator[bytes]:
    piece = b"x" * size
    while sent[0] < HUNDRED_MB:
        sent[0] += size
        yield piece


def test_chunked_body_is_cut_off_at_the_limit(server: Server) -> None:
    """A 100 MB chunked body: 413 once the limit is passed; the server stops reading (the
    client could not send the rest) and its memory does not grow by the body."""
    assert server.proc is not None
    rss_before = _rss_kb(server.proc.pid)
    sent = [0]
    with _connect(server) as sock:
        sock.sendall(b"POST /v2/lbaas/loadbalancers HTTP/1.1\r\nHost: x\r\n"
                     b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
        try:
            for piece in _chunks(sent):
                sock.sendall(b"%x\r\n%s\r\n" % (len(piece), piece))
        except OSError:  # the server answered and closed: the rest is refused
            pass
        answer = _read_response(sock)
    print(f"client managed to send {sent[0] / 1024 / 1024:.1f} MiB of 100 MiB")
    assert b" 413 " in answer.partition(b"\r\n")[0], answer[:300]
    assert b"Request body too large" in answer
    assert sent[0] < 20 * LIMIT  # the limit plus what the kernel's socket buffers hold
    assert _rss_kb(server.proc.pid) - rss_before < 20 * 1024
    # The server still serves.
    assert httpx.get(server.url + "/v2/lbaas/loadbalancers").status_code == 200


def test_a_body_under_the_limit_is_read(server: Server) -> None:
    resp = httpx.post(server.url + "/v2/lbaas/loadbalancers",
                      json={"loadbalancer": {"name": "n" * 200, "description": " " * 900_000}})
    assert resp.status_code == 400 and "description" in resp.text  # read and validated


def test_urls_cannot_forge_log_lines(server: Server) -> None:
    forged = "2026-01-01 00:00:00,000 INFO statera.access: GET / -> 200"
    path = ("/v2/lbaas/loadbalancers/x%0A" + forged.replace(" ", "%20")
            + "%0D%1B[31mred%E2%80%A8sep")
    with _connect(server) as sock:
        sock.sendall(f"GET {path}?q=%0Aa HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                     .encode())
        assert b" 404 " in _read_response(sock).partition(b"\r\n")[0]
    time.sleep(0.5)
    log = server.log.read_text(encoding="utf-8", errors="replace")
    lines = [ln for ln in log.splitlines() if "loadbalancers/x" in ln]
    assert len(lines) == 1, log[-2000:]
    line = lines[0]
    assert "\\x0a2026-01-01" in line and "\\x0d\\x1b[31mred\\u2028sep" in line
    assert "?q=%0Aa" in line and "-> 404" in line
    assert not any(ln.startswith(forged) for ln in log.splitlines())
    assert "\x1b" not in log


def test_server_errors_are_logged_with_status_and_traceback(server: Server) -> None:
    """A real fault (a table gone from under the server) is a 500 in Octavia's body, logged
    with status 500 (not 0) and a traceback whose lines cannot pass for records."""
    with sqlite3.connect(server.data_dir / "statera.db") as db:
        db.execute("DROP TABLE amphora")
    resp = httpx.get(server.url + "/v2/octavia/amphorae%0Aforged")
    assert resp.status_code == 404  # routing first
    resp = httpx.get(server.url + "/v2/octavia/amphorae", params={"x": "\n"})
    assert resp.status_code in (400, 500)
    resp = httpx.get(server.url + "/v2/octavia/amphorae")
    assert resp.status_code == 500, resp.text
    assert resp.json() == {"faultcode": "Server", "debuginfo": None,
                           "faultstring": "An unexpected error occurred; see the server log."}
    time.sleep(0.5)
    log = server.log.read_text()
    assert "GET /v2/octavia/amphorae -> 500" in log
    assert "-> 0 " not in log
    error = log.index("GET /v2/octavia/amphorae failed with 500")
    tail = log[error:].splitlines()
    assert tail[1].startswith("    Traceback"), tail[:5]
    assert any("no such table: amphora" in ln for ln in tail[:80])


def _waiting_statements(admin: Any, backend: str, database: str) -> int:
    """Statements of ``database`` waiting for a lock (the test holds the only one)."""
    with admin.connect() as conn:
        if backend == "postgresql":
            sql = ("SELECT count(*) FROM pg_stat_activity WHERE datname = :db "
                   "AND wait_event_type = 'Lock'")
        else:
            sql = ("SELECT count(*) FROM information_schema.processlist WHERE db = :db "
                   "AND state LIKE 'Waiting for table%'")
        return int(conn.execute(text(sql), {"db": database}).scalar() or 0)


@pytest.mark.parametrize("backend", ["postgresql", "mariadb"])
def test_a_gone_client_has_its_query_cancelled(tmp_path: Path, backend: str) -> None:
    """A list stuck behind a table lock, and its client hangs up: the statement is cancelled
    at once (not when the 30 s statement timeout would end it), and the server says so."""
    with temp_database(backend, str(tmp_path)) as url:
        name = url.rsplit("/", 1)[1].split("?")[0]
        srv = Server(tmp_path / "data", {"STATERA_API__DEFAULT_PROVIDER_DRIVER": "noop",
                                         "STATERA_DATABASE__CONNECTION": url,
                                         "STATERA_DRIVER_AGENT__RESYNC_INTERVAL": "3600"})
        srv.data_dir.mkdir()
        srv.start()
        admin = create_engine(url, isolation_level="AUTOCOMMIT")
        locker = create_engine(url).connect()
        try:
            if backend == "postgresql":
                locker.execute(text("LOCK TABLE load_balancer IN ACCESS EXCLUSIVE MODE"))
            else:
                locker.exec_driver_sql("LOCK TABLES load_balancer WRITE")
            time.sleep(1.0)  # whatever the starting agent reads queues behind the lock too
            base = _waiting_statements(admin, backend, name)
            with _connect(srv) as sock:
                sock.sendall(b"GET /v2/lbaas/loadbalancers HTTP/1.1\r\nHost: x\r\n\r\n")
                wait_for(lambda: _waiting_statements(admin, backend, name) == base + 1, 10,
                         "the list to wait for the lock")
            started = time.monotonic()
            wait_for(lambda: _waiting_statements(admin, backend, name) == base, 10,
                     "the statement to be cancelled")
            print(f"{backend}: cancelled {time.monotonic() - started:.2f} s after the hang-up")
        finally:
            if backend != "postgresql":
                locker.exec_driver_sql("UNLOCK TABLES")
            locker.rollback()
            locker.close()
            locker.engine.dispose()
            admin.dispose()
            assert httpx.get(srv.url + "/v2/lbaas/loadbalancers").status_code == 200
            srv.stop()
        log = srv.log.read_text()
        assert "client went away: cancelled the statements of its request" in log
        assert "GET /v2/lbaas/loadbalancers -> 499" in log
        assert "Traceback" not in log
