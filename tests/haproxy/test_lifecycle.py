"""Health reports, runtime member changes, restarts, statistics, failures and removal."""

from __future__ import annotations

import collections
import os
import signal
import socket
from typing import Any

import pytest

from statera.providers.haproxy.converger import HUNG_POLLS, amphora_id
from tests.haproxy.helpers import (
    Recorder,
    first_checks_done,
    free_vip,
    get,
    haproxy_pids,
    listener,
    loadbalancer,
    member,
    monitor,
    pool,
    simple_lb,
    tick,
    wait_for,
)


def test_stopped_backend_reports_member_error_pool_degraded(converger, backends):
    a, b = backends("a"), backends("b")
    ma, mb = member(a), member(b)
    lb, vip, port = simple_lb([ma, mb], healthmonitor=monitor("HTTP", url_path="/health",
                                                              expected_codes="200"))
    p = lb.pools[0]
    converger.converge(lb.loadbalancer_id, lb)
    first_checks_done(converger, lb.loadbalancer_id)
    report = converger.converge(lb.loadbalancer_id, lb)  # no change: only observes
    operating = {r["id"]: r["operating_status"] for k in report for r in report[k]
                 if "operating_status" in r}
    assert operating[ma.member_id] == "ONLINE" and operating[lb.loadbalancer_id] == "ONLINE"
    rec = Recorder()
    tick(converger, rec)
    assert rec.statuses == []  # nothing changed, nothing sent

    b.stop()

    def degraded() -> bool:
        tick(converger, rec)
        return rec.latest("members", mb.member_id) == "ERROR"

    wait_for(degraded, timeout=10)
    assert rec.latest("pools", p.pool_id) == "DEGRADED"
    assert rec.latest("loadbalancers", lb.loadbalancer_id) == "DEGRADED"
    assert rec.latest("members", ma.member_id) is None  # unchanged, never re-sent
    assert {get(vip, port)[1] for _ in range(4)} == {"a"}

    a.stop()
    wait_for(lambda: (tick(converger, rec), rec.latest("pools", p.pool_id) == "ERROR")[1])
    assert rec.latest("loadbalancers", lb.loadbalancer_id) == "ERROR"


def test_operating_status_without_monitor_and_when_disabled(converger, backends):
    a, b = backends("a"), backends("b")
    ma, mb = member(a), member(b, admin_state_up=False)
    mc = member(b, weight=0)
    lb, vip, port = simple_lb([ma, mb, mc])
    report = converger.converge(lb.loadbalancer_id, lb)
    operating = {r["id"]: r["operating_status"] for k in report for r in report[k]
                 if "operating_status" in r}
    assert operating[ma.member_id] == "NO_MONITOR"
    assert operating[mb.member_id] == "OFFLINE"
    assert operating[mc.member_id] == "DRAINING"
    assert operating[lb.listeners[0].listener_id] == "ONLINE"


def test_member_add_remove_weight_without_reload(converger, backends):
    a, b, c = backends("a"), backends("b"), backends("c")
    ma, mb = member(a), member(b)
    lb, vip, port = simple_lb([ma, mb], healthmonitor=monitor())
    p = lb.pools[0]
    converger.converge(lb.loadbalancer_id, lb)
    pid = converger.instance(lb.loadbalancer_id).pid()

    mc = member(c, pool_id=p.pool_id)
    p.members = [ma, mb, mc]  # add
    converger.converge(lb.loadbalancer_id, lb)
    assert wait_for(lambda: {get(vip, port)[1] for _ in range(9)} == {"a", "b", "c"})

    p.members = [ma, mc]  # remove
    converger.converge(lb.loadbalancer_id, lb)
    assert {get(vip, port)[1] for _ in range(8)} == {"a", "c"}

    mc.weight = 3  # weight
    converger.converge(lb.loadbalancer_id, lb)
    counts = collections.Counter(get(vip, port)[1] for _ in range(20))
    assert counts == {"a": 5, "c": 15}

    ma.admin_state_up = False  # admin down
    converger.converge(lb.loadbalancer_id, lb)
    assert {get(vip, port)[1] for _ in range(4)} == {"c"}

    counters = converger.counters(lb.loadbalancer_id)
    assert counters["reloads"] == 0 and counters["runtime_updates"] == 4
    assert converger.instance(lb.loadbalancer_id).pid() == pid

    # The config file kept pace: a later reload (timeout change) loses nothing.
    lb.listeners[0].timeout_client_data = 12345
    converger.converge(lb.loadbalancer_id, lb)
    assert converger.counters(lb.loadbalancer_id)["reloads"] == 1
    assert converger.instance(lb.loadbalancer_id).pid() != pid
    counts = collections.Counter(get(vip, port)[1] for _ in range(20))
    assert counts == {"c": 20}
    ma.admin_state_up = True  # back up, through the runtime again
    converger.converge(lb.loadbalancer_id, lb)
    assert collections.Counter(get(vip, port)[1] for _ in range(20)) == {"a": 5, "c": 15}


