"""Runs provider agents and keeps them running.

Provider agents are found by name in the entry-point group Octavia uses
(``octavia.driver_agent.provider_agents``), limited to
``settings.driver_agent.enabled_provider_agents``. Octavia calls an agent as
``agent(exit_event)``; Statera's own agents also take a keyword ``context``
(``statera.agent.contract.AgentContext``), which is passed only to agents whose signature has
that parameter, so third-party agents work unchanged.

An agent that raises, or returns while the driver agent is not stopping, is restarted after
``agent_restart_delay`` seconds, as Octavia's process wrapper does: a crash delays convergence
but never ends it. Agents run as threads, not processes; an agent that ignores the exit event
cannot be killed, only abandoned (its daemon thread dies with the process).
"""

from __future__ import annotations

import inspect
import logging
import threading
from collections.abc import Callable, Iterable
from importlib.metadata import entry_points
from typing import Any

from statera.agent.contract import AgentContext
from statera.bus.base import Bus
from statera.config import Settings

LOG = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "octavia.driver_agent.provider_agents"

ProviderAgent = Callable[..., Any]
#: Finds the agent callable for a provider name; raises if there is none.
AgentLoader = Callable[[str], ProviderAgent]


def entry_point_loader(name: str) -> ProviderAgent:
    """The provider agent registered as ``name`` in ``octavia.driver_agent.provider_agents``."""
    matches = entry_points(group=ENTRY_POINT_GROUP, name=name)
    for entry_point in matches:
        agent: ProviderAgent = entry_point.load()
        return agent
    raise LookupError(f"no provider agent named {name!r} in entry-point group {ENTRY_POINT_GROUP}")


def wants_context(agent: ProviderAgent) -> bool:
    try:
        return "context" in inspect.signature(agent).parameters
    except (TypeError, ValueError):  # builtins and some C callables have no signature
        return False


class Supervisor:
    """Starts each enabled provider agent in a thread and restarts it when it fails."""

    def __init__(
        self,
        settings: Settings,
        bus: Bus,
        *,
        loader: AgentLoader = entry_point_loader,
        names: Iterable[str] | None = None,
    ) -> None:
        self.settings = settings
        self.bus = bus
        self.loader = loader
        self.names = list(settings.driver_agent.enabled_provider_agents if names is None
                          else names)
        self.exit_event = threading.Event()
        self.threads: dict[str, threading.Thread] = {}
        #: Times each agent was started (1 = never restarted); for operators and tests.
        self.starts: dict[str, int] = {}
        #: Agents that could not be loaded, with the reason.
        self.failed: dict[str, str] = {}
        self._lock = threading.Lock()

    def start(self) -> None:
        if not self.threads:
            # A fresh event: an agent abandoned by an earlier stop() keeps seeing its own set.
            self.exit_event = threading.Event()
        for name in self.names:
            if name in self.threads:
                continue
            try:
                agent = self.loader(name)
            except Exception as exc:  # one broken plug-in must not stop the others
                LOG.error("provider agent %s could not be loaded: %s", name, exc)
                self.failed[name] = str(exc)
                continue
            thread = threading.Thread(
                target=self._run,
                args=(name, agent, self.exit_event),
                name=f"provider-agent-{name}",
                daemon=True,
            )
            self.threads[name] = thread
            thread.start()

    def _run(self, name: str, agent: ProviderAgent, exit_event: threading.Event) -> None:
        delay = self.settings.driver_agent.agent_restart_delay
        while not exit_event.is_set():
            with self._lock:
                self.starts[name] = self.starts.get(name, 0) + 1
            LOG.info("provider agent %s starting", name)
            try:
                if wants_context(agent):
                    context = AgentContext.build(name, self.settings, self.bus)
                    agent(exit_event, context=context)
                else:
                    agent(exit_event)
            except Exception as exc:
                if exit_event.is_set():
                    LOG.warning("provider agent %s failed while stopping: %s", name, exc)
                    break
                LOG.error("provider agent %s crashed (%s: %s); restarting in %.1f s",
                          name, type(exc).__name__, exc, delay)
            else:
                if exit_event.is_set():
                    break
                LOG.warning("provider agent %s returned without being asked to stop; "
                            "restarting in %.1f s", name, delay)
            if exit_event.wait(delay):
                break
        LOG.info("provider agent %s stopped", name)

    def stop(self) -> None:
        """Ask every agent to exit and wait for each up to the shutdown timeout."""
        self.exit_event.set()
        timeout = self.settings.driver_agent.provider_agent_shutdown_timeout
        for name, thread in self.threads.items():
            thread.join(timeout)
            if thread.is_alive():
                LOG.warning("provider agent %s did not stop within %.1f s; abandoning it",
                            name, timeout)
        self.threads.clear()

    def alive(self) -> dict[str, bool]:
        return {name: thread.is_alive() for name, thread in self.threads.items()}
