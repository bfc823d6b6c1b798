"""Status socket through octavia-lib's real DriverLibrary: Octavia's semantics plus Statera's
generation rule. Every assertion reads the database afterwards."""

from __future__ import annotations

import pytest
from octavia_lib.api.drivers import driver_lib
from octavia_lib.api.drivers import exceptions as lib_exc

from statera.agent.driver_agent import DriverAgent
from statera.bus.inprocess import InProcessBus
from statera.db import models as m
from statera.db.engine import Database
from tests.agent.conftest import Graph, VipReleases, build_graph, bump, row, update

KINDS = {
    "loadbalancers": (m.LoadBalancer, "lb"),
    "listeners": (m.Listener, "listener"),
    "pools": (m.Pool, "pool"),
    "members": (m.Member, "member"),
    "healthmonitors": (m.HealthMonitor, "hm"),
    "l7policies": (m.L7Policy, "l7policy"),
    "l7rules": (m.L7Rule, "l7rule"),
}


def test_every_object_type_gets_its_statuses(
    lib: driver_lib.DriverLibrary, database: Database
) -> None:
    g = build_graph(database, status="PENDING_UPDATE")
    report = {
        kind: [{"id": getattr(g, attr), "provisioning_status": "ACTIVE",
                "operating_status": "ONLINE"}]
        for kind, (_model, attr) in KINDS.items()
    }
    lib.update_loadbalancer_status(report)
    for model, attr in KINDS.values():
        current = row(database, model, getattr(g, attr))
        assert (current.provisioning_status, current.operating_status) == ("ACTIVE", "ONLINE")
        assert current.updated_at is not None
    # Objects not mentioned are unchanged.
    assert row(database, m.Member, g.member2).provisioning_status == "PENDING_UPDATE"


def test_operating_status_alone_and_empty_values(
    lib: driver_lib.DriverLibrary, database: Database, graph: Graph
) -> None:
    lib.update_loadbalancer_status({"members": [
        {"id": graph.member, "operating_status": "ERROR"},
        {"id": graph.member2, "operating_status": "DRAINING", "provisioning_status": ""},
    ]})
    assert row(database, m.Member, graph.member).operating_status == "ERROR"
    member2 = row(database, m.Member, graph.member2)
    assert (member2.provisioning_status, member2.operating_status) == ("ACTIVE", "DRAINING")


def test_invalid_status_is_refused_with_the_record(
    lib: driver_lib.DriverLibrary, database: Database, graph: Graph
) -> None:
    with pytest.raises(lib_exc.UpdateStatusError) as caught:
        lib.update_loadbalancer_status(
            {"pools": [{"id": graph.pool, "provisioning_status": "SPLENDID"}]})
    assert caught.value.status_object == "pools"
    assert caught.value.status_object_id == graph.pool
    assert "SPLENDID" in caught.value.fault_string
    assert caught.value.status_record == {"id": graph.pool, "provisioning_status": "SPLENDID"}
    with pytest.raises(lib_exc.UpdateStatusError, match="operating_status"):
        lib.update_loadbalancer_status(
            {"listeners": [{"id": graph.listener, "operating_status": "SLEEPY"}]})
    assert row(database, m.Pool, graph.pool).provisioning_status == "ACTIVE"
    assert row(database, m.Listener, graph.listener).operating_status == "OFFLINE"


def test_missing_id_is_refused(lib: driver_lib.DriverLibrary, graph: Graph) -> None:
    with pytest.raises(lib_exc.UpdateStatusError) as caught:
        lib.update_loadbalancer_status({"members": [{"provisioning_status": "ACTIVE"}]})
    assert caught.value.status_object == "members"
    assert caught.value.status_object_id is None
    assert "id" in caught.value.fault_string


def test_unknown_ids_are_ignored(lib: driver_lib.DriverLibrary, graph: Graph) -> None:
    lib.update_loadbalancer_status({
        kind: [{"id": "00000000-0000-0000-0000-000000000000", "provisioning_status": status}]
        for kind in KINDS for status in ("ACTIVE",)
    })
    lib.update_loadbalancer_status({
        kind: [{"id": "00000000-0000-0000-0000-000000000000", "provisioning_status": "DELETED"}]
        for kind in KINDS
    })


