"""Listener API behaviour as a client sees it, on every database backend."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from statera.controller import rules
from statera.db import models as m
from tests.api.conftest import Api
from tests.api.helpers import MISSING, Recorder, assert_fault, self_signed, set_status, snapshot

URL = "/v2/lbaas/listeners"


def test_create_show_defaults_and_hint(api: Api) -> None:
    lb = api.lb()
    sub = api.services.bus.subscribe("noop")
    resp = api.post(URL, json={"listener": {
        "loadbalancer_id": lb["id"], "protocol": "HTTP", "protocol_port": 80, "name": "web",
        "tags": ["t1", "t2"], "insert_headers": {"X-Forwarded-For": "true"},
        "allowed_cidrs": ["10.0.0.7/8", "10.1.0.0/8", "192.168.0.0/24"]}})
    assert resp.status_code == 201, resp.text
    lst = resp.json()["listener"]
    assert sub.get(1.0) == lb["id"]
    assert lst["provisioning_status"] == "PENDING_CREATE"
    assert lst["operating_status"] == "OFFLINE"
    assert (lst["connection_limit"], lst["client_authentication"]) == (-1, "NONE")
    assert (lst["timeout_client_data"], lst["timeout_member_connect"],
            lst["timeout_member_data"], lst["timeout_tcp_inspect"]) == (50000, 5000, 50000, 0)
    assert lst["allowed_cidrs"] == ["10.0.0.0/8", "192.168.0.0/24"]
    assert lst["insert_headers"] == {"X-Forwarded-For": "true"}
    assert lst["sni_container_refs"] == [] and lst["l7policies"] == []
    assert lst["loadbalancers"] == [{"id": lb["id"]}]
    assert lst["tls_versions"] is None and lst["default_pool_id"] is None
    assert lst["tenant_id"] == lst["project_id"] == lb["project_id"]
    assert lst["tags"] == ["t1", "t2"] and lst["description"] == ""
    assert lst["updated_at"] is None
    shown = api.get(f"{URL}/{lst['id']}").json()["listener"]
    assert shown == lst
    assert api.get(f"/v2/lbaas/loadbalancers/{lb['id']}").json()["loadbalancer"][
        "listeners"] == [{"id": lst["id"]}]
    only = api.get(f"{URL}/{lst['id']}", params=[("fields", "id"), ("fields", "name")]).json()
    assert only == {"listener": {"id": lst["id"], "name": "web"}}
    for prefix in ("/v2", "/v2.0/lbaas", "/v2.0"):
        assert api.get(f"{prefix}/listeners/{lst['id']}").status_code == 200
    with api.db.session() as s:
        row = s.get_one(m.Listener, lst["id"])
        assert row.generation == s.get_one(m.LoadBalancer, lb["id"]).desired_generation
    # Configured timeouts are the defaults, and the API shows what it stored.
    api.services.settings.listener_defaults.timeout_client_data = 1234
    other = api.listener(lb["id"], protocol_port=81)
    assert other["timeout_client_data"] == 1234


def test_list_filters_sort_pagination(api: Api) -> None:
    lb1, lb2 = api.lb(), api.lb()
    for i, port in enumerate((80, 81, 82)):
        api.listener(lb1["id"], protocol_port=port, name=f"l{i}",
                     tags=["even" if port % 2 == 0 else "odd"])
    api.listener(lb2["id"], protocol="TCP", protocol_port=80, name="tcp")
    listed = api.get(URL).json()
    assert len(listed["listeners"]) == 4 and listed["listeners_links"] == []
    by_lb = api.get(URL, params={"loadbalancer_id": lb2["id"]}).json()["listeners"]
    assert [x["name"] for x in by_lb] == ["tcp"]
    assert [x["name"] for x in api.get(URL, params={"protocol_port": 81}).json()[
        "listeners"]] == ["l1"]
    assert [x["name"] for x in api.get(URL, params={"protocol": "TCP"}).json()[
        "listeners"]] == ["tcp"]
    assert {x["name"] for x in api.get(URL, params={"tags": "even"}).json()["listeners"]} == {
        "l0", "l2"}
    names = [x["name"] for x in api.get(URL, params={"sort": "name:desc"}).json()["listeners"]]
    assert names == ["tcp", "l2", "l1", "l0"]
    page1 = api.get(URL, params={"limit": 2, "sort": "name"}).json()
    assert [x["name"] for x in page1["listeners"]] == ["l0", "l1"]
    nxt = [x["href"] for x in page1["listeners_links"] if x["rel"] == "next"][0]
    page2 = api.get(nxt).json()
    assert [x["name"] for x in page2["listeners"]] == ["l2", "tcp"]
    assert {x["rel"] for x in page2["listeners_links"]} == {"next", "previous"}
    pruned = api.get(URL, params={"fields": "protocol_port", "sort": "protocol_port"}).json()
    assert pruned["listeners"][0] == {"protocol_port": 80}
    assert_fault(api.get(URL, params={"bogus": "1"}), 400, "duplicate or invalid")


def test_update_and_null_resets(api: Api) -> None:
    lb = api.lb()
    lst = api.listener(lb["id"], connection_limit=10, timeout_client_data=7,
                       insert_headers={"X-Forwarded-Port": "true"}, tags=["a"])
    set_status(api, m.Listener, lst["id"], "ACTIVE")
    set_status(api, m.LoadBalancer, lb["id"], "ACTIVE")
    resp = api.put(f"{URL}/{lst['id']}", json={"listener": {
        "name": "new", "admin_state_up": False, "connection_limit": None,
        "timeout_client_data": None, "insert_headers": None, "tags": ["b", "c"],
        "allowed_cidrs": ["10.0.0.0/8"]}})
    assert resp.status_code == 200, resp.text
    body = resp.json()["listener"]
    assert body["name"] == "new" and body["admin_state_up"] is False
    assert body["connection_limit"] == -1 and body["timeout_client_data"] == 50000
    assert body["insert_headers"] == {} and body["tags"] == ["b", "c"]
    assert body["allowed_cidrs"] == ["10.0.0.0/8"]
    assert body["provisioning_status"] == "PENDING_UPDATE"
    assert body["updated_at"] is not None
    shown_lb = api.get(f"/v2/lbaas/loadbalancers/{lb['id']}").json()["loadbalancer"]
    assert shown_lb["provisioning_status"] == "PENDING_UPDATE"
    # A second change while the first is pending is accepted (Statera coalesces, no 409).
    resp = api.put(f"{URL}/{lst['id']}", json={"listener": {"allowed_cidrs": None}})
    assert resp.status_code == 200 and resp.json()["listener"]["allowed_cidrs"] is None
    with api.db.session() as s:
        assert s.get_one(m.Listener, lst["id"]).generation == s.get_one(
            m.LoadBalancer, lb["id"]).desired_generation
    # An object never created yet stays PENDING_CREATE when it is updated again.
    fresh = api.listener(lb["id"], protocol_port=81)
    assert api.put(f"{URL}/{fresh['id']}", json={"listener": {"name": "x"}}).json()[
        "listener"]["provisioning_status"] == "PENDING_CREATE"


def test_delete_marks_and_refuses_second_delete(api: Api) -> None:
    lb = api.lb()
    lst = api.listener(lb["id"])
    with api.db.session() as s:
        s.add(m.L7Policy(id=MISSING, listener_id=lst["id"], action="REJECT", position=1,
                         project_id=lb["project_id"]))
        s.flush()
        s.add(m.L7Rule(l7policy_id=MISSING, type="PATH", compare_type="EQUAL_TO", value="/"))
    assert api.delete(f"{URL}/{lst['id']}").status_code == 204
    assert api.get(f"{URL}/{lst['id']}").json()["listener"][
        "provisioning_status"] == "PENDING_DELETE"
    with api.db.session() as s:
        assert s.get_one(m.L7Policy, MISSING).provisioning_status == "PENDING_DELETE"
        assert {r.provisioning_status for r in s.scalars(select(m.L7Rule))} == {
            "PENDING_DELETE"}
    before = snapshot(api)
    assert_fault(api.delete(f"{URL}/{lst['id']}"), 409, "Invalid state PENDING_DELETE")
    assert_fault(api.put(f"{URL}/{lst['id']}", json={"listener": {"name": "x"}}), 409,
                 "PENDING_DELETE")
    assert snapshot(api) == before
    # The port is free again for the desired state.
    assert api.listener(lb["id"])["protocol_port"] == 80
    assert_fault(api.delete(f"{URL}/{MISSING}"), 404, "not found")


def test_load_balancer_being_deleted_refuses_writes(api: Api) -> None:
    lb = api.lb()
    lst = api.listener(lb["id"])
    assert api.delete(f"/v2/lbaas/loadbalancers/{lb['id']}?cascade=true").status_code == 204
    before = snapshot(api)
    assert_fault(api.post(URL, json={"listener": {
        "loadbalancer_id": lb["id"], "protocol": "TCP", "protocol_port": 22}}), 409,
        f"Invalid state PENDING_DELETE of loadbalancer resource {lb['id']}")
    assert_fault(api.put(f"{URL}/{lst['id']}", json={"listener": {"name": "x"}}), 409)
    assert snapshot(api) == before


def test_port_uniqueness_per_l4_family(api: Api) -> None:
    lb, other = api.lb(), api.lb()
    api.listener(lb["id"], protocol="HTTP", protocol_port=80)
    before = snapshot(api)
    for protocol in ("TCP", "HTTPS", "PROMETHEUS"):
        assert_fault(api.post(URL, json={"listener": {
            "loadbalancer_id": lb["id"], "protocol": protocol, "protocol_port": 80}}), 409,
            "already using protocol HTTP and protocol_port 80")
    assert snapshot(api) == before
    api.listener(lb["id"], protocol="UDP", protocol_port=80)
    api.listener(lb["id"], protocol="SCTP", protocol_port=80)
    assert_fault(api.post(URL, json={"listener": {
        "loadbalancer_id": lb["id"], "protocol": "UDP", "protocol_port": 80}}), 409)
    api.listener(other["id"], protocol="TCP", protocol_port=80)


def test_default_pool_rules(api: Api) -> None:
    lb, other = api.lb(), api.lb()
    http_pool = api.pool(loadbalancer_id=lb["id"])
    tcp_pool = api.pool(loadbalancer_id=lb["id"], protocol="TCP")
    foreign = api.pool(loadbalancer_id=other["id"])
    lst = api.listener(lb["id"], default_pool_id=http_pool["id"])
    assert lst["default_pool_id"] == http_pool["id"]
    assert api.get(f"/v2/lbaas/pools/{http_pool['id']}").json()["pool"]["listeners"] == [
        {"id": lst["id"]}]
    before = snapshot(api)
    cases = [
        ({"protocol_port": 81, "default_pool_id": foreign["id"]}, 404, "not found"),
        ({"protocol_port": 81, "default_pool_id": MISSING}, 404, "not found"),
        ({"protocol_port": 81, "default_pool_id": tcp_pool["id"]}, 400,
         "pool protocol 'TCP' is invalid while the listener protocol is 'HTTP'"),
        ({"protocol": "PROMETHEUS", "protocol_port": 9100, "default_pool_id": http_pool["id"]},
         400, "PROMETHEUS"),
    ]
    for extra, status, text in cases:
        body = {"loadbalancer_id": lb["id"], "protocol": "HTTP", **extra}
        assert_fault(api.post(URL, json={"listener": body}), status, text)
    assert_fault(api.put(f"{URL}/{lst['id']}", json={"listener": {
        "default_pool_id": tcp_pool["id"]}}), 400, "invalid while the listener protocol")
    assert_fault(api.put(f"{URL}/{lst['id']}", json={"listener": {
        "default_pool_id": foreign["id"]}}), 404)
    assert snapshot(api) == before
    tcp_listener = api.listener(lb["id"], protocol="TCP", protocol_port=443,
                                default_pool_id=tcp_pool["id"])
    assert tcp_listener["default_pool_id"] == tcp_pool["id"]
    resp = api.put(f"{URL}/{lst['id']}", json={"listener": {"default_pool_id": None}})
    assert resp.status_code == 200 and resp.json()["listener"]["default_pool_id"] is None


def test_terminated_https_tls_rules(api: Api) -> None:
    lb = api.lb()
    cert, key = self_signed()
    project = lb["project_id"]
    ref = api.services.certs.store(project, "server", cert, key)
    ca_ref = api.services.certs.store(project, "ca", cert)
    lst = api.listener(lb["id"], protocol="TERMINATED_HTTPS", protocol_port=443,
                       default_tls_container_ref=ref,
                       insert_headers={"X-SSL-Client-CN": "true", "X-Forwarded-Proto": "True"})
    assert lst["tls_versions"] == ["TLSv1.2", "TLSv1.3"]
    assert lst["alpn_protocols"] == ["h2", "http/1.1", "http/1.0"]
    assert lst["tls_ciphers"] == rules.OWASP_SUITE_B
    resp = api.put(f"{URL}/{lst['id']}", json={"listener": {
        "tls_versions": ["TLSv1.3"], "hsts_max_age": 300, "hsts_preload": True}})
    assert resp.status_code == 200, resp.text
    assert resp.json()["listener"]["tls_versions"] == ["TLSv1.3"]
    resp = api.put(f"{URL}/{lst['id']}", json={"listener": {
        "tls_versions": None, "hsts_preload": None, "client_ca_tls_container_ref": ca_ref,
        "client_authentication": "MANDATORY"}})
    assert resp.status_code == 200, resp.text
    body = resp.json()["listener"]
    assert body["tls_versions"] == ["TLSv1.2", "TLSv1.3"] and body["hsts_preload"] is False
    assert body["client_authentication"] == "MANDATORY"
    before = snapshot(api)
    base = {"loadbalancer_id": lb["id"], "protocol": "TERMINATED_HTTPS", "protocol_port": 8443}
    cases: list[tuple[dict[str, Any], str]] = [
        ({}, "An SNI or default certificate container reference must be provided"),
        ({"default_tls_container_ref": "statera://certificates/" + MISSING},
         "Could not retrieve certificate"),
        ({"sni_container_refs": ["garbage"]}, "Could not retrieve certificate"),
        ({"default_tls_container_ref": ref, "client_authentication": "OPTIONAL"},
         "requires a client CA container reference"),
        ({"default_tls_container_ref": ref, "client_crl_container_ref": ca_ref},
         "client authentication CA reference is required"),
        ({"default_tls_container_ref": ref, "tls_versions": []}, "Empty TLS version list"),
        ({"default_tls_container_ref": ref, "tls_versions": ["TLSv9"]}, "Invalid TLS versions"),
        ({"default_tls_container_ref": ref, "alpn_protocols": []}, "Empty ALPN"),
        ({"default_tls_container_ref": ref, "tls_ciphers": "AES128; rm -rf"}, "tls_ciphers"),
        ({"default_tls_container_ref": ref, "hsts_preload": True}, "hsts_max_age"),
        ({"default_tls_container_ref": ref, "insert_headers": {"X-Bogus": "true"}},
         "insert_headers"),
    ]
    for extra, text in cases:
        assert_fault(api.post(URL, json={"listener": {**base, **extra}}), 400, text)
    http = {"loadbalancer_id": lb["id"], "protocol": "HTTP", "protocol_port": 8080}
    for extra, text in [
        ({"default_tls_container_ref": ref}, "only allowed on TERMINATED_HTTPS"),
        ({"hsts_max_age": 10}, "HSTS"),
        ({"insert_headers": {"X-SSL-Client-CN": "true"}}, "HTTP protocol listener"),
    ]:
        assert_fault(api.post(URL, json={"listener": {**http, **extra}}), 400, text)
    assert snapshot(api) == before
    # PROMETHEUS turns TLS on when given a certificate.
    prom = api.listener(lb["id"], protocol="PROMETHEUS", protocol_port=9100,
                        default_tls_container_ref=ref)
    assert prom["tls_versions"] == ["TLSv1.2", "TLSv1.3"]


BAD_CREATE: list[tuple[Any, int, str]] = [
    ({"protocol": "HTTP", "protocol_port": 80}, 400, "loadbalancer_id"),
    ({"@lb": 1, "protocol_port": 80}, 400, "protocol. Value: 'None'. Mandatory field missing"),
    ({"@lb": 1, "protocol": "HTTP"}, 400, "protocol_port"),
    ({"@lb": 1, "protocol": "FTP", "protocol_port": 80}, 400, "Value should be one of"),
    ({"@lb": 1, "protocol": "HTTP", "protocol_port": 0}, 400, "protocol_port"),
    ({"@lb": 1, "protocol": "HTTP", "protocol_port": 65536}, 400, "protocol_port"),
    ({"@lb": 1, "protocol": "HTTP", "protocol_port": "eighty"}, 400, "protocol_port"),
    ({"@lb": 1, "protocol": "HTTP", "protocol_port": 80, "name": "x" * 256}, 400, "name"),
    ({"@lb": 1, "protocol": "HTTP", "protocol_port": 80, "bogus": 1}, 400, "Unknown attribute"),
    ({"@lb": 1, "protocol": "HTTP", "protocol_port": 80, "connection_limit": -2}, 400,
     "connection_limit"),
    ({"@lb": 1, "protocol": "HTTP", "protocol_port": 80, "timeout_client_data": 2073600001},
     400, "timeout_client_data"),
    ({"@lb": 1, "protocol": "HTTP", "protocol_port": 80, "admin_state_up": "maybe"}, 400,
     "admin_state_up"),
    ({"@lb": 1, "protocol": "HTTP", "protocol_port": 80, "tags": "notalist"}, 400, "tags"),
    ({"loadbalancer_id": "not-a-uuid", "protocol": "HTTP", "protocol_port": 80}, 400,
     "loadbalancer_id"),
    ({"loadbalancer_id": MISSING, "protocol": "HTTP", "protocol_port": 80}, 404,
     f"Load Balancer {MISSING} not found"),
    ({"@lb": 1, "protocol": "HTTP", "protocol_port": 80,
      "insert_headers": {"X-Forwarded-For": "maybe"}}, 400, "insert_headers"),
    ({"@lb": 1, "protocol": "TCP", "protocol_port": 80,
      "insert_headers": {"X-Forwarded-For": "true"}}, 400, "TCP protocol listener"),
    ({"@lb": 1, "protocol": "UDP", "protocol_port": 80,
      "insert_headers": {"X-Forwarded-For": "true"}}, 400, "UDP protocol listener"),
    ({"@lb": 1, "protocol": "HTTP", "protocol_port": 80, "allowed_cidrs": ["10.0.0.0/33"]},
     400, "allowed_cidrs"),
    ({"@lb": 1, "protocol": "HTTP", "protocol_port": 80, "allowed_cidrs": ["2001:db8::/32"]},
     400, "IP version incompatible"),
    ({"@lb": 1, "protocol": "HTTP", "protocol_port": 80, "default_pool": {"name": "p"}}, 400,
     "create graph"),
    ({"@lb": 1, "protocol": "HTTP", "protocol_port": 80, "l7policies": [{"action": "REJECT"}]},
     400, "create graph"),
    ("not-an-object", 400, "Invalid input"),
]


def test_tls13_suites_in_tls_ciphers(api: Api) -> None:
    """A cipher string naming TLS 1.3 suites next to older ciphers is kept as given (the NGINX
    provider renders its TLS 1.3 part as ``Ciphersuites``); one naming TLS 1.3 suites only
    selects no cipher for TLS 1.2 and is refused before any provider sees it."""
    lb = api.lb()
    cert, key = self_signed()
    ref = api.services.certs.store(lb["project_id"], "server", cert, key)
    base = {"loadbalancer_id": lb["id"], "protocol": "TERMINATED_HTTPS",
            "default_tls_container_ref": ref}
    mixed = "ECDHE+AESGCM:TLS_CHACHA20_POLY1305_SHA256"
    lst = api.listener(lb["id"], **{**base, "protocol_port": 443, "tls_ciphers": mixed})
    assert lst["tls_ciphers"] == mixed
    before = snapshot(api)
    for versions in (["TLSv1.2", "TLSv1.3"], ["TLSv1.3"]):
        assert_fault(api.post(URL, json={"listener": {
            **base, "protocol_port": 8443, "tls_versions": versions,
            "tls_ciphers": "TLS_AES_256_GCM_SHA384"}}), 400, "selects no cipher")
    assert snapshot(api) == before


def test_bad_creates_change_nothing(api: Api) -> None:
    lb = api.lb()
    api.listener(lb["id"], protocol_port=1)
    before = snapshot(api)
    for body, status, text in BAD_CREATE:
        if isinstance(body, dict) and "@lb" in body:
            body = {"loadbalancer_id": lb["id"],
                    **{k: v for k, v in body.items() if k != "@lb"}}
        resp = api.post(URL, json={"listener": body})
        assert_fault(resp, status, text)
    # Not wrapped in the envelope, and not JSON at all.
    assert_fault(api.post(URL, json={"loadbalancer_id": lb["id"], "protocol": "HTTP",
                                     "protocol_port": 80}), 400, "listener")
    assert_fault(api.post(URL, content=b"{nope", headers={"Content-Type": "application/json"}),
                 400)
    assert snapshot(api) == before


def test_bad_updates_change_nothing(api: Api) -> None:
    lb = api.lb()
    lst = api.listener(lb["id"])
    before = snapshot(api)
    shown = api.get(f"{URL}/{lst['id']}").json()
    for body, status, text in [
        ({"protocol": "TCP"}, 400, "Unknown attribute"),
        ({"protocol_port": 81}, 400, "Unknown attribute"),
        ({"connection_limit": "x"}, 400, "connection_limit"),
        ({"timeout_member_data": -1}, 400, "timeout_member_data"),
        ({"client_authentication": "SOMETIMES"}, 400, "Value should be one of"),
        ({"sni_container_refs": ["x" * 256]}, 400, "sni_container_refs"),
        ({"default_pool_id": MISSING}, 404, "not found"),
        ({"hsts_max_age": 5}, 400, "HSTS"),
    ]:
        assert_fault(api.put(f"{URL}/{lst['id']}", json={"listener": body}), status, text)
    assert_fault(api.put(f"{URL}/{MISSING}", json={"listener": {"name": "x"}}), 404)
    assert_fault(api.get(f"{URL}/{MISSING}"), 404, f"Listener {MISSING} not found")
    assert snapshot(api) == before
    assert api.get(f"{URL}/{lst['id']}").json() == shown


def test_quota(api: Api) -> None:
    lb = api.lb()
    with api.db.session() as s:
        s.add(m.Quota(project_id=lb["project_id"], listener=1))
    api.listener(lb["id"])
    before = snapshot(api)
    assert_fault(api.post(URL, json={"listener": {
        "loadbalancer_id": lb["id"], "protocol": "TCP", "protocol_port": 22}}), 403,
        "Quota has been met for resources: Listener")
    assert snapshot(api) == before


def test_stats_sum_rows(api: Api) -> None:
    lb = api.lb()
    lst = api.listener(lb["id"])
    with api.db.session() as s:
        s.add(m.ListenerStatistics(listener_id=lst["id"], amphora_id="a", bytes_in=10,
                                   bytes_out=20, active_connections=1, total_connections=5,
                                   request_errors=1))
        s.add(m.ListenerStatistics(listener_id=lst["id"], amphora_id="b", bytes_in=1,
                                   bytes_out=2, active_connections=3, total_connections=4,
                                   request_errors=0))
    stats = api.get(f"{URL}/{lst['id']}/stats").json()
    assert stats == {"stats": {"bytes_in": 11, "bytes_out": 22, "active_connections": 4,
                               "total_connections": 9, "request_errors": 1}}
    assert_fault(api.get(f"{URL}/{MISSING}/stats"), 404)


def test_project_scoping_and_roles(api_factory: Any) -> None:
    api = api_factory(auth_strategy="testing")
    alice = {"X-Project-Id": "alice", "X-Roles": "member"}
    bob = {"X-Project-Id": "bob", "X-Roles": "member"}
    reader = {"X-Project-Id": "alice", "X-Roles": "reader"}
    resp = api.post("/v2/lbaas/loadbalancers", headers=alice, json={"loadbalancer": {
        "vip_subnet_id": "7b1c6e3a-1d5e-4f5e-9a57-3c1f00000002"}})
    lb = resp.json()["loadbalancer"]
    body = {"listener": {"loadbalancer_id": lb["id"], "protocol": "HTTP", "protocol_port": 80}}
    lst = api.post(URL, headers=alice, json=body).json()["listener"]
    before = snapshot(api)
    assert_fault(api.post(URL, headers=bob, json=body), 403, "Policy does not allow")
    assert_fault(api.post(URL, headers=reader, json=body), 403)
    assert_fault(api.get(f"{URL}/{lst['id']}", headers=bob), 403)
    assert_fault(api.put(f"{URL}/{lst['id']}", headers=bob, json={"listener": {"name": "x"}}),
                 403)
    assert_fault(api.delete(f"{URL}/{lst['id']}", headers=bob), 403)
    assert_fault(api.get(f"{URL}/{lst['id']}/stats", headers=bob), 403)
    assert snapshot(api) == before
    assert api.get(URL, headers=bob).json()["listeners"] == []
    assert [x["id"] for x in api.get(URL, headers=reader).json()["listeners"]] == [lst["id"]]
    assert api.get(f"{URL}/{lst['id']}", headers=reader).status_code == 200
    observer = {"X-Project-Id": "carol", "X-Roles": "load-balancer_global_observer"}
    assert len(api.get(URL, headers=observer).json()["listeners"]) == 1
    admin = {"X-Project-Id": "ops", "X-Roles": "admin"}
    assert api.put(f"{URL}/{lst['id']}", headers=admin,
                   json={"listener": {"name": "by-admin"}}).status_code == 200


def test_driver_sees_full_old_and_partial_new(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    from octavia_lib.api.drivers import data_models as dm
    from octavia_lib.api.drivers import exceptions as lib_exc

    lb = api.lb()
    rec = Recorder()
    monkeypatch.setattr(rules, "driver_for", lambda svc, lb: rec)
    lst = api.listener(lb["id"], name="a")
    assert rec.calls[-1][0] == "listener_create"
    assert rec.calls[-1][1][0].listener_id == lst["id"]
    api.put(f"{URL}/{lst['id']}", json={"listener": {"name": "b", "connection_limit": None}})
    method, (old, new) = rec.calls[-1]
    assert method == "listener_update"
    assert old.name == "a" and old.protocol_port == 80
    assert new.listener_id == lst["id"] and new.name == "b" and new.connection_limit == -1
    assert new.protocol_port is dm.Unset and new.timeout_client_data is dm.Unset
    api.delete(f"{URL}/{lst['id']}")
    assert rec.calls[-1][0] == "listener_delete"
    # A driver refusing an option rolls the whole request back.
    failing = Recorder(lib_exc.UnsupportedOptionError(user_fault_string="no TCP today",
                                                      operator_fault_string="x"))
    monkeypatch.setattr(rules, "driver_for", lambda svc, lb: failing)
    before = snapshot(api)
    resp = api.post(URL, json={"listener": {"loadbalancer_id": lb["id"], "protocol": "TCP",
                                            "protocol_port": 22}})
    assert_fault(resp, 501, "no TCP today")
    assert snapshot(api) == before
