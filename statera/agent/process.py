"""The child side of a provider agent run in its own OS process (``agent_processes``).

The supervisor starts ``child_main`` with the ``spawn`` start method (a fresh interpreter: the
parent has threads, so it is never forked) and passes only picklable things: the agent's
target, the settings, a queue of forwarded hints and a ``multiprocessing`` exit event.

A target is an entry-point name in ``octavia.driver_agent.provider_agents`` or, with a colon,
an importable ``module:attribute`` (tests and embedders use that). The child runs the agent
once; a crash or an early return ends the child and the parent restarts it. The agent gets a
``threading.Event`` that is set when the parent's exit event is set or the parent dies, so an
orphan never keeps converging. SIGTERM (the parent's ``terminate()``) raises ``SystemExit`` so
the agent's ``finally`` blocks still run (its data planes keep serving either way: they outlive
every Statera process, see ``statera.providers.kit.converger``); SIGINT is ignored because a
terminal's Ctrl-C reaches the whole process group and the parent decides when its agents stop.
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
import sys
import threading
from multiprocessing.connection import wait
from types import FrameType
from typing import Any

from statera.agent.contract import AgentContext
from statera.agent.loading import load_target, wants_context
from statera.bus.pipe import QueueBus
from statera.config import Settings

LOG = logging.getLogger(__name__)

#: Seconds between checks of the parent's exit event in the child.
POLL_INTERVAL = 0.1


def _terminate(_signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(143)


def _watch(parent_exit: Any, local_exit: threading.Event) -> None:
    parent = multiprocessing.parent_process()
    sentinels = [parent.sentinel] if parent is not None else []
    while not parent_exit.is_set():
        if sentinels and wait(sentinels, timeout=POLL_INTERVAL):
            LOG.warning("the parent process is gone; stopping")
            break
        if not sentinels:
            parent_exit.wait(POLL_INTERVAL)
    local_exit.set()


def child_main(name: str, target: str, settings: Settings, hints: Any, exit_event: Any) -> None:
    """Entry point of the child process: run provider agent ``name`` until told to stop."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _terminate)
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s[%(process)d]: %(message)s",
    )
    local_exit = threading.Event()
    threading.Thread(target=_watch, args=(exit_event, local_exit), daemon=True,
                     name=f"provider-agent-{name}-exit").start()
    try:
        agent = load_target(target)
        if wants_context(agent):
            context = AgentContext.build(name, settings, QueueBus(name, hints))
            agent(local_exit, context=context)
        else:
            agent(local_exit)
    except Exception as exc:
        LOG.exception("provider agent %s crashed in process: %s", name, exc)
        sys.exit(1)
