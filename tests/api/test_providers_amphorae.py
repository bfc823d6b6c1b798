"""Providers and their capabilities, and the admin-only amphora API, through HTTP."""

from __future__ import annotations

import datetime as dt
from typing import Any

from octavia_lib.api.drivers import exceptions as lib_exc

from statera.db import models as m
from statera.providers.noop.driver import NoopProviderDriver
from tests.api.conftest import Api

V = "/v2/lbaas"
A = "/v2/octavia/amphorae"
NOWHERE = "0e5d4c3b-0000-4000-8000-000000000000"


def assert_fault(resp: Any, status: int, needle: str = "") -> None:
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert set(body) == {"faultcode", "faultstring", "debuginfo"}
    assert body["faultcode"] == ("Client" if status < 500 else "Server")
    assert needle in body["faultstring"], body["faultstring"]


# Providers --------------------------------------------------------------------------------


def test_providers_and_capabilities(api: Api, monkeypatch: Any) -> None:
    enabled = api.services.settings.api.enabled_provider_drivers
    got = api.get(f"{V}/providers").json()
    assert got == {"providers": [{"name": n, "description": d} for n, d in enabled.items()]}
    assert api.get(f"{V}/providers", params={"name": "noop"}).json()["providers"] == [
        {"name": "noop", "description": enabled["noop"]}]
    assert api.get(f"{V}/providers", params={"fields": "name"}).json()["providers"][0] == {
        "name": next(iter(enabled))}
    assert_fault(api.get(f"{V}/providers", params={"color": "red"}), 400)
    caps = api.get(f"{V}/providers/noop/flavor_capabilities").json()
    assert caps == {"flavor_capabilities": [
        {"name": "noop_option", "description": "Any value; the noop provider ignores it."}]}
    caps = api.get(f"{V}/providers/noop/availability_zone_capabilities",
                   params={"fields": "name"}).json()
    assert caps == {"availability_zone_capabilities": [{"name": "noop_zone"}]}
    none = api.get(f"{V}/providers/noop/flavor_capabilities", params={"name": "x"}).json()
    assert none == {"flavor_capabilities": []}
    assert_fault(api.get(f"{V}/providers/nope/flavor_capabilities"), 400,
                 "Provider 'nope' is not enabled.")

    def missing(self: Any) -> dict[str, str]:
        raise lib_exc.NotImplementedError(user_fault_string="no flavors here",
                                          operator_fault_string="no flavors here")

    monkeypatch.setattr(NoopProviderDriver, "get_supported_flavor_metadata", missing)
    assert_fault(api.get(f"{V}/providers/noop/flavor_capabilities"), 501, "no flavors here")
    for prefix in ("/v2.0/lbaas", "/v2", "/v2.0"):
        assert api.get(f"{prefix}/providers").status_code == 200


def test_provider_roles(api_factory: Any) -> None:
    api = api_factory(auth_strategy="testing")
    reader = {"X-Project-Id": "alice", "X-Roles": "reader"}
    admin = {"X-Project-Id": "ops", "X-Roles": "admin"}
    assert api.get(f"{V}/providers", headers=reader).status_code == 200
    assert_fault(api.get(f"{V}/providers", headers={"X-Project-Id": "alice"}), 403)
    assert_fault(api.get(f"{V}/providers/noop/flavor_capabilities", headers=reader), 403)
    assert api.get(f"{V}/providers/noop/availability_zone_capabilities",
                   headers=admin).status_code == 200


# Amphorae ---------------------------------------------------------------------------------


def _amphora(api: Api, lb_id: str | None, **values: Any) -> str:
    with api.db.session() as s:
        row = m.Amphora(id=m.new_id(), load_balancer_id=lb_id, role="STANDALONE",
                        lb_network_ip="127.0.0.1", **values)
        s.add(row)
        return row.id


