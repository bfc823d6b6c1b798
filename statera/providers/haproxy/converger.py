"""The HAProxy converger: desired graph in, running HAProxy and status reports out.

``converge`` works on the whole load balancer (render, compare with what runs, then the smallest
change: nothing, runtime-API commands, or a validated seamless reload) and returns the
provisioning report for the reconcile loop to send. A process an earlier agent left running is
adopted the same way: its pid file names it, ``owns`` checks /proc, the runtime socket must
answer and the rendered configuration's hash must equal the one recorded for that pid
(``running.json``) for it to be kept untouched.
``tick`` is the observation side: every ``health_poll_interval`` it reads ``show stat`` of every
process, restarts dead ones, and reports operating statuses that changed; every
``stats_interval`` it reports listener statistics as absolute totals. Per-load-balancer locks
keep ``converge`` (worker threads) and ``tick`` (the loop thread) from touching one process at
the same time.
"""

from __future__ import annotations

import logging
import resource
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, Protocol

from octavia_lib.api.drivers import data_models as dm

from statera.agent.reconcile import StatusReport, active_report, deleted_report
from statera.config import Settings, provider_section
from statera.providers.haproxy import dynamic, health, render, view
from statera.providers.haproxy.process import Instance, ProcessError
from statera.providers.haproxy.runtime import RuntimeAPIError
from statera.providers.haproxy.settings import HAProxySettings
from statera.providers.haproxy.stats import StatsBook
from statera.providers.kit.converger import LocalConverger, Observation, default_timeouts
from statera.providers.kit.liveness import POLL_TIMEOUT, Silence
from statera.providers.kit.stats import ListenerStatistics
from statera.providers.kit.status import amphora_id, failed_report, pick
from statera.providers.kit.vips import PlacementFn, Vips

__all__ = ["HAProxyConverger", "amphora_id", "failed_report"]

LOG = logging.getLogger(__name__)


class Reporter(Protocol):
    """The part of octavia-lib's DriverLibrary that ``tick`` uses."""

    def update_loadbalancer_status(self, status: dict[str, Any]) -> None: ...

    def update_listener_statistics(self, statistics: dict[str, Any]) -> None: ...


