"""Pool API behaviour as a client sees it, on every database backend."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from statera.controller import rules
from statera.db import models as m
from tests.api.conftest import Api
from tests.api.helpers import (
    MISSING,
    Recorder,
    assert_fault,
    self_signed,
    set_status,
    snapshot,
)

URL = "/v2/lbaas/pools"


def crl_of(ca_pem: str, key_pem: str) -> str:
    """An empty CRL signed by the self-signed CA ``ca_pem``."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    from tests.certs.pki import crl_pem

    key = serialization.load_pem_private_key(key_pem.encode(), None)
    return crl_pem(key, x509.load_pem_x509_certificate(ca_pem.encode()), [])


def test_create_show_defaults(api: Api) -> None:
    lb = api.lb()
    sub = api.services.bus.subscribe("noop")
    pool = api.pool(loadbalancer_id=lb["id"], name="p", description="d", tags=["x"])
    assert sub.get(1.0) == lb["id"]
    assert (pool["provisioning_status"], pool["operating_status"]) == ("PENDING_CREATE",
                                                                       "OFFLINE")
    assert pool["protocol"] == "HTTP" and pool["lb_algorithm"] == "ROUND_ROBIN"
    assert pool["session_persistence"] is None and pool["tls_enabled"] is False
    assert pool["tls_versions"] is None and pool["tls_ciphers"] is None
    assert pool["loadbalancers"] == [{"id": lb["id"]}]
    assert pool["listeners"] == [] and pool["members"] == []
    assert "healthmonitor_id" not in pool and pool["tags"] == ["x"]  # as in Octavia
    assert pool["admin_state_up"] is True and pool["tenant_id"] == lb["project_id"]
    assert api.get(f"{URL}/{pool['id']}").json()["pool"] == pool
    assert api.get(f"/v2/lbaas/loadbalancers/{lb['id']}").json()["loadbalancer"][
        "pools"] == [{"id": pool["id"]}]
    assert api.get(f"{URL}/{pool['id']}", params={"fields": "lb_algorithm"}).json() == {
        "pool": {"lb_algorithm": "ROUND_ROBIN"}}
    off = api.pool(loadbalancer_id=lb["id"], admin_state_up=None)
    assert off["admin_state_up"] is False


def test_create_on_listener_becomes_default_pool(api: Api) -> None:
    lb, other = api.lb(), api.lb()
    lst = api.listener(lb["id"])
    set_status(api, m.Listener, lst["id"], "ACTIVE")
    pool = api.pool(listener_id=lst["id"])
    assert pool["listeners"] == [{"id": lst["id"]}]
    assert pool["loadbalancers"] == [{"id": lb["id"]}]
    shown = api.get(f"/v2/lbaas/listeners/{lst['id']}").json()["listener"]
    assert shown["default_pool_id"] == pool["id"]
    assert shown["provisioning_status"] == "PENDING_UPDATE"
    tcp = api.listener(lb["id"], protocol="TCP", protocol_port=22)
    before = snapshot(api)
    for body, status, text in [
        ({"listener_id": lst["id"]}, 409, "This listener already has a default pool"),
        ({"listener_id": MISSING}, 404, f"Listener {MISSING} not found"),
        ({"listener_id": tcp["id"], "loadbalancer_id": other["id"]}, 400, "does not belong"),
        ({"listener_id": tcp["id"], "protocol": "UDP"}, 400,
         "pool protocol 'UDP' is invalid while the listener protocol is 'TCP'"),
        ({}, 400, "Either loadbalancer_id or listener_id must be specified"),
        ({"loadbalancer_id": MISSING}, 404, f"Load Balancer {MISSING} not found"),
    ]:
        full = {"protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN", **body}
        assert_fault(api.post(URL, json={"pool": full}), status, text)
    assert snapshot(api) == before
    assert api.pool(listener_id=tcp["id"], loadbalancer_id=lb["id"], protocol="PROXY")[
        "listeners"] == [{"id": tcp["id"]}]


