"""Reloads that fail, failover, removal: what runs keeps running, nothing is left behind."""

from __future__ import annotations

import os
import signal
import socket

import pytest

from statera.providers.kit.liveness import HUNG_POLLS
from statera.providers.kit.procs import children, exists
from statera.providers.kit.status import amphora_id
from tests.haproxy.helpers import Recorder, get, listener, member, simple_lb
from tests.nginx.helpers import nginx_pids, tick


def statuses(report: dict, kind: str) -> dict[str, str]:
    return {r["id"]: r["provisioning_status"] for r in report.get(kind, [])}


def test_a_configuration_that_cannot_start_keeps_the_last_good_one(nginx, backends):
    a, b = backends("a"), backends("b")
    lb, vip, port = simple_lb([member(a)])
    other, other_vip, other_port = simple_lb([member(b)])
    nginx.converge(lb.loadbalancer_id, lb)
    nginx.converge(other.loadbalancer_id, other)
    inst = nginx.instance(lb.loadbalancer_id)
    good = inst.current_config()
    # Someone else holds the port of a new listener: nginx -t passes, the reload cannot bind.
    with socket.socket() as squatter:
        squatter.bind((vip, 0))
        squatter.listen()
        taken = squatter.getsockname()[1]
        lb.listeners.append(listener(taken, lb.pools[0]))
        report = nginx.converge(lb.loadbalancer_id, lb)
        assert set(statuses(report, "loadbalancers").values()) == {"ERROR"}
        assert inst.current_config() == good
        assert (inst.dir / "nginx.conf.rejected").exists()
        assert get(vip, port)[1] == "a"  # the previous configuration still serves
        assert get(other_vip, other_port)[1] == "b"  # and the other LB never noticed
    # Once the port is free the same graph applies.
    report = nginx.converge(lb.loadbalancer_id, lb)
    assert set(statuses(report, "loadbalancers").values()) == {"ACTIVE"}
    assert get(vip, taken)[1] == "a"


def test_failover_replaces_the_master_without_refusing_traffic(nginx, backends):
    a = backends("a")
    lb, vip, port = simple_lb([member(a)])
    report = nginx.converge(lb.loadbalancer_id, lb)
    amphora = report["amphorae"][0]
    assert amphora["id"] == amphora_id(lb.loadbalancer_id)
    inst = nginx.instance(lb.loadbalancer_id)
    before = inst.pid()
    assert amphora["compute_id"] == str(before)
    nginx.failover(lb.loadbalancer_id, lb)
    after = inst.pid()
    assert after is not None and after != before
    assert get(vip, port)[1] == "a"
    assert nginx.counters(lb.loadbalancer_id)["failovers"] == 1
    report = nginx.converge(lb.loadbalancer_id, lb)
    assert report["amphorae"][0]["compute_id"] == str(after)


def test_delete_stops_every_process_and_removes_the_state(nginx, backends, nginx_state_dir):
    a = backends("a")
    lb, vip, port = simple_lb([member(a)])
    nginx.converge(lb.loadbalancer_id, lb)
    assert nginx_pids(nginx_state_dir)
    report = nginx.converge(lb.loadbalancer_id, None)
    assert statuses(report, "loadbalancers") == {lb.loadbalancer_id: "DELETED"}
    assert nginx_pids(nginx_state_dir) == []
    assert not (nginx_state_dir / lb.loadbalancer_id).exists()


def test_hung_nginx_is_replaced_by_the_health_poll(nginx, backends):
    """SIGSTOP the master and its workers: the kernel still accepts connections on the VIP,
    nothing answers them. The health poll asks the status socket each tick; after HUNG_POLLS
    silent ticks in a row the instance is killed and started afresh, and serves again."""
    a = backends("a")
    lb, vip, port = simple_lb([member(a)])
    nginx.converge(lb.loadbalancer_id, lb)
    inst = nginx.instance(lb.loadbalancer_id)
    master = inst.pid()
    assert master is not None and inst.answers()
    stopped = [master, *children(master)]
    assert len(stopped) >= 2
    try:
        for pid in stopped:
            os.kill(pid, signal.SIGSTOP)
        with pytest.raises(OSError):  # accepted by the kernel, never answered
            with socket.create_connection((vip, port), timeout=1) as conn:
                conn.sendall(b"GET / HTTP/1.0\r\n\r\n")
                conn.recv(100)
        for _ in range(HUNG_POLLS - 1):  # one slow answer is not a hung process
            tick(nginx, Recorder())
            assert inst.pid() == master
        rec = Recorder()
        tick(nginx, rec)
        assert inst.pid() not in (None, master)
        assert not any(exists(pid) for pid in stopped)
        assert get(vip, port)[1] == "a"
        assert nginx.counters(lb.loadbalancer_id)["restarts"] == 1
        [amphora] = rec.statuses[-1]["amphorae"]  # the new instance is reported
        assert amphora["compute_id"] == str(inst.pid())
    finally:
        for pid in stopped:  # whatever the outcome, nothing of ours stays stopped
            if exists(pid):
                os.kill(pid, signal.SIGKILL)


def test_failover_of_a_hung_master_rebuilds_it(nginx, backends):
    a = backends("a")
    lb, vip, port = simple_lb([member(a)])
    nginx.converge(lb.loadbalancer_id, lb)
    inst = nginx.instance(lb.loadbalancer_id)
    master = inst.pid()
    assert master is not None
    os.kill(master, signal.SIGSTOP)  # a stopped master would never act on USR2
    try:
        nginx.failover(lb.loadbalancer_id, lb)
        assert inst.pid() not in (None, master)
        assert not exists(master)
        assert get(vip, port)[1] == "a"
    finally:
        if exists(master):
            os.kill(master, signal.SIGKILL)
