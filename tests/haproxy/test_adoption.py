"""A new agent adopts the HAProxy processes an earlier one left running (data planes outlive
the agent): same pid, no reload, health and changes keep working; only what is wrong is
replaced, and what the database no longer has is stopped.

Each "agent" is a converger on the same state directory, as two successive ``statera serve``
processes are; the first is closed as an agent stopping closes it (its processes stay).
"""

from __future__ import annotations

import collections
import os
import signal
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from statera.config import settings_class
from statera.providers.haproxy import render, view
from statera.providers.haproxy.converger import HAProxyConverger
from tests.haproxy.helpers import (
    Recorder,
    first_checks_done,
    get,
    haproxy_pids,
    member,
    monitor,
    simple_lb,
    tick,
    wait_for,
)


@pytest.fixture
def next_agent(tmp_path: Path, state_dir: Path,
               converger: HAProxyConverger) -> Iterator[Callable[[], HAProxyConverger]]:
    """Closes the running agent (``converger``) and starts another on the same state
    directory; the ``converger`` fixture's teardown stops every process there."""
    made: list[HAProxyConverger] = []

    def start() -> HAProxyConverger:
        (made[-1] if made else converger).close()
        settings = settings_class()(data_dir=str(tmp_path))
        settings = settings.model_copy(update={"haproxy": settings.haproxy.model_copy(
            update={"health_poll_interval": 0.2, "stats_interval": 0.2})})
        made.append(HAProxyConverger(settings, state_dir))
        return made[-1]

    yield start
    for conv in made:
        conv.close()


def test_a_new_agent_adopts_the_running_haproxy(converger, next_agent, backends):
    lb, vip, port = simple_lb([member(backends("a"))])
    converger.converge(lb.loadbalancer_id, lb)
    pid = converger.instance(lb.loadbalancer_id).pid()

    agent = next_agent()
    assert get(vip, port)[1] == "a"  # served while no agent converged anything
    report = agent.converge(lb.loadbalancer_id, lb)

    inst = agent.instance(lb.loadbalancer_id)
    assert inst.pid() == pid
    assert report["loadbalancers"][0]["provisioning_status"] == "ACTIVE"
    assert report["amphorae"][0]["compute_id"] == str(pid)
    assert agent.counters(lb.loadbalancer_id) == {
        "starts": 1, "reloads": 0, "restarts": 0, "runtime_updates": 0, "rejected": 0,
        "failovers": 0, "adoptions": 1}
    agent.converge(lb.loadbalancer_id, lb)  # adopted once per agent, not per converge
    assert agent.counters(lb.loadbalancer_id)["adoptions"] == 1


def test_health_of_an_adopted_haproxy_is_observed_and_a_killed_one_restarted(
        converger, next_agent, backends):
    a, b = backends("a"), backends("b")
    ma, mb = member(a), member(b)
    lb, vip, port = simple_lb([ma, mb], healthmonitor=monitor("HTTP", url_path="/",
                                                              expected_codes="200"))
    converger.converge(lb.loadbalancer_id, lb)
    first_checks_done(converger, lb.loadbalancer_id)
    agent = next_agent()
    agent.converge(lb.loadbalancer_id, lb)
    rec = Recorder()
    b.stop()
    wait_for(lambda: (tick(agent, rec), rec.latest("members", mb.member_id) == "ERROR")[1])
    assert rec.latest("pools", lb.pools[0].pool_id) == "DEGRADED"

    # Not this agent's child: its death is seen by pid liveness, and it is started again.
    pid = agent.instance(lb.loadbalancer_id).pid()
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: not agent.instance(lb.loadbalancer_id).alive())
    tick(agent, rec)
    assert agent.instance(lb.loadbalancer_id).pid() not in (None, pid)
    assert agent.counters(lb.loadbalancer_id)["restarts"] == 1
    assert get(vip, port)[1] == "a"