def fd_connection_cap() -> int:
    """Largest global maxconn HAProxy can honour under this host's file-descriptor limit
    (it needs two descriptors per connection plus two per splice pipe, and ``maxpipes``
    defaults to maxconn/4, so 2.5 per connection; it refuses to start otherwise)."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        return 1_000_000
    return max(100, min(1_000_000, (hard - 500) * 2 // 5))


#: Seconds a ``del server`` waits for the server's connections to finish before reloading.
DEL_SERVER_WAIT = 3.0

class HAProxyConverger(LocalConverger[Instance]):
    def __init__(self, settings: Settings, state_dir: Path,
                 clock: Callable[[], float] = time.monotonic,
                 placement: PlacementFn | None = None) -> None:
        hs = provider_section(settings, "haproxy", HAProxySettings)
        super().__init__(state_dir, hs.binary, Instance, clock,
                         Vips.from_settings(settings, placement))
        self.settings = hs
        self.options = view.Options(
            state_dir=str(state_dir), **default_timeouts(settings),
            timeout_tcp_inspect=settings.listener_defaults.timeout_tcp_inspect,
            max_global_conns=fd_connection_cap(),
            ping_script=str(render.PING_SCRIPT),
        )
        self._silence = Silence()  # health polls in a row without a runtime-API answer

    # --- Converger protocol -----------------------------------------------------------------
    def converge(self, lb_id: str, lb: dm.LoadBalancer | None) -> StatusReport:
        with self._lock(lb_id):
            if lb is None:
                self._release(lb_id)
                self.instance(lb_id).remove()
                self._forget(lb_id)
                LOG.info("haproxy %s: removed", lb_id)
                # The driver agent removes the amphora row together with the load balancer.
                return deleted_report(lb_id)
            inst = self.instance(lb_id)
            found = self._found_running(inst)
            try:
                plan = self._vip_plan(lb_id, lb)
                options = replace(self.options, freebind=plan.freebind)
                lb_view = view.build_view(lb, options)
                text = render.render_config(lb_view)
                self._vips_before(inst, plan)
                self._apply(inst, lb_view, text)
                self._vips_after(lb_id, inst, plan)
            except (view.ConfigError, ProcessError) as exc:
                LOG.error("haproxy %s: configuration not applied, previous one kept: %s",
                          lb_id, exc)
                return failed_report(lb)
            self._adopted(inst, found)
            with self._guard:
                previous = self._reported.get(lb_id, {})
            observed = self._observe(inst, lb, previous)
            pid = inst.pid()
            with self._guard:
                self._graphs[lb_id] = lb
                self._reported[lb_id] = observed
                self._amphorae[lb_id] = pid
            report = active_report(lb, operating=lambda kind, obj: pick(observed, kind, obj))
            report["amphorae"] = [self._amphora(lb_id, lb, pid, "haproxy")]
            return report

    def failover(self, lb_id: str, lb: dm.LoadBalancer) -> None:
        """Octavia's failover: replace the running instance (a hung one is killed first). The
        converge that follows brings configuration and reports up to date."""
        with self._lock(lb_id):
            inst = self.instance(lb_id)
            if not inst.alive() or inst.current_config() is None:
                return  # converge starts it afresh anyway
            try:
                if inst.responsive():
                    inst.replace("failover requested")
                else:
                    inst.rebuild("failover requested; process not answering")
            except ProcessError as exc:
                LOG.error("haproxy %s: failover failed: %s", lb_id, exc)

    def _apply(self, inst: Instance, lb_view: view.LBView, text: str) -> None:
        files = dict(lb_view.files)
        alive = inst.alive()
        current = inst.current_config()
        old = inst.load_view()
        files_unchanged = inst.files_unchanged(files)
        if alive and inst.runs(text) and files_unchanged:
            if not inst.responsive():
                # Nothing to change, but the process does not answer (hung or stopped): this
                # is what a failover is for, and any resync does it too.
                inst.rebuild("process alive but not answering")
            return
        if alive and current is not None:
            # New certificate contents are only read at start-up: they always need a reload.
            plan = dynamic.runtime_plan(old, lb_view) if files_unchanged else None
            if plan is not None and self._run(inst, plan):
                inst.install(text, files)
                inst.save_view(dynamic.as_json(lb_view))
                inst.bump("runtime_updates")
                LOG.info("haproxy %s: %d runtime command(s), no reload (member changes)",
                         inst.lb_id, len(plan))
                return
            reason = "configuration changed" if current != text else "certificates changed"
            self._run(inst, dynamic.sync_plan(old, lb_view), quiet=True)
            self._fold_stats(inst)
        elif alive:
            reason = "configuration file missing"
        else:
            reason = "process not running" if current is not None else "new load balancer"
        inst.apply(text, files, reason)
        inst.save_view(dynamic.as_json(lb_view))

    @staticmethod
    def _run(inst: Instance, plan: list[dynamic.Command], quiet: bool = False) -> bool:
        for command, markers in plan:
            try:
                _checked(inst, command, markers)
            except RuntimeAPIError as exc:
                if not quiet:
                    LOG.info("haproxy %s: runtime change refused, reloading instead: %s",
                             inst.lb_id, exc)
                return False
        return True

    def _fold_stats(self, inst: Instance) -> None:
        """Count what the old process served since the last poll before it is replaced."""
        with self._guard:
            lb = self._graphs.get(inst.lb_id)
        if lb is None:
            return
        try:
            rows = inst.runtime.show_stat()
        except RuntimeAPIError:
            return
        StatsBook(inst.dir / "stats.json").update(inst.pid(), rows, _listener_ids(lb))

    def _observe(self, inst: Instance, lb: dm.LoadBalancer,
                 previous: health.Statuses) -> health.Statuses:
        try:
            rows = inst.runtime.show_stat()
        except RuntimeAPIError:
            rows = []
        return health.observe(lb, rows, previous)

    # --- observation ------------------------------------------------------------------------
    def tick(self, lib: Reporter) -> None:
        do_health, do_stats = self._due(self.settings.health_poll_interval,
                                        self.settings.stats_interval)
        if not (do_health or do_stats):
            return
        self._observe_all(lib, lambda lb_id, lb: self._tick_one(lb_id, lb, do_health, do_stats))

    def _tick_one(self, lb_id: str, lb: dm.LoadBalancer, do_health: bool, do_stats: bool
                  ) -> Observation:
        with self._guard:
            if self._graphs.get(lb_id) is not lb:
                return {}, []  # removed or replaced meanwhile
        inst = self.instance(lb_id)
        inst.runtime.timeout = POLL_TIMEOUT  # one hung process must not stall every report
        if not inst.alive() and inst.current_config() is not None:
            try:
                inst.restart("process found dead by the health poll")
            except ProcessError as exc:
                LOG.error("haproxy %s: restart failed: %s", lb_id, exc)
        try:
            rows = inst.runtime.show_stat()
            self._silence.answered(lb_id)
        except RuntimeAPIError:
            rows = []
            misses = self._silence.silent(lb_id) if inst.alive() else 0
            if misses:
                try:
                    inst.rebuild(f"runtime API silent for {misses} health polls")
                except ProcessError as exc:
                    LOG.error("haproxy %s: rebuild failed: %s", lb_id, exc)
        report: StatusReport = {}
        if do_health:
            with self._guard:
                previous = self._reported.get(lb_id, {})
            observed = health.observe(lb, rows, previous)
            pid = inst.pid()
            with self._guard:
                report = dict(health.changes(observed, previous))
                self._reported[lb_id] = observed
                if self._amphorae.get(lb_id, -1) != pid:  # restarted (or died) since reported
                    report["amphorae"] = [self._amphora(lb_id, lb, pid, "haproxy")]
                    self._amphorae[lb_id] = pid
        records: list[ListenerStatistics] = []
        if do_stats and rows:
            records = StatsBook(inst.dir / "stats.json").update(inst.pid(), rows,
                                                                _listener_ids(lb))
        return report, records


def _checked(inst: Instance, command: str, markers: tuple[str, ...]) -> None:
    """Run one runtime command; ``del server`` is retried while the server (already in
    maintenance, so taking no new requests) finishes what it is serving: refusing at once
    would turn every member removal under load into a reload."""
    deadline = time.monotonic() + DEL_SERVER_WAIT
    while True:
        try:
            inst.runtime.checked(command, *markers)
            return
        except RuntimeAPIError as exc:
            busy = command.startswith("del server ") and "still has connections" in str(exc)
            if not busy or time.monotonic() >= deadline:
                raise
        time.sleep(0.01)


def _listener_ids(lb: dm.LoadBalancer) -> list[str]:
    return [str(x.listener_id) for x in view.val(lb.listeners, []) or []]
