"""What every converger of local processes shares: the state directory of each load
balancer, per-load-balancer locks, the graphs and statuses last reported, where its VIPs live
on this host (``kit/vips.py``: loopback, a host interface, or keepalived's VRRP), adoption and
stopping.

``converge`` (worker threads) and ``tick`` (the reconcile loop's thread) both take a load
balancer's lock before touching its instance; ``tick`` skips a locked one instead of waiting.

Data planes outlive the agent: :meth:`LocalConverger.close` (the agent stopping) leaves every
process running. The first converge of a load balancer in an agent's life finds what an earlier
agent left (the pid file, checked against /proc by the instance's ``owns``) and keeps it when
it is right: the provider compares the configuration it renders with the one running, as for
any converge, and only a difference reloads it (a dead or silent process is restarted, a load
balancer the database no longer has is stopped by the resync's converge to None). An instance
kept with its pid unchanged counts as adopted (counter ``adoptions``, one log line).
:meth:`LocalConverger.stop_all` is the explicit "stop every data plane" (tests, the CLI's
``statera dataplanes stop`` does the same from the pid files).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Generic, Protocol, TypedDict, TypeVar

from octavia_lib.api.drivers import data_models as dm

from statera.agent.reconcile import StatusReport
from statera.config import KeepalivedVrrpSettings, NetworkingSettings, Settings
from statera.providers.kit.graph import is_safe_name
from statera.providers.kit.procs import resolve_binary
from statera.providers.kit.stats import ListenerStatistics
from statera.providers.kit.status import Statuses, amphora_record
from statera.providers.kit.vips import STANDALONE, VipPlan, Vips

LOG = logging.getLogger(__name__)

#: What one health/statistics tick observed of one load balancer: the status-socket report of
#: what changed, and its listeners' statistics records.
Observation = tuple[StatusReport, list[ListenerStatistics]]


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
    lb_id: str
    dir: Path
    pidfile: Path
    cfg: Path

    def stop(self, timeout: float = 5.0) -> None: ...

    def counters(self) -> dict[str, int]: ...

    def pid(self) -> int | None: ...

    def bump(self, name: str) -> None: ...


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
        self._seen: set[str] = set()  # load balancers converged in this agent's life
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
            self._seen.discard(lb_id)
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

    def _found_running(self, inst: I) -> int | None:
        """On the first converge of a load balancer in this agent's life, the pid of the
        instance an earlier agent left running (None otherwise). Call under its lock."""
        with self._guard:
            first = inst.lb_id not in self._seen
            self._seen.add(inst.lb_id)
        return inst.pid() if first else None

    def _adopted(self, inst: I, found: int | None) -> None:
        """Count and log the adoption of ``found`` when the converge kept that process."""
        if found is None:
            return
        if inst.pid() == found:
            inst.bump("adoptions")
            LOG.info("%s %s: adopted running process %d (left by an earlier agent)",
                     Path(self.binary).name, inst.lb_id, found)
        else:
            LOG.info("%s %s: process %d left by an earlier agent was replaced",
                     Path(self.binary).name, inst.lb_id, found)

    def _remember(self, lb_id: str, lb: dm.LoadBalancer, observed: Statuses,
                  pid: int | None) -> None:
        with self._guard:
            self._graphs[lb_id] = lb
            self._reported[lb_id] = observed
            self._amphorae[lb_id] = pid

    def _observe_all(
        self, lib: Any,
        observe: Callable[[str, dm.LoadBalancer], Observation],
        busy: Callable[[str], None] = lambda _lb_id: None,
    ) -> None:
        """One tick over every load balancer: ``observe`` returns its health report and its
        statistics records; health is sent per load balancer, statistics in one report. A load
        balancer being converged is skipped (``busy`` is told) and seen on the next tick."""
        with self._guard:
            graphs = dict(self._graphs)
        statistics: list[ListenerStatistics] = []
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
            statistics.extend(_per_instance(records, plan))
        if statistics:
            lib.update_listener_statistics({"listeners": statistics})

    def _send_health(self, lib: Any, lb_id: str, report: StatusReport) -> None:
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

    def close(self) -> None:
        """The agent is stopping: release what it holds. Data planes keep running, with their
        VIPs and keepalived (the next agent adopts them); subclasses stop their threads here."""

    def stop_all(self) -> None:
        """Stop every data-plane process of this state directory and take its VIPs off
        (state stays; a later converge starts them again)."""
        for lb_id in sorted(self.known_ids()):
            with self._lock(lb_id):
                self._release(lb_id)
                self.instance(lb_id).stop()

    def counters(self, lb_id: str) -> dict[str, Any]:
        """Reload/start/restart/... counts of one load balancer (for tests, ops)."""
        return self.instance(lb_id).counters()


def _per_instance(records: list[ListenerStatistics],
                  plan: VipPlan | None) -> list[ListenerStatistics]:
    """Name this instance's amphora in each statistics record when it is placed as one of
    several (ACTIVE_STANDBY): the driver agent keeps counters per (listener, amphora) and the
    API sums them, so the two hosts' reports add up instead of overwriting each other. A
    STANDALONE instance keeps reporting per listener, so counters kept before an upgrade are
    not counted twice."""
    if plan is None or plan.placement.role == STANDALONE:
        return records
    amphora = plan.placement.amphora_id
    if not amphora:
        return records
    return [{**record, "amphora_id": amphora} for record in records]
