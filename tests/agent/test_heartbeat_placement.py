"""A host's heartbeat placement pass: what its quick check finds (new and stranded load
balancers) is placed without a pass over every load balancer; what the check cannot see (an
ACTIVE_STANDBY pair missing its second host) waits for a full pass, which comes when the hosts
change and every ``FULL_PASS_EVERY`` beats."""

from __future__ import annotations

import time
from typing import Any

from statera.agent.hosts import FULL_PASS_EVERY, HostLease
from statera.config import AgentSettings, Settings
from statera.controller import placement
from statera.db import models as m
from statera.db.engine import Database
from tests.agent.conftest import build_graph


def _lease(tmp_path: Any, database: Database, hints: list[tuple[str, str]]) -> HostLease:
    settings = Settings(data_dir=str(tmp_path), agent=AgentSettings(host="h1"))
    return HostLease(settings, database, ["noop"],
                     hint=lambda provider, lb_id: hints.append((provider, lb_id)))


def _hosts(database: Database, lb_id: str) -> list[str]:
    with database.read_session() as s:
        return sorted(placement.hosts_of(s, lb_id))


def _active_standby(database: Database) -> str:
    with database.session() as s:
        profile = m.FlavorProfile(name="as", provider_name="noop",
                                  flavor_data='{"loadbalancer_topology": "ACTIVE_STANDBY"}')
        s.add(profile)
        s.flush()
        flavor = m.Flavor(name="as", flavor_profile_id=profile.id, enabled=True)
        s.add(flavor)
        s.flush()
        flavor_id = flavor.id
    return build_graph(database, flavor_id=flavor_id).lb


def test_a_beat_places_what_its_check_finds(tmp_path: Any, database: Database) -> None:
    hints: list[tuple[str, str]] = []
    lease = _lease(tmp_path, database, hints)
    lease.register()
    pair = _active_standby(database)
    lease.place()  # the first beat sees the hosts for the first time: a full pass
    assert _hosts(database, pair) == ["h1"]  # one host: the pair waits for its second

    with database.session() as s:
        s.add(m.AgentHost(name="h2", providers=["other"], renewed_at=time.time(),
                          down_after=10.0))
    lease.place()  # the hosts changed (h2 came, though it runs nothing of ours): full pass
    hints.clear()
    new = build_graph(database).lb
    with database.read_session() as s:
        assert placement.pending(s).lb_ids == [new]
    lease.place()
    assert _hosts(database, new) == ["h1"] and hints == [("noop", new)]

    # h2 now runs noop too: the check finds nothing, but the hosts changed, so the pass is
    # full and the pair gets its second host.
    with database.session() as s:
        s.get(m.AgentHost, "h2").providers = ["noop"]  # type: ignore[union-attr]
    with database.read_session() as s:
        assert placement.pending(s).lb_ids == []
    lease.place()
    assert _hosts(database, pair) == ["h1", "h2"]


def test_a_quiet_beat_leaves_placement_to_the_periodic_full_pass(
        tmp_path: Any, database: Database) -> None:
    hints: list[tuple[str, str]] = []
    lease = _lease(tmp_path, database, hints)
    lease.register()
    lease.place()
    pair = _active_standby(database)
    with database.session() as s:  # placed on h1 alone, as when h2 was away
        s.add(m.Amphora(load_balancer_id=pair, compute_id="h1", role="MASTER",
                        status="ALLOCATED"))
        s.add(m.AgentHost(name="h2", providers=["noop"], renewed_at=time.time(),
                          down_after=10.0))
    lease.place()  # the hosts changed: full pass, the pair gets h2
    assert _hosts(database, pair) == ["h1", "h2"]

    with database.session() as s:  # the BACKUP is lost without the hosts changing
        for amp in s.query(m.Amphora).filter_by(load_balancer_id=pair, compute_id="h2"):
            s.delete(amp)
    beats = 0
    while _hosts(database, pair) != ["h1", "h2"]:
        lease.place()
        beats += 1
        assert beats <= FULL_PASS_EVERY
    assert beats > 1  # not on the next beat: a quiet one reads only what its check found
