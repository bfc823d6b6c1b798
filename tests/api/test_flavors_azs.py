"""Flavors, flavor profiles, availability zones and AZ profiles through the HTTP API."""

from __future__ import annotations

import json
from typing import Any

from octavia_lib.api.drivers import exceptions as lib_exc
from sqlalchemy import update

from statera.db import models as m
from statera.providers.noop.driver import NoopProviderDriver
from tests.api.conftest import Api

V = "/v2/lbaas"
NIL = "00000000-0000-0000-0000-000000000000"
NOWHERE = "0e5d4c3b-0000-4000-8000-000000000000"
DATA = json.dumps({"noop_option": "small"})


def assert_fault(resp: Any, status: int, needle: str = "") -> None:
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert set(body) == {"faultcode", "faultstring", "debuginfo"}
    assert body["faultcode"] == ("Client" if status < 500 else "Server")
    assert needle in body["faultstring"], body["faultstring"]


def _mark_deleted(api: Api, lb_id: str) -> None:
    """What the driver agent does once the provider reports the load balancer DELETED."""
    with api.db.session() as s:
        s.execute(update(m.LoadBalancer).where(m.LoadBalancer.id == lb_id)
                  .values(reported_status="DELETED",
                          reported_generation=m.LoadBalancer.desired_generation))


def test_flavor_profiles_and_flavors(api: Api) -> None:
    prof = api.create("flavorprofiles", "flavorprofile",
                      {"name": "small", "provider_name": "noop", "flavor_data": DATA})
    assert set(prof) == {"id", "name", "provider_name", "flavor_data"}
    assert prof["flavor_data"] == DATA
    listed = api.get(f"{V}/flavorprofiles").json()
    assert [p["id"] for p in listed["flavorprofiles"]] == [prof["id"]]
    assert "flavorprofile_links" in listed
    flavor = api.create("flavors", "flavor", {"name": "gold", "flavor_profile_id": prof["id"]})
    assert flavor == {"id": flavor["id"], "name": "gold", "description": "", "enabled": True,
                      "flavor_profile_id": prof["id"]}
    api.create("flavors", "flavor", {"name": "silver", "flavor_profile_id": prof["id"],
                                     "enabled": False, "description": "d"})
    got = api.get(f"{V}/flavors", params={"enabled": "false"}).json()
    assert [f["name"] for f in got["flavors"]] == ["silver"] and "flavors_links" in got
    got = api.get(f"{V}/flavors", params={"sort": "name:desc", "fields": "name"}).json()
    assert got["flavors"] == [{"name": "silver"}, {"name": "gold"}]
    assert_fault(api.post(f"{V}/flavors", json={"flavor": {
        "name": "gold", "flavor_profile_id": prof["id"]}}), 409, "gold")
    resp = api.put(f"{V}/flavors/{flavor['id']}", json={"flavor": {
        "name": "platinum", "description": "shiny", "enabled": False}})
    assert resp.status_code == 200, resp.text
    assert resp.json()["flavor"]["name"] == "platinum"
    assert resp.json()["flavor"]["enabled"] is False
    assert_fault(api.put(f"{V}/flavors/{flavor['id']}", json={"flavor": {"name": "silver"}}),
                 409, "silver")
    assert_fault(api.put(f"{V}/flavors/{flavor['id']}", json={"flavor": {
        "flavor_profile_id": prof["id"]}}), 400, "flavor_profile_id")
    assert api.get(f"{V}/flavors/{flavor['id']}").json()["flavor"]["name"] == "platinum"
    # A profile in use keeps its provider and data; its name may change.
    assert_fault(api.put(f"{V}/flavorprofiles/{prof['id']}", json={"flavorprofile": {
        "flavor_data": "{}"}}), 409, "in use")
    assert_fault(api.delete(f"{V}/flavorprofiles/{prof['id']}"), 409, "in use")
    resp = api.put(f"{V}/flavorprofiles/{prof['id']}", json={"flavorprofile": {
        "name": "renamed", "flavor_data": DATA}})
    assert resp.status_code == 200 and resp.json()["flavorprofile"]["name"] == "renamed"
    # A flavor used by a live load balancer cannot go; a DELETED one does not hold it.
    api.put(f"{V}/flavors/{flavor['id']}", json={"flavor": {"enabled": True}})
    lb = api.lb(flavor_id=flavor["id"])
    assert_fault(api.delete(f"{V}/flavors/{flavor['id']}"), 409, "in use")
    _mark_deleted(api, lb["id"])
    assert api.delete(f"{V}/flavors/{flavor['id']}").status_code == 204
    with api.db.session() as s:
        row = s.get(m.LoadBalancer, lb["id"])
        assert row is not None and row.flavor_id is None
    assert_fault(api.get(f"{V}/flavors/{flavor['id']}"), 404)
    silver = api.get(f"{V}/flavors", params={"name": "silver"}).json()["flavors"][0]
    assert api.delete(f"{V}/flavors/{silver['id']}").status_code == 204
    assert api.delete(f"{V}/flavorprofiles/{prof['id']}").status_code == 204
    assert api.count(m.Flavor) == 0 and api.count(m.FlavorProfile) == 0


