"""``auth_strategy = keystone`` with real Keystone tokens: authentication and Octavia's policy.

The app runs in process (SQLite, the noop provider) behind keystonemiddleware's real
``auth_token``, which validates every token against the session's real Keystone. Two projects
own a whole graph each; a user per role (Keystone's default roles, Octavia's
``load-balancer_*`` roles and an unrelated one) reads and writes every object type of their
own project and of the other one. What each must get is written out below from Octavia's
documented role model, not computed from the policy under test.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from statera.api.app import create_app
from statera.config import Settings
from statera.db import models as m
from statera.db.migrate import upgrade
from tests.api.conftest import LOOPBACK_SUBNET, make_services
from tests.api.world import activate
from tests.openstack import keystone as ks

pytestmark = pytest.mark.keystone
V = "/v2/lbaas"

# Roles and what Octavia's default policy lets each do (both role models at once).
ADMINS = {"admin", "load-balancer_admin"}
GLOBAL_READERS = ADMINS | {"load-balancer_global_observer"}
OWN_READERS = GLOBAL_READERS | {"member", "reader", "load-balancer_observer",
                                "load-balancer_member"}
OWN_WRITERS = ADMINS | {"member", "load-balancer_member"}
QUOTA_ADMINS = ADMINS | {"load-balancer_quota_admin"}
QUOTA_OWN_READERS = OWN_READERS | QUOTA_ADMINS
QUOTA_GLOBAL_READERS = GLOBAL_READERS | QUOTA_ADMINS
ROLES = ("admin", "member", "reader", "load-balancer_observer",
         "load-balancer_global_observer", "load-balancer_member", "load-balancer_quota_admin",
         "load-balancer_admin", "unrelated")

# Octavia's objects that belong to a project: (type, collection path of the object, body key,
# the column a write changes).
OWNED = ("loadbalancer", "listener", "pool", "member", "healthmonitor", "l7policy", "l7rule")
MODELS = {"loadbalancer": m.LoadBalancer, "listener": m.Listener, "pool": m.Pool,
          "member": m.Member, "healthmonitor": m.HealthMonitor, "l7policy": m.L7Policy,
          "l7rule": m.L7Rule}


@dataclass
class World:
    keystone: ks.Keystone
    client: TestClient
    services: Any
    tokens: dict[str, str] = field(default_factory=dict)  # role -> token (project A)
    admin_token: str = ""
    ids: dict[str, dict[str, str]] = field(default_factory=dict)  # project -> type -> id
    projects: dict[str, str] = field(default_factory=dict)  # "a"/"b" -> project id
    shared: dict[str, str] = field(default_factory=dict)  # flavor, profiles, az, amphora

    def call(self, method: str, path: str, token: str | None, **kw: Any) -> Any:
        headers = dict(kw.pop("headers", {}))
        if token is not None:
            headers["X-Auth-Token"] = token
        return self.client.request(method, path, headers=headers, **kw)

    def url(self, project: str, obj_type: str) -> str:
        ids = self.ids[project]
        return {
            "loadbalancer": f"{V}/loadbalancers/{ids['loadbalancer']}",
            "listener": f"{V}/listeners/{ids['listener']}",
            "pool": f"{V}/pools/{ids['pool']}",
            "member": f"{V}/pools/{ids['pool']}/members/{ids['member']}",
            "healthmonitor": f"{V}/healthmonitors/{ids['healthmonitor']}",
            "l7policy": f"{V}/l7policies/{ids['l7policy']}",
            "l7rule": f"{V}/l7policies/{ids['l7policy']}/rules/{ids['l7rule']}",
        }[obj_type]

    def list_url(self, project: str, obj_type: str) -> str:
        ids = self.ids[project]
        return {
            "member": f"{V}/pools/{ids['pool']}/members",
            "l7rule": f"{V}/l7policies/{ids['l7policy']}/rules",
        }.get(obj_type, f"{V}/{_plural(obj_type)}")


def _plural(obj_type: str) -> str:
    return {"l7policy": "l7policies"}.get(obj_type, f"{obj_type}s")


def keystone_settings(tmp: Path, keystone: ks.Keystone, **api: Any) -> Settings:
    settings = Settings(data_dir=str(tmp))
    settings.database.connection = f"sqlite:///{tmp / 'statera.db'}"
    settings.api.default_provider_driver = "noop"
    settings.api.auth_strategy = "keystone"
    for key, value in api.items():
        setattr(settings.api, key, value)
    settings.keystone_authtoken = keystone.authtoken_options()
    return settings


def keystone_app(tmp: Path, keystone: ks.Keystone, policy_file: str = "") -> tuple[Any, Any]:
    settings = keystone_settings(tmp, keystone)
    settings.oslo_policy.policy_file = policy_file
    upgrade(settings.database_url)
    services = make_services(settings)
    return TestClient(create_app(services)), services


def _build(world: World, project: str, token: str) -> None:
    """One whole graph in ``project``, every object ACTIVE, created with its member's token."""
    def create(path: str, key: str, body: dict[str, Any]) -> str:
        resp = world.call("POST", path, token, json={key: body})
        assert resp.status_code == 201, resp.text
        activate_all(world)
        return str(resp.json()[key]["id"])

    ids: dict[str, str] = {}
    ids["loadbalancer"] = create(f"{V}/loadbalancers", "loadbalancer",
                                 {"vip_subnet_id": LOOPBACK_SUBNET})
    ids["listener"] = create(f"{V}/listeners", "listener", {
        "loadbalancer_id": ids["loadbalancer"], "protocol": "HTTP", "protocol_port": 80})
    ids["pool"] = create(f"{V}/pools", "pool", {
        "listener_id": ids["listener"], "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN"})
    ids["member"] = create(f"{V}/pools/{ids['pool']}/members", "member",
                           {"address": "127.0.0.1", "protocol_port": 8080})
    ids["healthmonitor"] = create(f"{V}/healthmonitors", "healthmonitor", {
        "pool_id": ids["pool"], "type": "HTTP", "delay": 5, "timeout": 5, "max_retries": 3})
    ids["l7policy"] = create(f"{V}/l7policies", "l7policy", {
        "listener_id": ids["listener"], "action": "REJECT"})
    ids["l7rule"] = create(f"{V}/l7policies/{ids['l7policy']}/rules", "rule", {
        "type": "PATH", "compare_type": "STARTS_WITH", "value": "/a"})
    world.ids[project] = ids


