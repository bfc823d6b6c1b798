"""UDP through NGINX's stream module, and the kit's prober driving NGINX: a member that fails
its checks reads ERROR and takes no new traffic; back up, it serves again."""

from __future__ import annotations

import collections

from tests.haproxy.helpers import (
    Recorder,
    free_vip,
    get,
    listener,
    loadbalancer,
    member,
    monitor,
    pool,
    simple_lb,
    wait_for,
)
from tests.nginx.helpers import tick, udp_ask


def udp_lb(members, **pool_kw):
    vip, port = free_vip()
    p = pool(members, protocol="UDP", **pool_kw)
    lst = listener(port, p, protocol="UDP", timeout_member_data=300)
    return loadbalancer(vip, [lst], [p]), vip, port


def test_udp_datagrams_are_balanced_over_members(nginx, udp_backends):
    a, b = udp_backends("a"), udp_backends("b")
    lb, vip, port = udp_lb([member(a), member(b)])
    nginx.converge(lb.loadbalancer_id, lb)
    answers = collections.Counter(udp_ask(vip, port) for _ in range(20))
    assert answers == {"a": 10, "b": 10}
    assert (a.datagrams, b.datagrams) == (10, 10)


def test_udp_source_ip_keeps_one_member(nginx, udp_backends):
    a, b = udp_backends("a"), udp_backends("b")
    lb, vip, port = udp_lb([member(a), member(b)], lb_algorithm="SOURCE_IP")
    nginx.converge(lb.loadbalancer_id, lb)
    assert len({udp_ask(vip, port) for _ in range(10)}) == 1


def test_udp_connect_monitor_marks_a_dead_member_error_and_stops_sending_to_it(
        nginx, udp_backends):
    a, b = udp_backends("a"), udp_backends("b")
    ma, mb = member(a), member(b)
    lb, vip, port = udp_lb([ma, mb], healthmonitor=monitor("UDP-CONNECT", timeout=1))
    rec = Recorder()
    rec.statuses.append(nginx.converge(lb.loadbalancer_id, lb))
    wait_for(lambda: (tick(nginx, rec), rec.latest("members", mb.member_id) == "ONLINE")[1])
    b.stop()
    wait_for(lambda: (tick(nginx, rec), rec.latest("members", mb.member_id) == "ERROR")[1])
    assert rec.latest("members", ma.member_id) == "ONLINE"
    assert rec.latest("pools", lb.pools[0].pool_id) == "DEGRADED"
    assert rec.latest("loadbalancers", lb.loadbalancer_id) == "DEGRADED"
    assert {udp_ask(vip, port) for _ in range(10)} == {"a"}


def test_http_monitor_error_degraded_and_recovery(nginx, backends):
    a, b = backends("a"), backends("b")
    ma, mb = member(a), member(b)
    lb, vip, port = simple_lb([ma, mb], healthmonitor=monitor(
        "HTTP", url_path="/health", expected_codes="200"))
    report = nginx.converge(lb.loadbalancer_id, lb)
    # Before its first check passed a member never reads ONLINE.
    assert {r["operating_status"] for r in report["members"]} <= {"OFFLINE", "ONLINE"}
    rec = Recorder()
    rec.statuses.append(report)
    wait_for(lambda: (tick(nginx, rec), rec.latest("members", mb.member_id) == "ONLINE")[1])
    port_b = b.port
    b.stop()
    wait_for(lambda: (tick(nginx, rec), rec.latest("members", mb.member_id) == "ERROR")[1])
    assert rec.latest("pools", lb.pools[0].pool_id) == "DEGRADED"
    assert collections.Counter(get(vip, port)[1] for _ in range(10)) == {"a": 10}
    a.stop()
    wait_for(lambda: (tick(nginx, rec), rec.latest("pools", lb.pools[0].pool_id) == "ERROR")[1])
    assert rec.latest("loadbalancers", lb.loadbalancer_id) == "ERROR"
    # b comes back on its port: ONLINE again and serving.
    b2 = _backend_on("b2", port_b)
    try:
        wait_for(lambda: (tick(nginx, rec), rec.latest("members", mb.member_id) == "ONLINE")[1])
        assert get(vip, port)[1] == "b2"
    finally:
        b2.shutdown()
        b2.server_close()


def _backend_on(name: str, port: int):
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"

        def do_GET(self) -> None:  # noqa: N802
            body = name.encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            return None

    ThreadingHTTPServer.allow_reuse_address = True
    srv = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


def test_monitor_address_and_port_are_probed_instead_of_the_member(nginx, backends):
    a, probe_target = backends("a"), backends("probe")
    m = member(a, monitor_address="127.0.0.1", monitor_port=probe_target.port)
    lb, vip, port = simple_lb([m], healthmonitor=monitor("TCP"))
    rec = Recorder()
    rec.statuses.append(nginx.converge(lb.loadbalancer_id, lb))
    wait_for(lambda: (tick(nginx, rec), rec.latest("members", m.member_id) == "ONLINE")[1])
    probe_target.stop()  # the member itself still serves, its monitor port is dead
    wait_for(lambda: (tick(nginx, rec), rec.latest("members", m.member_id) == "ERROR")[1])


def test_statistics_equal_the_traffic_and_survive_a_killed_master(nginx, backends, udp_backends):
    a = backends("a")
    lb, vip, port = simple_lb([member(a)])
    nginx.converge(lb.loadbalancer_id, lb)
    lid = lb.listeners[0].listener_id
    for _ in range(5):
        assert get(vip, port)[0] == 200
    rec = Recorder()
    # NGINX logs a request after answering it: wait for the line rather than race it.
    wait_for(lambda: (tick(nginx, rec), rec.latest_stats(lid)["total_connections"] == 5)[1])
    first = rec.latest_stats(lid)
    assert first["bytes_out"] > 5 * len("a") and first["bytes_in"] > 0
    assert first["request_errors"] == 0
    # A malformed request is a request error.
    import socket

    with socket.create_connection((vip, port)) as s:
        s.sendall(b"BROKEN\r\n\r\n")
        assert b"400" in s.recv(4096)
    inst = nginx.instance(lb.loadbalancer_id)
    import os
    import signal

    os.kill(inst.pid(), signal.SIGKILL)
    wait_for(lambda: (tick(nginx, rec), inst.alive())[1])
    for _ in range(3):
        assert get(vip, port)[0] == 200
    wait_for(lambda: (tick(nginx, rec), rec.latest_stats(lid)["total_connections"] == 9)[1])
    after = rec.latest_stats(lid)
    assert after["request_errors"] == 1
    assert after["bytes_out"] > first["bytes_out"]
