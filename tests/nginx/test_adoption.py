"""A new agent adopts the NGINX masters an earlier one left running: same master, no reload,
even with a member marked down by the earlier agent's prober (its verdict stands in until the
new prober has checked); a master without workers is rebuilt, not adopted."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from statera.config import settings_class
from statera.providers.kit.procs import children
from statera.providers.nginx.converger import NginxConverger
from tests.haproxy.helpers import Recorder, get, member, monitor, simple_lb, wait_for
from tests.nginx.helpers import tick


@pytest.fixture
def next_agent(tmp_path: Path, nginx_state_dir: Path,
               nginx: NginxConverger) -> Iterator[Callable[[], NginxConverger]]:
    """Closes the running agent and starts another on the same state directory; the ``nginx``
    fixture's teardown stops every process there."""
    made: list[NginxConverger] = []

    def start() -> NginxConverger:
        (made[-1] if made else nginx).close()
        settings = settings_class()(data_dir=str(tmp_path))
        settings = settings.model_copy(update={"nginx": settings.nginx.model_copy(
            update={"health_poll_interval": 0.2, "stats_interval": 0.2})})
        made.append(NginxConverger(settings, nginx_state_dir))
        return made[-1]

    yield start
    for conv in made:
        conv.close()


def test_a_new_agent_adopts_the_running_nginx_with_a_member_down(nginx, next_agent, backends):
    a, b = backends("a"), backends("b")
    ma, mb = member(a), member(b)
    lb, vip, port = simple_lb([ma, mb], healthmonitor=monitor("HTTP", url_path="/",
                                                              expected_codes="200"))
    rec = Recorder()
    rec.statuses.append(nginx.converge(lb.loadbalancer_id, lb))
    b.stop()
    wait_for(lambda: (tick(nginx, rec), rec.latest("members", mb.member_id) == "ERROR")[1])
    master = nginx.instance(lb.loadbalancer_id).pid()
    reloads = nginx.counters(lb.loadbalancer_id)["reloads"]

    agent = next_agent()
    report = agent.converge(lb.loadbalancer_id, lb)
    operating = {r["id"]: r["operating_status"] for r in report["members"]}
    assert operating[mb.member_id] == "ERROR"  # what runs, not "not checked yet"
    assert agent.instance(lb.loadbalancer_id).pid() == master
    # The new prober's own verdicts agree with the adopted configuration: still no reload.
    rec = Recorder()
    wait_for(lambda: (tick(agent, rec), agent.prober.state(lb.loadbalancer_id, mb.member_id)
                      is False)[1])
    tick(agent, rec)
    counters = agent.counters(lb.loadbalancer_id)
    assert (counters["reloads"], counters["adoptions"]) == (reloads, 1)
    assert {get(vip, port)[1] for _ in range(6)} == {"a"}


def test_a_master_without_workers_is_rebuilt_not_adopted(nginx, next_agent, backends):
    lb, vip, port = simple_lb([member(backends("a"))])
    nginx.converge(lb.loadbalancer_id, lb)
    master = nginx.instance(lb.loadbalancer_id).pid()
    assert master is not None
    os.kill(master, signal.SIGSTOP)  # a hung master: it will not replace its workers
    for worker in children(master):
        os.kill(worker, signal.SIGKILL)
    wait_for(lambda: children(master) == [])

    agent = next_agent()
    agent.converge(lb.loadbalancer_id, lb)
    counters = agent.counters(lb.loadbalancer_id)
    assert (counters["adoptions"], counters["restarts"]) == (0, 1)
    assert agent.instance(lb.loadbalancer_id).pid() not in (None, master)
    assert get(vip, port)[1] == "a"