def test_create_with_members_and_monitor(api: Api) -> None:
    lb = api.lb()
    pool = api.pool(loadbalancer_id=lb["id"], members=[
        {"address": "127.0.0.1", "protocol_port": 80},
        {"address": "127.0.0.2", "protocol_port": 80, "weight": 3}],
        healthmonitor={"type": "HTTP", "delay": 5, "timeout": 3, "max_retries": 2})
    assert len(pool["members"]) == 2 and pool["healthmonitor_id"] is not None
    members = api.get(f"{URL}/{pool['id']}/members", params={"sort": "address"}).json()[
        "members"]
    assert [(x["address"], x["weight"], x["operating_status"]) for x in members] == [
        ("127.0.0.1", 1, "OFFLINE"), ("127.0.0.2", 3, "OFFLINE")]
    hm = api.get(f"/v2/lbaas/healthmonitors/{pool['healthmonitor_id']}").json()[
        "healthmonitor"]
    assert hm["url_path"] == "/" and hm["pools"] == [{"id": pool["id"]}]


def test_session_persistence_rules(api: Api) -> None:
    lb = api.lb()
    app = api.pool(loadbalancer_id=lb["id"], session_persistence={
        "type": "APP_COOKIE", "cookie_name": "JSESSIONID"})
    assert app["session_persistence"] == {"type": "APP_COOKIE", "cookie_name": "JSESSIONID",
                                          "persistence_timeout": None,
                                          "persistence_granularity": None}
    udp = api.pool(loadbalancer_id=lb["id"], protocol="UDP", session_persistence={
        "type": "SOURCE_IP", "persistence_timeout": 60,
        "persistence_granularity": "255.255.255.0"})
    assert udp["session_persistence"]["persistence_timeout"] == 60
    # PUT: an omitted type keeps the stored one; a new type starts clean; null removes it.
    url = f"{URL}/{app['id']}"
    sp = api.put(url, json={"pool": {"session_persistence": {"cookie_name": "SID"}}}).json()[
        "pool"]["session_persistence"]
    assert (sp["type"], sp["cookie_name"]) == ("APP_COOKIE", "SID")
    sp = api.put(url, json={"pool": {"session_persistence": {"type": "HTTP_COOKIE"}}}).json()[
        "pool"]["session_persistence"]
    assert (sp["type"], sp["cookie_name"]) == ("HTTP_COOKIE", None)
    assert api.put(url, json={"pool": {"session_persistence": None}}).json()["pool"][
        "session_persistence"] is None
    before = snapshot(api)
    for protocol, sp_body, text in [
        ("HTTP", {"type": "APP_COOKIE"}, 'Field "cookie_name" must be specified'),
        ("HTTP", {"type": "HTTP_COOKIE", "cookie_name": "a"}, "can only be specified"),
        ("HTTP", {"type": "APP_COOKIE", "cookie_name": "a b"}, '"cookie_name" is invalid'),
        ("HTTP", {"type": "APP_COOKIE", "cookie_name": "a;b"}, '"cookie_name" is invalid'),
        ("HTTP", {"cookie_name": "a"}, "session_persistence.type"),
        ("HTTP", {"type": "SOURCE_IP", "persistence_timeout": 5}, "only for UDP and SCTP"),
        ("HTTP", {"type": "STICKY"}, "Value should be one of"),
        ("UDP", {"type": "HTTP_COOKIE"}, "not supported for UDP protocol pools"),
        ("SCTP", {"type": "SOURCE_IP", "persistence_granularity": "nope"},
         "persistence_granularity"),
        ("UDP", {"type": "SOURCE_IP", "persistence_timeout": -1}, "persistence_timeout"),
    ]:
        body = {"loadbalancer_id": lb["id"], "protocol": protocol,
                "lb_algorithm": "SOURCE_IP", "session_persistence": sp_body}
        assert_fault(api.post(URL, json={"pool": body}), 400, text)
    assert_fault(api.put(f"{URL}/{udp['id']}", json={"pool": {"session_persistence": {
        "type": "APP_COOKIE", "cookie_name": "x"}}}), 400, "not supported for UDP")
    assert snapshot(api) == before