def test_amphorae(api: Api) -> None:
    lb = api.lb()
    first = _amphora(api, lb["id"], cert_expiration=dt.datetime(2030, 1, 2, 3, 4, 5))
    spare = _amphora(api, None, status="READY")
    broken = _amphora(api, lb["id"], status="ERROR")
    listed = api.get(A).json()
    assert {a["id"] for a in listed["amphorae"]} == {first, spare, broken}
    assert "amphorae_links" in listed
    one = api.get(f"{A}/{first}").json()["amphora"]
    assert one["loadbalancer_id"] == lb["id"] and one["status"] == "ALLOCATED"
    assert one["cert_expiration"] == "2030-01-02T03:04:05" and one["role"] == "STANDALONE"
    assert {"compute_id", "vrrp_ip", "ha_ip", "vrrp_priority", "created_at"} <= set(one)
    by_lb = api.get(A, params={"loadbalancer_id": lb["id"], "status": "ERROR"}).json()
    assert [a["id"] for a in by_lb["amphorae"]] == [broken]
    page = api.get(A, params={"limit": 2, "fields": "id"}).json()
    assert len(page["amphorae"]) == 2 and set(page["amphorae"][0]) == {"id"}
    assert page["amphorae_links"][0]["rel"] == "next"
    assert_fault(api.get(A, params={"colour": "red"}), 400)
    assert_fault(api.get(f"{A}/{NOWHERE}"), 404)
    # Stats: the listener_statistics rows this amphora reported.
    assert_fault(api.get(f"{A}/{first}/stats"), 404, "stats")
    with api.db.session() as s:
        s.add(m.ListenerStatistics(listener_id=NOWHERE, amphora_id=first, bytes_in=10,
                                   bytes_out=20, active_connections=1, total_connections=3,
                                   request_errors=0))
    stats = api.get(f"{A}/{first}/stats").json()
    assert stats == {"amphora_stats": [{
        "id": first, "listener_id": NOWHERE, "loadbalancer_id": lb["id"], "bytes_in": 10,
        "bytes_out": 20, "active_connections": 1, "total_connections": 3,
        "request_errors": 0}]}
    # A provider's own rows (keyed by listener, via the stats socket) count for the LB's
    # instance too.
    listener = api.listener(lb["id"])
    with api.db.session() as s:
        s.add(m.ListenerStatistics(listener_id=listener["id"], amphora_id=listener["id"],
                                   bytes_in=5, bytes_out=6, active_connections=0,
                                   total_connections=2, request_errors=1))
    rows = api.get(f"{A}/{first}/stats").json()["amphora_stats"]
    assert {r["listener_id"]: r["bytes_in"] for r in rows} == {NOWHERE: 10, listener["id"]: 5}
    assert api.get(f"{A}/{spare}/stats").status_code == 404
    # Failover: a new desired generation of the LB and a hint, not an Octavia-style lock.
    hints = api.services.bus.subscribe("noop")
    with api.db.session() as s:
        gen = s.get(m.LoadBalancer, lb["id"]).desired_generation  # type: ignore[union-attr]
    resp = api.put(f"{A}/{first}/failover")
    assert resp.status_code == 202 and resp.content == b""
    assert hints.get(1) == lb["id"]
    with api.db.session() as s:
        assert s.get(m.LoadBalancer, lb["id"]).desired_generation == gen + 1  # type: ignore[union-attr]
    assert api.put(f"{A}/{first}/failover").status_code == 202  # coalesced, not 409
    assert_fault(api.put(f"{A}/{spare}/failover"), 409)
    assert_fault(api.put(f"{A}/{NOWHERE}/failover"), 404)
    assert api.put(f"{A}/{first}/config").status_code == 202
    assert hints.get(1) == lb["id"]
    assert_fault(api.put(f"{A}/{NOWHERE}/config"), 404)
    # Delete only from ERROR.
    assert_fault(api.delete(f"{A}/{first}"), 409, "immutable")
    assert api.delete(f"{A}/{broken}").status_code == 204
    assert_fault(api.get(f"{A}/{broken}"), 404)
    assert api.count(m.Amphora) == 2
    # The amphora API lives only under /octavia.
    assert api.get(f"{V}/amphorae").status_code == 404
    assert api.get(f"/v2.0/octavia/amphorae/{first}").status_code == 200


def test_amphorae_are_admin_only(api_factory: Any) -> None:
    api = api_factory(auth_strategy="testing")
    amp = _amphora(api, None, status="ERROR")
    admin = {"X-Project-Id": "ops", "X-Roles": "admin"}
    for roles in ("member", "reader", "load-balancer_global_observer"):
        headers = {"X-Project-Id": "alice", "X-Roles": roles}
        assert_fault(api.get(A, headers=headers), 403)
        assert_fault(api.get(f"{A}/{amp}", headers=headers), 403)
        assert_fault(api.get(f"{A}/{amp}/stats", headers=headers), 403)
        assert_fault(api.put(f"{A}/{amp}/failover", headers=headers), 403)
        assert_fault(api.put(f"{A}/{amp}/config", headers=headers), 403)
        assert_fault(api.delete(f"{A}/{amp}", headers=headers), 403)
    assert api.get(f"{A}/{amp}", headers=admin).status_code == 200
    assert api.count(m.Amphora) == 1
