"""Member API behaviour (single objects and the batch update), on every database backend."""

from __future__ import annotations

import json
from typing import Any

import pytest

from statera.controller import rules
from statera.db import models as m
from tests.api.conftest import LOOPBACK_SUBNET, Api
from tests.api.helpers import MISSING, Recorder, assert_fault, set_status, snapshot


def url(pool_id: str, member_id: str = "") -> str:
    return f"/v2/lbaas/pools/{pool_id}/members" + (f"/{member_id}" if member_id else "")


def setup(api: Api) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    lb = api.lb()
    lst = api.listener(lb["id"])
    pool = api.pool(listener_id=lst["id"])
    return lb, lst, pool


def members_of(api: Api, pool_id: str) -> dict[tuple[str, int], dict[str, Any]]:
    body = api.get(url(pool_id)).json()["members"]
    return {(x["address"], x["protocol_port"]): x for x in body}


def test_create_show_defaults(api: Api) -> None:
    lb, _, pool = setup(api)
    sub = api.services.bus.subscribe("noop")
    mem = api.member(pool["id"], name="web1", tags=["a"], subnet_id=LOOPBACK_SUBNET,
                     monitor_address="127.0.0.9", monitor_port=9000)
    assert sub.get(1.0) == lb["id"]
    assert (mem["provisioning_status"], mem["operating_status"]) == ("PENDING_CREATE",
                                                                     "NO_MONITOR")
    assert (mem["weight"], mem["backup"], mem["admin_state_up"]) == (1, False, True)
    assert mem["vnic_type"] == "normal" and mem["subnet_id"] == LOOPBACK_SUBNET
    assert (mem["monitor_address"], mem["monitor_port"]) == ("127.0.0.9", 9000)
    assert mem["tags"] == ["a"] and mem["project_id"] == lb["project_id"]
    assert "description" not in mem
    assert api.get(url(pool["id"], mem["id"])).json()["member"] == mem
    assert api.get(f"/v2/lbaas/pools/{pool['id']}").json()["pool"]["members"] == [
        {"id": mem["id"]}]
    # Addresses are kept as given, as Octavia keeps them (octavia-tempest-plugin compares
    # "2001:db8:0:0:0:0:0:1" with what it reads back).
    six = api.member(pool["id"], address="2001:db8:0:0:0:0:0:1", protocol_port=80)
    assert six["address"] == "2001:db8:0:0:0:0:0:1"
    # A monitored pool's new members start OFFLINE.
    api.post("/v2/lbaas/healthmonitors", json={"healthmonitor": {
        "pool_id": pool["id"], "type": "TCP", "delay": 5, "timeout": 3, "max_retries": 3}})
    assert api.member(pool["id"], address="127.0.0.3")["operating_status"] == "OFFLINE"


def test_duplicates_reserved_subnets_sriov(api: Api) -> None:
    _, _, pool = setup(api)
    api.member(pool["id"], address="127.0.0.1", protocol_port=80)
    api.member(pool["id"], address="127.0.0.1", protocol_port=81)
    before = snapshot(api)
    for body, status, text in [
        ({"address": "127.0.0.1", "protocol_port": 80}, 409,
         "already using ip 127.0.0.1 on protocol_port 80"),
        ({"address": "169.254.169.254", "protocol_port": 80}, 400,
         "169.254.169.254 is not a valid option for member address"),
        ({"address": "127.0.0.5", "protocol_port": 80, "subnet_id": MISSING}, 400,
         f"Subnet {MISSING} not found"),
        ({"address": "127.0.0.5", "protocol_port": 80, "request_sriov": True}, 400,
         "SR-IOV"),
    ]:
        assert_fault(api.post(url(pool["id"]), json={"member": body}), status, text)
    assert snapshot(api) == before