def test_tls_defaults_and_refs(api: Api) -> None:
    lb = api.lb()
    cert, key = self_signed()
    ref = api.services.certs.store(lb["project_id"], "client", cert, key)
    ca = api.services.certs.store(lb["project_id"], "ca", cert)
    crl = api.services.certs.store(lb["project_id"], "crl", crl_of(cert, key))
    stranger = api.services.certs.store(lb["project_id"], "crl2", crl_of(*self_signed()))
    pool = api.pool(loadbalancer_id=lb["id"], protocol="HTTPS", tls_enabled=True,
                    tls_container_ref=ref, ca_tls_container_ref=ca, crl_container_ref=crl)
    assert pool["tls_versions"] == ["TLSv1.2", "TLSv1.3"]
    assert pool["alpn_protocols"] == ["h2", "http/1.1", "http/1.0"]
    assert pool["tls_ciphers"] == rules.OWASP_SUITE_B
    url = f"{URL}/{pool['id']}"
    body = api.put(url, json={"pool": {"tls_versions": ["TLSv1.3"], "tls_ciphers": "AES"}}).json()
    assert body["pool"]["tls_versions"] == ["TLSv1.3"] and body["pool"]["tls_ciphers"] == "AES"
    body = api.put(url, json={"pool": {"tls_versions": None, "tls_ciphers": None}}).json()
    assert body["pool"]["tls_versions"] == ["TLSv1.2", "TLSv1.3"]
    assert body["pool"]["tls_ciphers"] == rules.OWASP_SUITE_B
    before = snapshot(api)
    assert_fault(api.put(url, json={"pool": {"ca_tls_container_ref": None}}), 400,
                 "CA reference cannot be removed")
    base = {"loadbalancer_id": lb["id"], "protocol": "HTTPS", "lb_algorithm": "ROUND_ROBIN"}
    for extra, text in [
        ({"crl_container_ref": crl}, "A CA certificate reference is required"),
        ({"ca_tls_container_ref": crl}, "not a CA certificate"),
        ({"ca_tls_container_ref": ca, "crl_container_ref": ca},
         "is not a certificate revocation list"),
        ({"ca_tls_container_ref": ca, "crl_container_ref": stranger},
         "The CRL specified is not valid for the CA reference"),
        ({"tls_container_ref": "statera://certificates/" + MISSING}, "Could not retrieve"),
        ({"tls_enabled": True, "tls_versions": []}, "Empty TLS version list"),
        ({"tls_enabled": True, "tls_versions": ["TLSv9"]}, "tls_versions"),
        ({"tls_enabled": True, "alpn_protocols": ["h3"]}, "alpn_protocols"),
        ({"tls_enabled": True, "tls_ciphers": "A B"}, "tls_ciphers"),
        ({"protocol": "UDP", "tls_enabled": True}, "TLS is not supported for UDP"),
    ]:
        assert_fault(api.post(URL, json={"pool": {**base, **extra}}), 400, text)
    assert snapshot(api) == before


def test_update_marks_pool_and_listeners(api: Api) -> None:
    lb = api.lb()
    lst = api.listener(lb["id"])
    pool = api.pool(listener_id=lst["id"])
    for model, obj_id in ((m.LoadBalancer, lb["id"]), (m.Listener, lst["id"]),
                          (m.Pool, pool["id"])):
        set_status(api, model, obj_id, "ACTIVE")
    resp = api.put(f"{URL}/{pool['id']}", json={"pool": {
        "name": "n", "lb_algorithm": "LEAST_CONNECTIONS", "admin_state_up": None,
        "tags": ["t"]}})
    assert resp.status_code == 200, resp.text
    body = resp.json()["pool"]
    assert (body["name"], body["lb_algorithm"], body["admin_state_up"], body["tags"]) == (
        "n", "LEAST_CONNECTIONS", False, ["t"])
    assert body["provisioning_status"] == "PENDING_UPDATE" and body["updated_at"]
    with api.db.session() as s:
        gen = s.get_one(m.LoadBalancer, lb["id"]).desired_generation
        for model, obj_id in ((m.LoadBalancer, lb["id"]), (m.Listener, lst["id"]),
                              (m.Pool, pool["id"])):
            row: Any = s.get_one(model, obj_id)
            assert row.provisioning_status == "PENDING_UPDATE"
            if model is not m.LoadBalancer:
                assert row.generation == gen
    before = snapshot(api)
    for body, status, text in [
        ({"protocol": "TCP"}, 400, "Unknown attribute"),
        ({"loadbalancer_id": lb["id"]}, 400, "Unknown attribute"),
        ({"lb_algorithm": "RANDOM"}, 400, "Value should be one of"),
        ({"lb_algorithm": None}, 400, "lb_algorithm"),
        ({"name": "x" * 256}, 400, "name"),
        ({"tls_enabled": "sometimes"}, 400, "tls_enabled"),
    ]:
        assert_fault(api.put(f"{URL}/{pool['id']}", json={"pool": body}), status, text)
    assert_fault(api.put(f"{URL}/{MISSING}", json={"pool": {"name": "x"}}), 404,
                 f"Pool {MISSING} not found")
    assert snapshot(api) == before


