"""L7 policies and rules on NGINX, with real requests: every rule type that plain HTTP can
carry, every compare type, invert, the first matching policy by position, every action."""

from __future__ import annotations

import uuid

from octavia_lib.api.drivers import data_models as dm

from tests.haproxy.helpers import free_vip, get, listener, loadbalancer, member, pool


def rule(kind: str, compare: str, value: str, key: str | None = None,
         invert: bool = False) -> dm.L7Rule:
    return dm.L7Rule(l7rule_id=str(uuid.uuid4()), type=kind, compare_type=compare, value=value,
                     key=key, invert=invert, admin_state_up=True)


def policy(action: str, position: int, rules: list[dm.L7Rule], **kw) -> dm.L7Policy:
    return dm.L7Policy(l7policy_id=str(uuid.uuid4()), action=action, position=position,
                       rules=rules, admin_state_up=True, **kw)


def test_rules_compare_types_invert_and_first_match(nginx, backends):
    a, b = backends("a"), backends("b")
    default, other = pool([member(a)]), pool([member(b)])
    vip, port = free_vip()
    policies = [
        policy("REJECT", 1, [rule("PATH", "STARTS_WITH", "/admin")]),
        policy("REDIRECT_TO_URL", 2, [rule("HEADER", "EQUAL_TO", "yes", key="X-Move")],
               redirect_url="https://example.invalid/moved", redirect_http_code=301),
        policy("REDIRECT_PREFIX", 3, [rule("HOST_NAME", "ENDS_WITH", ".old.example")],
               redirect_prefix="https://new.example"),
        policy("REDIRECT_TO_POOL", 4, [rule("COOKIE", "REGEX", "^b[0-9]+$", key="route")],
               redirect_pool_id=other.pool_id),
        policy("REDIRECT_TO_POOL", 5, [rule("FILE_TYPE", "EQUAL_TO", "png"),
                                       rule("PATH", "CONTAINS", "img", invert=True)],
               redirect_pool_id=other.pool_id),
        # A later policy never overrides an earlier match: /admin stays rejected.
        policy("REDIRECT_TO_POOL", 6, [rule("PATH", "EQUAL_TO", "/admin")],
               redirect_pool_id=other.pool_id),
    ]
    lst = listener(port, default, l7policies=policies)
    lb = loadbalancer(vip, [lst], [default, other])
    report = nginx.converge(lb.loadbalancer_id, lb)
    assert {r["provisioning_status"] for r in report["loadbalancers"]} == {"ACTIVE"}
    assert get(vip, port, "/")[1] == "a"
    assert get(vip, port, "/admin")[0] == 403
    assert get(vip, port, "/admin/x")[0] == 403
    status, _, headers = get(vip, port, "/", headers={"X-Move": "yes"})
    assert (status, headers["location"]) == (301, "https://example.invalid/moved")
    assert get(vip, port, "/", headers={"X-Move": "yes please"})[1] == "a"
    status, _, headers = get(vip, port, "/p?q=1", headers={"Host": "www.old.example"})
    assert (status, headers["location"]) == (302, "https://new.example/p?q=1")
    assert get(vip, port, "/", headers={"Cookie": "route=b42"})[1] == "b"
    assert get(vip, port, "/", headers={"Cookie": "route=b4x"})[1] == "a"
    assert get(vip, port, "/logo.png")[1] == "b"
    assert get(vip, port, "/img/logo.png")[1] == "a"  # inverted CONTAINS rule fails


def test_values_that_look_like_nginx_syntax_are_matched_literally(nginx, backends):
    a, b = backends("a"), backends("b")
    default, other = pool([member(a)]), pool([member(b)])
    vip, port = free_vip()
    hostile = 'default; } server { listen 1; } # "x" \\ ~'
    policies = [policy("REDIRECT_TO_POOL", 1, [rule("HEADER", "EQUAL_TO", hostile, key="X-V")],
                       redirect_pool_id=other.pool_id),
                policy("REDIRECT_TO_POOL", 2, [rule("HEADER", "EQUAL_TO", "default",
                                                    key="X-W")],
                       redirect_pool_id=other.pool_id)]
    lst = listener(port, default, l7policies=policies)
    lb = loadbalancer(vip, [lst], [default, other])
    report = nginx.converge(lb.loadbalancer_id, lb)
    assert {r["provisioning_status"] for r in report["loadbalancers"]} == {"ACTIVE"}
    assert get(vip, port, "/", headers={"X-V": hostile})[1] == "b"
    assert get(vip, port, "/", headers={"X-V": "default"})[1] == "a"
    assert get(vip, port, "/", headers={"X-W": "default"})[1] == "b"
    assert get(vip, port, "/", headers={"X-W": "other"})[1] == "a"