def test_sriov_allowed_by_flavor(api: Api) -> None:
    with api.db.session() as s:
        s.add(m.FlavorProfile(id=MISSING, name="p", provider_name="noop",
                              flavor_data=json.dumps({"allow_member_sriov": True})))
        s.flush()
        s.add(m.Flavor(id="0f6e5c6a-2f1d-4b0e-9d7a-5f0c2a8b0001", name="sriov",
                       flavor_profile_id=MISSING))
    lb = api.lb(flavor_id="0f6e5c6a-2f1d-4b0e-9d7a-5f0c2a8b0001")
    pool = api.pool(loadbalancer_id=lb["id"])
    assert api.member(pool["id"], request_sriov=True)["vnic_type"] == "direct"


def test_lookup_through_urls(api: Api) -> None:
    _, _, pool = setup(api)
    other = api.pool(loadbalancer_id=api.lb()["id"])
    mem = api.member(pool["id"])
    assert_fault(api.get(url(other["id"], mem["id"])), 404, f"Member {mem['id']} not found")
    assert_fault(api.put(url(other["id"], mem["id"]), json={"member": {"weight": 2}}), 404)
    assert_fault(api.delete(url(other["id"], mem["id"])), 404)
    assert_fault(api.get(url(pool["id"], MISSING)), 404)
    # A missing pool in the URL is answered in Pecan's shape, as Octavia does.
    for resp in (api.get(url(MISSING)), api.get(url(MISSING, mem["id"])),
                 api.post(url(MISSING), json={"member": {"address": "127.0.0.1",
                                                         "protocol_port": 80}})):
        assert resp.status_code == 404
        assert resp.json()["description"] == f"Pool {MISSING} not found."


def test_update_null_resets_and_parent_flags(api: Api) -> None:
    lb, lst, pool = setup(api)
    mem = api.member(pool["id"], weight=5, backup=True, name="m")
    for model, obj_id in ((m.LoadBalancer, lb["id"]), (m.Listener, lst["id"]),
                          (m.Pool, pool["id"]), (m.Member, mem["id"])):
        set_status(api, model, obj_id, "ACTIVE")
    resp = api.put(url(pool["id"], mem["id"]), json={"member": {
        "weight": None, "backup": None, "name": "n", "monitor_port": 81, "tags": ["x"]}})
    assert resp.status_code == 200, resp.text
    body = resp.json()["member"]
    assert (body["weight"], body["backup"], body["name"], body["monitor_port"]) == (
        1, False, "n", 81)
    assert body["provisioning_status"] == "PENDING_UPDATE" and body["tags"] == ["x"]
    assert api.get(f"/v2/lbaas/pools/{pool['id']}").json()["pool"][
        "provisioning_status"] == "PENDING_UPDATE"
    assert api.get(f"/v2/lbaas/listeners/{lst['id']}").json()["listener"][
        "provisioning_status"] == "PENDING_UPDATE"
    assert api.put(url(pool["id"], mem["id"]), json={"member": {"weight": 0}}).json()[
        "member"]["weight"] == 0
    before = snapshot(api)
    for change, text in [
        ({"weight": 257}, "weight"), ({"weight": -1}, "weight"),
        ({"address": "127.0.0.2"}, "Unknown attribute"),
        ({"protocol_port": 1}, "Unknown attribute"),
        ({"subnet_id": LOOPBACK_SUBNET}, "Unknown attribute"),
        ({"monitor_port": 0}, "monitor_port"), ({"monitor_address": "x"}, "monitor_address"),
        ({"backup": "often"}, "backup"), ({"name": "n" * 256}, "name"),
    ]:
        assert_fault(api.put(url(pool["id"], mem["id"]), json={"member": change}), 400, text)
    assert snapshot(api) == before


