"""Data-plane side of the HAProxy provider: the reconcile loop around HAProxyConverger."""

from __future__ import annotations

import threading

from statera.agent.contract import AgentContext
from statera.providers.haproxy.converger import HAProxyConverger
from statera.providers.kit.agent import run_converger


def run(exit_event: threading.Event, context: AgentContext | None = None) -> None:
    """Provider-agent entry point (``octavia.driver_agent.provider_agents``)."""
    run_converger(
        "haproxy", exit_event, context,
        lambda ctx: HAProxyConverger(ctx.settings, ctx.state_dir),
        lambda ctx: min(1.0, ctx.settings.haproxy.health_poll_interval,
                        ctx.settings.haproxy.stats_interval))
