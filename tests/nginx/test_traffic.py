"""Real traffic through a real NGINX driven by the converger: every answer counted per member."""

from __future__ import annotations

import collections
import http.client
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from octavia_lib.api.drivers import data_models as dm

from tests.haproxy.helpers import (
    free_vip,
    get,
    listener,
    loadbalancer,
    member,
    pool,
    simple_lb,
    wait_for,
)


def statuses(report: dict, kind: str) -> dict[str, str]:
    return {r["id"]: r["provisioning_status"] for r in report.get(kind, [])}


def test_round_robin_across_two_members(nginx, backends):
    a, b = backends("a"), backends("b")
    lb, vip, port = simple_lb([member(a), member(b)])
    report = nginx.converge(lb.loadbalancer_id, lb)
    assert statuses(report, "loadbalancers") == {lb.loadbalancer_id: "ACTIVE"}
    assert set(statuses(report, "members").values()) == {"ACTIVE"}
    assert report["amphorae"][0]["compute_flavor"] == "nginx"
    counts = collections.Counter(get(vip, port)[1] for _ in range(20))
    assert counts == {"a": 10, "b": 10}


def test_weights_and_weight_zero_drains(nginx, backends):
    a, b, c = backends("a"), backends("b"), backends("c")
    lb, vip, port = simple_lb([member(a, weight=3), member(b, weight=1), member(c, weight=0)])
    nginx.converge(lb.loadbalancer_id, lb)
    counts = collections.Counter(get(vip, port)[1] for _ in range(40))
    assert counts == {"a": 30, "b": 10}


def test_disabled_member_takes_no_traffic_and_backup_only_when_needed(nginx, backends):
    a, b, spare = backends("a"), backends("b"), backends("spare")
    ma, mb = member(a), member(b, admin_state_up=False)
    lb, vip, port = simple_lb([ma, mb, member(spare, backup=True)])
    nginx.converge(lb.loadbalancer_id, lb)
    assert {get(vip, port)[1] for _ in range(10)} == {"a"}
    ma.admin_state_up = False
    nginx.converge(lb.loadbalancer_id, lb)
    assert {get(vip, port)[1] for _ in range(10)} == {"spare"}


def test_backup_member_in_a_hashing_pool(nginx, backends):
    """NGINX refuses ``backup`` with ``hash``; Statera keeps the meaning all the same."""
    a, spare = backends("a"), backends("spare")
    ma = member(a)
    lb, vip, port = simple_lb([ma, member(spare, backup=True)], lb_algorithm="SOURCE_IP")
    nginx.converge(lb.loadbalancer_id, lb)
    assert {get(vip, port)[1] for _ in range(10)} == {"a"}
    ma.admin_state_up = False
    assert statuses(nginx.converge(lb.loadbalancer_id, lb), "loadbalancers") == {
        lb.loadbalancer_id: "ACTIVE"}
    assert {get(vip, port)[1] for _ in range(10)} == {"spare"}


def test_source_ip_sticks_and_source_ip_port_spreads(nginx, backends):
    a, b = backends("a"), backends("b")
    lb, vip, port = simple_lb([member(a), member(b)], lb_algorithm="SOURCE_IP")
    nginx.converge(lb.loadbalancer_id, lb)
    assert len({get(vip, port)[1] for _ in range(10)}) == 1
    lb.pools[0].lb_algorithm = "SOURCE_IP_PORT"
    nginx.converge(lb.loadbalancer_id, lb)
    assert {get(vip, port)[1] for _ in range(40)} == {"a", "b"}
    # One (address, port) keeps its member: requests on one keep-alive connection.
    conn = http.client.HTTPConnection(vip, port, timeout=5)
    answers = set()
    for _ in range(5):
        conn.request("GET", "/")
        answers.add(conn.getresponse().read())
    conn.close()
    assert len(answers) == 1


def test_least_connections_prefers_the_idle_member(nginx):
    """While one member holds a slow request, every new request goes to the other one (round
    robin would send every second request to the busy member)."""
    release = threading.Event()
    arrivals = collections.Counter()

    def server(name: str) -> ThreadingHTTPServer:
        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def do_GET(self) -> None:  # noqa: N802
                arrivals[name] += 1
                if name == "slow":
                    release.wait(10)
                body = name.encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                return None

        srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        srv.daemon_threads = True
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        return srv

    slow, fast = server("slow"), server("fast")
    threads = []
    try:
        members = [dm.Member(member_id=f"0000000{i}-0000-0000-0000-000000000000",
                             address="127.0.0.1", protocol_port=s.server_address[1], weight=1,
                             admin_state_up=True, backup=False)
                   for i, s in enumerate((slow, fast))]
        lb, vip, port = simple_lb(members, lb_algorithm="LEAST_CONNECTIONS")
        nginx.converge(lb.loadbalancer_id, lb)
        while arrivals["slow"] == 0:  # until one request hangs on the slow member
            thread = threading.Thread(target=get, args=(vip, port), daemon=True)
            thread.start()
            threads.append(thread)
            wait_for(lambda: sum(arrivals.values()) >= len(threads), timeout=5)
        answers = collections.Counter(get(vip, port)[1] for _ in range(6))
        assert answers == {"fast": 6}
    finally:
        release.set()
        for thread in threads:
            thread.join(5)
        slow.shutdown()
        fast.shutdown()


