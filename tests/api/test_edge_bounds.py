"""The API's edge holds on every database: out-of-range numbers, over-long strings, too many
tags, malformed list filters and bad identity headers are 400s in Octavia's fault body that
change nothing, checked before the database sees them (they were 500s on PostgreSQL or
MariaDB); and the tag filters answer in one query."""

from __future__ import annotations

import time
from typing import Any

import pytest
from sqlalchemy import DateTime, Integer

from statera.api.listing import column_of
from statera.api.resources.common import list_spec
from statera.db import models as m
from tests.api.conftest import Api
from tests.api.helpers import assert_fault, snapshot

BIG = 99999999999999999999
INT64_OVER = 2**63
INT32_OVER = 2**31


def _graph(api: Api) -> dict[str, Any]:
    lb = api.lb()
    lst = api.listener(lb["id"])
    pool = api.pool(listener_id=lst["id"])
    member = api.member(pool["id"])
    hm = api.create("healthmonitors", "healthmonitor", {
        "pool_id": pool["id"], "type": "HTTP", "delay": 5, "timeout": 3, "max_retries": 3})
    policy = api.create("l7policies", "l7policy", {"listener_id": lst["id"], "action": "REJECT"})
    return {"lb": lb, "listener": lst, "pool": pool, "member": member, "hm": hm,
            "policy": policy}


# (resource path, body key, field overrides) -> each a 400 that changes nothing.
# Path templates are filled from _graph(): {lb}, {listener}, {pool}.
BAD_BODIES: list[tuple[str, str, str, dict[str, Any]]] = [
    ("POST", "listeners", "listener", {"protocol_port": 0}),
    ("POST", "listeners", "listener", {"protocol_port": 65536}),
    ("POST", "listeners", "listener", {"protocol_port": BIG}),
    ("POST", "listeners", "listener", {"protocol_port": 1e20}),
    ("POST", "listeners", "listener", {"protocol_port": 80.5}),
    ("POST", "listeners", "listener", {"connection_limit": INT32_OVER}),
    ("POST", "listeners", "listener", {"connection_limit": INT64_OVER}),
    ("POST", "listeners", "listener", {"connection_limit": -2}),
    ("POST", "listeners", "listener", {"timeout_client_data": 2073600001}),
    ("POST", "listeners", "listener", {"timeout_member_connect": -1}),
    ("POST", "listeners", "listener", {"timeout_member_data": 1e20}),
    ("POST", "listeners", "listener", {"timeout_tcp_inspect": INT64_OVER}),
    ("POST", "listeners", "listener", {"hsts_max_age": INT32_OVER}),
    ("POST", "listeners", "listener", {"name": "n" * 256}),
    ("POST", "listeners", "listener", {"description": "d" * 256}),
    ("POST", "listeners", "listener", {"project_id": "p" * 37}),
    ("POST", "listeners", "listener", {"tags": [f"t{i}" for i in range(1000)]}),
    ("POST", "listeners", "listener", {"tags": ["t" * 256]}),
    ("POST", "listeners", "listener", {"allowed_cidrs": ["1" * 300]}),
    ("POST", "listeners", "listener", {"insert_headers": {"X" * 300: "true"}}),
    ("PUT", "listeners/{listener}", "listener", {"connection_limit": INT32_OVER}),
    ("PUT", "listeners/{listener}", "listener", {"timeout_client_data": 1e20}),
    ("PUT", "listeners/{listener}", "listener", {"tags": [str(i) for i in range(101)]}),
    ("POST", "pools/{pool}/members", "member", {"weight": 257}),
    ("POST", "pools/{pool}/members", "member", {"weight": -1}),
    ("POST", "pools/{pool}/members", "member", {"weight": INT64_OVER}),
    ("POST", "pools/{pool}/members", "member", {"weight": 1e20}),
    ("POST", "pools/{pool}/members", "member", {"protocol_port": BIG}),
    ("POST", "pools/{pool}/members", "member", {"monitor_port": 65536}),
    ("PUT", "pools/{pool}/members/{member}", "member", {"weight": INT32_OVER}),
    ("POST", "healthmonitors", "healthmonitor", {"delay": INT32_OVER}),
    ("POST", "healthmonitors", "healthmonitor", {"timeout": 1e20}),
    ("POST", "healthmonitors", "healthmonitor", {"delay": -1}),
    ("POST", "healthmonitors", "healthmonitor", {"max_retries": 11}),
    ("POST", "healthmonitors", "healthmonitor", {"max_retries": 0}),
    ("POST", "healthmonitors", "healthmonitor", {"max_retries_down": 11}),
    ("PUT", "healthmonitors/{hm}", "healthmonitor", {"delay": INT32_OVER}),
    ("PUT", "healthmonitors/{hm}", "healthmonitor", {"timeout": 1e20}),
    ("POST", "pools", "pool", {"session_persistence": {
        "type": "SOURCE_IP", "persistence_timeout": INT64_OVER}}),
    ("POST", "pools", "pool", {"tags": [f"t{i}" for i in range(1000)]}),
    ("POST", "l7policies", "l7policy", {"position": INT32_OVER}),
    ("POST", "loadbalancers", "loadbalancer", {"tags": [f"t{i}" for i in range(1000)]}),
    ("POST", "loadbalancers", "loadbalancer", {"name": "x" * 256}),
    ("PUT", "loadbalancers/{lb}", "loadbalancer", {"tags": [f"t{i}" for i in range(1000)]}),
    ("PUT", "quotas/{project}", "quota", {"member": INT64_OVER}),
]

