"""The reconcile loop every Statera provider agent runs (level-triggered).

A provider supplies a ``Converger``: given a load-balancer id and its full desired graph (or
None when the load balancer should not exist), make the data plane match and return the status
report to send. The loop owns everything else: bus hints, start-up and periodic resync of every
load balancer of the provider, de-duplication, per-load-balancer exclusivity, parallelism across
load balancers, and reporting through octavia-lib's DriverLibrary. It also times each
convergence and exposes its queue's depth for ``/metrics``, per provider.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

from octavia_lib.api.drivers import data_models as dm
from octavia_lib.common import constants as lib_consts

from statera.agent.client import StateraDriverLibrary
from statera.agent.contract import AgentContext
from statera.agent.workqueue import WorkQueue
from statera.bus.base import CONVERGE, FAILOVER
from statera.metrics.instruments import QUEUE_ADDS, QUEUE_DEPTH, RECONCILE

LOG = logging.getLogger(__name__)
StatusReport = dict[str, list[dict[str, Any]]]


class Converger(Protocol):
    def converge(self, lb_id: str, lb: dm.LoadBalancer | None) -> StatusReport:
        """Make the data plane of ``lb_id`` match ``lb`` (None: remove it); return statuses."""

    def known_ids(self) -> set[str]:
        """Load balancers that currently have data-plane state (to remove strays)."""

    def tick(self, lib: StateraDriverLibrary) -> None:
        """Periodic work besides convergence (health and statistics reports)."""


@runtime_checkable
class Failover(Protocol):
    """Optional: a converger that can replace a load balancer's data-plane instance."""

    def failover(self, lb_id: str, lb: dm.LoadBalancer) -> None: ...


def deleted_report(lb_id: str) -> StatusReport:
    return {"loadbalancers": [{"id": lb_id, "provisioning_status": lib_consts.DELETED}]}


def error_report(lb_id: str) -> StatusReport:
    return {"loadbalancers": [{"id": lb_id, "provisioning_status": lib_consts.ERROR}]}


def active_report(
    lb: dm.LoadBalancer, operating: Callable[[str, Any], str] | None = None
) -> StatusReport:
    """Every object of the graph ACTIVE; ``operating(kind, obj)`` picks operating status.

    The default is Octavia's no-health view: ONLINE, members NO_MONITOR, disabled OFFLINE.
    """
    op = operating or _default_operating
    report: StatusReport = {k: [] for k in (
        "loadbalancers", "listeners", "pools", "members", "healthmonitors", "l7policies",
        "l7rules")}

    def add(kind: str, obj_id: Any, obj: Any) -> None:
        report[kind].append(
            {"id": obj_id, "provisioning_status": lib_consts.ACTIVE,
             "operating_status": op(kind, obj)}
        )

    for pool in lb.pools or []:
        add("pools", pool.pool_id, pool)
        for member in pool.members or []:
            add("members", member.member_id, member)
        if pool.healthmonitor:
            add("healthmonitors", pool.healthmonitor.healthmonitor_id, pool.healthmonitor)
    for listener in lb.listeners or []:
        add("listeners", listener.listener_id, listener)
        for policy in listener.l7policies or []:
            add("l7policies", policy.l7policy_id, policy)
            for rule in policy.rules or []:
                add("l7rules", rule.l7rule_id, rule)
    add("loadbalancers", lb.loadbalancer_id, lb)
    return {k: v for k, v in report.items() if v}


def _default_operating(kind: str, obj: Any) -> str:
    if obj.admin_state_up is False:
        return str(lib_consts.OFFLINE)
    return str(lib_consts.NO_MONITOR if kind == lib_consts.MEMBERS else lib_consts.ONLINE)


