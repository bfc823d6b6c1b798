"""L7 policies and rules through the HTTP API, on every database backend.

Besides Octavia's behaviour (sanitising, positions, rule semantics, limits, envelopes), these
tests pin Statera's deliberate difference: writes under a load balancer that is still
``PENDING_*`` are accepted and open a new desired generation instead of answering 409.
"""

from __future__ import annotations

import importlib.util
from typing import Any

import pytest
from octavia_lib.api.drivers import exceptions as lib_exc
from sqlalchemy import delete, select

from statera.db import models as m
from statera.providers.noop.driver import NoopProviderDriver
from tests.api.conftest import Api

P = "/v2/lbaas/l7policies"
NOWHERE = "0e5d4c3b-0000-4000-8000-000000000000"


def _has(module: str) -> bool:
    return importlib.util.find_spec(f"statera.api.resources.{module}") is not None


def listener(api: Api, lb_id: str, protocol: str = "HTTP", port: int = 80,
             headers: dict[str, str] | None = None) -> str:
    """A listener through the API when the listeners router exists, else an ORM row."""
    if _has("listeners") and protocol != "PROMETHEUS":
        resp = api.post("/v2/lbaas/listeners", headers=headers, json={"listener": {
            "loadbalancer_id": lb_id, "protocol": protocol, "protocol_port": port}})
        assert resp.status_code == 201, resp.text
        return str(resp.json()["listener"]["id"])
    with api.db.session() as s:
        lb = s.get(m.LoadBalancer, lb_id)
        assert lb is not None
        row = m.Listener(id=m.new_id(), project_id=lb.project_id, load_balancer_id=lb_id,
                         protocol=protocol, protocol_port=port)
        s.add(row)
        return row.id


def pool(api: Api, lb_id: str, protocol: str = "HTTP") -> str:
    """A pool through the API when the pools router exists, else an ORM row."""
    if _has("pools") and _has("healthmonitors"):
        resp = api.post("/v2/lbaas/pools", json={"pool": {
            "loadbalancer_id": lb_id, "protocol": protocol, "lb_algorithm": "ROUND_ROBIN"}})
        assert resp.status_code == 201, resp.text
        return str(resp.json()["pool"]["id"])
    with api.db.session() as s:
        lb = s.get(m.LoadBalancer, lb_id)
        assert lb is not None
        row = m.Pool(id=m.new_id(), project_id=lb.project_id, load_balancer_id=lb_id,
                     protocol=protocol, lb_algorithm="ROUND_ROBIN")
        s.add(row)
        return row.id


def policy(api: Api, listener_id: str, **body: Any) -> dict[str, Any]:
    body.setdefault("action", "REJECT")
    return api.create("l7policies", "l7policy", {"listener_id": listener_id, **body})


def rule(api: Api, policy_id: str, **body: Any) -> dict[str, Any]:
    body.setdefault("type", "PATH")
    body.setdefault("compare_type", "STARTS_WITH")
    body.setdefault("value", "/api")
    return api.create(f"l7policies/{policy_id}/rules", "rule", body)


def positions(api: Api, listener_id: str) -> list[tuple[str, int]]:
    items = api.get(P, params={"listener_id": listener_id, "sort": "position"}).json()
    return [(p["name"], p["position"]) for p in items["l7policies"]]


def generation(api: Api, lb_id: str) -> int:
    with api.db.session() as s:
        lb = s.get(m.LoadBalancer, lb_id)
        assert lb is not None
        return lb.desired_generation


def assert_fault(resp: Any, status: int, needle: str = "") -> None:
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert set(body) == {"faultcode", "faultstring", "debuginfo"}
    assert body["faultcode"] == "Client" and body["debuginfo"] is None
    assert needle in body["faultstring"]


# L7 policies ------------------------------------------------------------------------------


