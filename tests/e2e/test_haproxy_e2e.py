"""The HAProxy provider end to end: a real ``statera serve``, the real ``openstack`` CLI and
openstacksdk, real HAProxy processes and real backend HTTP servers on loopback.

What a user sees: traffic through the VIP reaches every member; a stopped backend turns its
member ERROR and pool and load balancer DEGRADED within the health monitor's timing, and back
ONLINE when it returns; statistics count the traffic exactly and survive a reload and a restart
of Statera; L7 policies redirect and reject; a killed HAProxy is back within seconds and the
amphora API reports its new pid; failover keeps serving.
"""

from __future__ import annotations

import os
import signal
import socket
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from tests.e2e import haproxy_support as support
from tests.e2e.conftest import Server, wait_for
from tests.e2e.haproxy_support import (
    HEALTH_POLL,
    SUBNET_ID,
    Backend,
    counters,
    get,
    haproxy_pid,
    kill_haproxy,
    lb_dir,
    openstack_cli,
    pids_under,
    requires_haproxy,
    serving,
    stats,
    wait_active,
)

# Fixtures shared with the churn test.
haproxy_server = support.haproxy_server
sdk_for = support.sdk_for
backends = support.backends

pytestmark = [pytest.mark.haproxy, pytest.mark.e2e, requires_haproxy]

# Health monitor timing: a server is marked down after max_retries_down failed checks
# ``delay`` seconds apart, and up after max_retries good ones.
DELAY, TIMEOUT, RETRIES, RETRIES_DOWN = 1, 1, 2, 2
#: Reporting slack on top of the health poll: one status-socket round trip and the API read.
SLACK = 1.0


class Traffic:
    """Requests through the VIP, each on its own connection, counted for the stats checks."""

    def __init__(self, address: str, port: int) -> None:
        self.address, self.port = address, port
        self.sent = 0

    def burst(self, n: int) -> Counter[str]:
        seen: Counter[str] = Counter()
        for _ in range(n):
            status, body, _ = get(self.address, self.port)
            self.sent += 1
            assert status == 200, (status, body)
            seen[body] += 1
        return seen


def _build(sdk: Any, server: Server, a: Backend, b: Backend, port: int) -> dict[str, Any]:
    """An HTTP load balancer with one listener, a pool, two members and an HTTP monitor;
    the load balancer itself through the CLI (``--wait``), the rest through the SDK."""
    lb = openstack_cli(server, "loadbalancer", "create", "--name", "web", "--vip-subnet-id",
                       SUBNET_ID, "--wait")
    assert lb["provisioning_status"] == "ACTIVE" and lb["provider"] == "haproxy"
    lbs = sdk.load_balancer
    listener = lbs.create_listener(name="http", load_balancer_id=lb["id"], protocol="HTTP",
                                   protocol_port=port)
    pool = lbs.create_pool(name="pool", listener_id=listener.id, protocol="HTTP",
                           lb_algorithm="ROUND_ROBIN")
    ma = lbs.create_member(pool, address="127.0.0.1", protocol_port=a.port, name="a")
    mb = lbs.create_member(pool, address="127.0.0.1", protocol_port=b.port, name="b")
    hm = lbs.create_health_monitor(pool_id=pool.id, type="HTTP", delay=DELAY, timeout=TIMEOUT,
                                   max_retries=RETRIES, max_retries_down=RETRIES_DOWN,
                                   url_path="/")
    wait_active(sdk, lb["id"])
    return {"lb": lb["id"], "vip": lb["vip_address"], "listener": listener.id, "pool": pool.id,
            "a": ma.id, "b": mb.id, "hm": hm.id}


def _operating(sdk: Any, ids: dict[str, Any]) -> tuple[str, str, str, str]:
    lbs = sdk.load_balancer
    return (lbs.get_member(ids["a"], ids["pool"]).operating_status,
            lbs.get_member(ids["b"], ids["pool"]).operating_status,
            lbs.get_pool(ids["pool"]).operating_status,
            lbs.get_load_balancer(ids["lb"]).operating_status)


