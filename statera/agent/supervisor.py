"""Runs provider agents and keeps them running.

Provider agents are found by name in the entry-point group Octavia uses
(``octavia.driver_agent.provider_agents``), limited to
``settings.driver_agent.enabled_provider_agents``. Octavia calls an agent as
``agent(exit_event)``; Statera's own agents also take a keyword ``context``
(``statera.agent.contract.AgentContext``), which is passed only to agents whose signature has
that parameter, so third-party agents work unchanged.

An agent that raises, or returns while the driver agent is not stopping, is restarted after
``agent_restart_delay`` seconds, as Octavia's process wrapper does: a crash delays convergence
but never ends it.

With ``[driver_agent] agent_processes`` (off by default), each agent runs in its own OS process
(``statera.agent.process``), so its own work does not compete with the API for this process's
GIL (the driver agent's socket handlers, which do most of the work per hint, stay here).
The child is started with the ``spawn`` method and gets only picklable things: its target
(entry-point name), the settings, a queue of hints and an exit event. A thread here subscribes
to the provider's topic on the real bus and forwards each hint into the child's queue; another
watches the child and restarts it when it exits while the supervisor is not stopping. On stop,
a child gets ``provider_agent_shutdown_timeout`` seconds, then SIGTERM, then SIGKILL.

An injected ``loader`` returns callables that cannot cross a process boundary, so it implies
thread mode unless ``targets`` (name -> ``module:attribute``) says what the child imports.
In thread mode an agent that ignores the exit event cannot be killed, only abandoned (its daemon
thread dies with the process).
"""

from __future__ import annotations

import logging
import multiprocessing
import threading
from collections.abc import Iterable, Mapping
from multiprocessing.connection import wait
from multiprocessing.process import BaseProcess
from typing import Any

from statera.agent.contract import AgentContext
from statera.agent.loading import (
    AgentLoader,
    ProviderAgent,
    entry_point_loader,
    load_target,
    wants_context,
)
from statera.agent.process import child_main
from statera.bus.base import CONVERGE, Bus
from statera.config import Settings

LOG = logging.getLogger(__name__)

