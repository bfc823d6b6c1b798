"""The provider-agent entry point every converger-based provider shares.

Processes are stopped when the agent stops (their state directories stay), and a fresh start
re-creates them: convergence at start-up is level-triggered, so nothing is lost by stopping.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from statera.agent.contract import AgentContext
from statera.agent.reconcile import Converger, ReconcileLoop

LOG = logging.getLogger(__name__)


def run_converger(name: str, exit_event: threading.Event, context: AgentContext | None,
                  make: Callable[[AgentContext], Any],
                  tick: Callable[[AgentContext], float]) -> None:
    """Run ``make(context)`` (a Converger with ``shutdown()``) in a ReconcileLoop ticking every
    ``tick(context)`` seconds until ``exit_event``; its processes stop with it."""
    if context is None:  # started by a plain Octavia driver agent: no settings, no sockets
        LOG.error("the %s agent needs Statera's AgentContext; idling", name)
        exit_event.wait()
        return
    converger = make(context)
    checked: Converger = converger  # mypy: the converger fulfils the loop's protocol
    try:
        ReconcileLoop(context, checked, tick_interval=tick(context)).run(exit_event)
    finally:
        converger.shutdown()