def _timed(predicate: Callable[[], Any], timeout: float, what: str) -> float:
    start = time.monotonic()
    wait_for(predicate, timeout=timeout, what=what)
    return time.monotonic() - start


def test_traffic_health_and_statistics(haproxy_server: Server, sdk_for: Any,
                                       backends: Callable[[str], Backend]) -> None:
    from tests.e2e.conftest import free_port

    server, sdk = haproxy_server, sdk_for
    a, b = backends("alpha"), backends("beta")
    port = free_port()
    ids = _build(sdk, server, a, b, port)
    traffic = Traffic(ids["vip"], port)

    # Traffic reaches both members through the VIP (round robin: evenly).
    seen = traffic.burst(10)
    assert seen == Counter({"alpha": 5, "beta": 5})

    # Health: both ONLINE once the checks have run, then b stops answering.
    wait_for(lambda: _operating(sdk, ids) == ("ONLINE", "ONLINE", "ONLINE", "ONLINE"),
             timeout=10, what="everything ONLINE")
    b.stop()
    bound = DELAY * RETRIES_DOWN + HEALTH_POLL + SLACK
    took = _timed(lambda: _operating(sdk, ids) == ("ONLINE", "ERROR", "DEGRADED", "DEGRADED"),
                  timeout=bound + 5, what="member ERROR, pool and LB DEGRADED")
    assert took <= bound, f"down reported after {took:.2f} s (bound {bound:.2f} s)"
    assert traffic.burst(4) == Counter({"alpha": 4})  # HAProxy no longer sends to b

    b.start()
    bound = DELAY * RETRIES + HEALTH_POLL + SLACK
    took = _timed(lambda: _operating(sdk, ids) == ("ONLINE", "ONLINE", "ONLINE", "ONLINE"),
                  timeout=bound + 5, what="everything ONLINE again")
    assert took <= bound, f"up reported after {took:.2f} s (bound {bound:.2f} s)"
    assert set(traffic.burst(4)) == {"alpha", "beta"}

    # Statistics count the traffic: one frontend session per request sent.
    wait_for(lambda: stats(sdk, ids["lb"])["total_connections"] == traffic.sent, timeout=5,
             what=f"total_connections == {traffic.sent}")
    before = stats(sdk, ids["lb"])
    assert before["bytes_in"] > 0 and before["bytes_out"] > 0
    assert before["request_errors"] == 0
    shown = openstack_cli(server, "loadbalancer", "stats", "show", ids["lb"])
    assert shown["total_connections"] == traffic.sent and shown["bytes_in"] == before["bytes_in"]
    listener_stats = sdk.load_balancer.get_listener_statistics(ids["listener"])
    assert listener_stats.total_connections == traffic.sent

    # A reload (a listener change HAProxy cannot apply at run time) keeps the totals.
    reloads = counters(server, ids["lb"])["reloads"]
    sdk.load_balancer.update_listener(ids["listener"], timeout_client_data=40000)
    wait_active(sdk, ids["lb"])
    assert counters(server, ids["lb"])["reloads"] == reloads + 1
    time.sleep(2 * 1.0)  # two statistics intervals after the reload
    after_reload = stats(sdk, ids["lb"])
    assert after_reload["total_connections"] == traffic.sent
    assert after_reload["bytes_in"] == before["bytes_in"]
    traffic.burst(3)
    wait_for(lambda: stats(sdk, ids["lb"])["total_connections"] == traffic.sent, timeout=5,
             what="statistics counting after the reload")

    # A restart of Statera: HAProxy keeps serving while Statera is down, and the new agent
    # adopts that same process (no restart, no reload); the totals carry on.
    counted = stats(sdk, ids["lb"])
    pid = haproxy_pid(server, ids["lb"])
    reloads = counters(server, ids["lb"])["reloads"]
    server.stop()
    assert serving(ids["vip"], port)
    traffic.sent += 1
    server.start()
    wait_for(lambda: counters(server, ids["lb"]).get("adoptions") == 1, timeout=10,
             what="the running HAProxy adopted")
    assert haproxy_pid(server, ids["lb"]) == pid
    assert counters(server, ids["lb"])["reloads"] == reloads
    wait_for(lambda: serving(ids["vip"], port), timeout=10, what="serving after restart")
    traffic.sent += 1  # the probe above
    wait_for(lambda: stats(sdk, ids["lb"])["total_connections"] == traffic.sent, timeout=5,
             what="statistics after the restart")
    restarted = stats(sdk, ids["lb"])
    assert restarted["bytes_in"] > counted["bytes_in"]
    assert restarted["bytes_out"] > counted["bytes_out"]
    assert set(traffic.burst(4)) == {"alpha", "beta"}
    wait_for(lambda: stats(sdk, ids["lb"])["total_connections"] == traffic.sent, timeout=5,
             what="statistics counting after the restart")


