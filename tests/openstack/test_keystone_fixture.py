"""The Keystone fixture itself: what every other OpenStack test builds on."""

from __future__ import annotations

import json
import urllib.request

import pytest

from tests.openstack import keystone as ks

pytestmark = pytest.mark.keystone


def test_bootstrap_gives_octavia_roles_service_user_and_catalog(keystone: ks.Keystone) -> None:
    """A service user token carries service+admin; the load-balancer catalog entry is what
    register_load_balancer last wrote; load-balancer_* roles exist."""
    for role in ks.LB_ROLES:
        assert keystone.role(role)
    keystone.register_load_balancer("http://127.0.0.1:1/")
    keystone.register_load_balancer("http://127.0.0.1:9876")
    token = keystone.token(keystone.service)
    req = urllib.request.Request(f"{keystone.url}/auth/tokens",
                                 headers={"X-Auth-Token": token, "X-Subject-Token": token})
    with urllib.request.urlopen(req, timeout=10) as resp:
        body = json.load(resp)["token"]
    assert {"service", "admin"} <= {r["name"] for r in body["roles"]}
    assert body["project"]["name"] == "service"
    lb = [s for s in body["catalog"] if s["type"] == "load-balancer"]
    assert len(lb) == 1
    assert {(e["interface"], e["url"], e["region"]) for e in lb[0]["endpoints"]} == {
        (i, "http://127.0.0.1:9876", "RegionOne") for i in ("public", "internal", "admin")}


def test_user_helper_scopes_roles_to_one_project(keystone: ks.Keystone) -> None:
    creds = keystone.user("fixture-reader", "fixture-a", ["reader"])
    token = keystone.token(creds)
    req = urllib.request.Request(f"{keystone.url}/auth/tokens",
                                 headers={"X-Auth-Token": token, "X-Subject-Token": token})
    with urllib.request.urlopen(req, timeout=10) as resp:
        body = json.load(resp)["token"]
    assert [r["name"] for r in body["roles"]] == ["reader"]
    assert body["project"]["id"] == creds.project_id
