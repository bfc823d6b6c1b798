"""Statera's admin-only agent-host API (``/v2/statera/hosts``) and what placement shows through
the amphora API, on each database."""

from __future__ import annotations

import time
from typing import Any

from statera.controller import placement
from statera.db import models as m
from tests.api.conftest import Api

H = "/v2/statera/hosts"


def _host(api: Api, name: str, renewed_ago: float, **values: Any) -> None:
    with api.db.session() as s:
        s.add(m.AgentHost(name=name, renewed_at=time.time() - renewed_ago, down_after=5.0,
                          **{"providers": ["noop"], **values}))


def test_hosts_up_down_and_placement(api: Api) -> None:
    _host(api, "alpha", 1.0, availability_zone="az1", capacity=10)
    _host(api, "beta", 60.0)
    _host(api, "gamma", 0.5)
    listed = api.get(H).json()
    assert [(h["name"], h["status"]) for h in listed["hosts"]] == [
        ("alpha", "UP"), ("beta", "DOWN"), ("gamma", "UP")]
    alpha = api.get(f"{H}/alpha").json()["host"]
    assert (alpha["availability_zone"], alpha["capacity"], alpha["providers"]) == (
        "az1", 10, ["noop"])
    assert 0.5 < alpha["lease_age"] < 30
    missing = api.get(f"{H}/nowhere")
    assert missing.status_code == 404 and "nowhere" in missing.json()["faultstring"]

    # A zone-less load balancer goes to the live zone-less host: gamma (beta is down). It is
    # placed by its create (the get socket only reads), so a pass finds nothing left to do.
    lb = api.post("/v2/lbaas/loadbalancers", json={"loadbalancer": {
        "vip_subnet_id": "7b1c6e3a-1d5e-4f5e-9a57-3c1f00000002", "provider": "noop"}})
    assert lb.status_code == 201, lb.text
    lb_id = lb.json()["loadbalancer"]["id"]
    with api.db.session() as s:
        moved = placement.schedule(s)
    assert moved.changed == []
    (amp,) = api.get("/v2/octavia/amphorae").json()["amphorae"]
    assert (amp["loadbalancer_id"], amp["compute_id"], amp["role"], amp["status"]) == (
        lb_id, "gamma", "STANDALONE", "BOOTING")
    assert api.get(f"{H}/gamma").json()["host"]["instances"] == 1
    # gamma goes down too: nowhere to go, the instance is dropped until a host can take it.
    with api.db.session() as s:
        s.get(m.AgentHost, "gamma").renewed_at = 0.0  # type: ignore[union-attr]
    with api.db.session() as s:
        assert placement.schedule(s).unplaceable == [lb_id]
    assert api.get("/v2/octavia/amphorae").json()["amphorae"] == []


def test_hosts_are_admin_only(api_factory: Any) -> None:
    api = api_factory(auth_strategy="testing")
    _host(api, "alpha", 1.0)
    member = {"X-Project-Id": "p", "X-Roles": "member"}
    observer = {"X-Project-Id": "p", "X-Roles": "load-balancer_global_observer"}
    for headers in (member, observer):
        assert api.get(H, headers=headers).status_code == 403
        assert api.get(f"{H}/alpha", headers=headers).status_code == 403
    assert api.get(H).status_code == 401
    admin = {"X-Project-Id": "p", "X-Roles": "admin"}
    assert [h["name"] for h in api.get(H, headers=admin).json()["hosts"]] == ["alpha"]
