"""Health-monitor API behaviour as a client sees it, on every database backend."""

from __future__ import annotations

from typing import Any

import pytest

from statera.controller import rules
from statera.db import models as m
from tests.api.conftest import LOOPBACK_SUBNET, Api
from tests.api.helpers import MISSING, Recorder, assert_fault, set_status, snapshot

URL = "/v2/lbaas/healthmonitors"


def create(api: Api, pool: str, **body: Any) -> Any:
    body = {"pool_id": pool, "type": "HTTP", "delay": 5, "timeout": 3, "max_retries": 3,
            **body}
    return api.post(URL, json={"healthmonitor": body})


def test_create_show_defaults(api: Api) -> None:
    lb = api.lb()
    lst = api.listener(lb["id"])
    pool = api.pool(listener_id=lst["id"])
    for model, obj_id in ((m.Listener, lst["id"]), (m.Pool, pool["id"])):
        set_status(api, model, obj_id, "ACTIVE")
    sub = api.services.bus.subscribe("noop")
    resp = create(api, pool["id"], name="hm", tags=["t"])
    assert resp.status_code == 201, resp.text
    hm = resp.json()["healthmonitor"]
    assert sub.get(1.0) == lb["id"]
    assert (hm["provisioning_status"], hm["operating_status"]) == ("PENDING_CREATE",
                                                                   "OFFLINE")
    assert (hm["http_method"], hm["url_path"], hm["expected_codes"]) == ("GET", "/", "200")
    assert (hm["max_retries"], hm["max_retries_down"]) == (3, 3)
    assert hm["http_version"] is None and hm["domain_name"] is None
    assert hm["pools"] == [{"id": pool["id"]}] and hm["tags"] == ["t"]
    assert "description" not in hm and hm["project_id"] == lb["project_id"]
    assert api.get(f"{URL}/{hm['id']}").json()["healthmonitor"] == hm
    shown = api.get(f"/v2/lbaas/pools/{pool['id']}").json()["pool"]
    assert shown["healthmonitor_id"] == hm["id"]
    assert shown["provisioning_status"] == "PENDING_UPDATE"
    assert api.get(f"/v2/lbaas/listeners/{lst['id']}").json()["listener"][
        "provisioning_status"] == "PENDING_UPDATE"
    before = snapshot(api)
    assert_fault(create(api, pool["id"]), 409, "This pool already has a health monitor")
    assert snapshot(api) == before
    tcp_pool = api.pool(loadbalancer_id=lb["id"], protocol="TCP")
    tcp = create(api, tcp_pool["id"], type="TCP", max_retries_down=None).json()[
        "healthmonitor"]
    assert (tcp["http_method"], tcp["url_path"], tcp["expected_codes"]) == (None, None, None)
    assert tcp["max_retries_down"] == 3
    https = api.pool(loadbalancer_id=lb["id"], protocol="HTTPS")
    full = create(api, https["id"], type="HTTPS", http_method="HEAD", url_path="/health?x=1",
                  expected_codes="200-204", http_version=1.1, domain_name="www.example.com",
                  max_retries_down=10).json()["healthmonitor"]
    assert (full["http_method"], full["url_path"], full["expected_codes"]) == (
        "HEAD", "/health?x=1", "200-204")
    assert (full["http_version"], full["domain_name"]) == (1.1, "www.example.com")


