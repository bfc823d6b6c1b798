"""The NGINX converger: desired graph in, running NGINX and status reports out.

``converge`` renders the whole load balancer (with the prober's current verdicts: a member that
failed its checks is ``down``), compares with what runs and, if different, validates and reloads
gracefully. A master an earlier agent left running is adopted when it is this load balancer's
(``owns``: working directory and command line), has a serving worker and runs the configuration
this agent renders (recorded hash); its saved verdicts stand in until this agent's prober has
checked each member, so adopting does not reload it. ``tick`` is the observation side: every
``health_poll_interval`` it restarts dead masters, re-renders load balancers whose members
changed health (so a down member takes no new connection, a recovered one takes them again) and
reports operating statuses that changed; every ``stats_interval`` it reports listener statistics
as absolute totals. Per-load-balancer locks keep ``converge`` (worker threads) and ``tick`` (the
loop thread) from touching one instance at the same time.
"""

from __future__ import annotations

import collections
import logging
import resource
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from octavia_lib.api.drivers import data_models as dm

from statera.agent.reconcile import StatusReport, active_report, deleted_report
from statera.config import Settings, provider_section
from statera.providers.kit import status as st
from statera.providers.kit.converger import LocalConverger, Observation, default_timeouts
from statera.providers.kit.graph import enabled, val, vip_addresses
from statera.providers.kit.liveness import Silence
from statera.providers.kit.prober import Prober, checks_for
from statera.providers.kit.stats import ListenerStatistics, StatsBook
from statera.providers.kit.vips import PlacementFn, Vips, nonlocal_bind
from statera.providers.nginx import counters, render, view
from statera.providers.nginx.process import Instance, ProcessError
from statera.providers.nginx.settings import NginxSettings

LOG = logging.getLogger(__name__)


class Reporter(Protocol):
    """The part of octavia-lib's DriverLibrary that ``tick`` uses."""

    def update_loadbalancer_status(self, status: dict[str, Any]) -> None: ...

    def update_listener_statistics(self, statistics: dict[str, Any]) -> None: ...


