"""Data-plane side of the HAProxy provider: the reconcile loop around HAProxyConverger."""

from __future__ import annotations

import threading

from statera.agent.contract import AgentContext, local_data_plane
from statera.config import provider_section
from statera.providers.haproxy.converger import HAProxyConverger
from statera.providers.haproxy.settings import HAProxySettings
from statera.providers.kit.agent import instance_placement, run_converger


@local_data_plane
def run(exit_event: threading.Event, context: AgentContext | None = None) -> None:
    """Provider-agent entry point (``octavia.driver_agent.provider_agents``)."""
    run_converger(
        "haproxy", exit_event, context,
        lambda ctx: HAProxyConverger(ctx.settings, ctx.state_dir,
                                     placement=instance_placement(ctx.instances)),
        lambda ctx: _tick(provider_section(ctx.settings, "haproxy", HAProxySettings)))


def _tick(section: HAProxySettings) -> float:
    """Seconds between the loop's health and statistics ticks."""
    return min(1.0, section.health_poll_interval, section.stats_interval)