def test_policy_crud_positions_and_coalesced_writes(api: Api) -> None:
    lb = api.lb()
    lst = listener(api, lb["id"])
    hints = api.services.bus.subscribe("noop")
    gen = generation(api, lb["id"])
    a = policy(api, lst, name="a", tags=["t1"])
    # The LB is still PENDING_CREATE (noop never reports): accepted, not 409; the LB stays
    # PENDING_CREATE and its desired generation moves on; the provider agent is hinted.
    assert a["provisioning_status"] == "PENDING_CREATE" and a["operating_status"] == "OFFLINE"
    assert a["position"] == 1 and a["rules"] == [] and a["tags"] == ["t1"]
    assert a["tenant_id"] == a["project_id"] == lb["project_id"]
    assert generation(api, lb["id"]) == gen + 1
    assert hints.get(1) == lb["id"]
    policy(api, lst, name="b")
    policy(api, lst, name="c", position=1)
    policy(api, lst, name="d", position=99)
    assert positions(api, lst) == [("c", 1), ("a", 2), ("b", 3), ("d", 4)]
    resp = api.put(f"{P}/{a['id']}", json={"l7policy": {"position": 4, "name": "a2",
                                                        "description": None}})
    assert resp.status_code == 200, resp.text
    body = resp.json()["l7policy"]
    assert body["position"] == 4 and body["name"] == "a2" and body["description"] == ""
    assert body["updated_at"] is not None
    assert positions(api, lst) == [("c", 1), ("b", 2), ("d", 3), ("a2", 4)]
    shown = api.get(f"{P}/{a['id']}", params={"fields": ["id", "position"]}).json()
    assert shown == {"l7policy": {"id": a["id"], "position": 4}}
    b = api.get(P, params={"name": "b"}).json()["l7policies"][0]
    assert api.delete(f"{P}/{b['id']}").status_code == 204
    # Deleted policies wait in PENDING_DELETE for the provider; the others are renumbered.
    assert api.get(f"{P}/{b['id']}").json()["l7policy"]["provisioning_status"] == \
        "PENDING_DELETE"
    assert positions(api, lst)[:3] == [("c", 1), ("d", 2), ("a2", 3)]
    assert_fault(api.delete(f"{P}/{b['id']}"), 409, "immutable")
    with api.db.session() as s:
        row = s.get(m.Listener, lst)
        assert row is not None and row.provisioning_status in ("PENDING_UPDATE",
                                                               "PENDING_CREATE")
        assert row.generation == s.get(m.LoadBalancer, lb["id"]).desired_generation  # type: ignore[union-attr]
    listed = api.get(P, params={"limit": 2}).json()
    assert len(listed["l7policies"]) == 2 and listed["l7policies_links"][0]["rel"] == "next"
    for prefix in ("/v2.0/lbaas", "/v2", "/v2.0"):
        assert api.get(f"{prefix}/l7policies/{a['id']}").status_code == 200


SANITISING: list[tuple[dict[str, Any], dict[str, Any]]] = [
    ({"action": "REJECT", "redirect_url": "http://x.example", "redirect_http_code": 301},
     {"action": "REJECT", "redirect_url": None, "redirect_http_code": None}),
    ({"action": "REDIRECT_TO_URL", "redirect_url": "https://a.example/p?q=1"},
     {"action": "REDIRECT_TO_URL", "redirect_http_code": 302}),
    ({"action": "REJECT", "redirect_prefix": "https://b.example"},
     {"action": "REJECT", "redirect_prefix": None}),
    ({"action": "REDIRECT_TO_URL", "redirect_prefix": "https://b.example",
      "redirect_url": None},
     "Invalid L7 Policy arguments"),  # type: ignore[list-item]
    ({"action": "REDIRECT_PREFIX", "redirect_prefix": "http://c.example:8080",
      "redirect_http_code": 308},
     {"action": "REDIRECT_PREFIX", "redirect_http_code": 308, "redirect_url": None}),
]


@pytest.mark.parametrize("body,expected", SANITISING)
def test_policy_sanitising(api: Api, body: dict[str, Any], expected: Any) -> None:
    lst = listener(api, api.lb()["id"])
    resp = api.post(P, json={"l7policy": {"listener_id": lst, **body}})
    if isinstance(expected, str):
        assert_fault(resp, 400, expected)
        return
    assert resp.status_code == 201, resp.text
    got = resp.json()["l7policy"]
    assert {k: got[k] for k in expected} == expected


