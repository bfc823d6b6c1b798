"""Quotas through the HTTP API: Octavia's odd status codes, both field spellings, defaults and
who may read or change them."""

from __future__ import annotations

from typing import Any

from statera.db import models as m
from tests.api.conftest import LOOPBACK_SUBNET, Api

Q = "/v2/lbaas/quotas"
NAMES = ("loadbalancer", "load_balancer", "listener", "member", "pool", "healthmonitor",
         "health_monitor", "l7policy", "l7rule")


def assert_fault(resp: Any, status: int, needle: str = "") -> None:
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert set(body) == {"faultcode", "faultstring", "debuginfo"}
    assert body["faultcode"] == "Client" and needle in body["faultstring"]


def test_put_show_list_delete(api: Api) -> None:
    assert api.get(Q).json() == {"quotas": [], "quotas_links": []}
    shown = api.get(f"{Q}/p1").json()["quota"]
    assert shown == {"project_id": "p1", "tenant_id": "p1", **dict.fromkeys(NAMES, -1)}
    resp = api.put(f"{Q}/p1", json={"quota": {"load_balancer": 5, "healthmonitor": 7,
                                              "l7rule": 0}})
    assert resp.status_code == 202, resp.text
    quota = resp.json()["quota"]
    assert quota["loadbalancer"] == quota["load_balancer"] == 5
    assert quota["healthmonitor"] == quota["health_monitor"] == 7
    assert quota["l7rule"] == 0 and quota["listener"] == -1
    assert api.get(f"{Q}/p1").json()["quota"] == quota
    # Only what is sent changes; null goes back to the configured default.
    resp = api.put(f"{Q}/p1", json={"quota": {"loadbalancer": None, "listener": 3}})
    assert resp.json()["quota"]["loadbalancer"] == -1
    assert resp.json()["quota"]["healthmonitor"] == 7 and resp.json()["quota"]["listener"] == 3
    api.put(f"{Q}/p2", json={"quota": {"pool": 2}})
    listed = api.get(Q).json()
    assert [q["project_id"] for q in listed["quotas"]] == ["p1", "p2"]
    assert listed["quotas"][0]["load_balancer"] is None  # stored rows, unset shown as null
    assert listed["quotas"][0]["listener"] == 3
    assert [q["project_id"] for q in api.get(Q, params={"project_id": "p2"}).json()[
        "quotas"]] == ["p2"]
    page = api.get(Q, params={"limit": 1}).json()
    assert page["quotas_links"][0]["href"].endswith("marker=p1")
    default = api.get(f"{Q}/p1/default").json()["quota"]
    assert default == {"project_id": "p1", "tenant_id": "p1", **dict.fromkeys(NAMES, -1)}
    assert api.get(f"{Q}/defaults").json()["quota"]["pool"] == -1
    resp = api.delete(f"{Q}/p1")
    assert resp.status_code == 202 and resp.content == b""
    assert api.get(f"{Q}/p1").json()["quota"]["listener"] == -1
    assert_fault(api.delete(f"{Q}/p1"), 404)
    assert [q["project_id"] for q in api.get(Q).json()["quotas"]] == ["p2"]
    for prefix in ("/v2.0/lbaas", "/v2", "/v2.0"):
        assert api.get(f"{prefix}/quotas/p2").json()["quota"]["pool"] == 2


def test_configured_defaults(api: Api) -> None:
    api.services.settings.quotas.default_listener_quota = 4
    assert api.get(f"{Q}/px").json()["quota"]["listener"] == 4
    assert api.get(f"{Q}/px/default").json()["quota"]["listener"] == 4
    api.put(f"{Q}/px", json={"quota": {"listener": 9}})
    assert api.get(f"{Q}/px").json()["quota"]["listener"] == 9
    assert api.get(f"{Q}/px/default").json()["quota"]["listener"] == 4


