"""Data-plane side of the NGINX provider: the reconcile loop around NginxConverger."""

from __future__ import annotations

import threading

from statera.agent.contract import AgentContext, local_data_plane
from statera.config import provider_section
from statera.providers.kit.agent import instance_placement, run_converger
from statera.providers.nginx.converger import NginxConverger
from statera.providers.nginx.settings import NginxSettings


@local_data_plane
def run(exit_event: threading.Event, context: AgentContext | None = None) -> None:
    """Provider-agent entry point (``octavia.driver_agent.provider_agents``). Ticks are
    frequent so that a member the prober found down stops taking traffic at once."""
    run_converger(
        "nginx", exit_event, context,
        lambda ctx: NginxConverger(ctx.settings, ctx.state_dir,
                                   placement=instance_placement(ctx.instances)),
        lambda ctx: min(
            0.2, provider_section(ctx.settings, "nginx", NginxSettings).health_poll_interval))