BASES: dict[str, dict[str, Any]] = {
    "listeners": {"protocol": "HTTP", "protocol_port": 8081},
    "pools/{pool}/members": {"address": "127.0.0.2", "protocol_port": 81},
    "healthmonitors": {"type": "HTTP", "delay": 5, "timeout": 3, "max_retries": 3},
    "pools": {"protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN"},
    "l7policies": {"action": "REJECT"},
    "loadbalancers": {"vip_subnet_id": "7b1c6e3a-1d5e-4f5e-9a57-3c1f00000002"},
}


def test_out_of_bound_bodies_are_400_and_change_nothing(api: Api) -> None:
    g = _graph(api)
    # The health monitor test creates need a pool without one.
    free_pool = api.pool(loadbalancer_id=g["lb"]["id"])
    ids = {"lb": g["lb"]["id"], "listener": g["listener"]["id"], "pool": g["pool"]["id"],
           "member": g["member"]["id"], "hm": g["hm"]["id"], "project": "p1"}
    parents = {"listeners": {"loadbalancer_id": g["lb"]["id"]},
               "healthmonitors": {"pool_id": free_pool["id"]},
               "pools": {"loadbalancer_id": g["lb"]["id"]},
               "l7policies": {"listener_id": g["listener"]["id"]}}
    before = snapshot(api)
    failures = []
    for verb, path, key, fields in BAD_BODIES:
        body = {} if verb == "PUT" else {**BASES.get(path, {}), **parents.get(path, {})}
        body.update(fields)
        resp = api.request(verb, "/v2/lbaas/" + path.format(**ids), json={key: body})
        ok = (resp.status_code == 400 and resp.json().get("faultcode") == "Client"
              and "Invalid input" in resp.json().get("faultstring", ""))
        if not ok:
            failures.append((verb, path, str(fields)[:60], resp.status_code, resp.text[:200]))
    assert failures == []
    assert snapshot(api) == before
    # The bounds themselves are accepted.
    api.listener(g["lb"]["id"], protocol_port=65535, connection_limit=2**31 - 1,
                 timeout_client_data=2073600000, tags=[f"t{i}" for i in range(100)])
    api.member(g["pool"]["id"], protocol_port=1, weight=256)


