"""Provider-agent supervision with real threads and an injected loader (nothing registered)."""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from typing import Any

import pytest

from statera.agent.contract import AgentContext
from statera.agent.supervisor import Supervisor, entry_point_loader
from statera.bus.base import FAILOVER
from statera.bus.inprocess import InProcessBus
from statera.config import Settings
from tests.agent.conftest import make_settings, wait_for


class FlakyAgent:
    """Crashes ``crashes`` times, returns early ``returns`` times, then runs until told."""

    def __init__(self, crashes: int = 0, returns: int = 0) -> None:
        self.crashes = crashes
        self.returns = returns
        self.calls = 0
        self.running = threading.Event()
        self.stopped = threading.Event()

    def __call__(self, exit_event: threading.Event) -> None:
        self.calls += 1
        if self.crashes:
            self.crashes -= 1
            raise RuntimeError("boom")
        if self.returns:
            self.returns -= 1
            return
        self.running.set()
        exit_event.wait()
        self.stopped.set()


@pytest.fixture
def settings(tmp_path: Any) -> Settings:
    return make_settings(tmp_path, agent_restart_delay=0.05, provider_agent_shutdown_timeout=2)


def test_crashing_and_returning_agents_are_restarted(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    agents = {"crashy": FlakyAgent(crashes=2), "quitter": FlakyAgent(returns=1)}
    supervisor = Supervisor(settings, InProcessBus(), loader=agents.__getitem__,
                            names=["crashy", "quitter"])
    supervisor.start()
    try:
        assert agents["crashy"].running.wait(5)
        assert agents["quitter"].running.wait(5)
        assert supervisor.starts == {"crashy": 3, "quitter": 2}
        assert supervisor.alive() == {"crashy": True, "quitter": True}
    finally:
        supervisor.stop()
    assert agents["crashy"].stopped.is_set() and agents["quitter"].stopped.is_set()
    assert supervisor.alive() == {}
    crash_lines = [r.getMessage() for r in caplog.records if "crashed" in r.getMessage()]
    assert len(crash_lines) == 2 and "RuntimeError: boom" in crash_lines[0]
    assert any("returned without being asked to stop" in r.getMessage() for r in caplog.records)


def test_context_is_passed_to_agents_that_accept_it(settings: Settings) -> None:
    received: list[AgentContext | None] = []
    done = threading.Event()

    def statera_agent(exit_event: threading.Event, context: AgentContext | None = None) -> None:
        received.append(context)
        done.set()
        exit_event.wait()

    supervisor = Supervisor(settings, InProcessBus(), loader=lambda name: statera_agent,
                            names=["mine"])
    supervisor.start()
    try:
        assert done.wait(5)
    finally:
        supervisor.stop()
    (context,) = received
    assert context is not None
    assert context.provider == "mine"
    assert context.status_socket == settings.socket_path("status")
    assert context.get_socket == settings.socket_path("get")
    assert context.state_dir.is_dir()


def test_enabled_names_come_from_settings_and_a_broken_one_does_not_stop_the_rest(
    tmp_path: Any,
) -> None:
    settings = make_settings(tmp_path, enabled_provider_agents=["good", "missing"])
    good = FlakyAgent()

    def loader(name: str) -> Any:
        if name == "good":
            return good
        raise LookupError(f"no provider agent named {name!r}")

    supervisor = Supervisor(settings, InProcessBus(), loader=loader)
    supervisor.start()
    try:
        assert good.running.wait(5)
        assert list(supervisor.failed) == ["missing"]
    finally:
        supervisor.stop()


def test_an_agent_that_ignores_the_exit_event_is_abandoned_after_the_timeout(
    tmp_path: Any,
) -> None:
    settings = make_settings(tmp_path, provider_agent_shutdown_timeout=0.2)
    release = threading.Event()

    def stubborn(exit_event: threading.Event) -> None:
        release.wait(10)

    supervisor = Supervisor(settings, InProcessBus(), loader=lambda name: stubborn,
                            names=["stubborn"])
    supervisor.start()
    wait_for(lambda: supervisor.starts.get("stubborn"), what="the agent to start")
    supervisor.stop()  # returns after ~0.2 s instead of hanging
    release.set()


def test_entry_point_loader_finds_statera_agents() -> None:
    from statera.providers.noop import agent as noop_agent

    assert entry_point_loader("noop") is noop_agent.run
    with pytest.raises(LookupError, match="no provider agent named 'nope'"):
        entry_point_loader("nope")


# Process mode: each agent in its own spawned process --------------------------------------
PROCESS_AGENTS = "tests.agent.process_agents"


def _pid_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def _process_supervisor(settings: Settings, bus: Any, **targets: str) -> Supervisor:
    supervisor = Supervisor(settings, bus, processes=True, names=list(targets),
                            targets={k: f"{PROCESS_AGENTS}:{v}" for k, v in targets.items()})
    assert supervisor.processes
    return supervisor


def test_processes_follow_the_setting_but_injected_loaders_always_run_threads(
    settings: Settings,
) -> None:
    assert not settings.driver_agent.agent_processes  # the default
    assert not Supervisor(settings, InProcessBus()).processes
    on = settings.model_copy(update={"driver_agent": settings.driver_agent.model_copy(
        update={"agent_processes": True})})
    assert Supervisor(on, InProcessBus()).processes
    assert not Supervisor(on, InProcessBus(), loader=lambda name: FlakyAgent()).processes


def test_a_crashing_child_process_is_restarted(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    supervisor = _process_supervisor(settings, InProcessBus(), crashy="crashy")
    state = settings.data_path / "providers" / "crashy"
    supervisor.start()
    try:
        wait_for(lambda: (state / "pid").exists(), timeout=30, what="the third start to run")
        pid = int((state / "pid").read_text())
        assert pid != os.getpid()
        assert supervisor.starts == {"crashy": 3}
        assert supervisor.alive() == {"crashy": True}
    finally:
        supervisor.stop()
    assert (state / "stopped").read_text() == "yes"  # it saw the exit event and returned
    assert _pid_gone(pid)
    exits = [r.getMessage() for r in caplog.records if "process exited" in r.getMessage()]
    assert len(exits) == 2 and "code 1" in exits[0]


def test_hints_reach_the_child_process_with_their_action(settings: Settings) -> None:
    bus = InProcessBus()
    supervisor = _process_supervisor(settings, bus, echo="echo")
    state = settings.data_path / "providers" / "echo"
    supervisor.start()
    try:
        wait_for(lambda: (state / "ready").exists(), timeout=30, what="the child to subscribe")
        bus.publish("echo", "lb-1")
        bus.publish("echo", "lb-2", FAILOVER)
        bus.publish("other", "lb-3")
        wait_for(lambda: (state / "hints").exists()
                 and len((state / "hints").read_text().splitlines()) >= 2,
                 timeout=10, what="both hints in the child")
        time.sleep(0.3)
        assert (state / "hints").read_text().splitlines() == [
            "lb-1 converge", "lb-2 failover"]
    finally:
        supervisor.stop()


def test_stop_leaves_no_child_process_even_when_the_agent_ignores_the_exit_event(
    tmp_path: Any,
) -> None:
    settings = make_settings(tmp_path, provider_agent_shutdown_timeout=0.3)
    supervisor = _process_supervisor(settings, InProcessBus(), stubborn="stubborn",
                                      echo="echo")
    stubborn_state = settings.data_path / "providers" / "stubborn"
    echo_state = settings.data_path / "providers" / "echo"
    supervisor.start()
    try:
        wait_for(lambda: (stubborn_state / "pid").exists() and (echo_state / "ready").exists(),
                 timeout=30, what="both children to start")
        children = dict(supervisor.children)
    finally:
        supervisor.stop()
    assert all(not child.is_alive() for child in children.values())
    assert _pid_gone(int((stubborn_state / "pid").read_text()))
    assert _pid_gone(int((echo_state / "ready").read_text()))
    # SIGTERM after the timeout raises SystemExit in the child, so cleanup still runs.
    assert (stubborn_state / "cleaned").read_text() == "yes"
    assert supervisor.alive() == {}
    assert not multiprocessing.active_children()