def test_unchanged_graph_does_nothing(converger, backends):
    lb, vip, port = simple_lb([member(backends("a"))])
    converger.converge(lb.loadbalancer_id, lb)
    converger.converge(lb.loadbalancer_id, lb)
    assert converger.counters(lb.loadbalancer_id) == {
        "starts": 1, "reloads": 0, "restarts": 0, "runtime_updates": 0, "rejected": 0,
        "failovers": 0}


def test_killed_haproxy_is_restarted_by_tick(converger, backends):
    lb, vip, port = simple_lb([member(backends("a"))])
    converger.converge(lb.loadbalancer_id, lb)
    inst = converger.instance(lb.loadbalancer_id)
    pid = inst.pid()
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: not inst.alive())
    tick(converger, Recorder())
    assert inst.alive() and inst.pid() != pid
    assert converger.counters(lb.loadbalancer_id)["restarts"] == 1
    assert get(vip, port)[1] == "a"


def test_amphora_records_follow_the_process(converger, backends):
    lb, vip, port = simple_lb([member(backends("a"))])
    report = converger.converge(lb.loadbalancer_id, lb)
    inst = converger.instance(lb.loadbalancer_id)
    pid = inst.pid()
    [amphora] = report["amphorae"]
    assert amphora == {"id": amphora_id(lb.loadbalancer_id), "loadbalancer_id": lb.loadbalancer_id,
                       "status": "ALLOCATED", "compute_id": str(pid), "compute_flavor": "haproxy",
                       "role": "STANDALONE", "lb_network_ip": vip, "ha_ip": vip}
    rec = Recorder()
    tick(converger, rec)
    assert rec.statuses == []  # same process: nothing to re-send
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: not inst.alive())
    tick(converger, rec)
    [restarted] = rec.statuses[-1]["amphorae"]
    assert restarted["id"] == amphora["id"] and restarted["compute_id"] == str(inst.pid())


def test_hung_haproxy_is_rebuilt_by_converge_and_by_tick(converger, backends):
    lb, vip, port = simple_lb([member(backends("a"))])
    converger.converge(lb.loadbalancer_id, lb)
    inst = converger.instance(lb.loadbalancer_id)
    for rebuild in ("converge", "tick"):
        pid = inst.pid()
        assert pid is not None
        os.kill(pid, signal.SIGSTOP)  # alive, holding the VIP, answering nothing
        if rebuild == "converge":  # what a failover or a resync does
            converger.converge(lb.loadbalancer_id, lb)
        else:
            for _ in range(HUNG_POLLS):
                tick(converger, Recorder())
        assert inst.pid() not in (None, pid)
        assert get(vip, port)[1] == "a"
    assert converger.counters(lb.loadbalancer_id)["restarts"] == 2


def raw_request(vip: str, port: int, path: str) -> tuple[int, int]:
    """Send one request, read the whole response; return (bytes sent, bytes received)."""
    request = f"GET {path} HTTP/1.0\r\nHost: x\r\n\r\n".encode()
    received = 0
    with socket.create_connection((vip, port), timeout=5) as s:
        s.sendall(request)
        while chunk := s.recv(65536):
            received += len(chunk)
    return len(request), received