def _list_urls(g: dict[str, Any]) -> list[tuple[str, Any]]:
    return [
        ("/v2/lbaas/loadbalancers", m.LoadBalancer),
        ("/v2/lbaas/listeners", m.Listener),
        ("/v2/lbaas/pools", m.Pool),
        (f"/v2/lbaas/pools/{g['pool']['id']}/members", m.Member),
        ("/v2/lbaas/healthmonitors", m.HealthMonitor),
        ("/v2/lbaas/l7policies", m.L7Policy),
    ]


@pytest.mark.parametrize("query", [
    "/v2/lbaas/listeners?protocol_port=99999999999999999999",
    "/v2/lbaas/listeners?protocol_port=1e20",
    "/v2/lbaas/listeners?connection_limit=9223372036854775808",
    "/v2/lbaas/listeners?timeout_client_data=2147483648",
    "/v2/lbaas/pools/{pool}/members?weight=9223372036854775808",
    "/v2/lbaas/healthmonitors?delay=2147483648",
    "/v2/lbaas/loadbalancers?created_at=garbage",
    "/v2/lbaas/loadbalancers?updated_at=%27%20OR%201%3D1",
    "/v2/lbaas/loadbalancers?project_id=" + "p" * 37,
    "/v2/lbaas/loadbalancers?name=" + "n" * 256,
    "/v2/lbaas/loadbalancers?admin_state_up=maybe",
    "/v2/lbaas/listeners?insert_headers=x",
    "/v2/lbaas/loadbalancers?tags=" + "t" * 256,
])
def test_malformed_filters_are_400(api: Api, query: str) -> None:
    g = _graph(api)
    resp = api.get(query.format(pool=g["pool"]["id"]))
    assert_fault(resp, 400, "Invalid filter value for")


def test_every_filter_of_every_list_survives_hostile_values(api: Api) -> None:
    """Every filterable column of every list, with values that used to break a driver or a
    database: never a 5xx; typed columns refuse what is not of their type."""
    g = _graph(api)
    hostile = ["99999999999999999999", "9223372036854775808", "-9223372036854775809",
               "2147483648", "1e20", "NaN", "garbage", "' OR 1=1", "x" * 300, "", "\u00e9\u2028",
               "2026-13-45T99:99:99"]
    failures = []
    for url, model in _list_urls(g):
        for name, column in list_spec(model, "x").columns.items():
            typed = isinstance(column_of(column).type, (Integer, DateTime))
            for value in hostile:
                resp = api.get(url, params={name: value})
                if resp.status_code >= 500 or (typed and value in ("garbage", "1e20")
                                               and resp.status_code != 400):
                    failures.append((url, name, value[:20], resp.status_code))
    assert failures == []


def test_valid_typed_filters_still_match(api: Api) -> None:
    g = _graph(api)
    lb = api.get(f"/v2/lbaas/loadbalancers/{g['lb']['id']}").json()["loadbalancer"]
    found = api.get("/v2/lbaas/loadbalancers", params={"created_at": lb["created_at"]}).json()
    assert [x["id"] for x in found["loadbalancers"]] == [lb["id"]]
    listed = api.get("/v2/lbaas/listeners", params={"protocol_port": "80",
                                                    "connection_limit": "-1"}).json()
    assert [x["id"] for x in listed["listeners"]] == [g["listener"]["id"]]


@pytest.mark.parametrize("header", ["p" * 37, "", "bad\x1bproject", "two\nlines"])
def test_bad_project_header_is_400(api_factory: Any, header: str) -> None:
    for strategy in ("noauth", "testing"):
        api = api_factory(auth_strategy=strategy)
        resp = api.get("/v2/lbaas/loadbalancers",
                       headers={"X-Project-Id": header, "X-Roles": "member"})
        assert_fault(resp, 400, "Invalid X-Project-Id header")
        before = api.count(m.LoadBalancer)
        resp = api.post("/v2/lbaas/loadbalancers", json={"loadbalancer": {
            "vip_subnet_id": "7b1c6e3a-1d5e-4f5e-9a57-3c1f00000002"}},
            headers={"X-Project-Id": header, "X-Roles": "member"})
        assert_fault(resp, 400, "Invalid X-Project-Id header")
        assert api.count(m.LoadBalancer) == before