def test_allowed_cidrs(nginx, backends):
    a = backends("a")
    vip, port = free_vip()
    p = pool([member(a)])
    lst = listener(port, p, allowed_cidrs=["10.0.0.0/8"])
    lb = loadbalancer(vip, [lst], [p])
    nginx.converge(lb.loadbalancer_id, lb)
    assert get(vip, port)[0] == 403
    lst.allowed_cidrs = ["127.0.0.0/8"]
    nginx.converge(lb.loadbalancer_id, lb)
    assert get(vip, port)[1] == "a"


def test_connection_limit_of_a_tcp_listener(nginx, backends):
    """A TCP listener at its limit closes further connections until one ends. (For HTTP
    listeners NGINX counts connections with a request in progress, not idle keep-alive ones.)"""
    a = backends("a")
    lb, vip, port = simple_lb([member(a)], protocol="TCP")
    lb.listeners[0].protocol = "TCP"
    lb.listeners[0].connection_limit = 1
    nginx.converge(lb.loadbalancer_id, lb)
    held = socket.create_connection((vip, port))  # open, silent: a session in progress
    try:
        wait_for(lambda: nginx.statistics(nginx.instance(lb.loadbalancer_id), lb)[0][
            "active_connections"] == 1, timeout=5)
        try:
            status = get(vip, port)[0]
        except (ConnectionError, http.client.HTTPException):
            status = None
        assert status is None
    finally:
        held.close()
    assert wait_for(lambda: _answer(vip, port) == "a", timeout=5)


def _answer(vip: str, port: int) -> str | None:
    """The member's answer, or None while NGINX still counts a just-closed session against
    the limit (it releases the slot when it finalises the session, a moment after the close)."""
    try:
        return get(vip, port)[1]
    except (ConnectionError, http.client.HTTPException):
        return None


def test_insert_headers_reach_the_member(nginx):
    seen: list[dict[str, str]] = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"

        def do_GET(self) -> None:  # noqa: N802
            seen.append({k.lower(): v for k, v in self.headers.items()})
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            return None

    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        m = dm.Member(member_id="00000000-0000-0000-0000-00000000000a", address="127.0.0.1",
                      protocol_port=srv.server_address[1], weight=1, admin_state_up=True)
        vip, port = free_vip()
        p = pool([m])
        lst = listener(port, p, insert_headers={"X-Forwarded-For": "true",
                                                "X-Forwarded-Port": "true",
                                                "X-Forwarded-Proto": "true"})
        lb = loadbalancer(vip, [lst], [p])
        nginx.converge(lb.loadbalancer_id, lb)
        assert get(vip, port)[0] == 204
        assert seen[-1]["x-forwarded-for"] == "127.0.0.1"
        assert seen[-1]["x-forwarded-port"] == str(port)
        assert seen[-1]["x-forwarded-proto"] == "http"
    finally:
        srv.shutdown()
        srv.server_close()


def test_tcp_listener_carries_bytes_to_members(nginx, backends):
    a, b = backends("a"), backends("b")
    lb, vip, port = simple_lb([member(a), member(b)], protocol="TCP")
    lb.listeners[0].protocol = "TCP"
    nginx.converge(lb.loadbalancer_id, lb)
    counts = collections.Counter(get(vip, port)[1] for _ in range(10))
    assert counts == {"a": 5, "b": 5}


def test_listener_without_members_answers_503_and_members_added_later_serve(nginx, backends):
    a = backends("a")
    lb, vip, port = simple_lb([])
    nginx.converge(lb.loadbalancer_id, lb)
    assert get(vip, port)[0] == 503
    lb.pools[0].members = [member(a)]
    nginx.converge(lb.loadbalancer_id, lb)
    assert get(vip, port)[1] == "a"
    assert nginx.counters(lb.loadbalancer_id)["reloads"] == 1


def test_source_ip_persistence_on_a_round_robin_pool(nginx, backends):
    a, b = backends("a"), backends("b")
    lb, vip, port = simple_lb([member(a), member(b)],
                              session_persistence={"type": "SOURCE_IP"})
    nginx.converge(lb.loadbalancer_id, lb)
    assert len({get(vip, port)[1] for _ in range(10)}) == 1
