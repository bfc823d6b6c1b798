"""A restart in the middle of a change: nothing stays PENDING_* once the server is back."""

from __future__ import annotations

from typing import Any

from tests.e2e.conftest import LOOPBACK_SUBNET, Server, wait_for


def test_pending_changes_converge_after_restart(server: Server) -> None:
    import openstack

    # Restart with no provider agents: writes are accepted but nothing converges, which is
    # what a crash right after the API committed looks like.
    server.stop()
    server.start(STATERA_DRIVER_AGENT__ENABLED_PROVIDER_AGENTS="[]")
    sdk: Any = openstack.connection.Connection(
        auth_type="none", load_balancer_endpoint_override=server.url)
    lbs = sdk.load_balancer
    lb = lbs.create_load_balancer(name="r", vip_subnet_id=LOOPBACK_SUBNET)
    keep = lbs.create_listener(load_balancer_id=lb.id, protocol="HTTP", protocol_port=80)
    drop = lbs.create_listener(load_balancer_id=lb.id, protocol="TCP", protocol_port=81)
    pool = lbs.create_pool(listener_id=keep.id, protocol="HTTP", lb_algorithm="ROUND_ROBIN")
    lbs.create_member(pool, address="127.0.0.1", protocol_port=9000)
    lbs.delete_listener(drop.id)
    gone = lbs.create_load_balancer(name="gone", vip_subnet_id=LOOPBACK_SUBNET)
    lbs.delete_load_balancer(gone.id)
    assert lbs.get_load_balancer(lb.id).provisioning_status == "PENDING_CREATE"
    server.stop()  # SIGTERM mid-change

    server.start()
    wait_for(lambda: lbs.get_load_balancer(lb.id).provisioning_status == "ACTIVE",
             what="LB ACTIVE after restart")
    assert lbs.find_listener(drop.id, ignore_missing=True) is None
    assert lbs.get_listener(keep.id).provisioning_status == "ACTIVE"
    assert lbs.get_pool(pool.id).provisioning_status == "ACTIVE"
    assert all(m.provisioning_status == "ACTIVE" for m in lbs.members(pool))
    assert lbs.find_load_balancer(gone.id, ignore_missing=True) is None
    pending = [x for x in lbs.load_balancers() if x.provisioning_status.startswith("PENDING")]
    assert pending == []