def test_type_and_option_rules(api: Api) -> None:
    lb = api.lb()
    http = api.pool(loadbalancer_id=lb["id"])
    udp = api.pool(loadbalancer_id=lb["id"], protocol="UDP")
    sctp = api.pool(loadbalancer_id=lb["id"], protocol="SCTP")
    before = snapshot(api)
    cases: list[tuple[dict[str, Any], dict[str, Any], str]] = [
        (http, {"type": "UDP-CONNECT"}, "UDP-CONNECT type is only supported for pools of type"),
        (http, {"type": "SCTP"}, "SCTP type is only supported"),
        (udp, {"type": "PING"}, "only a UDP-CONNECT, SCTP, TCP, HTTP health monitor"),
        (udp, {"type": "TLS-HELLO"}, "The associated pool protocol is UDP"),
        (udp, {"type": "UDP-CONNECT", "delay": 2}, "should be larger than 3"),
        (http, {"type": "TCP", "http_method": "GET"},
         "http_method is not a valid option for health monitors of type TCP"),
        (http, {"type": "PING", "url_path": "/"}, "url_path is not a valid option"),
        (http, {"type": "TCP", "expected_codes": "200"}, "expected_codes"),
        (http, {"type": "TCP", "domain_name": "a.b"}, "domain_name is not a valid option"),
        (http, {"url_path": "health"}, "url_path"),
        (http, {"url_path": "/a b"}, "url_path"),
        (http, {"url_path": "//evil.example/x"}, "url_path"),
        (http, {"url_path": "http://host/"}, "url_path"),
        (http, {"url_path": "/x\"\nbackend"}, "url_path"),
        (http, {"expected_codes": "2xx"}, "expected_codes"),
        (http, {"expected_codes": "200-"}, "expected_codes"),
        (http, {"domain_name": "www.example.com"}, "http_version 1.1 or higher"),
        (http, {"domain_name": "www.example.com", "http_version": 1.0}, "http_version 1.1"),
        (http, {"domain_name": "bad domain", "http_version": 1.1}, "domain_name"),
        (http, {"domain_name": "-x.com", "http_version": 1.1}, "domain_name"),
        (http, {"http_version": 2.0}, "http_version"),
    ]
    for pool, body, text in cases:
        assert_fault(create(api, pool["id"], **body), 400, text)
    assert snapshot(api) == before
    assert create(api, udp["id"], type="UDP-CONNECT", delay=3).status_code == 201
    assert create(api, sctp["id"], type="SCTP").status_code == 201
    assert create(api, http["id"], expected_codes="200, 202,204").status_code == 201


BAD_CREATE: list[tuple[dict[str, Any], int, str]] = [
    ({"pool_id": None}, 400, "pool_id"),
    ({"pool_id": "nope"}, 400, "pool_id"),
    ({"pool_id": MISSING}, 404, f"Pool {MISSING} not found"),
    ({"type": "ICMP"}, 400, "Value should be one of"),
    ({"type": None}, 400, "type"),
    ({"delay": -1}, 400, "delay"),
    ({"delay": "soon"}, 400, "delay"),
    ({"timeout": None}, 400, "timeout"),
    ({"max_retries": 0}, 400, "max_retries"),
    ({"max_retries": 11}, 400, "max_retries"),
    ({"max_retries_down": 11}, 400, "max_retries_down"),
    ({"http_method": "FETCH"}, 400, "Value should be one of"),
    ({"name": "n" * 256}, 400, "name"),
    ({"description": "d"}, 400, "Unknown attribute"),
    ({"domain_name": "", "http_version": 1.1}, 400, "domain_name"),
    ({"url_path": "/" + "a" * 2048}, 400, "url_path"),
]


def test_bad_creates_change_nothing(api: Api) -> None:
    lb = api.lb()
    pool = api.pool(loadbalancer_id=lb["id"])
    before = snapshot(api)
    for extra, status, text in BAD_CREATE:
        assert_fault(create(api, pool["id"], **extra), status, text)
    resp = api.post(URL, json={"healthmonitor": {"type": "HTTP", "delay": 1, "timeout": 1,
                                                 "max_retries": 1}})
    assert_fault(resp, 400, "pool_id. Value: 'None'. Mandatory field missing")
    assert_fault(api.post(URL, json={"type": "HTTP"}), 400, "healthmonitor")
    assert_fault(api.get(f"{URL}/{MISSING}"), 404, "Health Monitor")
    assert snapshot(api) == before