def test_changes_reach_an_adopted_haproxy(converger, next_agent, backends):
    a, b = backends("a"), backends("b")
    lb, vip, port = simple_lb([member(a)])
    converger.converge(lb.loadbalancer_id, lb)
    pid = converger.instance(lb.loadbalancer_id).pid()
    agent = next_agent()
    agent.converge(lb.loadbalancer_id, lb)

    # A new member: through the adopted process's runtime API, no reload.
    lb.pools[0].members.append(member(b, pool_id=lb.pools[0].pool_id))
    agent.converge(lb.loadbalancer_id, lb)
    assert agent.instance(lb.loadbalancer_id).pid() == pid
    assert collections.Counter(get(vip, port)[1] for _ in range(10)) == {"a": 5, "b": 5}

    # A listener change HAProxy cannot take at run time: a seamless reload.
    lb.listeners[0].timeout_client_data = 40000
    agent.converge(lb.loadbalancer_id, lb)
    counters = agent.counters(lb.loadbalancer_id)
    assert (counters["runtime_updates"], counters["reloads"], counters["adoptions"]) == (1, 1, 1)
    assert agent.instance(lb.loadbalancer_id).pid() != pid
    assert collections.Counter(get(vip, port)[1] for _ in range(10)) == {"a": 5, "b": 5}


def test_a_configuration_written_but_never_loaded_is_applied(converger, next_agent, backends):
    """An agent killed between writing haproxy.cfg and reloading: the file equals what the
    next agent renders, but the process never loaded it, so adopting must not stop there."""
    a, b = backends("a"), backends("b")
    lb, vip, port = simple_lb([member(a)])
    converger.converge(lb.loadbalancer_id, lb)
    lb.pools[0].members.append(member(b, pool_id=lb.pools[0].pool_id))
    inst = converger.instance(lb.loadbalancer_id)
    inst.cfg.write_text(render.render_config(view.build_view(lb, converger.options)))

    agent = next_agent()
    agent.converge(lb.loadbalancer_id, lb)
    assert {get(vip, port)[1] for _ in range(10)} == {"a", "b"}


def test_a_recycled_pid_is_not_adopted(converger, next_agent, backends):
    lb, vip, port = simple_lb([member(backends("a"))])
    converger.converge(lb.loadbalancer_id, lb)
    inst = converger.instance(lb.loadbalancer_id)
    old = inst.pid()
    assert old is not None
    os.kill(old, signal.SIGKILL)
    wait_for(lambda: not inst.alive())
    inst.pidfile.write_text(f"{os.getpid()}\n")  # a live process that is not this HAProxy

    agent = next_agent()
    agent.converge(lb.loadbalancer_id, lb)
    counters = agent.counters(lb.loadbalancer_id)
    assert (counters["adoptions"], counters["starts"]) == (0, 2)
    assert agent.instance(lb.loadbalancer_id).pid() not in (None, old, os.getpid())
    assert get(vip, port)[1] == "a"


def test_an_orphan_is_stopped_and_the_others_adopted(converger, next_agent, backends, state_dir):
    kept, kept_vip, kept_port = simple_lb([member(backends("a"))])
    gone, gone_vip, gone_port = simple_lb([member(backends("b"))])
    converger.converge(kept.loadbalancer_id, kept)
    converger.converge(gone.loadbalancer_id, gone)
    gone_dir = state_dir / gone.loadbalancer_id

    agent = next_agent()
    # The start-up resync: every load balancer the database lists, and every one found here.
    assert agent.known_ids() == {kept.loadbalancer_id, gone.loadbalancer_id}
    agent.converge(kept.loadbalancer_id, kept)
    agent.converge(gone.loadbalancer_id, None)  # not in the database any more
    assert haproxy_pids(gone_dir) == [] and not gone_dir.exists()
    assert agent.counters(kept.loadbalancer_id)["adoptions"] == 1
    assert get(kept_vip, kept_port)[1] == "a"
    with pytest.raises(OSError):
        get(gone_vip, gone_port)