def test_redirect_pool_rules(api: Api) -> None:
    lb = api.lb()
    lst = listener(api, lb["id"])
    good = pool(api, lb["id"])
    tcp = pool(api, lb["id"], protocol="TCP")
    other = pool(api, api.lb()["id"])
    body = policy(api, lst, action="REDIRECT_TO_URL", redirect_url="http://x.example",
                  redirect_pool_id=good)
    # An explicit action wins over a target it does not use (Octavia's sanitising order)...
    assert body["action"] == "REDIRECT_TO_URL" and body["redirect_pool_id"] is None
    # ...and a bare pool forces REDIRECT_TO_POOL, clearing URL and code.
    resp = api.put(f"{P}/{body['id']}", json={"l7policy": {"redirect_pool_id": good}})
    assert resp.status_code == 200, resp.text
    got = resp.json()["l7policy"]
    assert (got["action"], got["redirect_pool_id"], got["redirect_url"],
            got["redirect_http_code"]) == ("REDIRECT_TO_POOL", good, None, None)
    if _has("pools"):
        shown = api.get(f"/v2/lbaas/pools/{good}").json()["pool"]
        assert {"id": lst} in shown["listeners"]
    resp = api.put(f"{P}/{body['id']}", json={"l7policy": {"redirect_prefix": "https://p.example"}})
    assert resp.json()["l7policy"]["action"] == "REDIRECT_PREFIX"
    assert resp.json()["l7policy"]["redirect_pool_id"] is None
    before = api.count(m.L7Policy)
    cases = [
        ({"action": "REDIRECT_TO_POOL", "redirect_pool_id": other}, 404, "not found"),
        ({"action": "REDIRECT_TO_POOL", "redirect_pool_id": NOWHERE}, 404, "not found"),
        ({"action": "REDIRECT_TO_POOL", "redirect_pool_id": tcp}, 400, "pool protocol"),
        ({"action": "REDIRECT_TO_POOL", "redirect_pool_id": good,
          "redirect_prefix": "http://x.example"}, 400, "at the same time"),
        ({"action": "REDIRECT_TO_POOL"}, 400, "must not be None"),
    ]
    for extra, status, needle in cases:
        assert_fault(api.post(P, json={"l7policy": {"listener_id": lst, **extra}}), status,
                     needle)
    resp = api.put(f"{P}/{body['id']}", json={"l7policy": {"action": "REDIRECT_TO_URL"}})
    assert_fault(resp, 400, "redirect_url must not be None")
    assert_fault(api.put(f"{P}/{body['id']}", json={"l7policy": {}}), 400, "update options")
    assert api.count(m.L7Policy) == before
    prom = listener(api, lb["id"], protocol="PROMETHEUS", port=9100)
    assert_fault(api.post(P, json={"l7policy": {"listener_id": prom, "action": "REJECT"}}),
                 400, "PROMETHEUS")


BAD_POLICIES: list[tuple[dict[str, Any], int, str]] = [
    ({}, 400, "action"),
    ({"action": "DROP"}, 400, "action"),
    ({"action": "REJECT", "listener_id": None}, 400, "listener_id"),
    ({"action": "REJECT", "listener_id": "not-a-uuid"}, 400, "listener_id"),
    ({"action": "REJECT", "listener_id": NOWHERE}, 404, NOWHERE),
    ({"action": "REJECT", "name": "x" * 256}, 400, "name"),
    ({"action": "REJECT", "position": 0}, 400, "position"),
    ({"action": "REJECT", "position": "first"}, 400, "position"),
    ({"action": "REJECT", "admin_state_up": "maybe"}, 400, "admin_state_up"),
    ({"action": "REJECT", "bogus": 1}, 400, "bogus"),
    ({"action": "REJECT", "tags": "t"}, 400, "tags"),
    ({"action": "REDIRECT_TO_URL", "redirect_url": "http://x.example",
      "redirect_http_code": 305}, 400, "redirect_http_code"),
    ({"action": "REDIRECT_TO_URL", "redirect_url": "ftp://x.example"}, 400, "Not a valid URL"),
    ({"action": "REDIRECT_TO_URL", "redirect_url": "http:///nohost"}, 400, "Not a valid URL"),
    ({"action": "REDIRECT_TO_URL", "redirect_url": "http://x.example/a b"}, 400, "valid URL"),
    ({"action": "REDIRECT_TO_URL", "redirect_url": "http://x.example/\r\nX: y"}, 400, "URL"),
    ({"action": "REDIRECT_TO_URL", "redirect_url": "http://x.example/\"q"}, 400, "URL"),
    ({"action": "REDIRECT_PREFIX", "redirect_prefix": "http://x.example:99999"}, 400, "URL"),
    ({"action": "REDIRECT_TO_URL", "redirect_url": "http://x.example/" + "a" * 250}, 400,
     "redirect_url"),
    ({"action": "REDIRECT_TO_POOL", "redirect_pool": {"name": "p"}}, 400, "redirect_pool"),
]


