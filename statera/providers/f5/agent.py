"""Data-plane side of the f5 provider: the reconcile loop around F5Converger.

The agent holds no state of its own on disk: what the device should hold follows from the
database (read through the get socket), so a restart is a full resync.
"""

from __future__ import annotations

import logging
import threading

from statera.agent.contract import AgentContext
from statera.agent.reconcile import Converger, ReconcileLoop
from statera.config import provider_section
from statera.providers.f5.client import BigIPClient
from statera.providers.f5.converger import F5Converger
from statera.providers.f5.settings import F5Settings

LOG = logging.getLogger(__name__)
TICK = 1.0


def run(exit_event: threading.Event, context: AgentContext | None = None) -> None:
    """Provider-agent entry point (``octavia.driver_agent.provider_agents``)."""
    if context is None:  # started by a plain Octavia driver agent: no settings, no sockets
        LOG.error("the f5 agent needs Statera's AgentContext; idling")
        exit_event.wait()
        return
    settings = provider_section(context.settings, context.provider, F5Settings)
    if not settings.url:
        LOG.error("f5: [f5] url is not set; the agent idles")
        exit_event.wait()
        return
    client = BigIPClient(settings)
    converger = F5Converger(settings, client, provider=context.provider)
    checked: Converger = converger  # mypy: the converger fulfils the loop's protocol
    try:
        ReconcileLoop(context, checked, tick_interval=min(TICK, settings.poll_interval)).run(
            exit_event)
    finally:
        client.close()