def test_delete(api: Api) -> None:
    _, _, pool = setup(api)
    mem = api.member(pool["id"])
    assert api.delete(url(pool["id"], mem["id"])).status_code == 204
    assert api.get(url(pool["id"], mem["id"])).json()["member"][
        "provisioning_status"] == "PENDING_DELETE"
    before = snapshot(api)
    assert_fault(api.delete(url(pool["id"], mem["id"])), 409, "Invalid state PENDING_DELETE")
    assert_fault(api.put(url(pool["id"], mem["id"]), json={"member": {"weight": 3}}), 409)
    # Until the provider has removed it, its address and port stay taken.
    assert_fault(api.post(url(pool["id"]), json={"member": {
        "address": mem["address"], "protocol_port": mem["protocol_port"]}}), 409)
    assert snapshot(api) == before


def test_list_filters_sort_pagination(api: Api) -> None:
    _, _, pool = setup(api)
    other = api.pool(loadbalancer_id=api.lb()["id"])
    for i in range(4):
        api.member(pool["id"], address=f"127.0.0.{10 + i}", protocol_port=80 + i % 2,
                   name=f"m{i}", weight=i + 1)
    api.member(other["id"], name="elsewhere")
    listed = api.get(url(pool["id"]), params={"sort": "weight:desc"}).json()
    assert [x["name"] for x in listed["members"]] == ["m3", "m2", "m1", "m0"]
    assert listed["members_links"] == []
    assert [x["name"] for x in api.get(url(pool["id"]), params={
        "protocol_port": 81, "sort": "name"}).json()["members"]] == ["m1", "m3"]
    assert [x["name"] for x in api.get(url(pool["id"]), params={
        "address": "127.0.0.12"}).json()["members"]] == ["m2"]
    page = api.get(url(pool["id"]), params={"limit": 3, "sort": "name"}).json()
    assert [x["name"] for x in page["members"]] == ["m0", "m1", "m2"]
    nxt = [x["href"] for x in page["members_links"] if x["rel"] == "next"][0]
    assert f"/pools/{pool['id']}/members" in nxt
    assert [x["name"] for x in api.get(nxt).json()["members"]] == ["m3"]
    assert api.get(url(pool["id"]), params={"fields": "weight", "name": "m0"}).json()[
        "members"] == [{"weight": 1}]
    assert_fault(api.get(url(pool["id"]), params={"colour": "red"}), 400)


BAD_CREATE: list[tuple[dict[str, Any], str]] = [
    ({"protocol_port": 80}, "address. Value: 'None'. Mandatory field missing"),
    ({"address": "127.0.0.1"}, "protocol_port"),
    ({"address": "not-an-ip", "protocol_port": 80}, "address"),
    ({"address": "127.0.0.1", "protocol_port": 70000}, "protocol_port"),
    ({"address": "127.0.0.1", "protocol_port": 80, "weight": 300}, "weight"),
    ({"address": "127.0.0.1", "protocol_port": 80, "weight": "heavy"}, "weight"),
    ({"address": "127.0.0.1", "protocol_port": 80, "description": "x"}, "Unknown attribute"),
    ({"address": "127.0.0.1", "protocol_port": 80, "name": "n" * 256}, "name"),
    ({"address": "127.0.0.1", "protocol_port": 80, "subnet_id": "nope"}, "subnet_id"),
    ({"address": "127.0.0.1", "protocol_port": 80, "monitor_port": 0}, "monitor_port"),
    ({"address": "127.0.0.1", "protocol_port": 80, "admin_state_up": None},
     "admin_state_up"),
    ({"address": "127.0.0.1", "protocol_port": 80, "tags": [1]}, "tags"),
]


def test_bad_creates_change_nothing(api: Api) -> None:
    _, _, pool = setup(api)
    before = snapshot(api)
    for body, text in BAD_CREATE:
        assert_fault(api.post(url(pool["id"]), json={"member": body}), 400, text)
    assert_fault(api.post(url(pool["id"]), json={"address": "127.0.0.1"}), 400, "member")
    assert snapshot(api) == before