class ReconcileLoop:
    """Runs a Converger until ``exit_event`` is set."""

    def __init__(
        self,
        context: AgentContext,
        converger: Converger,
        *,
        workers: int = 4,
        tick_interval: float = 1.0,
    ) -> None:
        self.context = context
        self.converger = converger
        self.workers = workers
        self.tick_interval = tick_interval
        self.queue = WorkQueue()
        self._failovers: set[str] = set()
        self._failover_lock = threading.Lock()
        self._adds = QUEUE_ADDS.labels(context.provider)
        self._reconcile_ok = RECONCILE.labels(context.provider, "ok")
        self._reconcile_error = RECONCILE.labels(context.provider, "error")

    def run(self, exit_event: threading.Event) -> None:
        lib = StateraDriverLibrary(
            status_socket=self.context.status_socket,
            stats_socket=self.context.stats_socket,
            get_socket=self.context.get_socket,
            instances=self.context.instances,
        )
        sub = self.context.bus.subscribe(self.context.provider)
        # Read at scrape time; the loop that runs last (a restarted agent) is the one shown.
        QUEUE_DEPTH.labels(self.context.provider).set_function(self.queue.waiting)
        threads = [
            threading.Thread(target=self._worker, args=(lib, exit_event), daemon=True,
                             name=f"{self.context.provider}-worker-{i}")
            for i in range(self.workers)
        ]
        hints = threading.Thread(target=self._hints, args=(sub, exit_event), daemon=True,
                                 name=f"{self.context.provider}-hints")
        for t in [*threads, hints]:
            t.start()
        try:
            self._resync(lib, fence=True)
            next_resync = time.monotonic() + self.context.settings.driver_agent.resync_interval
            while not exit_event.wait(self.tick_interval):
                self._safe_tick(lib)
                if time.monotonic() >= next_resync:
                    self._resync(lib)
                    next_resync = (time.monotonic()
                                   + self.context.settings.driver_agent.resync_interval)
        finally:
            self.queue.close()
            sub.close()
            for t in threads:
                t.join(timeout=5)

    def _hints(self, sub: Any, exit_event: threading.Event) -> None:
        while not exit_event.is_set():
            hint = sub.get(timeout=0.5)
            if hint:
                if getattr(hint, "action", CONVERGE) == FAILOVER:
                    with self._failover_lock:
                        self._failovers.add(str(hint))
                self._enqueue(str(hint))

    def _enqueue(self, lb_id: str) -> None:
        self._adds.inc()
        self.queue.add(lb_id)

    def _resync(self, lib: StateraDriverLibrary, fence: bool = False) -> None:
        """Queue every load balancer the database has for us, and every stray we still run.

        ``fence`` (the first resync after a start): strays (data planes this host runs that
        the database does not give it, such as load balancers placed on another host while
        this one was away) are removed first, before anything else is converged, so a host
        that comes back never serves a VIP that another host now serves."""
        try:
            ids = set(lib.list_loadbalancer_ids(self.context.provider))
        except Exception:  # the agent keeps running; the next resync tries again
            LOG.exception("%s: could not list load balancers", self.context.provider)
            return
        strays = self.converger.known_ids() - ids
        if fence:
            for lb_id in sorted(strays):
                self._converge_one(lib, lb_id)
            strays = set()
        for lb_id in sorted(ids | strays):
            self._enqueue(lb_id)

    def _safe_tick(self, lib: StateraDriverLibrary) -> None:
        try:
            self.converger.tick(lib)
        except Exception:
            LOG.exception("%s: periodic work failed", self.context.provider)

    def _worker(self, lib: StateraDriverLibrary, exit_event: threading.Event) -> None:
        while not exit_event.is_set():
            lb_id = self.queue.get(timeout=0.5)
            if lb_id is None:
                continue
            try:
                self._converge_one(lib, lb_id)
            finally:
                self.queue.done(lb_id)

    def _converge_one(self, lib: StateraDriverLibrary, lb_id: str) -> None:
        """Converge one load balancer and report; timed, with its outcome, for ``/metrics``."""
        started = time.perf_counter()
        ok = self._converge_and_report(lib, lb_id)
        (self._reconcile_ok if ok else self._reconcile_error).observe(
            time.perf_counter() - started)

    def _converge_and_report(self, lib: StateraDriverLibrary, lb_id: str) -> bool:
        """True unless converging or reporting failed."""
        with self._failover_lock:
            failover = lb_id in self._failovers
            self._failovers.discard(lb_id)
        try:
            lb = lib.get_loadbalancer(lb_id)
            if failover and lb is not None and isinstance(self.converger, Failover):
                self.converger.failover(lb_id, lb)
            report = self.converger.converge(lb_id, lb)
        except Exception as exc:
            LOG.exception("%s: converging load balancer %s failed: %s",
                          self.context.provider, lb_id, exc)
            report, ok = error_report(lb_id), False
        else:
            ok = True
        try:
            lib.update_loadbalancer_status(report)
        except Exception:
            LOG.exception("%s: status report for %s failed", self.context.provider, lb_id)
            return False
        return ok