def test_statistics_are_absolute_and_survive_reloads(converger, backends):
    # TCP mode counts wire bytes; HTTP mode counts HAProxy's internal (HTX) message sizes,
    # which differ from the wire by a few bytes per message.
    vip, port = free_vip()
    p = pool([member(backends("a"))], protocol="TCP")
    lb = loadbalancer(vip, [listener(port, p, protocol="TCP")], [p])
    lid = lb.listeners[0].listener_id
    converger.converge(lb.loadbalancer_id, lb)
    sent = received = 0
    for path in ("/", "/abc", "/" + "x" * 500):
        s, r = raw_request(vip, port, path)
        sent, received = sent + s, received + r
    rec = Recorder()

    def stats_reach(bytes_in: int) -> bool:
        tick(converger, rec)
        record = rec.latest_stats(lid)
        return bool(record) and record["bytes_in"] >= bytes_in

    wait_for(lambda: stats_reach(sent))
    record = rec.latest_stats(lid)
    assert record == {"id": lid, "active_connections": 0, "bytes_in": sent,
                      "bytes_out": received, "request_errors": 0, "total_connections": 3}

    lb.listeners[0].timeout_client_data = 4321  # forces a reload: counters restart in HAProxy
    converger.converge(lb.loadbalancer_id, lb)
    assert converger.counters(lb.loadbalancer_id)["reloads"] == 1
    tick(converger, rec)
    assert rec.latest_stats(lid)["bytes_in"] == sent  # not back to zero
    s, r = raw_request(vip, port, "/after-reload")
    wait_for(lambda: stats_reach(sent + s))
    record = rec.latest_stats(lid)
    assert record["bytes_in"] == sent + s and record["bytes_out"] == received + r
    assert record["total_connections"] == 4


def test_invalid_config_reports_error_and_keeps_others_running(converger, backends):
    good, vip1, port1 = simple_lb([member(backends("a"))])
    bad, vip2, port2 = simple_lb([member(backends("b"))])
    converger.converge(good.loadbalancer_id, good)
    converger.converge(bad.loadbalancer_id, bad)
    bad.flavor = {"nbthread": 1000}  # beyond HAProxy's MAX_THREADS: fails haproxy -c
    report = converger.converge(bad.loadbalancer_id, bad)
    assert report["loadbalancers"][0]["provisioning_status"] == "ERROR"
    assert get(vip1, port1)[1] == "a"
    assert get(vip2, port2)[1] == "b"  # the last good configuration keeps serving
    assert converger.counters(bad.loadbalancer_id)["rejected"] == 1


def test_failed_reload_restores_last_good_config(converger, backends):
    lb, vip, port = simple_lb([member(backends("a"))])
    converger.converge(lb.loadbalancer_id, lb)
    inst = converger.instance(lb.loadbalancer_id)
    good_config = inst.current_config()
    with socket.socket() as blocker:  # someone else owns the new port: bind fails at start
        blocker.bind((vip, 0))
        blocker.listen()
        taken = blocker.getsockname()[1]
        p = lb.pools[0]
        lb.listeners.append(listener(taken, p))
        report = converger.converge(lb.loadbalancer_id, lb)
    assert report["loadbalancers"][0]["provisioning_status"] == "ERROR"
    assert inst.current_config() == good_config
    assert get(vip, port)[1] == "a"


def test_deleted_load_balancer_stops_and_cleans_up(converger, backends, state_dir):
    lb, vip, port = simple_lb([member(backends("a"))])
    converger.converge(lb.loadbalancer_id, lb)
    assert converger.known_ids() == {lb.loadbalancer_id}
    report = converger.converge(lb.loadbalancer_id, None)
    assert report == {"loadbalancers": [{"id": lb.loadbalancer_id,
                                         "provisioning_status": "DELETED"}]}
    assert converger.known_ids() == set()
    assert wait_for(lambda: not haproxy_pids(state_dir))