def test_quota(api: Api) -> None:
    lb, _, pool = setup(api)
    with api.db.session() as s:
        s.add(m.Quota(project_id=lb["project_id"], member=2))
    api.member(pool["id"], address="127.0.0.1")
    api.member(pool["id"], address="127.0.0.2")
    before = snapshot(api)
    assert_fault(api.post(url(pool["id"]), json={"member": {
        "address": "127.0.0.3", "protocol_port": 80}}), 403, "Quota has been met")
    # The batch checks the net increase: replacing one member by another fits.
    assert_fault(api.put(url(pool["id"]), json={"members": [
        {"address": "127.0.0.1", "protocol_port": 8080},
        {"address": "127.0.0.2", "protocol_port": 8080},
        {"address": "127.0.0.3", "protocol_port": 8080}]}), 403, "Quota has been met")
    assert snapshot(api) == before
    assert api.put(url(pool["id"]), json={"members": [
        {"address": "127.0.0.1", "protocol_port": 8080},
        {"address": "127.0.0.3", "protocol_port": 8080}]}).status_code == 202


def test_batch_update(api: Api) -> None:
    lb, _, pool = setup(api)
    a = api.member(pool["id"], address="127.0.0.1", protocol_port=80, name="a", weight=7,
                   backup=True, tags=["keep?"])
    b = api.member(pool["id"], address="127.0.0.2", protocol_port=80, name="b")
    resp = api.put(url(pool["id"]), json={"members": [
        {"address": "127.0.0.1", "protocol_port": 80, "weight": 5},
        {"address": "127.0.0.3", "protocol_port": 80, "name": "c"}]})
    assert resp.status_code == 202 and resp.content == b""
    now = members_of(api, pool["id"])
    updated = now[("127.0.0.1", 80)]
    assert updated["id"] == a["id"]
    # Omitted fields are back to their POST defaults.
    assert (updated["weight"], updated["backup"], updated["name"], updated["tags"]) == (
        5, False, "", [])
    assert now[("127.0.0.2", 80)]["id"] == b["id"]
    assert now[("127.0.0.2", 80)]["provisioning_status"] == "PENDING_DELETE"
    assert now[("127.0.0.3", 80)]["provisioning_status"] == "PENDING_CREATE"
    assert now[("127.0.0.3", 80)]["name"] == "c"
    # additive_only leaves unlisted members alone; a deleting member listed again comes back.
    resp = api.put(url(pool["id"]) + "?additive_only=true", json={"members": [
        {"address": "127.0.0.2", "protocol_port": 80, "name": "b2"},
        {"address": "127.0.0.4", "protocol_port": 80}]})
    assert resp.status_code == 202
    now = members_of(api, pool["id"])
    assert now[("127.0.0.2", 80)]["provisioning_status"] == "PENDING_UPDATE"
    assert now[("127.0.0.2", 80)]["name"] == "b2"
    assert now[("127.0.0.1", 80)]["weight"] == 5 and len(now) == 4
    # Listing the pool exactly as it is changes nothing, not even the generation.
    same = [{"address": x["address"], "protocol_port": x["protocol_port"],
             "name": x["name"] or None, "weight": x["weight"], "tags": x["tags"]}
            for x in now.values()]
    before = snapshot(api)
    assert api.put(url(pool["id"]), json={"members": same}).status_code == 202
    assert snapshot(api) == before
    # An empty list deletes every member.
    assert api.put(url(pool["id"]), json={"members": []}).status_code == 202
    assert {x["provisioning_status"] for x in members_of(api, pool["id"]).values()} == {
        "PENDING_DELETE"}