def test_first_failure_stops_the_batch_and_earlier_records_stay(
    lib: driver_lib.DriverLibrary, database: Database
) -> None:
    g = build_graph(database, status="PENDING_UPDATE")
    with pytest.raises(lib_exc.UpdateStatusError) as caught:
        lib.update_loadbalancer_status({
            # pools are processed after members whatever the key order in the request
            "pools": [{"id": g.pool, "provisioning_status": "ACTIVE"}],
            "members": [
                {"id": g.member, "provisioning_status": "ACTIVE"},
                {"id": g.member2, "provisioning_status": "bogus"},
                {"id": g.member3, "provisioning_status": "ACTIVE"},
            ],
        })
    assert caught.value.status_object_id == g.member2
    assert row(database, m.Member, g.member).provisioning_status == "ACTIVE"
    assert row(database, m.Member, g.member3).provisioning_status == "PENDING_UPDATE"
    assert row(database, m.Pool, g.pool).provisioning_status == "PENDING_UPDATE"


# DELETED ------------------------------------------------------------------------------------


def test_deleted_member_healthmonitor_and_l7rule_rows_are_removed(
    lib: driver_lib.DriverLibrary, database: Database, graph: Graph
) -> None:
    with database.session() as s:
        s.add(m.Tag(resource_id=graph.member, tag="web"))
    lib.update_loadbalancer_status({
        "members": [{"id": graph.member, "provisioning_status": "DELETED",
                     "operating_status": "ONLINE"}],
        "healthmonitors": [{"id": graph.hm, "provisioning_status": "DELETED"}],
        "l7rules": [{"id": graph.l7rule, "provisioning_status": "DELETED"}],
    })
    assert row(database, m.Member, graph.member) is None
    assert row(database, m.HealthMonitor, graph.hm) is None
    assert row(database, m.L7Rule, graph.l7rule) is None
    assert row(database, m.Tag, (graph.member, "web")) is None
    assert row(database, m.Member, graph.member2) is not None
    assert row(database, m.L7Policy, graph.l7policy) is not None


def test_deleted_pool_takes_members_and_monitor_and_clears_references(
    lib: driver_lib.DriverLibrary, database: Database, graph: Graph
) -> None:
    lib.update_loadbalancer_status({
        "pools": [{"id": graph.pool, "provisioning_status": "DELETED"},
                  {"id": graph.pool2, "provisioning_status": "DELETED"}],
    })
    for model, obj_id in ((m.Pool, graph.pool), (m.Pool, graph.pool2), (m.Member, graph.member),
                          (m.Member, graph.member2), (m.Member, graph.member3),
                          (m.HealthMonitor, graph.hm)):
        assert row(database, model, obj_id) is None
    listener = row(database, m.Listener, graph.listener)
    assert listener.default_pool_id is None
    policy = row(database, m.L7Policy, graph.l7policy)
    assert (policy.redirect_pool_id, policy.action) == (None, "REJECT")


def test_deleted_listener_takes_its_policies_rules_and_statistics(
    lib: driver_lib.DriverLibrary, database: Database, graph: Graph
) -> None:
    lib.update_listener_statistics({"listeners": [
        {"id": graph.listener, "bytes_in": 1, "bytes_out": 2, "active_connections": 3,
         "total_connections": 4, "request_errors": 5}]})
    lib.update_loadbalancer_status(
        {"listeners": [{"id": graph.listener, "provisioning_status": "DELETED"}]})
    assert row(database, m.Listener, graph.listener) is None
    assert row(database, m.L7Policy, graph.l7policy) is None
    assert row(database, m.L7Rule, graph.l7rule) is None
    assert row(database, m.ListenerStatistics, (graph.listener, graph.listener)) is None
    assert row(database, m.Pool, graph.pool) is not None  # pools belong to the LB


