"""Real traffic through a real HAProxy driven by the converger."""

from __future__ import annotations

import collections

from octavia_lib.api.drivers import data_models as dm

from tests.haproxy.helpers import (
    free_vip,
    get,
    listener,
    loadbalancer,
    member,
    pool,
    simple_lb,
    uid,
)


def statuses(report: dict, kind: str) -> dict[str, str]:
    return {r["id"]: r["provisioning_status"] for r in report.get(kind, [])}


def test_round_robin_across_two_members(converger, backends):
    a, b = backends("a"), backends("b")
    lb, vip, port = simple_lb([member(a), member(b)])
    report = converger.converge(lb.loadbalancer_id, lb)
    assert statuses(report, "loadbalancers") == {lb.loadbalancer_id: "ACTIVE"}
    assert set(statuses(report, "members").values()) == {"ACTIVE"}
    counts = collections.Counter(get(vip, port)[1] for _ in range(20))
    assert counts == {"a": 10, "b": 10}


def test_source_ip_sticks_to_one_member(converger, backends):
    a, b = backends("a"), backends("b")
    lb, vip, port = simple_lb([member(a), member(b)], lb_algorithm="SOURCE_IP")
    converger.converge(lb.loadbalancer_id, lb)
    answers = {get(vip, port)[1] for _ in range(10)}
    assert len(answers) == 1


def test_source_ip_port_hashes_source_port(converger, backends):
    a, b = backends("a"), backends("b")
    lb, vip, port = simple_lb([member(a), member(b)], lb_algorithm="SOURCE_IP_PORT")
    converger.converge(lb.loadbalancer_id, lb)
    # Different source ports spread over both members ...
    assert {get(vip, port)[1] for _ in range(30)} == {"a", "b"}
    # ... and one (address, port) always lands on the same member: several requests on one
    # keep-alive connection (a fixed source port reused across connections could meet its
    # own TIME_WAIT).
    import http.client

    for _ in range(3):
        conn = http.client.HTTPConnection(vip, port, timeout=5)
        answers = set()
        for _ in range(4):
            conn.request("GET", "/")
            answers.add(conn.getresponse().read())
        conn.close()
        assert len(answers) == 1


def test_http_cookie_persistence(converger, backends):
    a, b = backends("a"), backends("b")
    lb, vip, port = simple_lb([member(a), member(b)],
                              session_persistence={"type": "HTTP_COOKIE"})
    converger.converge(lb.loadbalancer_id, lb)
    status, first, headers = get(vip, port)
    cookie = headers["set-cookie"].split(";")[0]
    assert {get(vip, port, headers={"Cookie": cookie})[1] for _ in range(6)} == {first}


def test_weight_zero_drains_without_reload(converger, backends):
    a, b = backends("a"), backends("b")
    ma, mb = member(a), member(b)
    lb, vip, port = simple_lb([ma, mb])
    converger.converge(lb.loadbalancer_id, lb)
    mb.weight = 0
    converger.converge(lb.loadbalancer_id, lb)
    assert {get(vip, port)[1] for _ in range(10)} == {"a"}
    counters = converger.counters(lb.loadbalancer_id)
    assert counters["reloads"] == 0 and counters["runtime_updates"] == 1


def test_l7_policies_by_path_and_header(converger, backends):
    default, special, api = backends("default"), backends("special"), backends("api")
    p_default = pool([member(default)])
    p_special = pool([member(special)])
    p_api = pool([member(api)])
    vip, port = free_vip()

    def rule(rule_type: str, value: str, compare: str = "EQUAL_TO", **kw) -> dm.L7Rule:
        return dm.L7Rule(l7rule_id=uid(), type=rule_type, compare_type=compare, value=value,
                         admin_state_up=True, invert=False, **kw)

    policies = [
        dm.L7Policy(l7policy_id=uid(), action="REDIRECT_TO_URL", position=1,
                    redirect_url="https://example.com/moved%20here", redirect_http_code=301,
                    admin_state_up=True, rules=[rule("PATH", "/old")]),
        dm.L7Policy(l7policy_id=uid(), action="REJECT", position=2, admin_state_up=True,
                    rules=[rule("HEADER", "evil", key="X-Client")]),
        dm.L7Policy(l7policy_id=uid(), action="REDIRECT_TO_POOL", position=3,
                    redirect_pool_id=p_api.pool_id, admin_state_up=True,
                    rules=[rule("PATH", "/api/", "STARTS_WITH")]),
        dm.L7Policy(l7policy_id=uid(), action="REDIRECT_TO_POOL", position=4,
                    redirect_pool_id=p_special.pool_id, admin_state_up=True,
                    rules=[rule("HEADER", "yes", key="X-Special")]),
        # After a REDIRECT_TO_POOL match this REJECT must not fire (first match wins).
        dm.L7Policy(l7policy_id=uid(), action="REJECT", position=5, admin_state_up=True,
                    rules=[rule("PATH", "/api/", "STARTS_WITH")]),
    ]
    lst = listener(port, p_default, l7policies=policies)
    lb = loadbalancer(vip, [lst], [p_default, p_special, p_api])
    report = converger.converge(lb.loadbalancer_id, lb)
    assert statuses(report, "l7policies") and set(statuses(report, "l7rules").values()) == {
        "ACTIVE"}

    status, _, headers = get(vip, port, "/old")
    assert status == 301 and headers["location"] == "https://example.com/moved%20here"
    assert get(vip, port, "/", {"X-Client": "evil"})[0] == 403
    assert get(vip, port, "/api/v1")[1] == "api"
    assert get(vip, port, "/x", {"X-Special": "yes"})[1] == "special"
    assert get(vip, port, "/x", {"X-Special": "no"})[1] == "default"
    assert get(vip, port, "/")[1] == "default"


def test_allowed_cidrs_reject_other_sources(converger, backends):
    a = backends("a")
    vip, port = free_vip()
    p = pool([member(a)])
    lst = listener(port, p, allowed_cidrs=["10.0.0.0/8"])
    lb = loadbalancer(vip, [lst], [p])
    converger.converge(lb.loadbalancer_id, lb)
    try:
        get(vip, port)
        rejected = False
    except (ConnectionError, OSError, __import__("http").client.HTTPException):
        rejected = True
    assert rejected
    lst.allowed_cidrs = ["127.0.0.0/8"]
    converger.converge(lb.loadbalancer_id, lb)
    assert get(vip, port)[1] == "a"


def test_tcp_listener_and_disabled_listener(converger, backends):
    a = backends("a")
    vip, port = free_vip()
    _, port2 = free_vip()
    p = pool([member(a)], protocol="TCP", lb_algorithm="LEAST_CONNECTIONS")
    tcp = listener(port, p, protocol="TCP")
    off = listener(port2, p, protocol="TCP", admin_state_up=False)
    lb = loadbalancer(vip, [tcp, off], [p])
    converger.converge(lb.loadbalancer_id, lb)
    assert get(vip, port)[1] == "a"
    import socket
    with socket.socket() as s:
        assert s.connect_ex((vip, port2)) != 0