def test_profile_data_is_validated_by_the_provider(api: Api, monkeypatch: Any) -> None:
    seen: list[dict[str, Any]] = []

    def validate(self: Any, metadata: dict[str, Any]) -> None:
        seen.append(metadata)
        if "bad" in metadata:
            raise lib_exc.UnsupportedOptionError(user_fault_string="bad is not an option",
                                                 operator_fault_string="bad")

    monkeypatch.setattr(NoopProviderDriver, "validate_flavor", validate)
    monkeypatch.setattr(NoopProviderDriver, "validate_availability_zone", validate)
    prof = api.create("flavorprofiles", "flavorprofile",
                      {"name": "p", "provider_name": "noop", "flavor_data": DATA})
    assert seen == [{"noop_option": "small"}]
    resp = api.post(f"{V}/flavorprofiles", json={"flavorprofile": {
        "name": "p", "provider_name": "noop", "flavor_data": '{"bad": 1}'}})
    assert_fault(resp, 501, "bad is not an option")
    resp = api.put(f"{V}/flavorprofiles/{prof['id']}", json={"flavorprofile": {
        "flavor_data": '{"bad": 2}'}})
    assert_fault(resp, 501, "bad is not an option")
    resp = api.put(f"{V}/availabilityzoneprofiles/{NOWHERE}", json={
        "availability_zone_profile": {"name": "x"}})
    assert_fault(resp, 404)
    resp = api.post(f"{V}/availabilityzoneprofiles", json={"availability_zone_profile": {
        "name": "z", "provider_name": "noop", "availability_zone_data": '{"bad": 3}'}})
    assert_fault(resp, 501, "bad is not an option")
    assert api.count(m.FlavorProfile) == 1 and api.count(m.AvailabilityZoneProfile) == 0
    assert api.get(f"{V}/flavorprofiles/{prof['id']}").json()["flavorprofile"][
        "flavor_data"] == DATA


BAD_PROFILES: list[tuple[dict[str, Any], str]] = [
    ({"provider_name": "noop", "flavor_data": "{}"}, "name"),
    ({"name": "p", "flavor_data": "{}"}, "provider_name"),
    ({"name": "p", "provider_name": "noop"}, "flavor_data"),
    ({"name": "p", "provider_name": "nope", "flavor_data": "{}"},
     "Provider 'nope' is not enabled."),
    ({"name": "p", "provider_name": "noop", "flavor_data": "{not json"}, "flavor_data"),
    ({"name": "p", "provider_name": "noop", "flavor_data": "[1, 2]"}, "flavor_data"),
    ({"name": "p", "provider_name": "noop", "flavor_data": {"a": 1}}, "flavor_data"),
    ({"name": "p", "provider_name": "noop", "flavor_data": json.dumps({"a": "x" * 5000})},
     "flavor_data"),
    ({"name": "x" * 256, "provider_name": "noop", "flavor_data": "{}"}, "name"),
    ({"name": "p", "provider_name": "noop", "flavor_data": "{}", "extra": 1}, "extra"),
    ({"name": "p", "provider_name": "noop", "flavor_data": "{}", "id": "nope"}, "id"),
    ({"name": "p", "provider_name": "noop", "flavor_data": "{}", "id": NIL}, "nil UUID"),
]