def test_deleted_l7policy_takes_its_rules(
    lib: driver_lib.DriverLibrary, database: Database, graph: Graph
) -> None:
    lib.update_loadbalancer_status(
        {"l7policies": [{"id": graph.l7policy, "provisioning_status": "DELETED"}]})
    assert row(database, m.L7Policy, graph.l7policy) is None
    assert row(database, m.L7Rule, graph.l7rule) is None
    assert row(database, m.Listener, graph.listener) is not None


def test_deleted_load_balancer_is_kept_as_tombstone_and_its_vip_released(
    lib: driver_lib.DriverLibrary, database: Database, graph: Graph, vip_releases: VipReleases
) -> None:
    lib.update_loadbalancer_status({"amphorae": [
        {"id": "amp-1", "loadbalancer_id": graph.lb, "status": "ALLOCATED"}]})
    lib.update_loadbalancer_status(
        {"loadbalancers": [{"id": graph.lb, "provisioning_status": "DELETED"}]})
    lb = row(database, m.LoadBalancer, graph.lb)
    assert lb.provisioning_status == "DELETED"
    assert row(database, m.Amphora, "amp-1") is None
    # A late report (a health poll that raced the delete) does not bring the amphora back.
    lib.update_loadbalancer_status({"amphorae": [
        {"id": "amp-1", "loadbalancer_id": graph.lb, "status": "ALLOCATED"}]})
    assert row(database, m.Amphora, "amp-1") is None
    assert vip_releases.lb_ids == [graph.lb]
    for attr, (model, _) in zip(
        ("listener", "pool", "member", "hm", "l7policy", "l7rule"),
        (KINDS["listeners"], KINDS["pools"], KINDS["members"], KINDS["healthmonitors"],
         KINDS["l7policies"], KINDS["l7rules"]),
        strict=True,
    ):
        assert row(database, model, getattr(graph, attr)) is None
    assert row(database, m.Amphora, "amp-1") is None
    # A tombstone: a late report neither resurrects it nor releases the VIP again.
    lib.update_loadbalancer_status({"loadbalancers": [
        {"id": graph.lb, "provisioning_status": "ACTIVE", "operating_status": "ONLINE"}]})
    lib.update_loadbalancer_status(
        {"loadbalancers": [{"id": graph.lb, "provisioning_status": "DELETED"}]})
    lb = row(database, m.LoadBalancer, graph.lb)
    assert (lb.provisioning_status, lb.operating_status) == ("DELETED", "OFFLINE")
    assert vip_releases.lb_ids == [graph.lb]


# Generations --------------------------------------------------------------------------------


def test_active_for_an_object_newer_than_what_was_served_is_not_applied(
    lib: driver_lib.DriverLibrary, database: Database, graph: Graph
) -> None:
    assert lib.get_loadbalancer(graph.lb) is not None  # serves generation 1
    bump(database, graph.lb, (m.Member, graph.member, "PENDING_UPDATE"))  # generation 2
    lib.update_loadbalancer_status({"members": [
        {"id": graph.member, "provisioning_status": "ACTIVE", "operating_status": "ONLINE"},
        {"id": graph.member2, "provisioning_status": "ACTIVE", "operating_status": "ONLINE"},
    ]})
    member = row(database, m.Member, graph.member)
    assert (member.provisioning_status, member.operating_status) == ("PENDING_UPDATE", "ONLINE")
    member2 = row(database, m.Member, graph.member2)
    assert (member2.provisioning_status, member2.operating_status) == ("ACTIVE", "ONLINE")
    # Once generation 2 is served, the same report completes it.
    assert lib.get_loadbalancer(graph.lb) is not None
    lib.update_loadbalancer_status(
        {"members": [{"id": graph.member, "provisioning_status": "ACTIVE"}]})
    assert row(database, m.Member, graph.member).provisioning_status == "ACTIVE"


def test_active_never_revives_an_object_pending_deletion(
    lib: driver_lib.DriverLibrary, database: Database, graph: Graph
) -> None:
    bump(database, graph.lb, (m.Member, graph.member, "PENDING_DELETE"))
    assert lib.get_loadbalancer(graph.lb) is not None
    lib.update_loadbalancer_status(
        {"members": [{"id": graph.member, "provisioning_status": "ACTIVE"}]})
    assert row(database, m.Member, graph.member).provisioning_status == "PENDING_DELETE"