def test_bad_policy_input_changes_nothing(api: Api) -> None:
    lb = api.lb()
    lst = listener(api, lb["id"])
    gen = generation(api, lb["id"])
    for body, status, needle in BAD_POLICIES:
        resp = api.post(P, json={"l7policy": {"listener_id": lst, **body}})
        assert resp.status_code == status, (body, resp.text)
        assert_fault(resp, status, needle)
    assert api.count(m.L7Policy) == 0
    assert generation(api, lb["id"]) == gen


def test_policy_put_bad_input_and_wrong_envelope(api: Api) -> None:
    lst = listener(api, api.lb()["id"])
    pol = policy(api, lst, name="keep")
    bodies: list[dict[str, Any]] = [{"listener_id": lst}, {"position": -1}, {"name": 5},
                                    {"rules": []}]
    for body in bodies:
        assert_fault(api.put(f"{P}/{pol['id']}", json={"l7policy": body}), 400)
    assert_fault(api.put(f"{P}/{pol['id']}", json={"policy": {"name": "x"}}), 400)
    assert_fault(api.put(f"{P}/{NOWHERE}", json={"l7policy": {"name": "x"}}), 404)
    assert api.get(f"{P}/{pol['id']}").json()["l7policy"]["name"] == "keep"
    assert api.get(f"{P}/{NOWHERE}").status_code == 404
    assert_fault(api.delete(f"{P}/{NOWHERE}"), 404)
    assert_fault(api.get(P, params={"bogus": "1"}), 400)


def test_policy_with_rules_quota_and_driver_errors(api: Api, monkeypatch: Any) -> None:
    lst = listener(api, api.lb()["id"])
    pol = policy(api, lst, rules=[{"type": "HOST_NAME", "compare_type": "EQUAL_TO",
                                   "value": "www.example.com"},
                                  {"type": "HEADER", "key": "X-Env", "compare_type": "REGEX",
                                   "value": "^(prod|stage)$", "invert": True}])
    assert len(pol["rules"]) == 2
    listed = api.get(f"{P}/{pol['id']}/rules").json()
    assert {r["type"] for r in listed["rules"]} == {"HOST_NAME", "HEADER"}
    assert "rules_links" in listed
    with api.db.session() as s:
        s.add(m.Quota(project_id="statera", l7policy=1, l7rule=3))
    assert_fault(api.post(P, json={"l7policy": {"listener_id": lst, "action": "REJECT"}}), 403,
                 "Quota has been met for resources: L7Policy")
    rule(api, pol["id"])
    assert_fault(api.post(f"{P}/{pol['id']}/rules", json={"rule": {
        "type": "PATH", "compare_type": "CONTAINS", "value": "x"}}), 403, "L7Rule")
    assert api.count(m.L7Policy) == 1 and api.count(m.L7Rule) == 3
    with api.db.session() as s:
        s.execute(delete(m.Quota))

    def unsupported(self: Any, *args: Any) -> None:
        raise lib_exc.UnsupportedOptionError(user_fault_string="no L7 here",
                                             operator_fault_string="no L7 here")

    monkeypatch.setattr(NoopProviderDriver, "l7policy_create", unsupported)
    resp = api.post(P, json={"l7policy": {"listener_id": lst, "action": "REJECT"}})
    assert resp.status_code == 501 and resp.json()["faultcode"] == "Server"
    assert "no L7 here" in resp.json()["faultstring"]
    monkeypatch.setattr(NoopProviderDriver, "l7rule_update", unsupported)
    rid = pol["rules"][0]["id"]
    resp = api.put(f"{P}/{pol['id']}/rules/{rid}", json={"rule": {"value": "b.example"}})
    assert resp.status_code == 501
    assert api.count(m.L7Policy) == 1
    shown = api.get(f"{P}/{pol['id']}/rules/{rid}").json()["rule"]
    assert shown["value"] == "www.example.com"


# L7 rules ---------------------------------------------------------------------------------