def test_bad_profiles_and_flavors_change_nothing(api: Api) -> None:
    for body, needle in BAD_PROFILES:
        assert_fault(api.post(f"{V}/flavorprofiles", json={"flavorprofile": body}), 400, needle)
        az_body = {("availability_zone_data" if k == "flavor_data" else k): v
                   for k, v in body.items()}
        resp = api.post(f"{V}/availabilityzoneprofiles",
                        json={"availability_zone_profile": az_body})
        assert_fault(resp, 400, needle.replace("flavor_data", "availability_zone_data"))
    prof = api.create("flavorprofiles", "flavorprofile",
                      {"name": "p", "provider_name": "noop", "flavor_data": "{}"})
    bad_flavors: list[tuple[dict[str, Any], str]] = [
        ({"name": "f"}, "flavor_profile_id"),
        ({"flavor_profile_id": prof["id"]}, "name"),
        ({"name": "f", "flavor_profile_id": NOWHERE}, "is not a valid option"),
        ({"name": "f", "flavor_profile_id": NIL}, "is not a valid option"),
        ({"name": "f", "flavor_profile_id": "nope"}, "flavor_profile_id"),
        ({"name": "f", "flavor_profile_id": prof["id"], "enabled": "maybe"}, "enabled"),
        ({"name": "f", "flavor_profile_id": prof["id"], "description": "d" * 256},
         "description"),
        ({"name": "f", "flavor_profile_id": prof["id"], "color": "red"}, "color"),
    ]
    for body, needle in bad_flavors:
        assert_fault(api.post(f"{V}/flavors", json={"flavor": body}), 400, needle)
    assert_fault(api.post(f"{V}/flavors", json=[]), 400)
    for bad in ({"flavor_data": None}, {"provider_name": None}, {"provider_name": "nope"},
                {"flavor_data": "[]"}, {"name": None}):
        assert_fault(api.put(f"{V}/flavorprofiles/{prof['id']}", json={"flavorprofile": bad}),
                     400)
    for path in ("flavors", "flavorprofiles", "availabilityzoneprofiles"):
        for ident in (NIL, NOWHERE):
            assert_fault(api.get(f"{V}/{path}/{ident}"), 404)
            assert_fault(api.delete(f"{V}/{path}/{ident}"), 404)
    assert_fault(api.put(f"{V}/flavors/{NIL}", json={"flavor": {"name": "x"}}), 404)
    assert_fault(api.get(f"{V}/flavors", params={"colour": "red"}), 400)
    assert (api.count(m.Flavor), api.count(m.FlavorProfile),
            api.count(m.AvailabilityZoneProfile)) == (0, 1, 0)
    assert api.get(f"{V}/flavorprofiles/{prof['id']}").json()["flavorprofile"][
        "flavor_data"] == "{}"