def test_disabled_load_balancer_serves_nothing(converger, backends):
    lb, vip, port = simple_lb([member(backends("a"))])
    converger.converge(lb.loadbalancer_id, lb)
    lb.admin_state_up = False
    report = converger.converge(lb.loadbalancer_id, lb)
    assert report["loadbalancers"][0]["operating_status"] == "OFFLINE"
    with socket.socket() as s:
        assert s.connect_ex((vip, port)) != 0


@pytest.mark.parametrize("kind", ["TCP", "HTTP", "TLS-HELLO"])
def test_monitor_types_render_and_run(converger, backends, kind):
    a = backends("a")
    vip, port = free_vip()
    p = pool([member(a, monitor_port=a.port, monitor_address="127.0.0.1")],
             healthmonitor=monitor(kind, http_method="HEAD", http_version=1.1,
                                   domain_name="example.com", expected_codes="200-204"))
    lb = loadbalancer(vip, [listener(port, p)], [p])
    report = converger.converge(lb.loadbalancer_id, lb)
    assert report["loadbalancers"][0]["provisioning_status"] == "ACTIVE"
    assert get(vip, port)[1] == "a"


def test_reloads_refuse_no_new_connection(converger, backends):
    """New connections during seamless reloads (-x / -sf) never fail."""
    import threading

    lb, vip, port = simple_lb([member(backends("a")), member(backends("b"))])
    converger.converge(lb.loadbalancer_id, lb)
    failures: list[str] = []
    done = threading.Event()
    served = [0]

    def client() -> None:
        while not done.is_set():
            try:
                assert get(vip, port)[0] == 200
                served[0] += 1
            except Exception as exc:  # noqa: BLE001 - every failure counts
                failures.append(repr(exc))

    threads = [threading.Thread(target=client) for _ in range(4)]
    for t in threads:
        t.start()
    try:
        for i in range(6):
            lb.listeners[0].timeout_client_data = 20000 + i
            converger.converge(lb.loadbalancer_id, lb)
    finally:
        done.set()
        for t in threads:
            t.join()
    assert converger.counters(lb.loadbalancer_id)["reloads"] == 6
    assert failures == [] and served[0] > 20


def test_new_member_offline_until_checked_and_no_flap_on_reload(converger, backends):
    """A member HAProxy has not checked yet is not ONLINE (Octavia's initial OFFLINE), and a
    reload, whose new process has not checked anything yet either, keeps what was observed."""
    a = backends("a")
    ma, mdead = member(a), member(a, protocol_port=_closed_port())
    lb, vip, port = simple_lb([ma], healthmonitor=monitor("HTTP", delay=5))
    converger.converge(lb.loadbalancer_id, lb)
    first_checks_done(converger, lb.loadbalancer_id)
    converger.converge(lb.loadbalancer_id, lb)
    lb.pools[0].members.append(mdead)  # added at run time: HAProxy shows it UP, unchecked
    status = operating_of(converger.converge(lb.loadbalancer_id, lb))
    assert status[mdead.member_id] == "OFFLINE" and status[ma.member_id] == "ONLINE"
    rec = Recorder()
    wait_for(lambda: (tick(converger, rec), rec.latest("members", mdead.member_id))[1]
             == "ERROR", timeout=15)
    seen = [r["operating_status"] for report in rec.statuses
            for r in report.get("members", []) if r["id"] == mdead.member_id]
    assert "ONLINE" not in seen, seen

    lb.listeners[0].connection_limit = 5000  # a reload: a new process, nothing checked yet
    before = converger.counters(lb.loadbalancer_id)["reloads"]
    status = operating_of(converger.converge(lb.loadbalancer_id, lb))
    assert converger.counters(lb.loadbalancer_id)["reloads"] == before + 1
    assert status[ma.member_id] == "ONLINE"
    rec = Recorder()
    tick(converger, rec)
    assert rec.latest("members", ma.member_id) is None


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def operating_of(report: dict[str, Any]) -> dict[str, str]:
    return {r["id"]: r["operating_status"] for k in report for r in report[k]
            if "operating_status" in r}
