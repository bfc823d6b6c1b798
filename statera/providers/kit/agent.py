"""The provider-agent entry point every converger-based provider shares.

Data-plane processes keep running when the agent stops, however it stops (a load balancer
keeps serving through a restart or upgrade of Statera); the next agent's start-up resync
adopts them (see ``statera.providers.kit.converger``). ``statera dataplanes stop`` ends them.

``instance_placement`` answers a converger's placement question from what the reconcile loop
read with each load balancer (its instance on this host: role, amphora id, VRRP peers).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from octavia_lib.api.drivers import data_models as dm

from statera.agent.contract import AgentContext, InstanceBook
from statera.agent.reconcile import Converger, ReconcileLoop
from statera.providers.kit.vips import Placement, PlacementFn

LOG = logging.getLogger(__name__)


def run_converger(name: str, exit_event: threading.Event, context: AgentContext | None,
                  make: Callable[[AgentContext], Any],
                  tick: Callable[[AgentContext], float]) -> None:
    """Run ``make(context)`` (a Converger with ``close()``) in a ReconcileLoop ticking every
    ``tick(context)`` seconds until ``exit_event``; its data planes outlive it."""
    if context is None:  # started by a plain Octavia driver agent: no settings, no sockets
        LOG.error("the %s agent needs Statera's AgentContext; idling", name)
        exit_event.wait()
        return
    converger = make(context)
    checked: Converger = converger  # mypy: the converger fulfils the loop's protocol
    try:
        ReconcileLoop(context, checked, tick_interval=tick(context)).run(exit_event)
    finally:
        converger.close()


def instance_placement(book: InstanceBook) -> PlacementFn:
    """A placement function reading ``book``: STANDALONE for a load balancer not placed (or
    not read yet); a peer that has not reported its VRRP address yet is left out (keepalived
    runs without it until a later converge, on a hint or the periodic resync, knows it)."""
    def placement(lb_id: str, _lb: dm.LoadBalancer) -> Placement:
        instance = book.get(lb_id)
        if instance is None:
            return Placement()
        return Placement(role=instance.role, peers=instance.peers,
                         amphora_id=instance.amphora_id)
    return placement