def test_rule_crud_merge_and_parents(api: Api) -> None:
    lb = api.lb()
    lst = listener(api, lb["id"])
    pol = policy(api, lst)
    other = policy(api, lst)
    r = rule(api, pol["id"], tags=["x"])
    assert r["provisioning_status"] == "PENDING_CREATE" and r["invert"] is False
    assert r["key"] is None and r["tags"] == ["x"] and "name" not in r
    base = f"{P}/{pol['id']}/rules"
    assert api.get(f"{base}/{r['id']}").json()["rule"]["value"] == "/api"
    assert_fault(api.get(f"{P}/{other['id']}/rules/{r['id']}"), 404)
    assert_fault(api.get(f"{P}/{NOWHERE}/rules/{r['id']}"), 404)
    # PUT merges with the stored rule and re-validates the result.
    assert_fault(api.put(f"{base}/{r['id']}", json={"rule": {"type": "HEADER"}}), 400, "key")
    assert_fault(api.put(f"{base}/{r['id']}", json={"rule": {"compare_type": "REGEX",
                                                             "value": "(["}}), 400, "regular")
    assert_fault(api.put(f"{base}/{r['id']}", json={"rule": {"value": None}}), 400, "value")
    assert api.get(f"{base}/{r['id']}").json()["rule"]["type"] == "PATH"
    resp = api.put(f"{base}/{r['id']}", json={"rule": {"type": "HEADER", "key": "X-A",
                                                       "invert": None,
                                                       "admin_state_up": False}})
    assert resp.status_code == 200, resp.text
    got = resp.json()["rule"]
    assert (got["type"], got["key"], got["invert"], got["admin_state_up"]) == (
        "HEADER", "X-A", False, False)
    resp = api.put(f"{base}/{r['id']}", json={"rule": {"type": "SSL_CONN_HAS_CERT",
                                                       "compare_type": "EQUAL_TO",
                                                       "value": "TRUE"}})
    assert resp.status_code == 200 and resp.json()["rule"]["key"] is None  # key dropped
    assert api.get(f"{P}/{pol['id']}").json()["l7policy"]["rules"] == [{"id": r["id"]}]
    assert api.delete(f"{base}/{r['id']}").status_code == 204
    assert api.get(f"{base}/{r['id']}").json()["rule"]["provisioning_status"] == \
        "PENDING_DELETE"
    gen = generation(api, lb["id"])
    with api.db.session() as s:
        row = s.get(m.L7Policy, pol["id"])
        assert row is not None and row.generation == gen
    # A policy being deleted takes no new rules.
    assert api.delete(f"{P}/{other['id']}").status_code == 204
    assert_fault(api.post(f"{P}/{other['id']}/rules", json={"rule": {
        "type": "PATH", "compare_type": "EQUAL_TO", "value": "/"}}), 409, "immutable")
    # Nor does anything under a load balancer being deleted.
    assert api.delete(f"/v2/lbaas/loadbalancers/{lb['id']}?cascade=true").status_code == 204
    assert_fault(api.post(base, json={"rule": {"type": "PATH", "compare_type": "EQUAL_TO",
                                               "value": "/"}}), 409, "PENDING_DELETE")
    assert_fault(api.post(P, json={"l7policy": {"listener_id": lst, "action": "REJECT"}}), 409)


GOOD_RULES: list[dict[str, Any]] = [
    {"type": "HOST_NAME", "compare_type": "ENDS_WITH", "value": ".example.com"},
    {"type": "PATH", "compare_type": "REGEX", "value": "^/api/v[0-9]+ x$"},
    {"type": "FILE_TYPE", "compare_type": "EQUAL_TO", "value": "jpg"},
    {"type": "HEADER", "key": "User-Agent", "compare_type": "CONTAINS", "value": '"curl 8"'},
    {"type": "COOKIE", "key": "session", "compare_type": "EQUAL_TO", "value": "abc123"},
    {"type": "SSL_CONN_HAS_CERT", "compare_type": "EQUAL_TO", "value": "True"},
    {"type": "SSL_VERIFY_RESULT", "compare_type": "EQUAL_TO", "value": "0"},
    {"type": "SSL_DN_FIELD", "key": "CN", "compare_type": "STARTS_WITH", "value": "web"},
]