def test_delete_rules(api: Api) -> None:
    lb = api.lb()
    lst = api.listener(lb["id"])
    pool = api.pool(listener_id=lst["id"], members=[
        {"address": "127.0.0.1", "protocol_port": 80}],
        healthmonitor={"type": "TCP", "delay": 5, "timeout": 3, "max_retries": 2})
    redirect = api.pool(loadbalancer_id=lb["id"])
    with api.db.session() as s:
        s.add(m.L7Policy(id=MISSING, listener_id=lst["id"], action="REDIRECT_TO_POOL",
                         redirect_pool_id=redirect["id"], position=1))
    before = snapshot(api)
    assert_fault(api.delete(f"{URL}/{redirect['id']}"), 409,
                 f"Pool {redirect['id']} is in use by L7 policy {MISSING}")
    assert snapshot(api) == before
    assert api.delete(f"{URL}/{pool['id']}").status_code == 204
    shown = api.get(f"{URL}/{pool['id']}").json()["pool"]
    assert shown["provisioning_status"] == "PENDING_DELETE"
    listener = api.get(f"/v2/lbaas/listeners/{lst['id']}").json()["listener"]
    assert listener["default_pool_id"] is None
    with api.db.session() as s:
        assert {x.provisioning_status for x in s.scalars(select(m.Member))} == {
            "PENDING_DELETE"}
        assert {x.provisioning_status for x in s.scalars(select(m.HealthMonitor))} == {
            "PENDING_DELETE"}
    before = snapshot(api)
    assert_fault(api.delete(f"{URL}/{pool['id']}"), 409, "Invalid state PENDING_DELETE")
    assert_fault(api.put(f"{URL}/{pool['id']}", json={"pool": {"name": "x"}}), 409)
    assert_fault(api.post(f"{URL}/{pool['id']}/members", json={"member": {
        "address": "127.0.0.9", "protocol_port": 80}}), 409, "is immutable")
    assert_fault(api.delete(f"{URL}/{MISSING}"), 404)
    assert snapshot(api) == before
    # The listener can take a new default pool at once.
    assert api.pool(listener_id=lst["id"])["listeners"] == [{"id": lst["id"]}]


def test_list_filters_sort_pagination(api: Api) -> None:
    lb1, lb2 = api.lb(), api.lb()
    api.pool(loadbalancer_id=lb1["id"], name="a", protocol="TCP", tags=["blue"])
    api.pool(loadbalancer_id=lb1["id"], name="b", lb_algorithm="SOURCE_IP")
    api.pool(loadbalancer_id=lb2["id"], name="c", tags=["blue", "green"])
    names = [x["name"] for x in api.get(URL, params={"sort": "name:desc"}).json()["pools"]]
    assert names == ["c", "b", "a"]
    assert [x["name"] for x in api.get(URL, params={"loadbalancer_id": lb2["id"]}).json()[
        "pools"]] == ["c"]
    assert [x["name"] for x in api.get(URL, params={"protocol": "TCP"}).json()["pools"]] == [
        "a"]
    assert [x["name"] for x in api.get(URL, params={"lb_algorithm": "SOURCE_IP"}).json()[
        "pools"]] == ["b"]
    assert [x["name"] for x in api.get(URL, params={"not-tags": "green",
                                                    "sort": "name"}).json()["pools"]] == [
        "a", "b"]
    page = api.get(URL, params={"limit": 1, "sort": "name"}).json()
    assert [x["name"] for x in page["pools"]] == ["a"]
    nxt = [x["href"] for x in page["pools_links"] if x["rel"] == "next"][0]
    assert [x["name"] for x in api.get(nxt).json()["pools"]] == ["b"]
    assert api.get(URL, params={"fields": "name", "name": "a"}).json()["pools"] == [
        {"name": "a"}]
    assert_fault(api.get(URL, params={"nope": "x"}), 400)