def test_batch_bad_input_changes_nothing(api: Api) -> None:
    _, _, pool = setup(api)
    api.member(pool["id"])
    before = snapshot(api)
    for body, query, status, text in [
        # Named twice: a new member collides with itself (409), an existing one is
        # updated twice (400), as in Octavia.
        ({"members": [{"address": "127.0.0.5", "protocol_port": 80},
                      {"address": "127.0.0.5", "protocol_port": 80}]}, "", 409,
         "already using ip 127.0.0.5 on protocol_port 80"),
        ({"members": [{"address": "127.0.0.1", "protocol_port": 8080},
                      {"address": "127.0.0.1", "protocol_port": 8080}]}, "", 400,
         "Member must be updated only once in the same request."),
        ({"members": [{"address": "169.254.169.254", "protocol_port": 80}]}, "", 400,
         "member address"),
        ({"members": [{"address": "127.0.0.5"}]}, "", 400, "protocol_port"),
        ({"members": [{"address": "127.0.0.5", "protocol_port": 80, "bogus": 1}]}, "", 400,
         "Unknown attribute"),
        ({"member": []}, "", 400, "members"),
        ({"members": "all"}, "", 400, "members"),
        ({"members": []}, "?additive_only=maybe", 400, "additive_only"),
    ]:
        assert_fault(api.put(url(pool["id"]) + query, json=body), status, text)
    resp = api.put(url(MISSING), json={"members": []})
    assert resp.status_code == 404 and "Pool" in resp.json()["description"]
    assert snapshot(api) == before


def test_pool_being_deleted_refuses_member_writes(api: Api) -> None:
    _, _, pool = setup(api)
    mem = api.member(pool["id"])
    set_status(api, m.Member, mem["id"], "ACTIVE")
    set_status(api, m.Pool, pool["id"], "PENDING_DELETE")
    before = snapshot(api)
    immutable = f"Pool {pool['id']} is immutable and cannot be updated."
    assert_fault(api.post(url(pool["id"]), json={"member": {
        "address": "127.0.0.7", "protocol_port": 80}}), 409, immutable)
    assert_fault(api.put(url(pool["id"], mem["id"]), json={"member": {"weight": 2}}), 409,
                 immutable)
    assert_fault(api.put(url(pool["id"]), json={"members": []}), 409, immutable)
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
    body = {"member": {"address": "127.0.0.1", "protocol_port": 80}}
    mem = api.post(url(pool["id"]), headers=alice, json=body).json()["member"]
    before = snapshot(api)
    assert_fault(api.post(url(pool["id"]), headers=bob, json=body), 403)
    assert_fault(api.get(url(pool["id"]), headers=bob), 403)
    assert_fault(api.get(url(pool["id"], mem["id"]), headers=bob), 403)
    assert_fault(api.put(url(pool["id"], mem["id"]), headers=bob,
                         json={"member": {"weight": 3}}), 403)
    assert_fault(api.delete(url(pool["id"], mem["id"]), headers=bob), 403)
    assert_fault(api.put(url(pool["id"]), headers=bob, json={"members": []}), 403)
    assert snapshot(api) == before
    assert len(api.get(url(pool["id"]), headers=alice).json()["members"]) == 1


def test_driver_calls(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    from octavia_lib.api.drivers import data_models as dm

    _, _, pool = setup(api)
    keep = api.member(pool["id"], address="127.0.0.1")
    api.member(pool["id"], address="127.0.0.2")
    rec = Recorder()
    monkeypatch.setattr(rules, "driver_for", lambda svc, lb: rec)
    api.put(url(pool["id"], keep["id"]), json={"member": {"weight": 9}})
    method, (old, new) = rec.calls[-1]
    assert method == "member_update" and old.weight == 1 and old.address == "127.0.0.1"
    assert new.member_id == keep["id"] and new.weight == 9 and new.address is dm.Unset
    api.put(url(pool["id"]), json={"members": [
        {"address": "127.0.0.1", "protocol_port": 8080},
        {"address": "127.0.0.3", "protocol_port": 8080}]})
    method, (pool_id, members) = rec.calls[-1]
    assert method == "member_batch_update" and pool_id == pool["id"]
    assert sorted(x.address for x in members) == ["127.0.0.1", "127.0.0.3"]