BAD: list[tuple[Any, str]] = [
    ({"quota": {"loadbalancer": -2}}, "loadbalancer"),
    ({"quota": {"pool": 2000000001}}, "pool"),
    ({"quota": {"member": "ten"}}, "member"),
    ({"quota": {"member": 1.5}}, "member"),
    ({"quota": {"amphora": 1}}, "amphora"),
    ({"quota": {"loadbalancer": 1, "load_balancer": 2}}, "loadbalancer"),
    ({"quota": {"health_monitor": 1, "healthmonitor": 2}}, "healthmonitor"),
    ({"quotas": {"pool": 1}}, "quota"),
    ({"quota": [1]}, "object"),
    (None, "quota"),
]


def test_bad_input_changes_nothing(api: Api) -> None:
    api.put(f"{Q}/p1", json={"quota": {"pool": 1}})
    for body, needle in BAD:
        assert_fault(api.put(f"{Q}/p1", json=body), 400, needle)
    assert_fault(api.put(f"{Q}/{'x' * 37}", json={"quota": {"pool": 1}}), 400, "project_id")
    assert_fault(api.get(Q, params={"pool": "1"}), 400)
    assert api.get(f"{Q}/p1").json()["quota"] == {"project_id": "p1", "tenant_id": "p1",
                                                  **dict.fromkeys(NAMES, -1), "pool": 1}
    assert api.count(m.Quota) == 1
    resp = api.put(f"{Q}/p1", json={"quota": {"loadbalancer": 3, "load_balancer": 3}})
    assert resp.status_code == 202 and resp.json()["quota"]["load_balancer"] == 3


def test_quota_is_enforced(api: Api) -> None:
    api.put(f"{Q}/statera", json={"quota": {"loadbalancer": 1}})
    api.lb()
    resp = api.post("/v2/lbaas/loadbalancers",
                    json={"loadbalancer": {"vip_subnet_id": LOOPBACK_SUBNET}})
    assert_fault(resp, 403, "Quota has been met for resources: LoadBalancer")
    api.put(f"{Q}/statera", json={"quota": {"loadbalancer": -1}})
    api.lb()
    assert api.count(m.LoadBalancer) == 2


def test_roles(api_factory: Any) -> None:
    api = api_factory(auth_strategy="testing")
    admin = {"X-Project-Id": "ops", "X-Roles": "admin"}
    qadmin = {"X-Project-Id": "ops", "X-Roles": "load-balancer_quota_admin"}
    member = {"X-Project-Id": "alice", "X-Roles": "member"}
    reader = {"X-Project-Id": "alice", "X-Roles": "reader"}
    bob = {"X-Project-Id": "bob", "X-Roles": "member"}
    assert api.put(f"{Q}/alice", json={"quota": {"pool": 5}}, headers=qadmin).status_code == 202
    assert api.put(f"{Q}/bob", json={"quota": {"pool": 6}}, headers=admin).status_code == 202
    for headers in (member, reader):
        assert api.get(f"{Q}/alice", headers=headers).json()["quota"]["pool"] == 5
        assert api.get(f"{Q}/alice/default", headers=headers).status_code == 200
        assert [q["project_id"] for q in api.get(Q, headers=headers).json()["quotas"]] == [
            "alice"]
        assert_fault(api.get(f"{Q}/bob", headers=headers), 403)
        assert_fault(api.put(f"{Q}/alice", json={"quota": {"pool": 50}}, headers=headers), 403)
        assert_fault(api.delete(f"{Q}/alice", headers=headers), 403)
    assert_fault(api.get(f"{Q}/alice", headers=bob), 403)
    assert len(api.get(Q, headers=qadmin).json()["quotas"]) == 2
    assert api.get(f"{Q}/alice", headers=admin).json()["quota"]["pool"] == 5
    assert api.delete(f"{Q}/bob", headers=qadmin).status_code == 202
    assert api.count(m.Quota) == 1