class Supervisor:
    """Starts each enabled provider agent in a process or thread; restarts it when it fails."""

    def __init__(
        self,
        settings: Settings,
        bus: Bus,
        *,
        loader: AgentLoader = entry_point_loader,
        names: Iterable[str] | None = None,
        processes: bool | None = None,
        targets: Mapping[str, str] | None = None,
    ) -> None:
        self.settings = settings
        self.bus = bus
        self.loader = loader
        self.names = list(settings.driver_agent.enabled_provider_agents if names is None
                          else names)
        self.targets = dict(targets or {})
        if processes is None:
            processes = settings.driver_agent.agent_processes and (
                loader is entry_point_loader or bool(self.targets))
        #: True: each agent in its own OS process; False: each in a thread of this process.
        self.processes = processes
        self._mp = multiprocessing.get_context("spawn")
        self.exit_event: Any = threading.Event()
        #: Per agent, the thread that runs it (thread mode) or watches its process.
        self.threads: dict[str, threading.Thread] = {}
        #: Per agent, its current child process (process mode).
        self.children: dict[str, BaseProcess] = {}
        self._queues: dict[str, Any] = {}
        #: Times each agent was started (1 = never restarted); for operators and tests.
        self.starts: dict[str, int] = {}
        #: Agents that could not be loaded, with the reason.
        self.failed: dict[str, str] = {}
        self._lock = threading.Lock()

    def start(self) -> None:
        if not self.threads:
            # A fresh event: an agent abandoned by an earlier stop() keeps seeing its own set.
            self.exit_event = self._mp.Event() if self.processes else threading.Event()
        for name in self.names:
            if name in self.threads:
                continue
            try:
                # Loaded here in process mode too, so a missing agent fails once, not per child.
                agent = (self._load_target(name) if self.processes else self.loader(name))
            except Exception as exc:  # one broken plug-in must not stop the others
                LOG.error("provider agent %s could not be loaded: %s", name, exc)
                self.failed[name] = str(exc)
                continue
            thread = threading.Thread(
                target=self._run_process if self.processes else self._run,
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

    # Process mode -------------------------------------------------------------------------
    def _target(self, name: str) -> str:
        return self.targets.get(name, name)

    def _load_target(self, name: str) -> ProviderAgent:
        return load_target(self._target(name))

    def _run_process(self, name: str, _agent: ProviderAgent, exit_event: Any) -> None:
        delay = self.settings.driver_agent.agent_restart_delay
        # Subscribed before the first child starts, so no hint published from now on is lost.
        sub = self.bus.subscribe(name)
        forward_stop = threading.Event()
        forwarder = threading.Thread(target=self._forward, args=(name, sub, forward_stop),
                                     name=f"provider-agent-{name}-hints", daemon=True)
        forwarder.start()
        try:
            while not exit_event.is_set():
                with self._lock:
                    self.starts[name] = self.starts.get(name, 0) + 1
                    hints = self._mp.Queue()
                    self._queues[name] = hints
                LOG.info("provider agent %s starting in its own process", name)
                child = self._mp.Process(
                    target=child_main,
                    args=(name, self._target(name), self.settings, hints, exit_event),
                    name=f"statera-agent-{name}", daemon=True,
                )
                child.start()
                self.children[name] = child
                while not exit_event.is_set() and not wait([child.sentinel], timeout=0.2):
                    pass
                if exit_event.is_set():
                    self._stop_child(name, child)
                    break
                child.join()
                self._drop_queue(name, hints)
                LOG.error("provider agent %s process exited with code %s; restarting in %.1f s",
                          name, child.exitcode, delay)
                if exit_event.wait(delay):
                    break
        finally:
            forward_stop.set()
            forwarder.join(timeout=2)
            sub.close()
            with self._lock:
                hints = self._queues.pop(name, None)
            if hints is not None:
                self._drop_queue(name, hints)
        LOG.info("provider agent %s stopped", name)

    def _forward(self, name: str, sub: Any, stop: threading.Event) -> None:
        while not stop.is_set():
            hint = sub.get(timeout=0.2)
            if hint is None:
                continue
            with self._lock:
                hints = self._queues.get(name)
                if hints is None:
                    continue
                try:
                    hints.put((str(hint), getattr(hint, "action", CONVERGE)))
                except (ValueError, OSError):  # closed while its child was replaced
                    continue

    def _drop_queue(self, name: str, hints: Any) -> None:
        with self._lock:
            if self._queues.get(name) is hints:
                del self._queues[name]
            hints.cancel_join_thread()  # nobody will read what is left; never block on it
            hints.close()

    def _stop_child(self, name: str, child: BaseProcess) -> None:
        timeout = self.settings.driver_agent.provider_agent_shutdown_timeout
        child.join(timeout)
        if child.is_alive():
            LOG.warning("provider agent %s did not stop within %.1f s; terminating it",
                        name, timeout)
            child.terminate()
            child.join(2.0)
        if child.is_alive():
            child.kill()
            child.join()

    # Both modes ----------------------------------------------------------------------------
    def stop(self) -> None:
        """Ask every agent to exit and wait for each up to the shutdown timeout."""
        self.exit_event.set()
        timeout = self.settings.driver_agent.provider_agent_shutdown_timeout
        if self.processes:
            timeout += 5.0  # the watcher's own terminate()/kill() steps after the timeout
        for name, thread in self.threads.items():
            thread.join(timeout)
            if thread.is_alive():
                LOG.warning("provider agent %s did not stop within %.1f s; abandoning it",
                            name, timeout)
        self.threads.clear()
        self.children.clear()

    def alive(self) -> dict[str, bool]:
        """Per agent, whether it is still supervised (running, starting or awaiting restart);
        in process mode ``children`` has the current process of each."""
        return {name: thread.is_alive() for name, thread in self.threads.items()}


__all__ = ["AgentLoader", "ProviderAgent", "Supervisor", "entry_point_loader"]
