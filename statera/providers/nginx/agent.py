"""Data-plane side of the NGINX provider: the reconcile loop around NginxConverger.

NGINX masters are stopped when the agent stops (their state directories stay), and a fresh
start re-creates them: convergence at start-up is level-triggered, so nothing is lost.
"""

from __future__ import annotations

import logging
import threading

from statera.agent.contract import AgentContext
from statera.agent.reconcile import Converger, ReconcileLoop
from statera.providers.nginx.converger import NginxConverger

LOG = logging.getLogger(__name__)


def run(exit_event: threading.Event, context: AgentContext | None = None) -> None:
    """Provider-agent entry point (``octavia.driver_agent.provider_agents``)."""
    if context is None:  # started by a plain Octavia driver agent: no settings, no sockets
        LOG.error("the nginx agent needs Statera's AgentContext; idling")
        exit_event.wait()
        return
    converger = NginxConverger(context.settings, context.state_dir)
    checked: Converger = converger  # mypy: the converger fulfils the loop's protocol
    # Ticks are frequent so that a member the prober found down stops taking traffic at once.
    tick = min(0.2, context.settings.nginx.health_poll_interval)
    try:
        ReconcileLoop(context, checked, tick_interval=tick).run(exit_event)
    finally:
        converger.shutdown()
