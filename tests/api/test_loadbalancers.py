"""Load-balancer API behaviour as a client sees it, on every database backend."""

from __future__ import annotations

from typing import Any

import pytest

from statera.db import models as m
from tests.api.conftest import LOOPBACK_SUBNET, Api

BAD_LB_BODIES: list[tuple[dict[str, Any], str]] = [
    ({}, "VIP must contain one of"),
    ({"vip_subnet_id": "not-a-uuid"}, "vip_subnet_id"),
    ({"vip_subnet_id": LOOPBACK_SUBNET, "name": "x" * 256}, "name"),
    ({"vip_subnet_id": LOOPBACK_SUBNET, "admin_state_up": "maybe"}, "admin_state_up"),
    ({"vip_subnet_id": LOOPBACK_SUBNET, "bogus": 1}, "bogus"),
    ({"vip_subnet_id": LOOPBACK_SUBNET, "vip_address": "300.1.1.1"}, "vip_address"),
    ({"vip_subnet_id": LOOPBACK_SUBNET, "tags": "notalist"}, "tags"),
    ({"vip_subnet_id": LOOPBACK_SUBNET, "provider": "nope"}, "Provider 'nope' is not enabled"),
    ({"vip_subnet_id": LOOPBACK_SUBNET, "flavor_id": "6f6e8d1c-54a6-4a55-8a59-9b3a3b0b0b0b"},
     "flavor_id"),
    ({"vip_subnet_id": LOOPBACK_SUBNET, "availability_zone": "nowhere"}, "availability_zone"),
]


def test_version_document_and_prefixes(api: Api) -> None:
    doc = api.get("/").json()
    current = [v for v in doc["versions"] if v["status"] == "CURRENT"]
    assert current[0]["links"][0]["href"].endswith("/v2")
    assert api.get("/v2").json() == "v2"
    for prefix in ("/v2/lbaas", "/v2.0/lbaas", "/v2", "/v2.0"):
        assert api.get(f"{prefix}/loadbalancers").status_code == 200


def test_create_show_list_update_delete(api: Api) -> None:
    lb = api.lb(name="web", description="d", tags=["a", "b"])
    assert lb["provisioning_status"] == "PENDING_CREATE"
    assert lb["operating_status"] == "OFFLINE"
    assert lb["vip_address"].startswith("127.0.100.")
    assert lb["tenant_id"] == lb["project_id"] == "statera"
    assert lb["provider"] == "noop"
    assert lb["listeners"] == [] and lb["pools"] == []
    shown = api.get(f"/v2/lbaas/loadbalancers/{lb['id']}").json()["loadbalancer"]
    assert shown["name"] == "web" and shown["tags"] == ["a", "b"]
    assert shown["updated_at"] is None
    listed = api.get("/v2/lbaas/loadbalancers", params={"name": "web"}).json()
    assert [x["id"] for x in listed["loadbalancers"]] == [lb["id"]]
    assert api.get("/v2/lbaas/loadbalancers", params={"name": "other"}).json()[
        "loadbalancers"] == []
    assert api.get("/v2/lbaas/loadbalancers", params={"id": lb["id"]}).json()[
        "loadbalancers"][0]["id"] == lb["id"]
    resp = api.put(f"/v2/lbaas/loadbalancers/{lb['id']}",
                   json={"loadbalancer": {"name": "web2", "admin_state_up": False}})
    assert resp.status_code == 200, resp.text
    assert resp.json()["loadbalancer"]["name"] == "web2"
    assert resp.json()["loadbalancer"]["admin_state_up"] is False
    # Coalescing: a second change while the first is pending is accepted, not 409.
    resp = api.put(f"/v2/lbaas/loadbalancers/{lb['id']}", json={"loadbalancer": {"name": "w3"}})
    assert resp.status_code == 200
    assert api.delete(f"/v2/lbaas/loadbalancers/{lb['id']}").status_code == 204
    gone = api.get(f"/v2/lbaas/loadbalancers/{lb['id']}").json()["loadbalancer"]
    assert gone["provisioning_status"] == "PENDING_DELETE"
    again = api.delete(f"/v2/lbaas/loadbalancers/{lb['id']}")
    assert again.status_code == 409
    assert again.json()["faultcode"] == "Client"


