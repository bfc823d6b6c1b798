"""A small world to aim requests at: one project's whole graph, every object ACTIVE."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from statera.db import models as m
from tests.api.conftest import LOOPBACK_SUBNET, Api
from tests.api.helpers import self_signed
from tests.statuses import force_status

ALICE = {"X-Project-Id": "alice", "X-Roles": "member"}
ADMIN = {"X-Project-Id": "ops", "X-Roles": "admin"}
LOOPBACK_NET = "7b1c6e3a-1d5e-4f5e-9a57-3c1f00000001"


def build_world(api: Api) -> dict[str, str]:
    """Project alice's objects, one of each kind (and the admin-made catalogue, a quota, a
    certificate, an amphora with stats, an agent host), all ACTIVE: their ids by path
    parameter name."""

    def create(path: str, key: str, body: dict[str, Any], headers: dict[str, str]) -> str:
        resp = api.post(path, json={key: body}, headers=headers)
        assert resp.status_code == 201, resp.text
        obj_id: str = resp.json()[key].get("id", "")
        activate(api)
        return obj_id

    v = "/v2/lbaas"
    ids: dict[str, str] = {}
    ids["lb_id"] = create(f"{v}/loadbalancers", "loadbalancer",
                          {"vip_subnet_id": LOOPBACK_SUBNET}, ALICE)
    ids["listener_id"] = create(f"{v}/listeners", "listener", {
        "loadbalancer_id": ids["lb_id"], "protocol": "HTTP", "protocol_port": 80}, ALICE)
    ids["pool_id"] = create(f"{v}/pools", "pool", {
        "listener_id": ids["listener_id"], "protocol": "HTTP",
        "lb_algorithm": "ROUND_ROBIN"}, ALICE)
    ids["member_id"] = create(f"{v}/pools/{ids['pool_id']}/members", "member",
                              {"address": "127.0.0.1", "protocol_port": 8080}, ALICE)
    ids["hm_id"] = create(f"{v}/healthmonitors", "healthmonitor", {
        "pool_id": ids["pool_id"], "type": "HTTP", "delay": 5, "timeout": 5,
        "max_retries": 3}, ALICE)
    ids["l7policy_id"] = create(f"{v}/l7policies", "l7policy", {
        "listener_id": ids["listener_id"], "action": "REJECT"}, ALICE)
    ids["l7rule_id"] = create(f"{v}/l7policies/{ids['l7policy_id']}/rules", "rule", {
        "type": "PATH", "compare_type": "STARTS_WITH", "value": "/a"}, ALICE)
    ids["flavorprofile_id"] = create(f"{v}/flavorprofiles", "flavorprofile", {
        "name": "fp", "provider_name": "noop", "flavor_data": "{}"}, ADMIN)
    ids["flavor_id"] = create(f"{v}/flavors", "flavor", {
        "name": "f", "flavor_profile_id": ids["flavorprofile_id"]}, ADMIN)
    ids["azprofile_id"] = create(f"{v}/availabilityzoneprofiles", "availability_zone_profile", {
        "name": "azp", "provider_name": "noop", "availability_zone_data": "{}"}, ADMIN)
    create(f"{v}/availabilityzones", "availability_zone", {
        "name": "az", "availability_zone_profile_id": ids["azprofile_id"]}, ADMIN)
    resp = api.put(f"{v}/quotas/alice", json={"quota": {"load_balancer": 10}}, headers=ADMIN)
    assert resp.status_code == 202, resp.text
    pem, key = self_signed()
    ids["pem"] = pem
    resp = api.post("/v2/statera/certificates", headers=ALICE,
                    json={"certificate": {"certificate": pem, "private_key": key}})
    assert resp.status_code == 201, resp.text
    ids["cert_id"] = resp.json()["certificate"]["id"]
    with api.db.session() as s:
        lb = s.get_one(m.LoadBalancer, ids["lb_id"])
        ids["port_id"] = str(lb.vip_port_id)
        amphora = m.Amphora(id=m.new_id(), load_balancer_id=lb.id, role="STANDALONE",
                            lb_network_ip="127.0.0.1")
        s.add(amphora)
        s.add(m.ListenerStatistics(listener_id=ids["listener_id"], amphora_id=amphora.id,
                                   bytes_in=1))
        ids["amphora_id"] = amphora.id
        s.add(m.AgentHost(name="agent-1", providers=["noop"], renewed_at=0.0))
        ids["host_name"] = "agent-1"
    return ids


def activate(api: Api) -> None:
    """What the provider's status report would do: every pending object becomes ACTIVE."""
    with api.db.session() as s:
        for model in (m.LoadBalancer, m.Listener, m.Pool, m.Member, m.HealthMonitor,
                      m.L7Policy, m.L7Rule):
            for row in s.scalars(select(model)):
                if str(row.provisioning_status).startswith("PENDING_"):
                    force_status(row, "ACTIVE")