def test_l7_redirect_and_reject(haproxy_server: Server, sdk_for: Any,
                                backends: Callable[[str], Backend]) -> None:
    from tests.e2e.conftest import free_port

    sdk = sdk_for
    a, b = backends("alpha"), backends("beta")
    port = free_port()
    ids = _build(sdk, haproxy_server, a, b, port)
    lbs = sdk.load_balancer
    # openstacksdk has no redirect_http_code; the CLI has.
    redirect = openstack_cli(haproxy_server, "loadbalancer", "l7policy", "create",
                             "--action", "REDIRECT_TO_URL", "--redirect-url",
                             "https://example.invalid/moved", "--redirect-http-code", "301",
                             "--position", "1", ids["listener"])
    assert redirect["redirect_http_code"] == 301
    lbs.create_l7_rule(redirect["id"], type="PATH", compare_type="STARTS_WITH", value="/old")
    reject = lbs.create_l7_policy(listener_id=ids["listener"], action="REJECT", position=2)
    lbs.create_l7_rule(reject, type="HEADER", key="X-Block", compare_type="EQUAL_TO",
                       value="yes")
    wait_active(sdk, ids["lb"])

    status, _, headers = get(ids["vip"], port, "/old/page")
    assert status == 301 and headers["location"] == "https://example.invalid/moved"
    status, _, _ = get(ids["vip"], port, "/", headers={"X-Block": "yes"})
    assert status == 403
    status, body, _ = get(ids["vip"], port, "/", headers={"X-Block": "no"})
    assert status == 200 and body in ("alpha", "beta")

    # Removing the rule of the REJECT policy: a policy without rules never matches.
    lbs.delete_l7_policy(reject)
    wait_active(sdk, ids["lb"])
    assert get(ids["vip"], port, "/", headers={"X-Block": "yes"})[0] == 200


def _amphorae(server: Server) -> list[dict[str, Any]]:
    import json
    import urllib.request

    with urllib.request.urlopen(server.url + "/v2/octavia/amphorae", timeout=5) as resp:
        data: list[dict[str, Any]] = json.loads(resp.read())["amphorae"]
    return data