def test_load_balancer_active_finalises_every_pending_child_it_was_served(
    lib: driver_lib.DriverLibrary, database: Database, graph: Graph, agent: DriverAgent
) -> None:
    bump(database, graph.lb,
         (m.Member, graph.member, "PENDING_CREATE"),
         (m.Listener, graph.listener, "PENDING_UPDATE"),
         (m.HealthMonitor, graph.hm, "PENDING_DELETE"),
         (m.L7Policy, graph.l7policy, "PENDING_DELETE"),
         (m.L7Rule, graph.l7rule, "PENDING_UPDATE"))
    assert lib.get_loadbalancer(graph.lb) is not None
    # The provider reports only the load balancer (it forgot what it deleted).
    lib.update_loadbalancer_status({"loadbalancers": [
        {"id": graph.lb, "provisioning_status": "ACTIVE", "operating_status": "ONLINE"}]})
    lb = row(database, m.LoadBalancer, graph.lb)
    assert (lb.provisioning_status, lb.operating_status) == ("ACTIVE", "ONLINE")
    assert lb.applied_generation == lb.desired_generation == agent.served.get(graph.lb) == 2
    assert row(database, m.Member, graph.member).provisioning_status == "ACTIVE"
    assert row(database, m.Listener, graph.listener).provisioning_status == "ACTIVE"
    assert row(database, m.HealthMonitor, graph.hm) is None
    assert row(database, m.L7Policy, graph.l7policy) is None
    assert row(database, m.L7Rule, graph.l7rule) is None


def test_a_load_balancer_that_becomes_active_gets_an_updated_at(
    lib: driver_lib.DriverLibrary, database: Database, graph: Graph
) -> None:
    """Octavia's clients (tempest's load balancer tests) read ``updated_at`` once a load
    balancer is ACTIVE. The applied generation alone already makes it read ACTIVE, so the
    change of status must still be seen and stamped."""
    bump(database, graph.lb)
    # The operating status does not change (a noop provider reports OFFLINE throughout), so
    # only the provisioning status can account for the new updated_at.
    update(database, m.LoadBalancer, graph.lb, updated_at=None, operating_status="OFFLINE")
    assert row(database, m.LoadBalancer, graph.lb).provisioning_status == "PENDING_UPDATE"
    assert lib.get_loadbalancer(graph.lb) is not None
    lib.update_loadbalancer_status({"loadbalancers": [
        {"id": graph.lb, "provisioning_status": "ACTIVE", "operating_status": "OFFLINE"}]})
    lb = row(database, m.LoadBalancer, graph.lb)
    assert lb.provisioning_status == "ACTIVE"
    assert lb.updated_at is not None


def test_load_balancer_active_with_a_newer_change_pending_stays_pending_and_rehints(
    lib: driver_lib.DriverLibrary, database: Database, graph: Graph, bus: InProcessBus
) -> None:
    hints = bus.subscribe("noop")
    bump(database, graph.lb, (m.Member, graph.member, "PENDING_CREATE"))
    assert lib.get_loadbalancer(graph.lb) is not None  # serves generation 2
    bump(database, graph.lb, (m.Member, graph.member2, "PENDING_UPDATE"))  # generation 3
    lib.update_loadbalancer_status(
        {"loadbalancers": [{"id": graph.lb, "provisioning_status": "ACTIVE"}]})
    lb = row(database, m.LoadBalancer, graph.lb)
    assert (lb.provisioning_status, lb.applied_generation, lb.desired_generation) == (
        "PENDING_UPDATE", 2, 3)
    assert hints.get(timeout=2) == graph.lb
    # What generation 2 carried is done; generation 3's change is not.
    assert row(database, m.Member, graph.member).provisioning_status == "ACTIVE"
    assert row(database, m.Member, graph.member2).provisioning_status == "PENDING_UPDATE"
    # A provider repeating the stale report does not start a hint storm.
    lib.update_loadbalancer_status(
        {"loadbalancers": [{"id": graph.lb, "provisioning_status": "ACTIVE"}]})
    assert hints.get(timeout=0.2) is None
    hints.close()


