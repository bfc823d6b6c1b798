"""The noop provider agent end to end under a real DriverAgent: bus hint → get socket →
status socket → database, including a delete that the agent never reports explicitly."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from statera.agent.driver_agent import DriverAgent
from statera.agent.supervisor import entry_point_loader
from statera.bus.inprocess import InProcessBus
from statera.config import Settings
from statera.db import models as m
from statera.db.engine import Database
from tests.agent.conftest import build_graph, bump, make_settings, row, wait_for

OBJECTS = {
    "listener": m.Listener, "pool": m.Pool, "pool2": m.Pool, "member": m.Member,
    "member2": m.Member, "member3": m.Member, "hm": m.HealthMonitor, "l7policy": m.L7Policy,
    "l7rule": m.L7Rule, "lb": m.LoadBalancer,
}


@pytest.fixture
def settings(tmp_path: Any) -> Settings:
    # A long resync interval: convergence here must come from the hints.
    return make_settings(tmp_path, enabled_provider_agents=["noop"], resync_interval=300)


@pytest.fixture
def noop_agent(settings: Settings, database: Database, bus: InProcessBus) -> Iterator[DriverAgent]:
    agent = DriverAgent(settings, database, bus, agent_loader=entry_point_loader)
    agent.start()
    yield agent
    agent.stop()


def statuses(database: Database, ids: dict[str, str]) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for name, obj_id in ids.items():
        found = row(database, OBJECTS[name], obj_id)
        out[name] = found.provisioning_status if found is not None else None
    return out


def test_noop_agent_converges_a_graph_and_completes_a_delete(
    noop_agent: DriverAgent, database: Database, bus: InProcessBus
) -> None:
    assert noop_agent.supervisor.alive() == {"noop": True}
    g = build_graph(database, status="PENDING_CREATE")
    ids = g.ids()
    bus.publish("noop", g.lb)

    wait_for(lambda: set(statuses(database, ids).values()) == {"ACTIVE"},
             what="every object ACTIVE")
    lb = row(database, m.LoadBalancer, g.lb)
    # Octavia's noop mode: nothing carries traffic, so nothing is seen up.
    assert lb.operating_status == "OFFLINE"
    assert row(database, m.Listener, g.listener).operating_status == "OFFLINE"
    assert row(database, m.Member, g.member).operating_status == "NO_MONITOR"
    assert lb.applied_generation == lb.desired_generation == 1

    # What the API does for "listener delete": a new generation, the listener PENDING_DELETE.
    generation = bump(database, g.lb, (m.Listener, g.listener, "PENDING_DELETE"))
    bus.publish("noop", g.lb)

    wait_for(lambda: row(database, m.Listener, g.listener) is None, what="listener removed")
    wait_for(lambda: row(database, m.LoadBalancer, g.lb).provisioning_status == "ACTIVE",
             what="LB ACTIVE")
    lb = row(database, m.LoadBalancer, g.lb)
    assert lb.applied_generation == generation
    assert row(database, m.L7Policy, g.l7policy) is None  # went with its listener
    assert row(database, m.Pool, g.pool).provisioning_status == "ACTIVE"

    # And the load balancer itself: the agent is served nothing and reports DELETED.
    bump(database, g.lb)
    with database.session() as s:
        target = s.get(m.LoadBalancer, g.lb)
        assert target is not None
        target.provisioning_status = "PENDING_DELETE"
    bus.publish("noop", g.lb)
    wait_for(lambda: row(database, m.LoadBalancer, g.lb).provisioning_status == "DELETED",
             what="LB DELETED")
    assert row(database, m.Pool, g.pool) is None


def test_noop_operating_statuses_are_octavias_noop_mode() -> None:
    """What octavia-tempest-plugin expects with test_with_noop: nothing carrying traffic is
    seen up, members are NO_MONITOR even when disabled, the rest follows its admin state."""
    from types import SimpleNamespace

    from statera.providers.noop.agent import noop_operating

    up, down = SimpleNamespace(admin_state_up=True), SimpleNamespace(admin_state_up=False)
    assert {kind: noop_operating(kind, up) for kind in (
        "loadbalancers", "listeners", "pools", "members", "healthmonitors", "l7policies",
        "l7rules")} == {"loadbalancers": "OFFLINE", "listeners": "OFFLINE", "pools": "OFFLINE",
                        "members": "NO_MONITOR", "healthmonitors": "ONLINE",
                        "l7policies": "ONLINE", "l7rules": "ONLINE"}
    assert noop_operating("members", down) == "NO_MONITOR"
    assert noop_operating("healthmonitors", down) == noop_operating("l7rules", down) == "OFFLINE"