def test_tag_filters_match_octavia(api: Api) -> None:
    a = api.lb(tags=["red", "blue"])
    b = api.lb(tags=["red"])
    c = api.lb(tags=["green"])

    def ids(**params: str) -> set[str]:
        body = api.get("/v2/lbaas/loadbalancers", params=params).json()
        return {x["id"] for x in body["loadbalancers"]}

    assert ids(tags="red,blue") == {a["id"]}
    assert ids(tags="red,red") == {a["id"], b["id"]}
    assert ids(**{"tags-any": "blue,green"}) == {a["id"], c["id"]}
    assert ids(**{"not-tags": "red,blue"}) == {b["id"], c["id"]}
    assert ids(**{"not-tags-any": "blue,green"}) == {b["id"]}
    assert ids(tags="red", **{"not-tags": "blue"}) == {b["id"]}
    many = [f"t{i}" for i in range(2000)]
    assert ids(**{"tags-any": ",".join([*many, "green"])}) == {c["id"]}
    assert ids(tags=",".join(["red", *many])) == set()


def test_tag_filter_with_2000_tags_completes(api: Api) -> None:
    """The query that took 89 s for 100 tags on PostgreSQL: timed and printed, not asserted
    (bench/tag_filter.py measures it)."""
    for i in range(3):
        api.lb(tags=[f"t{j}" for j in range(i * 50, i * 50 + 100)])
    tags = ",".join(f"t{j}" for j in range(2000))
    for key in ("tags", "tags-any", "not-tags", "not-tags-any"):
        started = time.perf_counter()
        resp = api.get("/v2/lbaas/loadbalancers", params={key: tags})
        assert resp.status_code == 200, resp.text
        print(f"{api.services.db.engine.dialect.name} {key} x2000: "
              f"{(time.perf_counter() - started) * 1000:.0f} ms")


def test_every_route_survives_hostile_path_parameters(api: Api) -> None:
    """Every route of the app (from its own route table), each path parameter replaced by
    values too long for any column or shaped like SQL: a 4xx or a 2xx, never a 5xx, and
    nothing written."""
    from fastapi.routing import APIRoute

    api.lb()
    before = snapshot(api)
    hostile = ["x" * 300, "p" * 37, "' OR 1=1 --", "99999999999999999999", "\u00e9\u2028"]
    failures = []
    for route in api.client.app.routes:
        if not isinstance(route, APIRoute) or "{" not in route.path:
            continue
        for method in sorted(route.methods - {"HEAD", "OPTIONS"}):
            for value in hostile:
                path = route.path
                for name in route.param_convertors:
                    path = path.replace("{" + name + "}", value)
                body = {} if method in ("POST", "PUT") else None
                resp = api.request(method, path, json=body)
                if resp.status_code >= 500:
                    failures.append((method, route.path, value[:12], resp.status_code))
    assert failures == []
    assert snapshot(api) == before


def test_huge_page_size_is_no_limit(api_factory: Any) -> None:
    api = api_factory(pagination_max_limit=-1)
    lb = api.lb()
    for limit in ("99999999999999999999", "2147483648", "-5", "0"):
        resp = api.get("/v2/lbaas/loadbalancers", params={"limit": limit})
        assert resp.status_code == 200, resp.text
        assert [x["id"] for x in resp.json()["loadbalancers"]] == [lb["id"]]
    assert api.get("/v2/lbaas/loadbalancers", params={"limit": "1e3"}).status_code == 400