def test_update_null_resets_and_refusals(api: Api) -> None:
    lb = api.lb()
    pool = api.pool(loadbalancer_id=lb["id"])
    hm = create(api, pool["id"], url_path="/h", http_method="POST", expected_codes="201",
                max_retries_down=5).json()["healthmonitor"]
    set_status(api, m.HealthMonitor, hm["id"], "ACTIVE")
    resp = api.put(f"{URL}/{hm['id']}", json={"healthmonitor": {
        "url_path": None, "http_method": None, "expected_codes": None,
        "max_retries_down": None, "delay": 10, "max_retries": 5, "admin_state_up": False,
        "name": "n", "tags": ["x"]}})
    assert resp.status_code == 200, resp.text
    body = resp.json()["healthmonitor"]
    assert (body["url_path"], body["http_method"], body["expected_codes"]) == (
        "/", "GET", "200")
    assert (body["max_retries_down"], body["delay"], body["max_retries"]) == (3, 10, 5)
    assert (body["admin_state_up"], body["name"], body["tags"]) == (False, "n", ["x"])
    assert body["provisioning_status"] == "PENDING_UPDATE" and body["updated_at"]
    tcp_pool = api.pool(loadbalancer_id=lb["id"], protocol="TCP")
    tcp = create(api, tcp_pool["id"], type="TCP").json()["healthmonitor"]
    before = snapshot(api)
    for target, change, text in [
        (hm, {"delay": None}, "None is not a valid option for delay"),
        (hm, {"timeout": None}, "timeout"),
        (hm, {"max_retries": None}, "max_retries"),
        (hm, {"type": "TCP"}, "Unknown attribute"),
        (hm, {"pool_id": tcp_pool["id"]}, "Unknown attribute"),
        (hm, {"url_path": "nope"}, "url_path"),
        (hm, {"domain_name": "example.com"}, "http_version"),
        (tcp, {"url_path": "/x"}, "url_path is not a valid option for health monitors of "
                                  "type TCP"),
        (hm, {"max_retries": 0}, "max_retries"),
    ]:
        assert_fault(api.put(f"{URL}/{target['id']}", json={"healthmonitor": change}), 400,
                     text)
    assert_fault(api.put(f"{URL}/{MISSING}", json={"healthmonitor": {"delay": 1}}), 404)
    assert snapshot(api) == before
    # null on an HTTP option of a TCP monitor is accepted (it is null anyway).
    assert api.put(f"{URL}/{tcp['id']}", json={"healthmonitor": {
        "url_path": None}}).status_code == 200


def test_delete(api: Api) -> None:
    lb = api.lb()
    pool = api.pool(loadbalancer_id=lb["id"])
    hm = create(api, pool["id"]).json()["healthmonitor"]
    assert api.delete(f"{URL}/{hm['id']}").status_code == 204
    assert api.get(f"{URL}/{hm['id']}").json()["healthmonitor"][
        "provisioning_status"] == "PENDING_DELETE"
    before = snapshot(api)
    assert_fault(api.delete(f"{URL}/{hm['id']}"), 409, "Invalid state PENDING_DELETE")
    assert_fault(api.put(f"{URL}/{hm['id']}", json={"healthmonitor": {"delay": 9}}), 409)
    # The pool keeps "a" monitor until the provider has removed this one.
    assert_fault(create(api, pool["id"]), 409, "already has a health monitor")
    assert_fault(api.delete(f"{URL}/{MISSING}"), 404)
    assert snapshot(api) == before
    other = api.pool(loadbalancer_id=lb["id"])
    set_status(api, m.Pool, other["id"], "PENDING_DELETE")
    assert_fault(create(api, other["id"]), 409, f"Pool {other['id']} is immutable")