def test_killed_haproxy_failover_and_amphorae(haproxy_server: Server, sdk_for: Any,
                                              backends: Callable[[str], Backend]) -> None:
    from tests.e2e.conftest import free_port

    server, sdk = haproxy_server, sdk_for
    a, b = backends("alpha"), backends("beta")
    port = free_port()
    ids = _build(sdk, server, a, b, port)
    lbs = sdk.load_balancer
    # A second load balancer without listeners still runs a process: one amphora each.
    other = lbs.create_load_balancer(name="other", vip_subnet_id=SUBNET_ID)
    wait_active(sdk, other.id)

    def amphora_of(lb_id: str) -> dict[str, Any] | None:
        rows = [x for x in _amphorae(server) if x["loadbalancer_id"] == lb_id]
        assert len(rows) <= 1, rows
        return rows[0] if rows else None

    pid = haproxy_pid(server, ids["lb"])
    assert pid is not None
    # The instance runs on this agent host (statera serve's, named after the machine).
    amp = wait_for(lambda: (x := amphora_of(ids["lb"])) and x["status"] == "ALLOCATED" and x,
                   timeout=5, what="amphora of the HAProxy")
    assert amp["compute_id"] == socket.gethostname() and amp["role"] == "STANDALONE"
    assert amp["lb_network_ip"] == ids["vip"]
    assert len(_amphorae(server)) == 2
    shown = sdk.load_balancer.get_amphora(amp["id"])
    assert shown.loadbalancer_id == ids["lb"] and shown.compute_id == socket.gethostname()

    # Kill it: the health poll starts it again, it serves, and the amphora shows the new pid.
    start = time.monotonic()
    assert kill_haproxy(server, ids["lb"])
    wait_for(lambda: serving(ids["vip"], port), timeout=5, what="serving after SIGKILL")
    back_after = time.monotonic() - start
    new_pid = haproxy_pid(server, ids["lb"])
    assert new_pid is not None and new_pid != pid
    assert counters(server, ids["lb"])["restarts"] >= 1
    assert back_after < 3.0, f"back after {back_after:.2f} s"
    assert lbs.get_load_balancer(ids["lb"]).provisioning_status == "ACTIVE"

    # Failover of a healthy data plane through the API replaces its process (a new instance
    # takes the listening sockets over, as a reload does) and keeps it serving.
    before = haproxy_pid(server, ids["lb"])
    lbs.failover_load_balancer(ids["lb"])
    wait_active(sdk, ids["lb"])
    wait_for(lambda: (p := haproxy_pid(server, ids["lb"])) not in (None, before)
                        and p, timeout=5, what="a new process after LB failover")
    assert counters(server, ids["lb"])["failovers"] >= 1
    assert serving(ids["vip"], port)
    # A hung process (stopped: alive, holding the VIP, answering nothing) is what failover is
    # for: the amphora failover rebuilds it, under the same amphora id, with a new process.
    hung = haproxy_pid(server, ids["lb"])
    assert hung is not None
    os.kill(hung, signal.SIGSTOP)
    start = time.monotonic()
    lbs.failover_amphora(amp["id"])
    wait_for(lambda: serving(ids["vip"], port), timeout=5, what="serving after failover")
    rebuilt_after = time.monotonic() - start
    wait_for(lambda: haproxy_pid(server, ids["lb"]) not in (None, hung, new_pid), timeout=5,
             what="a new process after failover")
    # With no other agent host, the instance is rebuilt where it is, under the same amphora.
    rebuilt = amphora_of(ids["lb"])
    assert rebuilt is not None and rebuilt["id"] == amp["id"]
    assert (rebuilt["status"], rebuilt["compute_id"]) == ("ALLOCATED", socket.gethostname())
    assert rebuilt_after < 3.0, f"serving again {rebuilt_after:.2f} s after the failover"
    assert hung not in pids_under(lb_dir(server, ids["lb"]))
    wait_active(sdk, ids["lb"])

    # Deleting a load balancer removes its amphora.
    lbs.delete_load_balancer(other.id)
    wait_for(lambda: amphora_of(other.id) is None, timeout=10, what="amphora removed")
    assert [x["loadbalancer_id"] for x in _amphorae(server)] == [ids["lb"]]


def test_prometheus_listener_serves_haproxy_metrics(haproxy_server: Server,
                                                    sdk_for: Any) -> None:
    lbs = sdk_for.load_balancer
    lb = lbs.create_load_balancer(name="metrics", vip_subnet_id=SUBNET_ID)
    lbs.create_listener(load_balancer_id=lb.id, protocol="PROMETHEUS", protocol_port=9100)
    lb = wait_active(sdk_for, lb.id)
    status, body, _headers = get(lb.vip_address, 9100, "/metrics")
    assert status == 200
    assert "haproxy_process_nbthread" in body and "# TYPE" in body