BAD_RULES: list[tuple[dict[str, Any], str]] = [
    ({"compare_type": "EQUAL_TO", "value": "x"}, "type"),
    ({"type": "URL", "compare_type": "EQUAL_TO", "value": "x"}, "type"),
    ({"type": "PATH", "compare_type": "LIKE", "value": "x"}, "compare_type"),
    ({"type": "PATH", "compare_type": "EQUAL_TO"}, "value"),
    ({"type": "PATH", "compare_type": "EQUAL_TO", "value": ""}, "requires a value"),
    ({"type": "PATH", "compare_type": "EQUAL_TO", "value": "x" * 256}, "value"),
    ({"type": "PATH", "compare_type": "EQUAL_TO", "value": 5}, "value"),
    ({"type": "PATH", "compare_type": "EQUAL_TO", "value": "/a\nb"}, "value"),
    ({"type": "PATH", "compare_type": "REGEX", "value": "a\tb"}, "control"),
    ({"type": "PATH", "compare_type": "REGEX", "value": "a\x00b"}, "control"),
    ({"type": "PATH", "compare_type": "EQUAL_TO", "value": "/a b"}, "Invalid characters"),
    ({"type": "HOST_NAME", "compare_type": "REGEX", "value": "(unclosed"}, "regular"),
    ({"type": "FILE_TYPE", "compare_type": "CONTAINS", "value": "jpg"}, "compare type"),
    ({"type": "HEADER", "compare_type": "EQUAL_TO", "value": "x"}, "requires a key"),
    ({"type": "HEADER", "key": "X A", "compare_type": "EQUAL_TO", "value": "x"}, "key"),
    ({"type": "HEADER", "key": "X-A\r\n", "compare_type": "EQUAL_TO", "value": "x"}, "key"),
    ({"type": "HEADER", "key": "X-A", "compare_type": "EQUAL_TO", "value": '"a\tb"'},
     "control"),
    ({"type": "COOKIE", "key": "c", "compare_type": "EQUAL_TO", "value": "a;b"},
     "cookie value"),
    ({"type": "COOKIE", "compare_type": "EQUAL_TO", "value": "a"}, "requires a key"),
    ({"type": "SSL_CONN_HAS_CERT", "compare_type": "EQUAL_TO", "value": "yes"}, "True string"),
    ({"type": "SSL_CONN_HAS_CERT", "compare_type": "CONTAINS", "value": "true"},
     "compare type"),
    ({"type": "SSL_CONN_HAS_CERT", "key": "k", "compare_type": "EQUAL_TO", "value": "true"},
     "key"),
    ({"type": "SSL_VERIFY_RESULT", "compare_type": "EQUAL_TO", "value": "-1"}, "int value"),
    ({"type": "SSL_VERIFY_RESULT", "compare_type": "EQUAL_TO", "value": "²"}, "int value"),
    ({"type": "SSL_DN_FIELD", "key": "1CN", "compare_type": "EQUAL_TO", "value": "x"},
     "distinguished name"),
    ({"type": "SSL_DN_FIELD", "compare_type": "EQUAL_TO", "value": "x"}, "requires a key"),
    ({"type": "PATH", "compare_type": "EQUAL_TO", "value": "/", "invert": "sometimes"},
     "invert"),
    ({"type": "PATH", "compare_type": "EQUAL_TO", "value": "/", "name": "r"}, "name"),
]


def test_rule_semantics(api: Api) -> None:
    lst = listener(api, api.lb()["id"])
    pol = policy(api, lst)
    base = f"{P}/{pol['id']}/rules"
    for body in GOOD_RULES:
        resp = api.post(base, json={"rule": body})
        assert resp.status_code == 201, (body, resp.text)
        assert {k: resp.json()["rule"][k] for k in body} == body
    count = api.count(m.L7Rule)
    for body, needle in BAD_RULES:
        resp = api.post(base, json={"rule": body})
        assert resp.status_code == 400, (body, resp.text)
        assert_fault(resp, 400, needle)
    assert api.count(m.L7Rule) == count


def test_at_most_50_rules_per_policy(api: Api) -> None:
    lb = api.lb()
    pol = policy(api, listener(api, lb["id"]))
    with api.db.session() as s:
        for i in range(49):
            s.add(m.L7Rule(id=m.new_id(), l7policy_id=pol["id"], project_id=lb["project_id"],
                           type="PATH", compare_type="EQUAL_TO", value=f"/{i}"))
    rule(api, pol["id"])
    assert_fault(api.post(f"{P}/{pol['id']}/rules", json={"rule": {
        "type": "PATH", "compare_type": "EQUAL_TO", "value": "/x"}}), 409, "Too many rules")
    assert api.count(m.L7Rule) == 50