def worker_connections() -> int:
    """Connections one worker may hold under this host's file-descriptor limit (two
    descriptors per proxied connection)."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        return 65536
    return max(64, min(65536, (hard - 100) // 2))


def used_pools(lb: dm.LoadBalancer) -> dict[str, dm.Pool]:
    """Pools an enabled listener of an enabled load balancer sends traffic to."""
    pools = {str(p.pool_id): p for p in val(lb.pools, []) or []}
    if not enabled(lb):
        return {}
    out = {}
    for listener in val(lb.listeners, []) or []:
        pool = pools.get(view.default_pool_id(listener))
        if enabled(listener) and pool is not None and enabled(pool):
            out[str(pool.pool_id)] = pool
    return out


def observe(lb: dm.LoadBalancer, alive: bool, health: dict[str, bool | None],
            active: dict[str, int]) -> st.Statuses:
    """Operating status of every object of ``lb`` (Octavia's roll-up, as for HAProxy):
    monitored members follow the prober (not checked yet: OFFLINE, never ONLINE before a check
    passed), a pool whose monitored members are all down is ERROR and so is the LB."""
    out: st.Statuses = {}
    lb_status = st.ONLINE if enabled(lb) else st.OFFLINE
    for listener in val(lb.listeners, []) or []:
        lid = str(listener.listener_id)
        limit = val(listener.connection_limit, -1)
        if not enabled(lb) or not enabled(listener):
            status = st.OFFLINE
        elif not alive:
            status = st.ERROR
        elif limit not in (-1, None) and active.get(lid, 0) >= limit:
            status = st.DEGRADED
        else:
            status = st.ONLINE
        if status in (st.ERROR, st.DEGRADED) and lb_status == st.ONLINE:
            lb_status = status
        out[("listeners", lid)] = status
    used = used_pools(lb)
    for pool in val(lb.pools, []) or []:
        pool_id = str(pool.pool_id)
        monitored = view.monitored(pool)
        members = val(pool.members, []) or []
        if pool_id not in used:
            out[("pools", pool_id)] = st.OFFLINE
            for member in members:
                out[("members", str(member.member_id))] = (
                    st.NO_MONITOR if enabled(member) and not monitored else st.OFFLINE)
            continue
        pool_status = st.ONLINE
        verdicts = []
        for member in members:
            mid = str(member.member_id)
            if not enabled(member):
                status = st.OFFLINE
            elif monitored:
                verdict = health.get(mid)
                verdicts.append(verdict)
                status = {True: st.ONLINE, False: st.ERROR, None: st.OFFLINE}[verdict]
                if status == st.ONLINE and val(member.weight, 1) == 0:
                    status = st.DRAINING
            else:
                status = st.DRAINING if val(member.weight, 1) == 0 else st.NO_MONITOR
            out[("members", mid)] = status
            pool_status = st.degrade(pool_status, status)
        if verdicts and all(v is False for v in verdicts):
            pool_status = st.ERROR
            lb_status = st.ERROR
        elif pool_status == st.DEGRADED and lb_status == st.ONLINE:
            lb_status = st.DEGRADED
        out[("pools", pool_id)] = pool_status
    out[("loadbalancers", str(lb.loadbalancer_id))] = lb_status
    return out


class NginxConverger(LocalConverger[Instance]):
    def __init__(self, settings: Settings, state_dir: Path,
                 clock: Callable[[], float] = time.monotonic,
                 prober: Prober | None = None, placement: PlacementFn | None = None) -> None:
        ns = provider_section(settings, "nginx", NginxSettings)
        super().__init__(state_dir, ns.binary, Instance, clock,
                         Vips.from_settings(settings, placement))
        self.settings = ns
        self.options = view.Options(
            state_dir=str(state_dir), **default_timeouts(settings),
            stream_module=ns.stream_module,
            worker_connections=worker_connections(),
        )
        self._silence = Silence()  # health polls in a row without a status-socket answer
        self.prober = prober or Prober()
        self._health: dict[str, dict[str, bool | None]] = {}  # the verdicts last applied
        #: Verdicts of adopted instances standing in until the prober has its own.
        self._seeds: dict[str, dict[str, bool]] = {}

    def _render(self, lb: dm.LoadBalancer, health: dict[str, bool | None]
                ) -> tuple[str, dict[str, str]]:
        """nginx.conf (members marked down per ``health``) and the certificate files it names.
        Callers observe with the same ``health`` snapshot, so no member reads ERROR while the
        running configuration still sends it traffic."""
        lb_view = view.build_view(lb, self.options, health)
        return render.render_config(lb_view), dict(lb_view.files)

    # --- Converger protocol -----------------------------------------------------------------
    def converge(self, lb_id: str, lb: dm.LoadBalancer | None) -> StatusReport:
        with self._lock(lb_id):
            if lb is None:
                self.prober.forget(lb_id)
                self._release(lb_id)
                self.instance(lb_id).remove()
                self._forget(lb_id)
                with self._guard:
                    self._health.pop(lb_id, None)
                    self._seeds.pop(lb_id, None)
                LOG.info("nginx %s: removed", lb_id)
                return deleted_report(lb_id)
            inst = self.instance(lb_id)
            found = self._found_running(inst)
            if found is not None:
                self._seed(inst)
            try:
                plan = self._vip_plan(lb_id, lb)
                if plan.freebind and not nonlocal_bind(plan.primary):
                    # NGINX has no per-socket freebind: the BACKUP binds the VIP it does not
                    # hold only where the host allows binding any address.
                    raise view.ConfigError(
                        f"{plan.placement.role} instance: NGINX needs net.ipv4.ip_nonlocal_bind"
                        " (net.ipv6.ip_nonlocal_bind) = 1 to bind a VIP keepalived may move")
                self.prober.watch(lb_id, checks_for(list(used_pools(lb).values())))
                health = self._verdicts(lb_id)
                self._vips_before(inst, plan)
                self._apply(inst, *self._render(lb, health), health=health)
                self._vips_after(lb_id, inst, plan)
            except (view.ConfigError, ProcessError) as exc:
                LOG.error("nginx %s: configuration not applied, previous one kept: %s",
                          lb_id, exc)
                return st.failed_report(lb)
            self._adopted(inst, found)
            observed = self._observe(inst, lb, health)
            pid = inst.pid()
            with self._guard:
                self._graphs[lb_id] = lb
                self._reported[lb_id] = observed
                self._health[lb_id] = health
                self._amphorae[lb_id] = pid
            report = active_report(lb, operating=lambda kind, obj: st.pick(observed, kind, obj))
            report["amphorae"] = [self._amphora(lb_id, lb, pid, "nginx")]
            return report

    def failover(self, lb_id: str, lb: dm.LoadBalancer) -> None:
        """Octavia's failover: a new NGINX master takes over from the running one."""
        with self._lock(lb_id):
            inst = self.instance(lb_id)
            if inst.current_config() is None:
                return  # converge starts it afresh anyway
            try:
                if inst.alive() and not inst.answers():  # hung: it would not take USR2
                    inst.rebuild("failover requested; master not answering")
                else:
                    inst.replace("failover requested")
            except ProcessError as exc:
                LOG.error("nginx %s: failover failed: %s", lb_id, exc)

    def _seed(self, inst: Instance) -> None:
        """Adopting a master an earlier agent started: until this agent's prober has its own
        verdict on a member, keep the one the running configuration was rendered with, so
        that adopting renders the same configuration (no reload) and reports the same health."""
        saved = (inst.load_view() or {}).get("health") or {}
        seeds = {str(k): v for k, v in saved.items() if isinstance(v, bool)}
        with self._guard:
            if seeds:
                self._seeds[inst.lb_id] = seeds
            else:
                self._seeds.pop(inst.lb_id, None)

    def _verdicts(self, lb_id: str) -> dict[str, bool | None]:
        """The prober's verdicts, a seeded one standing in for "not checked yet" (a seed is
        dropped once the prober has spoken for that member, or stops watching it)."""
        health = self.prober.states(lb_id)
        with self._guard:
            seeds = self._seeds.get(lb_id)
            if not seeds:
                return health
            merged = dict(health)
            for member_id in list(seeds):
                if member_id in health and health[member_id] is None:
                    merged[member_id] = seeds[member_id]
                else:
                    del seeds[member_id]
            if not seeds:
                del self._seeds[lb_id]
        return merged

    def _apply(self, inst: Instance, text: str, files: dict[str, str],
               reason: str | None = None, health: dict[str, bool | None] | None = None
               ) -> None:
        """Reload only for a different configuration or certificate (NGINX reads certificate
        files at start and reload only); a master without a serving worker is rebuilt. The
        verdicts the new configuration was rendered with are saved with it (``view.json``)."""
        alive = inst.alive()
        current = inst.current_config()
        files_unchanged = inst.files_unchanged(files)
        if alive and inst.runs(text) and files_unchanged:
            if not inst.responsive():
                inst.rebuild("master alive but no worker serving")
            return
        if reason is None:
            if alive:
                reason = ("configuration changed" if current != text
                          else "certificates changed")
            else:
                reason = "master not running" if current is not None else "new load balancer"
        inst.apply(text, files, reason)
        inst.save_view({"health": {k: v for k, v in (health or {}).items() if v is not None}})

    def _observe(self, inst: Instance, lb: dm.LoadBalancer, health: dict[str, bool | None],
                 table: collections.Counter[str] | None = None) -> st.Statuses:
        alive = inst.alive()
        active = self._active(lb, table) if alive else {}
        return observe(lb, alive, health, active)

    @staticmethod
    def _active(lb: dm.LoadBalancer,
                table: collections.Counter[str] | None = None) -> dict[str, int]:
        """Established connections per TCP-based listener (only those with a limit matter
        for the status; statistics want all)."""
        out: dict[str, int] = {}
        table = counters.established_table() if table is None else table
        try:
            vips = vip_addresses(lb)
        except view.ConfigError:
            return out
        for listener in val(lb.listeners, []) or []:
            if val(listener.protocol) != "UDP" and val(listener.protocol_port):
                out[str(listener.listener_id)] = counters.established(
                    vips, int(listener.protocol_port), table)
        return out

    # --- observation ------------------------------------------------------------------------
    def tick(self, lib: Reporter) -> None:
        changed = self.prober.take_changed()
        do_health, do_stats = self._due(self.settings.health_poll_interval,
                                        self.settings.stats_interval, bool(changed))
        if not (do_health or do_stats):
            return
        with self._guard:
            if not self._graphs:
                return  # nothing to observe: reading the host's TCP tables (tens of ms on a
                # busy host) for no load balancer cost every `statera serve` CPU per tick
        table = counters.established_table()

        def busy(lb_id: str) -> None:
            if lb_id in changed:  # being converged; look again on the next tick
                self.prober.mark_changed(lb_id)

        self._observe_all(
            lib, lambda lb_id, lb: self._tick_one(lb_id, lb, lb_id in changed, do_stats, table),
            busy)

    def _tick_one(self, lb_id: str, lb: dm.LoadBalancer, health_changed: bool,
                  do_stats: bool, table: collections.Counter[str]
                  ) -> Observation:
        with self._guard:
            if self._graphs.get(lb_id) is not lb:
                return {}, []
        inst = self.instance(lb_id)
        self._replace_if_hung(inst)
        if not inst.alive() and inst.current_config() is not None:
            try:
                inst.restart("master found dead by the health poll")
            except ProcessError as exc:
                LOG.error("nginx %s: restart failed: %s", lb_id, exc)
        health = self._verdicts(lb_id)
        with self._guard:
            applied = self._health.get(lb_id)
        if health_changed or health != applied:
            try:
                self._apply(inst, *self._render(lb, health), reason="member health changed",
                            health=health)
            except (view.ConfigError, ProcessError) as exc:
                LOG.error("nginx %s: health change not applied: %s", lb_id, exc)
                health = applied or {}
        observed = self._observe(inst, lb, health, table)
        pid = inst.pid()
        with self._guard:
            report = dict(st.changes(observed, self._reported.get(lb_id, {})))
            self._reported[lb_id] = observed
            self._health[lb_id] = health
            if self._amphorae.get(lb_id, -1) != pid:
                report["amphorae"] = [self._amphora(lb_id, lb, pid, "nginx")]
                self._amphorae[lb_id] = pid
        records: list[ListenerStatistics] = []
        if do_stats:
            records = self.statistics(inst, lb, table)
        return report, records

    def _replace_if_hung(self, inst: Instance) -> None:
        """A live master that has not answered ``HUNG_POLLS`` health polls in a row (stopped,
        stuck) is killed with its workers and started afresh (``kit.liveness``)."""
        if not inst.alive():
            return  # dead: restarted by the caller
        if inst.answers():
            self._silence.answered(inst.lb_id)
            return
        misses = self._silence.silent(inst.lb_id)
        if misses:
            try:
                inst.rebuild(f"status socket silent for {misses} health polls")
            except ProcessError as exc:
                LOG.error("nginx %s: rebuild failed: %s", inst.lb_id, exc)

    def statistics(self, inst: Instance, lb: dm.LoadBalancer,
                   table: collections.Counter[str] | None = None) -> list[ListenerStatistics]:
        """Absolute per-listener totals from the access logs, plus active connections."""
        contexts = {str(x.listener_id): view.CONTEXTS.get(str(val(x.protocol, "")), "http")
                    for x in val(lb.listeners, []) or []}
        sums = counters.LogCounters(inst.dir, inst.reopen_logs).read(contexts)
        active = self._active(lb, table)
        for lid, row in sums.items():
            row["active_connections"] = active.get(lid, 0)
        return StatsBook(inst.dir / "stats.json").fold(0, dict(sums), list(contexts))

    def close(self) -> None:
        """Stop the prober; every NGINX keeps running for the next agent to adopt."""
        self.prober.stop()
        super().close()
