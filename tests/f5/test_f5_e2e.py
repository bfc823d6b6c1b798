"""The f5 provider end to end: a real ``statera serve`` with ``[f5] url`` pointing at the
BIG-IP emulator, driven through openstacksdk with ``--provider f5``."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from statera.providers.f5 import declaration as decl
from statera.providers.f5.schema import validate
from tests.e2e.conftest import LOOPBACK_SUBNET, Server, running_server, wait_for
from tests.f5.bigip_emulator import BigIPEmulator

pytestmark = pytest.mark.e2e
TENANT = "Project_statera"  # noauth's default project


@pytest.fixture
def f5_server(tmp_path: Path, bigip: BigIPEmulator) -> Iterator[Server]:
    with running_server(tmp_path / "data", {
            "STATERA_F5__URL": bigip.url, "STATERA_F5__USERNAME": "admin",
            "STATERA_F5__PASSWORD": "f5-secret", "STATERA_F5__POLL_INTERVAL": "0.5",
            "STATERA_F5__TASK_TIMEOUT": "20",
            "STATERA_DRIVER_AGENT__RESYNC_INTERVAL": "5"}) as srv:
        yield srv


@pytest.fixture
def sdk(f5_server: Server) -> Any:
    import openstack

    return openstack.connection.Connection(
        auth_type="none", load_balancer_endpoint_override=f5_server.url,
        network_endpoint_override=f5_server.url)


def status_of(sdk: Any, lb_id: str) -> str:
    return str(sdk.load_balancer.get_load_balancer(lb_id).provisioning_status)


def wait_status(sdk: Any, lb_id: str, wanted: str, timeout: float = 30) -> None:
    wait_for(lambda: status_of(sdk, lb_id) == wanted, timeout=timeout,
             what=f"load balancer {lb_id} {wanted}")


def declared_app(bigip: BigIPEmulator, lb_id: str) -> dict[str, Any]:
    tenant = bigip.tenant(TENANT) or {}
    app: dict[str, Any] = tenant.get(decl.Names.app(lb_id), {})
    return app


def statuses(sdk: Any, lb_id: str) -> dict[str, str]:
    """id → operating status, from ``status show``."""
    tree = sdk.load_balancer.get(f"/lbaas/loadbalancers/{lb_id}/status").json()
    out: dict[str, str] = {}

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "id" in node and "operating_status" in node:
                out[node["id"]] = node["operating_status"]
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(tree)
    return out


def test_f5_is_listed_beside_the_default_providers(sdk: Any) -> None:
    names = {p.name for p in sdk.load_balancer.providers()}
    assert {"haproxy", "noop", "f5"} <= names


def test_lifecycle_declarations_health_and_statistics(sdk: Any, bigip: BigIPEmulator,
                                                      f5_server: Server) -> None:
    lbs = sdk.load_balancer
    lb = lbs.create_load_balancer(name="f5-lb", vip_subnet_id=LOOPBACK_SUBNET, provider="f5")
    wait_status(sdk, lb.id, "ACTIVE")
    listener = lbs.create_listener(load_balancer_id=lb.id, protocol="HTTP", protocol_port=80,
                                   connection_limit=500)
    pool = lbs.create_pool(listener_id=listener.id, protocol="HTTP",
                           lb_algorithm="LEAST_CONNECTIONS",
                           session_persistence={"type": "HTTP_COOKIE"})
    m1 = lbs.create_member(pool, address="192.0.2.11", protocol_port=8080)
    m2 = lbs.create_member(pool, address="192.0.2.12", protocol_port=8080, weight=3,
                           backup=True)
    hm = lbs.create_health_monitor(pool_id=pool.id, type="HTTP", delay=3, timeout=2,
                                   max_retries=2, url_path="/health")
    other = lbs.create_pool(loadbalancer_id=lb.id, protocol="HTTP", lb_algorithm="ROUND_ROBIN")
    lbs.create_member(other, address="192.0.2.50", protocol_port=9000)
    policy = lbs.create_l7_policy(listener_id=listener.id, action="REDIRECT_TO_POOL",
                                  redirect_pool_id=other.id, position=1)
    lbs.create_l7_rule(policy, type="PATH", compare_type="STARTS_WITH", value="/api")
    wait_for(lambda: status_of(sdk, lb.id) == "ACTIVE"
             and decl.Names.monitor(hm.id) in declared_app(bigip, lb.id)
             and decl.Names.pool(other.id) in declared_app(bigip, lb.id)
             and f"policy_{decl.Names.safe_id(listener.id)}" in declared_app(bigip, lb.id),
             timeout=30, what="everything declared and ACTIVE")
    for obj in (lbs.get_listener(listener.id), lbs.get_pool(pool.id),
                lbs.get_member(m1.id, pool), lbs.get_health_monitor(hm.id),
                lbs.get_l7_policy(policy.id)):
        assert obj.provisioning_status == "ACTIVE", obj

    app = declared_app(bigip, lb.id)
    validate(decl.declaration(TENANT, {decl.Names.app(lb.id): app}))
    service = app[decl.Names.service(listener.id)]
    assert service["virtualAddresses"] == [lb.vip_address]
    assert (service["virtualPort"], service["maxConnections"]) == (80, 500)
    assert service["persistenceMethods"] == ["cookie"]
    members = app[decl.Names.pool(pool.id)]["members"]
    assert [(m["serverAddresses"], m["ratio"], m["priorityGroup"]) for m in members] \
        == [(["192.0.2.11"], 1, 2), (["192.0.2.12"], 3, 1)]
    assert app[decl.Names.pool(pool.id)]["loadBalancingMode"] == "ratio-least-connections-member"

    # health from the device, rolled up, in ``status show``
    wait_for(lambda: statuses(sdk, lb.id).get(m1.id) == "ONLINE", what="member ONLINE")
    bigip.mark_member("192.0.2.11", 8080, up=False)
    wait_for(lambda: statuses(sdk, lb.id).get(m1.id) == "ERROR", what="member ERROR")
    tree = statuses(sdk, lb.id)
    assert (tree[m2.id], tree[pool.id], tree[lb.id]) == ("ONLINE", "DEGRADED", "DEGRADED")

    # statistics: absolute totals, bits → bytes
    bigip.set_virtual_counters(decl.Names.service(listener.id), bitsIn=80_000, bitsOut=160_000,
                               curConns=4, totConns=99)
    wait_for(lambda: lbs.get_listener_statistics(listener.id).bytes_in == 10_000,
             what="listener statistics")
    stats = lbs.get_listener_statistics(listener.id)
    assert (stats.bytes_out, stats.active_connections, stats.total_connections) \
        == (20_000, 4, 99)

    lbs.delete_load_balancer(lb.id, cascade=True)
    wait_for(lambda: lbs.find_load_balancer(lb.id, ignore_missing=True) is None,
             what="cascade delete")
    wait_for(lambda: bigip.tenant(TENANT) is None, what="tenant removed")
    assert TENANT in bigip.deletes
    assert "f5-secret" not in f5_server.log.read_text()


def test_device_refusal_is_error_then_a_fix_is_active(sdk: Any, bigip: BigIPEmulator,
                                                       f5_server: Server) -> None:
    lbs = sdk.load_balancer
    lb = lbs.create_load_balancer(vip_subnet_id=LOOPBACK_SUBNET, provider="f5")
    wait_status(sdk, lb.id, "ACTIVE")
    bigip.refuse_with = "01070734:3: Configuration error: emulated refusal"
    listener = lbs.create_listener(load_balancer_id=lb.id, protocol="TCP", protocol_port=5000)
    wait_status(sdk, lb.id, "ERROR")
    assert "emulated refusal" in f5_server.log.read_text()
    bigip.refuse_with = None
    lbs.update_listener(listener, connection_limit=10)
    wait_status(sdk, lb.id, "ACTIVE")
    assert declared_app(bigip, lb.id)[decl.Names.service(listener.id)]["class"] == "Service_TCP"


def test_unsupported_options_are_refused_by_the_api(sdk: Any) -> None:
    from openstack import exceptions

    lbs = sdk.load_balancer
    lb = lbs.create_load_balancer(vip_subnet_id=LOOPBACK_SUBNET, provider="f5")
    wait_status(sdk, lb.id, "ACTIVE")
    with pytest.raises(exceptions.HttpException) as refused:
        lbs.create_listener(load_balancer_id=lb.id, protocol="SCTP", protocol_port=5000)
    assert refused.value.status_code == 501
    listener = lbs.create_listener(load_balancer_id=lb.id, protocol="HTTP", protocol_port=80)
    with pytest.raises(exceptions.HttpException) as refused:
        lbs.create_pool(listener_id=listener.id, protocol="HTTP",
                        lb_algorithm="SOURCE_IP_PORT")
    assert refused.value.status_code == 501
    wait_status(sdk, lb.id, "ACTIVE")


def test_member_burst_is_coalesced(sdk: Any, bigip: BigIPEmulator) -> None:
    bigip.declare_delay = 0.3
    lbs = sdk.load_balancer
    lb = lbs.create_load_balancer(vip_subnet_id=LOOPBACK_SUBNET, provider="f5")
    wait_status(sdk, lb.id, "ACTIVE")
    pool = lbs.create_pool(loadbalancer_id=lb.id, protocol="TCP", lb_algorithm="ROUND_ROBIN")
    wait_status(sdk, lb.id, "ACTIVE")
    before = bigip.declarations_for(TENANT)
    for i in range(100):
        lbs.create_member(pool, address=f"192.0.2.{i + 1}", protocol_port=8080)
    wait_for(lambda: status_of(sdk, lb.id) == "ACTIVE"
             and len(declared_app(bigip, lb.id).get(decl.Names.pool(pool.id), {})
                     .get("members", [])) == 100, timeout=60, what="100 members declared")
    sent = bigip.declarations_for(TENANT) - before
    assert sent < 40, f"{sent} declarations for 100 member changes"


def test_outage_then_resync(sdk: Any, bigip: BigIPEmulator) -> None:
    lbs = sdk.load_balancer
    lb = lbs.create_load_balancer(vip_subnet_id=LOOPBACK_SUBNET, provider="f5")
    wait_status(sdk, lb.id, "ACTIVE")
    pool = lbs.create_pool(loadbalancer_id=lb.id, protocol="TCP", lb_algorithm="ROUND_ROBIN")
    wait_status(sdk, lb.id, "ACTIVE")
    bigip.unreachable = True
    member = lbs.create_member(pool, address="192.0.2.77", protocol_port=80)
    wait_status(sdk, lb.id, "ERROR")
    bigip.tenants.pop(TENANT, None)  # the device lost everything while away
    bigip.tenants["Project_gone"] = {"class": "Tenant"}
    time.sleep(0.5)
    bigip.unreachable = False
    wait_status(sdk, lb.id, "ACTIVE")
    assert lbs.get_member(member.id, pool).provisioning_status == "ACTIVE"
    members = declared_app(bigip, lb.id)[decl.Names.pool(pool.id)]["members"]
    assert [m["serverAddresses"] for m in members] == [["192.0.2.77"]]
    wait_for(lambda: bigip.tenant("Project_gone") is None, what="stray tenant removed")