def test_fields_sorting_pagination_and_tags(api: Api) -> None:
    ids = [api.lb(name=f"lb{i}", tags=["even" if i % 2 == 0 else "odd", "all"])["id"]
           for i in range(5)]
    names = [x["name"] for x in api.get("/v2/lbaas/loadbalancers",
                                        params={"sort": "name:desc"}).json()["loadbalancers"]]
    assert names == ["lb4", "lb3", "lb2", "lb1", "lb0"]
    page1 = api.get("/v2/lbaas/loadbalancers", params={"limit": 2, "sort": "name"}).json()
    assert [x["name"] for x in page1["loadbalancers"]] == ["lb0", "lb1"]
    nxt = [link for link in page1["loadbalancers_links"] if link["rel"] == "next"][0]["href"]
    page2 = api.get(nxt).json()
    assert [x["name"] for x in page2["loadbalancers"]] == ["lb2", "lb3"]
    assert {link["rel"] for link in page2["loadbalancers_links"]} == {"next", "previous"}
    prev = [link for link in page2["loadbalancers_links"] if link["rel"] == "previous"][0]
    assert [x["name"] for x in api.get(prev["href"]).json()["loadbalancers"]] == ["lb0", "lb1"]
    only = api.get("/v2/lbaas/loadbalancers?fields=id&fields=name").json()["loadbalancers"]
    assert set(only[0]) == {"id", "name"}
    odd = api.get("/v2/lbaas/loadbalancers", params={"tags": "odd"}).json()["loadbalancers"]
    assert sorted(x["id"] for x in odd) == sorted([ids[1], ids[3]])
    not_odd = api.get("/v2/lbaas/loadbalancers", params={"not-tags": "odd"}).json()
    assert len(not_odd["loadbalancers"]) == 3
    assert api.get("/v2/lbaas/loadbalancers", params={"bogus": "1"}).status_code == 400
    assert api.get("/v2/lbaas/loadbalancers", params={"sort": "name:sideways"}).status_code == 400
    assert api.get("/v2/lbaas/loadbalancers", params={"limit": "x"}).status_code == 400
    assert api.get("/v2/lbaas/loadbalancers", params={"marker": "nope"}).status_code == 400


@pytest.mark.parametrize("body,needle", BAD_LB_BODIES)
def test_bad_input_changes_nothing(api: Api, body: dict[str, Any], needle: str) -> None:
    before = api.count(m.LoadBalancer), api.count(m.VipPort)
    resp = api.post("/v2/lbaas/loadbalancers", json={"loadbalancer": body})
    assert 400 <= resp.status_code < 500, resp.text
    err = resp.json()
    assert err["faultcode"] == "Client" and err["debuginfo"] is None
    assert needle in err["faultstring"]
    assert (api.count(m.LoadBalancer), api.count(m.VipPort)) == before


def test_not_json_and_wrong_envelope(api: Api) -> None:
    resp = api.post("/v2/lbaas/loadbalancers", content=b"{not json",
                    headers={"Content-Type": "application/json"})
    assert resp.status_code == 400
    resp = api.post("/v2/lbaas/loadbalancers", json={"listener": {}})
    assert resp.status_code == 400
    assert api.get("/v2/lbaas/loadbalancers/0e5d4c3b-0000-4000-8000-000000000000").status_code \
        == 404
    assert api.count(m.LoadBalancer) == 0


def test_delete_with_children_needs_cascade(api: Api) -> None:
    lb = api.lb()
    api.listener(lb["id"])
    resp = api.delete(f"/v2/lbaas/loadbalancers/{lb['id']}")
    assert resp.status_code == 400
    assert "it has children" in resp.json()["faultstring"]
    assert api.delete(f"/v2/lbaas/loadbalancers/{lb['id']}?cascade=True").status_code == 204
    body = api.get(f"/v2/lbaas/loadbalancers/{lb['id']}").json()["loadbalancer"]
    assert body["provisioning_status"] == "PENDING_DELETE"


def test_full_graph_create_status_and_stats(api: Api) -> None:
    body = {
        "vip_subnet_id": LOOPBACK_SUBNET, "name": "graph",
        "listeners": [{
            "name": "l1", "protocol": "HTTP", "protocol_port": 80,
            "default_pool": {"name": "p1", "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN",
                             "members": [{"address": "127.0.0.1", "protocol_port": 8001},
                                         {"address": "127.0.0.1", "protocol_port": 8002}],
                             "healthmonitor": {"type": "HTTP", "delay": 1, "timeout": 1,
                                               "max_retries": 2}},
            "l7policies": [{"action": "REDIRECT_TO_POOL", "redirect_pool": {"name": "p1"},
                            "rules": [{"type": "PATH", "compare_type": "STARTS_WITH",
                                       "value": "/api"}]}],
        }],
    }
    resp = api.post("/v2/lbaas/loadbalancers", json={"loadbalancer": body})
    assert resp.status_code == 201, resp.text
    lb = resp.json()["loadbalancer"]
    listener = lb["listeners"][0]
    assert listener["name"] == "l1" and listener["l7policies"][0]["rules"][0]["value"] == "/api"
    pool = lb["pools"][0]
    assert len(pool["members"]) == 2 and pool["healthmonitor"]["type"] == "HTTP"
    assert listener["default_pool_id"] == pool["id"]
    tree = api.get(f"/v2/lbaas/loadbalancers/{lb['id']}/status").json()["statuses"]
    tlb = tree["loadbalancer"]
    assert tlb["listeners"][0]["pools"][0]["health_monitor"]["type"] == "HTTP"
    assert len(tlb["listeners"][0]["pools"][0]["members"]) == 2
    stats = api.get(f"/v2/lbaas/loadbalancers/{lb['id']}/stats").json()["stats"]
    assert stats == {"bytes_in": 0, "bytes_out": 0, "active_connections": 0,
                     "total_connections": 0, "request_errors": 0}
    assert api.put(f"/v2/lbaas/loadbalancers/{lb['id']}/failover").status_code == 202