def test_availability_zones(api: Api) -> None:
    prof = api.create("availabilityzoneprofiles", "availability_zone_profile", {
        "name": "zp", "provider_name": "noop",
        "availability_zone_data": json.dumps({"noop_zone": "a"})})
    listed = api.get(f"{V}/availabilityzoneprofiles").json()
    assert "availability_zone_profile_links" in listed
    assert listed["availability_zone_profiles"][0]["availability_zone_data"] == \
        '{"noop_zone": "a"}'
    az = api.create("availabilityzones", "availability_zone",
                    {"name": "az1", "availability_zone_profile_id": prof["id"]})
    assert az == {"name": "az1", "description": "", "enabled": True,
                  "availability_zone_profile_id": prof["id"]}
    api.create("availabilityzones", "availability_zone",
               {"name": "az2", "availability_zone_profile_id": prof["id"], "enabled": False})
    got = api.get(f"{V}/availabilityzones", params={"sort": "name:desc"}).json()
    assert [a["name"] for a in got["availability_zones"]] == ["az2", "az1"]
    assert "availability_zones_links" in got
    page = api.get(f"{V}/availabilityzones", params={"limit": 1}).json()
    nxt = page["availability_zones_links"][0]["href"]
    assert "marker=az1" in nxt and api.get(nxt).json()["availability_zones"][0]["name"] == "az2"
    assert_fault(api.post(f"{V}/availabilityzones", json={"availability_zone": {
        "name": "az1", "availability_zone_profile_id": prof["id"]}}), 409, "az1")
    for body, needle in [
        ({"name": "az3"}, "availability_zone_profile_id"),
        ({"name": "az3", "availability_zone_profile_id": NOWHERE}, "not a valid option"),
        ({"name": "a" * 256, "availability_zone_profile_id": prof["id"]}, "name"),
        ({"name": "az3", "availability_zone_profile_id": prof["id"], "id": NOWHERE}, "id"),
    ]:
        assert_fault(api.post(f"{V}/availabilityzones", json={"availability_zone": body}), 400,
                     needle)
    resp = api.put(f"{V}/availabilityzones/az1", json={"availability_zone": {
        "description": "first", "enabled": False}})
    assert resp.status_code == 200, resp.text
    assert resp.json()["availability_zone"]["description"] == "first"
    assert_fault(api.put(f"{V}/availabilityzones/az1", json={"availability_zone": {
        "name": "other"}}), 400, "name")
    assert_fault(api.put(f"{V}/availabilityzones/nope", json={"availability_zone": {}}), 404)
    assert api.get(f"{V}/availabilityzones/az1").json()["availability_zone"]["enabled"] is False
    api.put(f"{V}/availabilityzones/az1", json={"availability_zone": {"enabled": True}})
    lb = api.lb(availability_zone="az1")
    assert_fault(api.delete(f"{V}/availabilityzones/az1"), 409, "in use")
    assert_fault(api.delete(f"{V}/availabilityzoneprofiles/{prof['id']}"), 409, "in use")
    assert_fault(api.put(f"{V}/availabilityzoneprofiles/{prof['id']}", json={
        "availability_zone_profile": {"availability_zone_data": "{}"}}), 409, "in use")
    _mark_deleted(api, lb["id"])
    assert api.delete(f"{V}/availabilityzones/az1").status_code == 204
    assert api.delete(f"{V}/availabilityzones/az2").status_code == 204
    assert_fault(api.get(f"{V}/availabilityzones/az1"), 404)
    resp = api.put(f"{V}/availabilityzoneprofiles/{prof['id']}", json={
        "availability_zone_profile": {"availability_zone_data": "{}", "name": "zp2"}})
    assert resp.status_code == 200
    assert api.delete(f"{V}/availabilityzoneprofiles/{prof['id']}").status_code == 204
    assert api.count(m.AvailabilityZone) == 0 and api.count(m.AvailabilityZoneProfile) == 0


def test_roles(api_factory: Any) -> None:
    api = api_factory(auth_strategy="testing")
    admin = {"X-Project-Id": "ops", "X-Roles": "admin"}
    member = {"X-Project-Id": "alice", "X-Roles": "member"}
    reader = {"X-Project-Id": "alice", "X-Roles": "reader"}
    nobody = {"X-Project-Id": "alice", "X-Roles": ""}
    prof = api.create("flavorprofiles", "flavorprofile",
                      {"name": "p", "provider_name": "noop", "flavor_data": "{}"},
                      headers=admin)
    flavor = api.create("flavors", "flavor", {"name": "f", "flavor_profile_id": prof["id"]},
                        headers=admin)
    azp = api.create("availabilityzoneprofiles", "availability_zone_profile",
                     {"name": "z", "provider_name": "noop", "availability_zone_data": "{}"},
                     headers=admin)
    api.create("availabilityzones", "availability_zone",
               {"name": "az", "availability_zone_profile_id": azp["id"]}, headers=admin)
    for headers in (member, reader):
        assert api.get(f"{V}/flavors/{flavor['id']}", headers=headers).status_code == 200
        assert len(api.get(f"{V}/flavors", headers=headers).json()["flavors"]) == 1
        assert api.get(f"{V}/availabilityzones/az", headers=headers).status_code == 200
        assert_fault(api.get(f"{V}/flavorprofiles", headers=headers), 403)
        assert_fault(api.get(f"{V}/availabilityzoneprofiles/{azp['id']}", headers=headers),
                     403)
        assert_fault(api.post(f"{V}/flavors", headers=headers, json={"flavor": {
            "name": "g", "flavor_profile_id": prof["id"]}}), 403)
        assert_fault(api.put(f"{V}/flavors/{flavor['id']}", headers=headers,
                             json={"flavor": {"name": "g"}}), 403)
        assert_fault(api.delete(f"{V}/availabilityzones/az", headers=headers), 403)
        assert_fault(api.post(f"{V}/flavorprofiles", headers=headers, json={"flavorprofile": {
            "name": "p", "provider_name": "noop", "flavor_data": "{}"}}), 403)
    assert_fault(api.get(f"{V}/flavors", headers=nobody), 403)
    assert api.count(m.Flavor) == 1 and api.count(m.FlavorProfile) == 1