def test_load_balancer_error_fails_the_served_pending_children_only(
    lib: driver_lib.DriverLibrary, database: Database, graph: Graph, bus: InProcessBus
) -> None:
    hints = bus.subscribe("noop")
    bump(database, graph.lb, (m.Member, graph.member, "PENDING_CREATE"))
    assert lib.get_loadbalancer(graph.lb) is not None
    bump(database, graph.lb, (m.Pool, graph.pool2, "PENDING_UPDATE"))
    lib.update_loadbalancer_status(
        {"loadbalancers": [{"id": graph.lb, "provisioning_status": "ERROR"}]})
    assert row(database, m.LoadBalancer, graph.lb).provisioning_status == "ERROR"
    assert row(database, m.Member, graph.member).provisioning_status == "ERROR"
    assert row(database, m.Pool, graph.pool2).provisioning_status == "PENDING_UPDATE"
    assert row(database, m.Member, graph.member2).provisioning_status == "ACTIVE"
    assert hints.get(timeout=2) == graph.lb  # the unseen change may still succeed
    hints.close()


def test_without_a_served_generation_reports_apply_as_in_octavia(
    lib: driver_lib.DriverLibrary, database: Database
) -> None:
    g = build_graph(database, status="PENDING_CREATE")
    update(database, m.LoadBalancer, g.lb, desired_generation=5)
    lib.update_loadbalancer_status({
        "members": [{"id": g.member, "provisioning_status": "ACTIVE"}],
        "loadbalancers": [{"id": g.lb, "provisioning_status": "ACTIVE"}],
    })
    lb = row(database, m.LoadBalancer, g.lb)
    assert (lb.provisioning_status, lb.applied_generation) == ("ACTIVE", 5)
    assert row(database, m.Member, g.member).provisioning_status == "ACTIVE"
    # Octavia does not complete what the provider did not report.
    assert row(database, m.Member, g.member2).provisioning_status == "PENDING_CREATE"


# Amphorae extension -------------------------------------------------------------------------


def test_amphorae_are_upserted_and_deleted(
    lib: driver_lib.DriverLibrary, database: Database, graph: Graph
) -> None:
    lib.update_loadbalancer_status({"amphorae": [{
        "id": "amp-1", "loadbalancer_id": graph.lb, "status": "BOOTING", "compute_id": "pid-7",
        "lb_network_ip": "127.0.0.1", "role": "STANDALONE",
        "cert_expiration": "2030-01-02T03:04:05", "something_else": "ignored",
    }]})
    amp = row(database, m.Amphora, "amp-1")
    assert (amp.load_balancer_id, amp.status, amp.compute_id, amp.role) == (
        graph.lb, "BOOTING", "pid-7", "STANDALONE")
    assert amp.cert_expiration.year == 2030
    lib.update_loadbalancer_status(
        {"amphorae": [{"id": "amp-1", "status": "ALLOCATED", "compute_id": "pid-8"}]})
    amp = row(database, m.Amphora, "amp-1")
    assert (amp.status, amp.compute_id, amp.lb_network_ip) == ("ALLOCATED", "pid-8", "127.0.0.1")
    assert amp.updated_at is not None
    with pytest.raises(lib_exc.UpdateStatusError) as caught:
        lib.update_loadbalancer_status({"amphorae": [{"id": "amp-1", "status": "HAPPY"}]})
    assert caught.value.status_object == "amphorae"
    with pytest.raises(lib_exc.UpdateStatusError, match="vrrp_priority"):
        lib.update_loadbalancer_status({"amphorae": [{"id": "amp-1", "vrrp_priority": "high"}]})
    lib.update_loadbalancer_status({"amphorae": [{"id": "amp-1", "status": "DELETED"}]})
    assert row(database, m.Amphora, "amp-1") is None
