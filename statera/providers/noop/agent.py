"""Data-plane side of the noop provider: reports each load balancer's graph ACTIVE (members
NO_MONITOR) and DELETED when it should no longer exist, through the reconcile loop."""

from __future__ import annotations

import threading

from octavia_lib.api.drivers import data_models as dm

from statera.agent.client import StateraDriverLibrary
from statera.agent.contract import AgentContext, local_data_plane
from statera.agent.reconcile import ReconcileLoop, StatusReport, active_report, deleted_report


class NoopConverger:
    def __init__(self) -> None:
        self._known: set[str] = set()
        self._lock = threading.Lock()

    def converge(self, lb_id: str, lb: dm.LoadBalancer | None) -> StatusReport:
        with self._lock:
            if lb is None:
                self._known.discard(lb_id)
                return deleted_report(lb_id)
            self._known.add(lb_id)
        return active_report(lb)

    def known_ids(self) -> set[str]:
        with self._lock:
            return set(self._known)

    def tick(self, lib: StateraDriverLibrary) -> None:
        return None


@local_data_plane
def run(exit_event: threading.Event, context: AgentContext | None = None) -> None:
    """Provider-agent entry point (``octavia.driver_agent.provider_agents``)."""
    if context is None:  # started by a plain Octavia driver agent: nothing to converge with
        exit_event.wait()
        return
    ReconcileLoop(context, NoopConverger()).run(exit_event)