def test_list_filters_sort_pagination(api: Api) -> None:
    lb = api.lb()
    for i, kind in enumerate(("HTTP", "TCP", "PING")):
        protocol = "HTTP" if kind == "HTTP" else "TCP"
        pool = api.pool(loadbalancer_id=lb["id"], protocol=protocol)
        create(api, pool["id"], type=kind, name=f"h{i}", delay=10 - i, tags=[kind.lower()])
    listed = api.get(URL, params={"sort": "delay"}).json()
    assert [x["name"] for x in listed["healthmonitors"]] == ["h2", "h1", "h0"]
    assert listed["healthmonitors_links"] == []
    assert [x["name"] for x in api.get(URL, params={"type": "TCP"}).json()[
        "healthmonitors"]] == ["h1"]
    assert [x["name"] for x in api.get(URL, params={"tags-any": "ping,http",
                                                    "sort": "name"}).json()[
        "healthmonitors"]] == ["h0", "h2"]
    assert len(api.get(URL, params={"max_retries": 3}).json()["healthmonitors"]) == 3
    page = api.get(URL, params={"limit": 2, "sort": "name:desc"}).json()
    assert [x["name"] for x in page["healthmonitors"]] == ["h2", "h1"]
    nxt = [x["href"] for x in page["healthmonitors_links"] if x["rel"] == "next"][0]
    assert [x["name"] for x in api.get(nxt).json()["healthmonitors"]] == ["h0"]
    assert api.get(URL, params={"fields": "type", "name": "h2"}).json()[
        "healthmonitors"] == [{"type": "PING"}]
    assert_fault(api.get(URL, params={"colour": "red"}), 400)


def test_quota(api: Api) -> None:
    lb = api.lb()
    with api.db.session() as s:
        s.add(m.Quota(project_id=lb["project_id"], health_monitor=0))
    pool = api.pool(loadbalancer_id=lb["id"])
    before = snapshot(api)
    assert_fault(create(api, pool["id"]), 403, "Quota has been met for resources: "
                                              "HealthMonitor")
    assert snapshot(api) == before


def test_project_scoping(api_factory: Any) -> None:
    api = api_factory(auth_strategy="testing")
    alice = {"X-Project-Id": "alice", "X-Roles": "member"}
    bob = {"X-Project-Id": "bob", "X-Roles": "member"}
    lb = api.post("/v2/lbaas/loadbalancers", headers=alice, json={"loadbalancer": {
        "vip_subnet_id": LOOPBACK_SUBNET}}).json()["loadbalancer"]
    pool = api.post("/v2/lbaas/pools", headers=alice, json={"pool": {
        "loadbalancer_id": lb["id"], "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN"}}).json(
    )["pool"]
    body = {"healthmonitor": {"pool_id": pool["id"], "type": "TCP", "delay": 1, "timeout": 1,
                              "max_retries": 1}}
    hm = api.post(URL, headers=alice, json=body).json()["healthmonitor"]
    before = snapshot(api)
    assert_fault(api.post(URL, headers=bob, json=body), 403)
    assert_fault(api.get(f"{URL}/{hm['id']}", headers=bob), 403)
    assert_fault(api.put(f"{URL}/{hm['id']}", headers=bob,
                         json={"healthmonitor": {"delay": 2}}), 403)
    assert_fault(api.delete(f"{URL}/{hm['id']}", headers=bob), 403)
    assert snapshot(api) == before
    assert api.get(URL, headers=bob).json()["healthmonitors"] == []
    assert len(api.get(URL, headers=alice).json()["healthmonitors"]) == 1


def test_driver_calls(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    from octavia_lib.api.drivers import data_models as dm

    lb = api.lb()
    pool = api.pool(loadbalancer_id=lb["id"])
    rec = Recorder()
    monkeypatch.setattr(rules, "driver_for", lambda svc, lb: rec)
    hm = create(api, pool["id"]).json()["healthmonitor"]
    method, (model,) = rec.calls[-1]
    assert method == "health_monitor_create" and model.healthmonitor_id == hm["id"]
    assert (model.max_retries, model.max_retries_down) == (3, 3)
    api.put(f"{URL}/{hm['id']}", json={"healthmonitor": {"max_retries": 7}})
    method, (old, new) = rec.calls[-1]
    assert method == "health_monitor_update" and old.max_retries == 3
    assert new.max_retries == 7 and new.delay is dm.Unset
    api.delete(f"{URL}/{hm['id']}")
    assert rec.calls[-1][0] == "health_monitor_delete"