def activate_all(world: World) -> None:
    class _Db:
        db = world.services.db
    activate(_Db())  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def world(keystone: ks.Keystone, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    client, services = keystone_app(tmp_path_factory.mktemp("rbac"), keystone)
    w = World(keystone, client, services)
    for role in ROLES:
        keystone.role(role)
        w.tokens[role] = keystone.token(keystone.user(f"rbac-{role}", "rbac-a", [role]))
    w.projects = {"a": keystone.project("rbac-a"), "b": keystone.project("rbac-b")}
    w.admin_token = keystone.token(keystone.admin)
    _build(w, "a", w.tokens["member"])
    _build(w, "b", keystone.token(keystone.user("rbac-b-member", "rbac-b", ["member"])))
    for project_id in w.projects.values():
        resp = w.call("PUT", f"{V}/quotas/{project_id}", w.admin_token,
                      json={"quota": {"load_balancer": 50}})
        assert resp.status_code == 202, resp.text
    admin = w.admin_token
    w.shared["flavorprofile"] = w.call("POST", f"{V}/flavorprofiles", admin, json={
        "flavorprofile": {"name": "fp", "provider_name": "noop", "flavor_data": "{}"}},
    ).json()["flavorprofile"]["id"]
    w.shared["flavor"] = w.call("POST", f"{V}/flavors", admin, json={"flavor": {
        "name": "f", "flavor_profile_id": w.shared["flavorprofile"]}}).json()["flavor"]["id"]
    w.shared["availabilityzoneprofile"] = w.call(
        "POST", f"{V}/availabilityzoneprofiles", admin, json={"availability_zone_profile": {
            "name": "azp", "provider_name": "noop", "availability_zone_data": "{}"}},
    ).json()["availability_zone_profile"]["id"]
    resp = w.call("POST", f"{V}/availabilityzones", admin, json={"availability_zone": {
        "name": "az", "availability_zone_profile_id": w.shared["availabilityzoneprofile"]}})
    assert resp.status_code == 201, resp.text
    with services.db.session() as s:
        amphora = m.Amphora(id=m.new_id(), load_balancer_id=w.ids["a"]["loadbalancer"],
                            role="STANDALONE", lb_network_ip="127.0.0.1")
        s.add(amphora)
        w.shared["amphora"] = amphora.id
    yield w
    client.close()
    services.db.dispose()


def _column(world: World, obj_type: str, obj_id: str) -> Any:
    model = MODELS[obj_type]
    with world.services.db.session() as s:
        row = s.scalars(select(model).where(model.id == obj_id)).one()
        return row.value if obj_type == "l7rule" else row.name


def _write(world: World, role: str, project: str, obj_type: str) -> int:
    """PUT one change on ``project``'s object; the status, after checking the database holds
    the change exactly when the answer says it was accepted."""
    obj_id = world.ids[project][obj_type]
    mark = f"/by-{role}-{project}" if obj_type == "l7rule" else f"by-{role}-{project}"
    body = {"value": mark} if obj_type == "l7rule" else {"name": mark}
    key = "rule" if obj_type == "l7rule" else obj_type
    before = _column(world, obj_type, obj_id)
    resp = world.call("PUT", world.url(project, obj_type), world.tokens[role],
                      json={key: body})
    after = _column(world, obj_type, obj_id)
    if resp.status_code < 300:
        assert after == mark, f"{role} {obj_type}: accepted but not written"
        activate_all(world)
    else:
        assert after == before, f"{role} changed {project}'s {obj_type} with a {resp.status_code}"
    return resp.status_code


@pytest.mark.parametrize("role", ROLES)
def test_rbac_matrix_project_objects(world: World, role: str) -> None:
    """Every role × own/other project × every object a project owns × read/write."""
    token = world.tokens[role]
    got: dict[str, int] = {}
    expected: dict[str, int] = {}
    for obj_type in OWNED:
        for project, readers, writers in (("a", OWN_READERS, OWN_WRITERS),
                                          ("b", GLOBAL_READERS, ADMINS)):
            got[f"read {project} {obj_type}"] = world.call(
                "GET", world.url(project, obj_type), token).status_code
            expected[f"read {project} {obj_type}"] = 200 if role in readers else 403
            got[f"write {project} {obj_type}"] = _write(world, role, project, obj_type)
            expected[f"write {project} {obj_type}"] = 200 if role in writers else 403
        # Lists: own project's objects only, every project's for global readers.
        resp = world.call("GET", world.list_url("a", obj_type), token)
        got[f"list {obj_type}"] = resp.status_code
        expected[f"list {obj_type}"] = 200 if role in OWN_READERS else 403
        if resp.status_code == 200:
            key = {"l7rule": "rules"}.get(obj_type, _plural(obj_type))
            listed = {item["id"] for item in resp.json()[key]}
            assert world.ids["a"][obj_type] in listed
            if obj_type not in ("member", "l7rule"):  # children are listed under a parent
                sees_b = world.ids["b"][obj_type] in listed
                assert sees_b == (role in GLOBAL_READERS), f"{role} list {obj_type}: {listed}"
        if obj_type in ("member", "l7rule"):
            got[f"list b {obj_type}"] = world.call(
                "GET", world.list_url("b", obj_type), token).status_code
            expected[f"list b {obj_type}"] = 200 if role in GLOBAL_READERS else 403
    assert got == expected


@pytest.mark.parametrize("role", ROLES)
def test_rbac_matrix_quotas(world: World, role: str) -> None:
    token = world.tokens[role]
    got, expected = {}, {}
    for project, readers in (("a", QUOTA_OWN_READERS), ("b", QUOTA_GLOBAL_READERS)):
        path = f"{V}/quotas/{world.projects[project]}"
        got[f"read {project}"] = world.call("GET", path, token).status_code
        expected[f"read {project}"] = 200 if role in readers else 403
        resp = world.call("PUT", path, token, json={"quota": {"listener": 7}})
        got[f"write {project}"] = resp.status_code
        expected[f"write {project}"] = 202 if role in QUOTA_ADMINS else 403
        with world.services.db.session() as s:
            quota = s.get(m.Quota, world.projects[project])
            if role in QUOTA_ADMINS:
                assert quota is not None and quota.listener == 7
                quota.listener = None
            else:
                assert quota is not None and quota.listener is None
    resp = world.call("GET", f"{V}/quotas", token)
    got["list"] = resp.status_code
    expected["list"] = 200 if role in QUOTA_OWN_READERS else 403
    if resp.status_code == 200:
        projects = {q["project_id"] for q in resp.json()["quotas"]}
        assert (world.projects["b"] in projects) == (role in QUOTA_GLOBAL_READERS)
    assert got == expected


@pytest.mark.parametrize("role", ROLES)
def test_rbac_matrix_shared_and_admin_objects(world: World, role: str) -> None:
    """Providers, flavors and availability zones are read by every reader and changed by
    admins; their profiles, provider capabilities and amphorae are admin-only."""
    token, sh = world.tokens[role], world.shared
    readable = 200 if role in OWN_READERS else 403
    admin_only = 200 if role in ADMINS else 403
    checks = {
        "read provider": ("GET", f"{V}/providers", None, readable),
        "read provider flavor capabilities": (
            "GET", f"{V}/providers/noop/flavor_capabilities", None, admin_only),
        "read provider az capabilities": (
            "GET", f"{V}/providers/noop/availability_zone_capabilities", None, admin_only),
        "read flavor": ("GET", f"{V}/flavors/{sh['flavor']}", None, readable),
        "list flavors": ("GET", f"{V}/flavors", None, readable),
        "write flavor": ("PUT", f"{V}/flavors/{sh['flavor']}",
                         {"flavor": {"description": role}}, admin_only),
        "read flavorprofile": ("GET", f"{V}/flavorprofiles/{sh['flavorprofile']}", None,
                               admin_only),
        "write flavorprofile": ("PUT", f"{V}/flavorprofiles/{sh['flavorprofile']}",
                                {"flavorprofile": {"name": f"fp-{role}"}}, admin_only),
        "read availabilityzone": ("GET", f"{V}/availabilityzones/az", None, readable),
        "write availabilityzone": ("PUT", f"{V}/availabilityzones/az",
                                   {"availability_zone": {"description": role}}, admin_only),
        "read availabilityzoneprofile": (
            "GET", f"{V}/availabilityzoneprofiles/{sh['availabilityzoneprofile']}", None,
            admin_only),
        "write availabilityzoneprofile": (
            "PUT", f"{V}/availabilityzoneprofiles/{sh['availabilityzoneprofile']}",
            {"availability_zone_profile": {"name": f"azp-{role}"}}, admin_only),
        "read amphora": ("GET", f"/v2/octavia/amphorae/{sh['amphora']}", None, admin_only),
        "list amphorae": ("GET", "/v2/octavia/amphorae", None, admin_only),
        "write amphora": ("PUT", f"/v2/octavia/amphorae/{sh['amphora']}/config", None,
                          202 if role in ADMINS else 403),
    }
    got = {}
    for name, (method, path, body, _want) in checks.items():
        kw = {"json": body} if body is not None else {}
        got[name] = world.call(method, path, token, **kw).status_code
    assert got == {name: want for name, (_m, _p, _b, want) in checks.items()}


def test_no_token_bad_token_and_version_discovery(world: World) -> None:
    keystone = world.keystone
    root = world.call("GET", "/", None)
    assert root.status_code == 200 and root.json()["versions"]
    for token in (None, "not-a-token", world.tokens["member"] + "x"):
        resp = world.call("GET", f"{V}/loadbalancers", token)
        assert resp.status_code == 401, resp.text
        assert resp.headers["WWW-Authenticate"] == f'Keystone uri="{keystone.url}"'
        assert resp.json()["error"]["code"] == 401
    # A write without a token changes nothing.
    before = _column(world, "loadbalancer", world.ids["a"]["loadbalancer"])
    resp = world.call("PUT", world.url("a", "loadbalancer"), None,
                      json={"loadbalancer": {"name": "anonymous"}})
    assert resp.status_code == 401
    assert _column(world, "loadbalancer", world.ids["a"]["loadbalancer"]) == before


def test_client_identity_headers_are_never_trusted(world: World) -> None:
    """A reader of project A who claims admin and project B in headers stays a reader of A."""
    claims = {"X-Roles": "admin", "X-Project-Id": world.projects["b"],
              "X-Identity-Status": "Confirmed", "X-User-Id": "someone",
              "X-Service-Roles": "admin"}
    reader = world.tokens["reader"]
    assert world.call("GET", world.url("b", "loadbalancer"), reader,
                      headers=claims).status_code == 403
    listed = world.call("GET", f"{V}/loadbalancers", reader, headers=claims).json()
    assert {lb["project_id"] for lb in listed["loadbalancers"]} == {world.projects["a"]}
    assert world.call("PUT", world.url("a", "loadbalancer"), reader, headers=claims,
                      json={"loadbalancer": {"name": "claimed"}}).status_code == 403
    # Without a token, claimed headers are no identity at all.
    assert world.call("GET", f"{V}/loadbalancers", None, headers=claims).status_code == 401


def test_create_lands_in_the_token_project_only(world: World) -> None:
    member = world.tokens["member"]
    resp = world.call("POST", f"{V}/loadbalancers", member, json={"loadbalancer": {
        "vip_subnet_id": LOOPBACK_SUBNET, "project_id": world.projects["b"]}})
    assert resp.status_code == 403
    resp = world.call("POST", f"{V}/loadbalancers", member,
                      json={"loadbalancer": {"vip_subnet_id": LOOPBACK_SUBNET}})
    assert resp.status_code == 201
    assert resp.json()["loadbalancer"]["project_id"] == world.projects["a"]
    activate_all(world)
    world.call("DELETE", f"{V}/loadbalancers/{resp.json()['loadbalancer']['id']}", member)
    activate_all(world)


def test_policy_file_override_is_reread_without_restart(
        keystone: ks.Keystone, world: World, tmp_path: Path) -> None:
    """An operator's policy file changes a rule for the running app, changing the file again
    changes it back, and a file that does not parse leaves the rules read before in force."""
    policy_file = tmp_path / "policy.yaml"
    client, services = keystone_app(tmp_path, keystone, str(policy_file))
    reader = world.tokens["reader"]
    observer = world.tokens["load-balancer_observer"]

    def status(token: str) -> int:
        return int(client.get(f"{V}/loadbalancers",
                              headers={"X-Auth-Token": token}).status_code)

    try:
        assert status(reader) == 200  # no file yet: Octavia's defaults
        _write_policy(policy_file, '"os_load-balancer_api:loadbalancer:get_all": '
                                   '"role:load-balancer_observer"\n')
        assert status(reader) == 403
        assert status(observer) == 200
        resp = client.get(f"{V}/loadbalancers", headers={"X-Auth-Token": reader})
        assert resp.json() == {"faultcode": "Client", "debuginfo": None,
                               "faultstring": "Policy does not allow this request to be "
                                              "performed."}
        _write_policy(policy_file, '"context_is_admin": [unbalanced\n')
        assert (status(reader), status(observer)) == (403, 200)
        _write_policy(policy_file, '"load-balancer:read": "!"\n')
        assert (status(reader), status(observer)) == (403, 403)
        _write_policy(policy_file, "# back to the defaults\n")
        assert (status(reader), status(observer)) == (200, 200)
    finally:
        client.close()
        services.db.dispose()


def _write_policy(path: Path, text: str) -> None:
    """Write ``text`` with a modification time later than the last one (what oslo.policy
    watches; two writes within one kernel tick could otherwise share one)."""
    old = path.stat().st_mtime_ns if path.exists() else 0
    path.write_text(text)
    new = max(path.stat().st_mtime_ns, old + 1_000_000)
    os.utime(path, ns=(new, new))