BAD_CREATE: list[tuple[dict[str, Any], int, str]] = [
    ({"lb_algorithm": "ROUND_ROBIN"}, 400, "protocol"),
    ({"protocol": "HTTP"}, 400, "lb_algorithm"),
    ({"protocol": "FTP", "lb_algorithm": "ROUND_ROBIN"}, 400, "Value should be one of"),
    ({"protocol": "HTTP", "lb_algorithm": "FASTEST"}, 400, "Value should be one of"),
    ({"protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN", "name": "n" * 256}, 400, "name"),
    ({"protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN", "description": "d" * 256}, 400,
     "description"),
    ({"protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN", "bogus": True}, 400,
     "Unknown attribute"),
    ({"protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN", "admin_state_up": "maybe"}, 400,
     "admin_state_up"),
    ({"protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN", "tls_container_ref": "r" * 256}, 400,
     "tls_container_ref"),
    ({"protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN", "listener_id": "nope"}, 400,
     "listener_id"),
    ({"protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN", "session_persistence": "yes"}, 400,
     "session_persistence"),
    ({"protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN",
      "members": [{"address": "127.0.0.1", "protocol_port": 80},
                  {"address": "127.0.0.1", "protocol_port": 80}]}, 409, "already using ip"),
    ({"protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN",
      "healthmonitor": {"type": "UDP-CONNECT", "delay": 5, "timeout": 3, "max_retries": 2}},
     400, "UDP-CONNECT"),
]


def test_bad_creates_change_nothing(api: Api) -> None:
    lb = api.lb()
    api.pool(loadbalancer_id=lb["id"])
    before = snapshot(api)
    for body, status, text in BAD_CREATE:
        resp = api.post(URL, json={"pool": {"loadbalancer_id": lb["id"], **body}})
        assert_fault(resp, status, text)
    assert_fault(api.post(URL, json={"protocol": "HTTP"}), 400, "pool")
    assert_fault(api.get(f"{URL}/{MISSING}"), 404, f"Pool {MISSING} not found")
    assert snapshot(api) == before


def test_quota_counts_nested_objects(api: Api) -> None:
    lb = api.lb()
    with api.db.session() as s:
        s.add(m.Quota(project_id=lb["project_id"], member=1))
    before = snapshot(api)
    assert_fault(api.post(URL, json={"pool": {
        "loadbalancer_id": lb["id"], "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN",
        "members": [{"address": "127.0.0.1", "protocol_port": 80},
                    {"address": "127.0.0.2", "protocol_port": 80}]}}), 403,
        "Quota has been met for resources: Member")
    assert snapshot(api) == before


def test_project_scoping(api_factory: Any) -> None:
    api = api_factory(auth_strategy="testing")
    alice = {"X-Project-Id": "alice", "X-Roles": "member"}
    bob = {"X-Project-Id": "bob", "X-Roles": "member"}
    lb = api.post("/v2/lbaas/loadbalancers", headers=alice, json={"loadbalancer": {
        "vip_subnet_id": "7b1c6e3a-1d5e-4f5e-9a57-3c1f00000002"}}).json()["loadbalancer"]
    body = {"pool": {"loadbalancer_id": lb["id"], "protocol": "HTTP",
                     "lb_algorithm": "ROUND_ROBIN"}}
    pool = api.post(URL, headers=alice, json=body).json()["pool"]
    assert pool["project_id"] == "alice"
    before = snapshot(api)
    assert_fault(api.post(URL, headers=bob, json=body), 403)
    assert_fault(api.get(f"{URL}/{pool['id']}", headers=bob), 403)
    assert_fault(api.put(f"{URL}/{pool['id']}", headers=bob, json={"pool": {"name": "x"}}),
                 403)
    assert_fault(api.delete(f"{URL}/{pool['id']}", headers=bob), 403)
    assert snapshot(api) == before
    assert api.get(URL, headers=bob).json()["pools"] == []
    assert len(api.get(URL, headers=alice).json()["pools"]) == 1


def test_driver_calls(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    from octavia_lib.api.drivers import data_models as dm

    lb = api.lb()
    rec = Recorder()
    monkeypatch.setattr(rules, "driver_for", lambda svc, lb: rec)
    pool = api.pool(loadbalancer_id=lb["id"], members=[
        {"address": "127.0.0.1", "protocol_port": 80}])
    method, (model,) = rec.calls[-1]
    assert method == "pool_create" and model.pool_id == pool["id"]
    assert [x.address for x in model.members] == ["127.0.0.1"]
    api.put(f"{URL}/{pool['id']}", json={"pool": {"lb_algorithm": "SOURCE_IP"}})
    method, (old, new) = rec.calls[-1]
    assert method == "pool_update" and old.lb_algorithm == "ROUND_ROBIN"
    assert new.lb_algorithm == "SOURCE_IP" and new.name is dm.Unset
    api.delete(f"{URL}/{pool['id']}")
    assert rec.calls[-1][0] == "pool_delete"
