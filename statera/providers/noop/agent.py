"""Data-plane side of the noop provider: reports each load balancer's graph ACTIVE and DELETED
when it should no longer exist, through the reconcile loop.

Operating statuses are Octavia's in its noop mode (what octavia-tempest-plugin expects with
``test_with_noop``): nothing carries traffic, so load balancers, listeners and pools stay
OFFLINE; members are NO_MONITOR (disabled ones too: nothing monitors them); health monitors,
L7 policies and rules are ONLINE, or OFFLINE when disabled."""

from __future__ import annotations

import threading
from typing import Any

from octavia_lib.api.drivers import data_models as dm
from octavia_lib.common import constants as lib_consts

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
        return active_report(lb, operating=noop_operating)

    def known_ids(self) -> set[str]:
        with self._lock:
            return set(self._known)

    def tick(self, lib: StateraDriverLibrary) -> None:
        return None


#: Objects that carry traffic: with no data plane they are never seen up.
_TRAFFIC = {lib_consts.LOADBALANCERS, lib_consts.LISTENERS, lib_consts.POOLS}


def noop_operating(kind: str, obj: Any) -> str:
    """Octavia's operating status of ``obj`` when no data plane reports health."""
    if kind == lib_consts.MEMBERS:
        return str(lib_consts.NO_MONITOR)
    if obj.admin_state_up is False or kind in _TRAFFIC:
        return str(lib_consts.OFFLINE)
    return str(lib_consts.ONLINE)


@local_data_plane
def run(exit_event: threading.Event, context: AgentContext | None = None) -> None:
    """Provider-agent entry point (``octavia.driver_agent.provider_agents``)."""
    if context is None:  # started by a plain Octavia driver agent: nothing to converge with
        exit_event.wait()
        return
    ReconcileLoop(context, NoopConverger()).run(exit_event)