def test_roles_and_projects(api_factory: Any) -> None:
    api = api_factory(auth_strategy="testing")
    alice = {"X-Project-Id": "alice", "X-Roles": "member"}
    bob = {"X-Project-Id": "bob", "X-Roles": "member"}
    reader = {"X-Project-Id": "alice", "X-Roles": "reader"}
    observer = {"X-Project-Id": "carol", "X-Roles": "load-balancer_global_observer"}
    resp = api.post("/v2/lbaas/loadbalancers", headers=alice, json={"loadbalancer": {
        "vip_subnet_id": "7b1c6e3a-1d5e-4f5e-9a57-3c1f00000002"}})
    assert resp.status_code == 201, resp.text
    lst = listener(api, resp.json()["loadbalancer"]["id"], headers=alice)
    new = {"l7policy": {"listener_id": lst, "action": "REJECT"}}
    assert_fault(api.post(P, json=new, headers=reader), 403)
    assert_fault(api.post(P, json=new, headers=bob), 403)
    resp = api.post(P, json=new, headers=alice)
    assert resp.status_code == 201
    pol = resp.json()["l7policy"]
    assert pol["project_id"] == "alice"
    rbody = {"rule": {"type": "PATH", "compare_type": "EQUAL_TO", "value": "/"}}
    rid = api.post(f"{P}/{pol['id']}/rules", json=rbody, headers=alice).json()["rule"]["id"]
    assert api.get(f"{P}/{pol['id']}", headers=reader).status_code == 200
    assert api.get(f"{P}/{pol['id']}/rules/{rid}", headers=observer).status_code == 200
    assert len(api.get(P, headers=observer).json()["l7policies"]) == 1
    assert api.get(P, headers=bob).json()["l7policies"] == []
    for headers in (bob, reader):
        assert_fault(api.get(f"{P}/{pol['id']}", headers=bob), 403)
        assert_fault(api.put(f"{P}/{pol['id']}", json={"l7policy": {"name": "x"}},
                             headers=headers), 403)
        assert_fault(api.delete(f"{P}/{pol['id']}", headers=headers), 403)
        assert_fault(api.post(f"{P}/{pol['id']}/rules", json=rbody, headers=headers), 403)
        assert_fault(api.put(f"{P}/{pol['id']}/rules/{rid}", json={"rule": {"value": "/b"}},
                             headers=headers), 403)
        assert_fault(api.delete(f"{P}/{pol['id']}/rules/{rid}", headers=headers), 403)
    assert_fault(api.get(f"{P}/{pol['id']}/rules", headers=bob), 403)
    assert_fault(api.post(P, json=new, headers=observer), 403)
    with api.db.session() as s:
        row = s.scalars(select(m.L7Policy)).one()
        assert row.name is None and len(row.rules) == 1


@pytest.mark.skipif(not (_has("listeners") and _has("pools") and _has("healthmonitors")),
                    reason="load-balancer graph needs the listener and pool routers")
def test_graph_create_uses_builders(api: Api) -> None:
    body = {"vip_subnet_id": "7b1c6e3a-1d5e-4f5e-9a57-3c1f00000002", "listeners": [{
        "protocol": "HTTP", "protocol_port": 80, "l7policies": [
            {"action": "REDIRECT_PREFIX", "redirect_prefix": "https://www.example.com",
             "position": 1, "rules": [{"type": "PATH", "compare_type": "EQUAL_TO",
                                       "value": "/old"}]},
            {"action": "REJECT", "position": 1},
        ]}]}
    resp = api.post("/v2/lbaas/loadbalancers", json={"loadbalancer": body})
    assert resp.status_code == 201, resp.text
    policies = resp.json()["loadbalancer"]["listeners"][0]["l7policies"]
    by_action = {p["action"]: p for p in policies}
    assert by_action["REJECT"]["position"] == 1 and by_action["REDIRECT_PREFIX"]["position"] == 2
    assert by_action["REDIRECT_PREFIX"]["redirect_http_code"] == 302
    assert by_action["REDIRECT_PREFIX"]["rules"][0]["provisioning_status"] == "PENDING_CREATE"
    bad = {**body, "listeners": [{"protocol": "HTTP", "protocol_port": 80, "l7policies": [
        {"action": "REJECT", "rules": [{"type": "HEADER", "compare_type": "EQUAL_TO",
                                        "value": "x"}]}]}]}
    assert_fault(api.post("/v2/lbaas/loadbalancers", json={"loadbalancer": bad}), 400, "key")
    assert api.count(m.LoadBalancer) == 1