def test_graph_with_undefined_pool_reference_is_rejected(api: Api) -> None:
    body = {"vip_subnet_id": LOOPBACK_SUBNET,
            "listeners": [{"protocol": "HTTP", "protocol_port": 80,
                           "default_pool": {"name": "missing"}}]}
    resp = api.post("/v2/lbaas/loadbalancers", json={"loadbalancer": body})
    assert resp.status_code == 400
    assert api.count(m.LoadBalancer) == 0 and api.count(m.Listener) == 0


def test_projects_are_isolated(api_factory: Any) -> None:
    api = api_factory(auth_strategy="testing")
    alice = {"X-Project-Id": "alice", "X-Roles": "member"}
    bob = {"X-Project-Id": "bob", "X-Roles": "member"}
    reader = {"X-Project-Id": "alice", "X-Roles": "reader"}
    resp = api.post("/v2/lbaas/loadbalancers",
                    json={"loadbalancer": {"vip_subnet_id": LOOPBACK_SUBNET}}, headers=alice)
    assert resp.status_code == 201
    lb = resp.json()["loadbalancer"]
    assert lb["project_id"] == "alice"
    assert api.get("/v2/lbaas/loadbalancers", headers=bob).json()["loadbalancers"] == []
    assert api.get(f"/v2/lbaas/loadbalancers/{lb['id']}", headers=bob).status_code == 403
    assert api.put(f"/v2/lbaas/loadbalancers/{lb['id']}", json={"loadbalancer": {"name": "x"}},
                   headers=bob).status_code == 403
    assert api.delete(f"/v2/lbaas/loadbalancers/{lb['id']}", headers=bob).status_code == 403
    assert api.get(f"/v2/lbaas/loadbalancers/{lb['id']}", headers=reader).status_code == 200
    assert api.put(f"/v2/lbaas/loadbalancers/{lb['id']}", json={"loadbalancer": {"name": "x"}},
                   headers=reader).status_code == 403
    resp = api.post("/v2/lbaas/loadbalancers",
                    json={"loadbalancer": {"vip_subnet_id": LOOPBACK_SUBNET,
                                           "project_id": "alice"}}, headers=bob)
    assert resp.status_code == 403
    assert api.count(m.LoadBalancer) == 1


def test_quota_exceeded_is_403_and_changes_nothing(api: Api) -> None:
    with api.db.session() as s:
        s.add(m.Quota(project_id="statera", load_balancer=1))
    api.lb()
    resp = api.post("/v2/lbaas/loadbalancers",
                    json={"loadbalancer": {"vip_subnet_id": LOOPBACK_SUBNET}})
    assert resp.status_code == 403
    assert resp.json()["faultstring"] == "Quota has been met for resources: LoadBalancer"
    assert api.count(m.LoadBalancer) == 1


def test_json_only_routing_errors_and_openapi(api: Api) -> None:
    resp = api.get("/v2/lbaas/loadbalancers", headers={"Accept": "text/html"})
    assert resp.status_code == 406
    assert resp.json()["errors"][0]["status"] == 406
    assert api.get("/v2/lbaas/loadbalancers.json").status_code == 200
    missing = api.get("/v2/lbaas/nothing")
    assert missing.status_code == 404 and missing.json()["code"] == 404
    assert api.patch("/v2/lbaas/loadbalancers").status_code == 405
    spec = api.get("/openapi.json").json()
    assert "/v2/lbaas/loadbalancers" in spec["paths"]


def test_vip_address_rules(api: Api) -> None:
    lb = api.lb(vip_address="127.0.100.50")
    assert lb["vip_address"] == "127.0.100.50"
    before = api.count(m.LoadBalancer)
    taken = api.post("/v2/lbaas/loadbalancers", json={"loadbalancer": {
        "vip_subnet_id": LOOPBACK_SUBNET, "vip_address": "127.0.100.50"}})
    assert taken.status_code == 409 and "already in use" in taken.json()["faultstring"]
    outside = api.post("/v2/lbaas/loadbalancers", json={"loadbalancer": {
        "vip_subnet_id": LOOPBACK_SUBNET, "vip_address": "10.9.9.9"}})
    assert outside.status_code == 400 and outside.json()["faultcode"] == "Client"
    unknown = api.post("/v2/lbaas/loadbalancers", json={"loadbalancer": {
        "vip_subnet_id": "6f6e8d1c-54a6-4a55-8a59-9b3a3b0b0b0c"}})
    assert unknown.status_code == 400 and "not found" in unknown.json()["faultstring"]
    twice = api.post("/v2/lbaas/loadbalancers", json={"loadbalancer": {
        "vip_subnet_id": LOOPBACK_SUBNET,
        "additional_vips": [{"subnet_id": LOOPBACK_SUBNET}]}})
    assert twice.status_code == 400 and "Duplicate" in twice.json()["faultstring"]
    assert api.count(m.LoadBalancer) == before
    assert len(api.get("/v2.0/ports").json()["ports"]) == 1  # only the first LB's VIP
