"""What every converger of local processes shares: the state directory of each load
balancer, per-load-balancer locks, the graphs and statuses last reported, where its VIPs live
on this host (``kit/vips.py``: loopback, a host interface, or keepalived's VRRP) and stopping.

``converge`` (worker threads) and ``tick`` (the reconcile loop's thread) both take a load
balancer's lock before touching its instance; ``tick`` skips a locked one instead of waiting.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Generic, Protocol, TypedDict, TypeVar

from octavia_lib.api.drivers import data_models as dm

from statera.config import KeepalivedVrrpSettings, NetworkingSettings, Settings
from statera.providers.kit.graph import is_safe_name
from statera.providers.kit.procs import resolve_binary
from statera.providers.kit.status import Statuses, amphora_record
from statera.providers.kit.vips import VipPlan, Vips

LOG = logging.getLogger(__name__)


class Timeouts(TypedDict):
    timeout_client_data: int
    timeout_member_connect: int
    timeout_member_data: int


def default_timeouts(settings: Settings) -> Timeouts:
    """The listener timeouts a renderer falls back to when a listener has none (the core's
    ``[listener_defaults]``, which the API also stores on every listener it creates)."""
    defaults = settings.listener_defaults
    return Timeouts(timeout_client_data=defaults.timeout_client_data,
                    timeout_member_connect=defaults.timeout_member_connect,
                    timeout_member_data=defaults.timeout_member_data)


class Instance(Protocol):
    dir: Path
    pidfile: Path
    cfg: Path

    def stop(self, timeout: float = 5.0) -> None: ...

    def counters(self) -> dict[str, int]: ...


I = TypeVar("I", bound=Instance)  # noqa: E741


class LocalConverger(Generic[I]):
    """Base of a provider converger; ``make_instance(lb_dir, binary)`` builds an instance;
    ``vips`` places VIPs on this host (default: none configured, every VIP on loopback)."""

    def __init__(self, state_dir: Path, binary: str, make_instance: Callable[[Path, str], I],
                 clock: Callable[[], float] = time.monotonic, vips: Vips | None = None) -> None:
        self.state_dir = state_dir
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.binary = resolve_binary(binary)
        self._make_instance = make_instance
        self.clock = clock
        self._guard = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}
        self._graphs: dict[str, dm.LoadBalancer] = {}
        self._reported: dict[str, Statuses] = {}
        self._amphorae: dict[str, int | None] = {}  # pid last reported per load balancer
        self._plans: dict[str, VipPlan] = {}
        self.vips = vips or Vips(NetworkingSettings(), KeepalivedVrrpSettings())
        self._next_health = 0.0
        self._next_stats = 0.0

    def instance(self, lb_id: str) -> I:
        if not is_safe_name(lb_id):
            raise ValueError(f"unsafe load balancer id {lb_id!r}")
        return self._make_instance(self.state_dir / lb_id, self.binary)

    def _lock(self, lb_id: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(lb_id, threading.Lock())

    def _forget(self, lb_id: str) -> None:
        """Drop what was remembered about a removed load balancer."""
        with self._guard:
            self._graphs.pop(lb_id, None)
            self._reported.pop(lb_id, None)
            self._amphorae.pop(lb_id, None)
            self._plans.pop(lb_id, None)

    # --- VIPs -------------------------------------------------------------------------------
    def _vip_plan(self, lb_id: str, lb: dm.LoadBalancer) -> VipPlan:
        """How ``lb``'s VIPs live on this host (ConfigError: they cannot); the renderer binds
        with a foreign (non-local) bind when :attr:`VipPlan.freebind`."""
        return self.vips.plan(lb_id, lb)

    def _vips_before(self, inst: I, plan: VipPlan) -> None:
        """Call before the data plane (re)binds: plain VIPs go on their interfaces."""
        self.vips.prepare(inst.dir, plan)

    def _vips_after(self, lb_id: str, inst: I, plan: VipPlan) -> None:
        """Call once the data plane runs: keepalived for MASTER/BACKUP, none otherwise."""
        self.vips.settle(inst.dir, plan, inst)
        with self._guard:
            self._plans[lb_id] = plan

    def _release(self, lb_id: str) -> None:
        """This host stops serving ``lb_id``: keepalived stops, added VIPs come off."""
        self.vips.release(self.state_dir / lb_id)

    def _amphora(self, lb_id: str, lb: dm.LoadBalancer, pid: int | None,
                 flavor: str) -> dict[str, Any]:
        """The amphora record of this host's instance, with role and ``vrrp_*`` fields.
        Callers may hold ``_guard`` (a plain lock): one dict read needs none."""
        plan = self._plans.get(lb_id)
        if plan is None:
            return amphora_record(lb_id, lb, pid, flavor)
        return amphora_record(lb_id, lb, pid, flavor, plan.placement.amphora_id,
                              self.vips.amphora_fields(self.state_dir / lb_id, plan))

    def vrrp_state(self, lb_id: str) -> str | None:
        """MASTER/BACKUP/FAULT of this host's keepalived for ``lb_id`` (None: no VRRP)."""
        return self.vips.vrrp_state(self.state_dir / lb_id)

    def _remember(self, lb_id: str, lb: dm.LoadBalancer, observed: Statuses,
                  pid: int | None) -> None:
        with self._guard:
            self._graphs[lb_id] = lb
            self._reported[lb_id] = observed
            self._amphorae[lb_id] = pid

    def _observe_all(
        self, lib: Any,
        observe: Callable[[str, dm.LoadBalancer], tuple[dict[str, Any], list[dict[str, Any]]]],
        busy: Callable[[str], None] = lambda _lb_id: None,
    ) -> None:
        """One tick over every load balancer: ``observe`` returns its health report and its
        statistics records; health is sent per load balancer, statistics in one report. A load
        balancer being converged is skipped (``busy`` is told) and seen on the next tick."""
        with self._guard:
            graphs = dict(self._graphs)
        statistics: list[dict[str, Any]] = []
        for lb_id, lb in sorted(graphs.items()):
            lock = self._lock(lb_id)
            if not lock.acquire(blocking=False):
                busy(lb_id)
                continue
            try:
                with self._guard:
                    plan = self._plans.get(lb_id)
                if plan is not None:
                    self.vips.watch(self.state_dir / lb_id, plan)
                report, records = observe(lb_id, lb)
            except Exception:
                LOG.exception("%s %s: observation failed", Path(self.binary).name, lb_id)
                continue
            finally:
                lock.release()
            if report:
                self._send_health(lib, lb_id, report)
            statistics.extend(records)
        if statistics:
            lib.update_listener_statistics({"listeners": statistics})

    def _send_health(self, lib: Any, lb_id: str, report: dict[str, Any]) -> None:
        """Send one load balancer's health report; if it cannot be delivered, forget what was
        last reported so that the next tick sends everything again."""
        try:
            lib.update_loadbalancer_status(report)
        except Exception:
            LOG.exception("%s %s: health report failed", Path(self.binary).name, lb_id)
            with self._guard:
                self._reported.pop(lb_id, None)
                self._amphorae[lb_id] = -1

    def _due(self, health_interval: float, stats_interval: float,
             force_health: bool = False) -> tuple[bool, bool]:
        """Whether a health and a statistics poll are due now (and schedule the next)."""
        now = self.clock()
        do_health = now >= self._next_health or force_health
        do_stats = now >= self._next_stats
        if now >= self._next_health:
            self._next_health = now + health_interval
        if do_stats:
            self._next_stats = now + stats_interval
        return do_health, do_stats

    def known_ids(self) -> set[str]:
        return {p.name for p in self.state_dir.iterdir() if p.is_dir() and is_safe_name(p.name)}

    def shutdown(self) -> None:
        """Stop every process this agent runs and take its VIPs off (state stays; start-up
        re-creates)."""
        for lb_id in sorted(self.known_ids()):
            with self._lock(lb_id):
                self._release(lb_id)
                self.instance(lb_id).stop()

    def counters(self, lb_id: str) -> dict[str, Any]:
        """Reload/start/restart/... counts of one load balancer (for tests, ops)."""
        return self.instance(lb_id).counters()
