"""The full lifecycle of every resource through openstacksdk against a running server."""

from __future__ import annotations

from typing import Any

from tests.e2e.conftest import LOOPBACK_SUBNET, wait_for


def _active(sdk: Any, lb_id: str) -> Any:
    return wait_for(
        lambda: (lb := sdk.load_balancer.get_load_balancer(lb_id)).provisioning_status
        == "ACTIVE" and lb, what=f"load balancer {lb_id} ACTIVE")


def test_every_resource_through_the_sdk(sdk: Any) -> None:
    lbs = sdk.load_balancer
    lb = lbs.create_load_balancer(name="sdk-lb", vip_subnet_id=LOOPBACK_SUBNET, tags=["e2e"])
    assert lb.provisioning_status == "PENDING_CREATE"
    lb = _active(sdk, lb.id)
    assert lb.operating_status == "OFFLINE"  # noop: no data plane, as in Octavia's noop mode
    assert lbs.find_load_balancer("sdk-lb").id == lb.id

    listener = lbs.create_listener(name="l1", load_balancer_id=lb.id, protocol="HTTP",
                                   protocol_port=80)
    pool = lbs.create_pool(name="p1", listener_id=listener.id, protocol="HTTP",
                           lb_algorithm="ROUND_ROBIN")
    m1 = lbs.create_member(pool, address="127.0.0.1", protocol_port=8001, name="m1")
    m2 = lbs.create_member(pool, address="127.0.0.1", protocol_port=8002, name="m2", weight=5)
    hm = lbs.create_health_monitor(pool_id=pool.id, type="HTTP", delay=2, timeout=1,
                                   max_retries=2, name="hm")
    policy = lbs.create_l7_policy(listener_id=listener.id, action="REJECT", name="pol")
    rule = lbs.create_l7_rule(policy, type="PATH", compare_type="STARTS_WITH", value="/admin")
    _active(sdk, lb.id)
    for obj in (lbs.get_listener(listener.id), lbs.get_pool(pool.id),
                lbs.get_member(m1.id, pool), lbs.get_member(m2.id, pool),
                lbs.get_health_monitor(hm.id), lbs.get_l7_policy(policy.id),
                lbs.get_l7_rule(rule.id, policy)):
        assert obj.provisioning_status == "ACTIVE", obj
    assert lbs.get_member(m1.id, pool).operating_status == "NO_MONITOR"

    # The SDK's member query mapping has no sort keys; sort through its HTTP session.
    sorted_members = lbs.get(f"/lbaas/pools/{pool.id}/members?sort=name:desc").json()
    assert [m["name"] for m in sorted_members["members"]] == ["m2", "m1"]
    assert [m.id for m in lbs.members(pool, weight=5)] == [m2.id]
    assert lbs.find_listener("l1").id == listener.id
    assert lbs.find_pool("p1").id == pool.id

    lbs.update_listener(listener, name="l1-renamed", connection_limit=100)
    lbs.update_member(m2, pool, weight=0)
    lbs.update_pool(pool, lb_algorithm="LEAST_CONNECTIONS")
    _active(sdk, lb.id)
    assert lbs.get_listener(listener.id).connection_limit == 100
    assert lbs.get_member(m2.id, pool).weight == 0

    tree = lbs.get_load_balancer_statistics(lb.id)
    assert tree.bytes_in == 0
    lbs.delete_l7_rule(rule, policy)
    lbs.delete_member(m1, pool)
    _active(sdk, lb.id)
    assert [m.id for m in lbs.members(pool)] == [m2.id]
    assert list(lbs.l7_rules(policy)) == []

    lbs.delete_load_balancer(lb.id, cascade=True)
    wait_for(lambda: lbs.find_load_balancer(lb.id, ignore_missing=True) is None,
             what="cascade delete")
    assert list(lbs.pools()) == [] and list(lbs.listeners()) == []


def test_pagination_through_the_sdk(sdk: Any) -> None:
    lbs = sdk.load_balancer
    ids = {lbs.create_load_balancer(name=f"page-{i}", vip_subnet_id=LOOPBACK_SUBNET).id
           for i in range(7)}
    seen = [lb.id for lb in lbs.load_balancers(limit=3, paginated=True)]
    assert set(seen) == ids and len(seen) == 7
