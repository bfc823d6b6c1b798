"""Every route the app serves, walked from the router's own table, as each kind of caller.

The routes come from :func:`statera.api.access.served_routes` (FastAPI's route table, every
prefix a router is mounted under), so a route added tomorrow is walked too; what each caller
must get comes from its rule in :data:`statera.api.access.RULES`. Project "alice" owns a whole
graph (load balancer, listener, pool, member, health monitor, L7 policy and rule, a VIP port, a
certificate, a quota); then, under the ``testing`` auth strategy:

- an anonymous caller (no ``X-Project-Id``, no ``X-Roles``) gets 401 on every route but the
  public ones (``GET /``, the OpenAPI document);
- a member of project "bob" never reads alice's objects (a 403 or 404, and no list or
  document shows one of their ids) and never changes them (403 or 404, the database unchanged);
- alice's observer (``reader``) reads everything of alice's that is not admin-only, and every
  write is a 403 with the database unchanged;
- an admin reads every route (so the ids the walk fills in are right, and a refusal above is a
  refusal, not a wrong URL).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from statera.api import access
from statera.db import models as m
from tests.api.conftest import LOOPBACK_SUBNET, Api
from tests.api.world import ADMIN, ALICE, LOOPBACK_NET, build_world

BOB = {"X-Project-Id": "bob", "X-Roles": "member"}
OBSERVER = {"X-Project-Id": "alice", "X-Roles": "reader"}
GLOBAL_OBSERVER = {"X-Project-Id": "carol", "X-Roles": "load-balancer_global_observer"}
# Octavia types whose reads are admin-only (amphorae, profiles, provider capabilities).
ADMIN_READS = ("amphora", "flavor-profile", "availability-zone-profile", "provider-flavor",
               "provider-availability-zone", "agent-host")
# Creates that make an object in the caller's own project: not another project's business.
OWN_PROJECT_CREATES = {"certificates.create_certificate"}


def _bodies(ids: dict[str, str]) -> dict[str, Any]:
    """A valid body for every route that takes one, aimed at alice's objects; a write route
    missing here fails the walk, so a new one cannot be skipped."""
    http = {"protocol": "HTTP"}
    return {
        "loadbalancers.create_loadbalancer": {"loadbalancer": {
            "vip_subnet_id": LOOPBACK_SUBNET, "project_id": "alice"}},
        "loadbalancers.update_loadbalancer": {"loadbalancer": {"name": "taken"}},
        "listeners.create_listener": {"listener": {
            "loadbalancer_id": ids["lb_id"], "protocol_port": 81, **http}},
        "listeners.update_listener": {"listener": {"name": "taken"}},
        "pools.create_pool": {"pool": {"loadbalancer_id": ids["lb_id"],
                                       "lb_algorithm": "ROUND_ROBIN", **http}},
        "pools.update_pool": {"pool": {"name": "taken"}},
        "members.create_member": {"member": {"address": "127.0.0.2", "protocol_port": 81}},
        "members.update_member": {"member": {"name": "taken"}},
        "members.batch_update_members": {"members": []},
        "healthmonitors.create_healthmonitor": {"healthmonitor": {
            "pool_id": ids["pool_id"], "type": "HTTP", "delay": 5, "timeout": 5,
            "max_retries": 3}},
        "healthmonitors.update_healthmonitor": {"healthmonitor": {"name": "taken"}},
        "l7policies.create_l7policy": {"l7policy": {
            "listener_id": ids["listener_id"], "action": "REJECT"}},
        "l7policies.update_l7policy": {"l7policy": {"name": "taken"}},
        "l7rules.create_l7rule": {"rule": {"type": "PATH", "compare_type": "EQUAL_TO",
                                           "value": "/x"}},
        "l7rules.update_l7rule": {"rule": {"value": "/taken"}},
        "flavors.create_flavor": {"flavor": {"name": "f2",
                                             "flavor_profile_id": ids["flavorprofile_id"]}},
        "flavors.update_flavor": {"flavor": {"description": "taken"}},
        "flavorprofiles.create_flavorprofile": {"flavorprofile": {
            "name": "fp2", "provider_name": "noop", "flavor_data": "{}"}},
        "flavorprofiles.update_flavorprofile": {"flavorprofile": {"name": "taken"}},
        "availability_zones.create_az": {"availability_zone": {
            "name": "az2", "availability_zone_profile_id": ids["azprofile_id"]}},
        "availability_zones.update_az": {"availability_zone": {"description": "taken"}},
        "availability_zone_profiles.create_az_profile": {"availability_zone_profile": {
            "name": "azp2", "provider_name": "noop", "availability_zone_data": "{}"}},
        "availability_zone_profiles.update_az_profile": {"availability_zone_profile": {
            "name": "taken"}},
        "quotas.update_quota": {"quota": {"load_balancer": 1}},
        "certificates.create_certificate": {"certificate": {"certificate": ids["pem"]}},
    }


#: Shows of the Neutron resources Statera has none of: a Neutron 404 for anyone.
NEUTRON_NONE = ("neutron.show_qos", "neutron.show_security", "neutron.show_floatingip")


@pytest.fixture
def world(api_factory: Any) -> tuple[Api, dict[str, str]]:
    """An app under ``testing`` auth, and the ids of project alice's objects."""
    api = api_factory(auth_strategy="testing")
    return api, build_world(api)


