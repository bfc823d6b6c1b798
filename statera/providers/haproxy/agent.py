"""Data-plane side of the HAProxy provider: the reconcile loop around HAProxyConverger.

Processes are stopped when the agent stops (their state directories stay), and a fresh start
re-creates them: convergence at start-up is level-triggered, so nothing is lost by stopping.
"""

from __future__ import annotations

import logging
import threading

from statera.agent.contract import AgentContext
from statera.agent.reconcile import Converger, ReconcileLoop
from statera.providers.haproxy.converger import HAProxyConverger

LOG = logging.getLogger(__name__)


def run(exit_event: threading.Event, context: AgentContext | None = None) -> None:
    """Provider-agent entry point (``octavia.driver_agent.provider_agents``)."""
    if context is None:  # started by a plain Octavia driver agent: no settings, no sockets
        LOG.error("the haproxy agent needs Statera's AgentContext; idling")
        exit_event.wait()
        return
    converger = HAProxyConverger(context.settings, context.state_dir)
    checked: Converger = converger  # mypy: the converger fulfils the loop's protocol
    tick = min(1.0, context.settings.haproxy.health_poll_interval,
               context.settings.haproxy.stats_interval)
    try:
        ReconcileLoop(context, checked, tick_interval=tick).run(exit_event)
    finally:
        converger.shutdown()
