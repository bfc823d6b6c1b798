"""The socket servers themselves: malformed frames get a clear answer and the agent keeps
serving; a silent client is cut off; 64 concurrent DriverLibrary clients are all served; socket
files are managed."""

from __future__ import annotations

import os
import socket
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from octavia_lib.api.drivers import driver_lib

from statera.agent.driver_agent import DriverAgent
from statera.agent.server import AgentSocketServer
from statera.bus.inprocess import InProcessBus
from statera.config import Settings
from statera.db import models as m
from statera.db.engine import Database
from tests.agent.conftest import Graph, build_graph, frame, library, raw_request, read_reply, row

MALFORMED = {
    "garbage-length": (b"twelve\n{}", "length line"),
    "length-too-long": (b"1234567890123456789\n{}", "length line"),
    "no-newline": (b"12", "length line"),
    "non-json": (b"9\nnot json!", "not JSON"),
    "not-utf8": (b"2\n\xff\xfe", "not UTF-8"),
    "json-list": (b"2\n[]", "expected a JSON object"),
    "truncated-body": (b"100\n{\"loadbalancers\": []", "short body"),
    "empty": (b"", "connection closed"),
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_malformed_frames_get_a_failure_reply_and_the_agent_keeps_serving(
    lib: driver_lib.DriverLibrary, settings: Settings, database: Database, graph: Graph,
    case: str,
) -> None:
    data, message = MALFORMED[case]
    for kind in ("status", "stats"):
        reply = raw_request(settings.socket_path(kind), data)
        assert reply["status_code"] == 500
        assert message in reply["fault_string"]
        assert "malformed request" in reply["fault_string"]
    assert raw_request(settings.socket_path("get"), data) == {}
    # Still serving, on every socket.
    lib.update_loadbalancer_status(
        {"members": [{"id": graph.member, "operating_status": "ONLINE"}]})
    assert row(database, m.Member, graph.member).operating_status == "ONLINE"
    lib.update_listener_statistics({"listeners": [
        {"id": graph.listener, "bytes_in": 1, "bytes_out": 1, "active_connections": 1,
         "total_connections": 1, "request_errors": 0}]})
    assert lib.get_member(graph.member) is not None


def test_request_that_is_not_an_object_list_is_refused(settings: Settings, agent: Any) -> None:
    reply = raw_request(settings.socket_path("status"), frame({"members": "everything"}))
    assert (reply["status_code"], reply["status_object"]) == (500, "members")
    reply = raw_request(settings.socket_path("stats"), frame({"listeners": {"id": "x"}}))
    assert (reply["status_code"], reply["stats_object"]) == (500, "listeners")


def test_a_silent_client_is_cut_off_with_a_reply(tmp_path: Path) -> None:
    seen: list[dict[str, Any]] = []

    def handler(request: dict[str, Any]) -> dict[str, Any]:
        seen.append(request)
        return {"status_code": 200}

    server = AgentSocketServer("test", str(tmp_path / "s.sock"), handler, request_timeout=0.3)
    server.start()
    try:
        silent = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        silent.settimeout(5)
        silent.connect(server.path)
        silent.sendall(b"40\n{")  # then nothing more, connection left open
        reply = read_reply(silent)
        silent.close()
        assert reply["status_code"] == 500
        assert "timed out" in reply["fault_string"]
        assert raw_request(server.path, frame({"ok": True})) == {"status_code": 200}
        assert seen == [{"ok": True}]
    finally:
        server.stop()


def test_64_concurrent_clients_are_all_served(
    agent: DriverAgent, settings: Settings, database: Database
) -> None:
    graphs = [build_graph(database) for _ in range(4)]
    clients = 64
    start = threading.Barrier(clients)
    errors: list[BaseException] = []
    results: list[tuple[str, Any]] = []
    lock = threading.Lock()

    def client(i: int) -> None:
        g = graphs[i % len(graphs)]
        try:
            lib = library(settings)
            start.wait(timeout=30)
            lib.update_loadbalancer_status({"members": [
                {"id": g.member, "operating_status": "ONLINE"}]})
            lib.update_listener_statistics({"listeners": [
                {"id": g.listener, "amphora_id": f"amp-{i}", "bytes_in": i, "bytes_out": i,
                 "active_connections": 0, "total_connections": i, "request_errors": 0}]})
            lb = lib.get_loadbalancer(g.lb)
            with lock:
                results.append((g.lb, lb.loadbalancer_id))
        except BaseException as exc:  # collected and reported by the main thread
            with lock:
                errors.append(exc)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors[:3]
    assert len(results) == clients
    assert all(expected == got for expected, got in results)
    with database.session() as s:
        assert s.query(m.ListenerStatistics).count() == clients


def test_socket_files_are_replaced_when_stale_and_removed_on_stop(
    settings: Settings, database: Database
) -> None:
    path = settings.socket_path("status")
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(path)  # a socket file nobody listens on, as a crashed agent leaves
    stale.close()
    assert os.path.exists(path)

    first = DriverAgent(settings, database, InProcessBus())
    first.start()
    try:
        # A second agent must not steal the sockets of a live one.
        with pytest.raises(FileExistsError, match="already serving"):
            DriverAgent(settings, database, InProcessBus()).start()
        assert all(os.path.exists(p) for p in first.socket_paths.values())
        library(settings).update_loadbalancer_status({})
    finally:
        first.stop()
    assert not any(os.path.exists(p) for p in first.socket_paths.values())


def test_a_regular_file_in_the_way_is_not_deleted(tmp_path: Path) -> None:
    path = tmp_path / "status.sock"
    path.write_text("precious")
    server = AgentSocketServer("status", str(path), lambda request: {})
    with pytest.raises(FileExistsError, match="not a socket"):
        server.start()
    assert path.read_text() == "precious"


def test_a_trickling_client_is_bounded_by_the_whole_request_timeout(tmp_path: Path) -> None:
    server = AgentSocketServer("test", str(tmp_path / "s.sock"), lambda request: {},
                               request_timeout=0.5)
    server.start()
    try:
        slow = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        slow.settimeout(5)
        slow.connect(server.path)
        started = time.monotonic()
        reply: dict[str, Any] | None = None
        for byte in b"9999\n" + b"x" * 20:  # one byte every 0.1 s, never finishing
            try:
                slow.sendall(bytes([byte]))
            except OSError:
                break  # the server gave up and closed
            time.sleep(0.1)
        reply = read_reply(slow)
        slow.close()
        assert "timed out" in reply["fault_string"]
        assert time.monotonic() - started < 3
    finally:
        server.stop()


def test_requests_beyond_the_worker_cap_wait_in_the_backlog(tmp_path: Path) -> None:
    in_flight = 0
    peak = 0
    lock = threading.Lock()

    def slow_handler(request: dict[str, Any]) -> dict[str, Any]:
        nonlocal in_flight, peak
        with lock:
            in_flight += 1
            peak = max(peak, in_flight)
        time.sleep(0.05)
        with lock:
            in_flight -= 1
        return {"n": request["n"]}

    server = AgentSocketServer("test", str(tmp_path / "s.sock"), slow_handler, max_workers=3)
    server.start()
    replies: list[dict[str, Any]] = []

    def client(n: int) -> None:
        reply = raw_request(server.path, frame({"n": n}))
        with lock:
            replies.append(reply)

    try:
        threads = [threading.Thread(target=client, args=(n,)) for n in range(20)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
    finally:
        server.stop()
    assert sorted(r["n"] for r in replies) == list(range(20))
    assert peak <= 3