def _fill(path: str, ids: dict[str, str]) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name == "profile_id":
            return ids["flavorprofile_id" if "/flavorprofiles/" in path else "azprofile_id"]
        fixed = {"project_id": "alice", "provider": "noop", "name": "az",
                 "network_id": LOOPBACK_NET, "subnet_id": LOOPBACK_SUBNET,
                 "policy_id": str(uuid.uuid4()), "group_id": str(uuid.uuid4()),
                 "item_id": str(uuid.uuid4())}  # the Neutron resources Statera has none of
        return fixed.get(name) or ids[name]

    return re.sub(r"\{(\w+)\}", value, path)


def _routes(api: Api, ids: dict[str, str]) -> Iterator[tuple[str, str, str, access.Rule]]:
    """(method, filled path, endpoint key, rule) for every route the app serves."""
    for path, methods, endpoint in access.served_routes(api.client.app):
        key = access.endpoint_key(endpoint)
        for method in sorted(methods - {"HEAD"}):
            yield method, _fill(path, ids), key, access.RULES[key]


def _call(api: Api, method: str, path: str, key: str, ids: dict[str, str],
          headers: dict[str, str]) -> Any:
    kwargs: dict[str, Any] = {"headers": headers}
    if method in ("POST", "PUT"):
        bodies = _bodies(ids)
        takes_body = key not in ("loadbalancers.failover", "amphorae.failover_amphora",
                                 "amphorae.configure_amphora")
        if takes_body:
            assert key in bodies, f"no test body for {method} {path} ({key})"
            kwargs["json"] = bodies[key]
    return api.request(method, path, **kwargs)


def _dump(api: Api) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table: what a refused request must leave exactly as it was."""
    with api.db.session() as s:
        return {table.name: sorted(tuple(map(repr, row)) for row in s.execute(select(table)))
                for table in m.Base.metadata.sorted_tables}


def _secrets(ids: dict[str, str]) -> set[str]:
    return {ids[k] for k in ("lb_id", "listener_id", "pool_id", "member_id", "hm_id",
                             "l7policy_id", "l7rule_id", "port_id", "cert_id", "amphora_id")}


def test_every_route_has_a_rule(world: tuple[Api, dict[str, str]]) -> None:
    api, _ids = world
    served = {access.endpoint_key(e) for _p, _m, e in access.served_routes(api.client.app)}
    assert served - set(access.RULES) == set()
    assert len(served) > 90  # the walk really sees the mounted routers
    assert set(access.RULES) - served == set(), "rules for routes no longer served"


def test_an_undeclared_route_refuses_to_build() -> None:
    from fastapi import FastAPI

    app = FastAPI()

    @app.get("/new")
    def brand_new_route() -> None: ...

    with pytest.raises(RuntimeError, match="brand_new_route"):
        access.check_routes(app)


def test_anonymous_gets_401_everywhere_but_discovery(world: tuple[Api, dict[str, str]]) -> None:
    api, ids = world
    before = _dump(api)
    walked = 0
    for method, path, key, rule in _routes(api, ids):
        resp = _call(api, method, path, key, ids, {})
        walked += 1
        if rule.kind == "public":
            assert resp.status_code == 200, (method, path, resp.text)
            continue
        assert resp.status_code == 401, (method, path, resp.status_code, resp.text)
        assert resp.json()["error"]["code"] == 401
        assert resp.headers["WWW-Authenticate"].startswith("Keystone")
    assert walked > 300
    assert _dump(api) == before


def test_admin_reads_every_route(world: tuple[Api, dict[str, str]]) -> None:
    """The walk's ids are right: every read route answers an admin."""
    api, ids = world
    for method, path, key, _rule in _routes(api, ids):
        if method != "GET":
            continue
        resp = _call(api, method, path, key, ids, ADMIN)
        expected = 404 if key.startswith(NEUTRON_NONE) else 200
        if key == "certificates.show_certificate":
            expected = 404  # the store answers the caller's own project only
        assert resp.status_code == expected, (path, resp.text)
    ports = api.get("/v2.0/ports", headers=ADMIN).json()["ports"]
    assert [p["id"] for p in ports] == [ids["port_id"]]


def test_another_project_never_sees_or_changes_alices_objects(
        world: tuple[Api, dict[str, str]]) -> None:
    api, ids = world
    secrets = _secrets(ids)
    before = _dump(api)
    for method, path, key, rule in _routes(api, ids):
        if key in OWN_PROJECT_CREATES:
            continue
        resp = _call(api, method, path, key, ids, BOB)
        where = (method, path, resp.status_code, resp.text)
        if key == "app.keystone_project":  # echoes the id it was given, nothing else
            assert resp.status_code == 200, where
            continue
        if method == "GET" and not any(s in path for s in secrets | {"/alice"}):
            # A collection or a document about no project: alice's ids are not in it.
            assert resp.status_code in (200, 403, 404), where
            assert not any(s in resp.text for s in secrets), where
            if rule.kind == "octavia" and rule.policy.split(":")[1] not in ADMIN_READS:
                assert resp.status_code in (200, 404), where
            continue
        assert resp.status_code in (403, 404), where
        assert not any(s in resp.text for s in secrets - {s for s in secrets if s in path}), where
        if resp.status_code == 404:  # hidden, not missing: its owner still reads it
            assert api.get(path, headers=ALICE).status_code in (200, 405), where
    assert _dump(api) == before
    # Alice herself still sees her port; bob lists none.
    assert [p["id"] for p in api.get("/v2.0/ports", headers=ALICE).json()["ports"]] == [
        ids["port_id"]]
    assert api.get("/v2.0/ports", headers=BOB).json()["ports"] == []
    assert api.get(f"/v2.0/ports/{ids['port_id']}", headers=BOB).status_code == 404


@pytest.mark.parametrize("who", ["observer", "global_observer"])
def test_observers_read_but_never_write(world: tuple[Api, dict[str, str]], who: str) -> None:
    api, ids = world
    headers = OBSERVER if who == "observer" else GLOBAL_OBSERVER
    before = _dump(api)
    for method, path, key, rule in _routes(api, ids):
        resp = _call(api, method, path, key, ids, headers)
        where = (method, path, resp.status_code, resp.text)
        if method != "GET":
            assert resp.status_code == 403, where
            continue
        assert rule.reads, where
        if rule.kind == "octavia" and rule.policy.split(":")[1] in ADMIN_READS:
            assert resp.status_code == 403, where
        elif key.startswith(NEUTRON_NONE):
            assert resp.status_code == 404, where
        elif key == "certificates.show_certificate" and who == "global_observer":
            assert resp.status_code == 404, where  # the store is per project
        else:
            assert resp.status_code == 200, where
    assert _dump(api) == before
    listed = api.get("/v2.0/ports", headers=headers).json()["ports"]
    assert [p["id"] for p in listed] == [ids["port_id"]]
