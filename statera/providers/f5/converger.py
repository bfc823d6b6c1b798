"""The f5 provider's converger: load balancers → per-tenant AS3 declarations, and back from
the device: member health and listener statistics.

``converge`` builds the load balancer's ``Application`` and checks it against the AS3 schema
(a failure makes that load balancer ERROR and touches nothing else), records it in its
tenant and waits for a declaration that includes it (``tenant.TenantState`` coalesces). The
periodic ``tick`` watches the device: at start and whenever it answers again after an outage
it logs the AS3 version, re-declares every tenant from the database (full resync) and removes
tenants under ``tenant_prefix`` that hold no load balancer of Statera's; every
``poll_interval`` it reads member health and virtual-server statistics.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Protocol

from octavia_lib.api.drivers import data_models as dm

from statera.agent.reconcile import StatusReport, active_report, deleted_report, error_report
from statera.providers.f5 import declaration as decl
from statera.providers.f5 import health
from statera.providers.f5.client import BigIPClient, DeviceError
from statera.providers.f5.declaration import val
from statera.providers.f5.schema import SchemaError, validate
from statera.providers.f5.settings import F5Settings
from statera.providers.f5.tenant import App, Outcome, TenantState

LOG = logging.getLogger(__name__)


class Reporter(Protocol):
    def list_loadbalancer_ids(self, provider: str) -> list[str]: ...
    def get_loadbalancer(self, loadbalancer_id: str) -> Any: ...
    def update_loadbalancer_status(self, status: dict[str, Any]) -> None: ...
    def update_listener_statistics(self, statistics: dict[str, Any]) -> None: ...


VALID_CACHE_SIZE = 4096


class SchemaCache:
    """Applications already found schema-valid (by content): the periodic resync re-converges
    every load balancer, and the schema check costs ~35 ms each."""

    def __init__(self, size: int = VALID_CACHE_SIZE) -> None:
        self._valid: OrderedDict[str, None] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def checked_application(self, tenant: str, lb: dm.LoadBalancer) -> App:
        """The load balancer's application, schema-checked in a declaration of its own."""
        name = decl.Names.app(lb.loadbalancer_id)
        app = decl.application(lb)
        body = decl.declaration(tenant, {name: app})
        key = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
        with self._lock:
            if key in self._valid:
                self._valid.move_to_end(key)
                return name, app
        validate(body)
        with self._lock:
            self._valid[key] = None
            while len(self._valid) > self._size:
                self._valid.popitem(last=False)
        return name, app


class F5Converger:
    def __init__(self, settings: F5Settings, client: BigIPClient, provider: str = "f5",
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
        self.client = client
        self.provider = provider
        self.clock = clock
        self._guard = threading.Lock()
        self._tenants: dict[str, TenantState] = {}
        self._lb_tenant: dict[str, str] = {}
        self._graphs: dict[str, dm.LoadBalancer] = {}  # declared graphs, for health reads
        self._observed: dict[str, health.Statuses] = {}
        self._reported: dict[str, health.Statuses] = {}
        self._device_up: bool | None = None  # None: not contacted yet
        self._refusal = ""  # set when the device cannot be used at all (AS3 too old)
        self._next_poll = 0.0
        self._synced = threading.Event()  # set by the first full resync
        self._schema = SchemaCache()
        self.declarations_sent = 0

    # -- convergence ------------------------------------------------------------------------
    def converge(self, lb_id: str, lb: dm.LoadBalancer | None) -> StatusReport:
        if lb is None:
            return self._remove(lb_id)
        if not self._wait_synced():
            LOG.error("f5 %s: not declared: %s", lb_id,
                      self._refusal or f"device {self.settings.url} unreachable")
            return error_report(lb_id)
        try:
            tenant = decl.tenant_name(self.settings.tenant_prefix, str(lb.project_id))
            app = self._schema.checked_application(tenant, lb)
        except (decl.DeclarationError, SchemaError) as exc:
            LOG.error("f5 %s: not declared (nothing sent to the device): %s", lb_id, exc)
            return error_report(lb_id)
        moved_from = self._lb_tenant.get(lb_id)
        if moved_from is not None and moved_from != tenant:
            self._remove(lb_id)
        state = self._tenant(tenant)
        with self._guard:
            self._lb_tenant[lb_id] = tenant
        outcome = state.sync(state.record(lb_id, app))
        if outcome.failed_for(lb_id):
            self._failed(lb_id, outcome)
            return error_report(lb_id)
        with self._guard:
            self._graphs[lb_id] = lb
            observed = self._observed.get(lb_id, {})
            self._reported.pop(lb_id, None)
        return active_report(lb, operating=lambda kind, obj: health.pick(observed, kind, obj))

    def _wait_synced(self) -> bool:
        """Wait for the first full resync (True), or until the device is known unusable.

        A tenant is declared whole: declaring one before every load balancer of the tenant
        is known would remove the others from the device until they converge too.
        """
        deadline = self.clock() + self.settings.task_timeout
        while not self._synced.wait(0.1):
            with self._guard:
                if self._device_up is False or self.clock() > deadline:
                    return False
        with self._guard:
            return not self._refusal

    def _remove(self, lb_id: str) -> StatusReport:
        with self._guard:
            tenant = self._lb_tenant.get(lb_id)
        if tenant is None:
            return deleted_report(lb_id)
        state = self._tenant(tenant)
        outcome = state.sync(state.record(lb_id, None))
        if outcome.failed_for(lb_id):
            self._failed(lb_id, outcome)
            return error_report(lb_id)
        self._forget(lb_id)
        return deleted_report(lb_id)

    def _forget(self, lb_id: str) -> None:
        with self._guard:
            self._lb_tenant.pop(lb_id, None)
            self._graphs.pop(lb_id, None)
            self._observed.pop(lb_id, None)
            self._reported.pop(lb_id, None)

    def _failed(self, lb_id: str, outcome: Outcome) -> None:
        if outcome.device_down:
            LOG.error("f5 %s: device unreachable: %s", lb_id, outcome.reason)
            with self._guard:
                self._device_up = False
        else:
            LOG.error("f5 %s: the device refused the declaration: %s", lb_id, outcome.reason)

    def _tenant(self, name: str) -> TenantState:
        with self._guard:
            if name not in self._tenants:
                self._tenants[name] = TenantState(name, self._send)
            return self._tenants[name]

    def _send(self, tenant: str, apps: dict[str, dict[str, Any]]) -> None:
        with self._guard:
            self.declarations_sent += 1
        if apps:
            LOG.info("f5: declaring tenant %s (%d load balancers)", tenant, len(apps))
            self.client.declare(tenant, decl.declaration(tenant, apps))
        else:
            LOG.info("f5: removing tenant %s (no load balancer left)", tenant)
            self.client.delete_tenant(tenant)

    def known_ids(self) -> set[str]:
        with self._guard:
            return set(self._lb_tenant)

    # -- periodic work ----------------------------------------------------------------------
    def tick(self, lib: Reporter) -> None:
        with self._guard:
            up = self._device_up
        now = self.clock()
        synced = self._synced.is_set()
        if up and synced and now < self._next_poll:
            return
        if not up or not synced:
            if not self._contact():
                return
            self.full_resync(lib)  # raises (and is tried again next tick) if the db fails
        if now >= self._next_poll:
            self._next_poll = now + self.settings.poll_interval
            self.observe(lib)

    def _contact(self) -> bool:
        """Whether the device answers (logging its AS3 version); False while it does not."""
        try:
            version = self.client.as3_version()
        except DeviceError as exc:
            with self._guard:
                was, self._device_up = self._device_up, False
                self._refusal = str(exc) if "older than" in str(exc) else ""
            if was is not False:
                LOG.error("f5: device %s unavailable: %s", self.settings.url, exc)
            return False
        LOG.info("f5: device %s answers, AS3 %s", self.settings.url, version)
        with self._guard:
            self._device_up = True
            self._refusal = ""
        return True

    def full_resync(self, lib: Reporter) -> None:
        """Declare every tenant from the database, once each, and remove stray tenants."""
        ids = set(lib.list_loadbalancer_ids(self.provider))
        for state in list(self._tenants.values()):
            state.forget_device_state()
        waits: dict[str, tuple[TenantState, int]] = {}
        prepared: dict[str, dm.LoadBalancer] = {}
        removed: list[str] = []
        reports: list[StatusReport] = []
        graphs = {lb_id: lib.get_loadbalancer(lb_id) for lb_id in sorted(ids)}
        for lb_id in sorted(self.known_ids() - {i for i, lb in graphs.items() if lb}):
            tenant = self._lb_tenant[lb_id]
            state = self._tenant(tenant)
            waits[tenant] = (state, state.record(lb_id, None))
            removed.append(lb_id)
        for lb_id, lb in graphs.items():
            if lb is None:
                continue
            try:
                tenant = decl.tenant_name(self.settings.tenant_prefix, str(lb.project_id))
                app = self._schema.checked_application(tenant, lb)
            except (decl.DeclarationError, SchemaError) as exc:
                LOG.error("f5 %s: not declared (nothing sent to the device): %s", lb_id, exc)
                reports.append(error_report(lb_id))
                continue
            state = self._tenant(tenant)
            with self._guard:
                self._lb_tenant[lb_id] = tenant
            waits[tenant] = (state, state.record(lb_id, app))
            prepared[lb_id] = lb
        outcomes = {tenant: state.sync(gen) for tenant, (state, gen) in waits.items()}
        for lb_id in removed:
            outcome = outcomes[self._lb_tenant[lb_id]]
            if not outcome.failed_for(lb_id):
                self._forget(lb_id)
                reports.append(deleted_report(lb_id))
            else:
                self._failed(lb_id, outcome)
                reports.append(error_report(lb_id))
        for lb_id, lb in prepared.items():
            outcome = outcomes[self._lb_tenant[lb_id]]
            if not outcome.failed_for(lb_id):
                with self._guard:
                    self._graphs[lb_id] = lb
                reports.append(active_report(lb))
            else:
                self._failed(lb_id, outcome)
                reports.append(error_report(lb_id))
        self._remove_strays()
        self._synced.set()
        for report in reports:
            try:
                lib.update_loadbalancer_status(report)
            except Exception:
                LOG.exception("f5: status report after resync failed")

    def _remove_strays(self) -> None:
        try:
            held = self.client.declared_tenants()
        except DeviceError as exc:
            LOG.error("f5: could not read the device's tenants: %s", exc)
            return
        with self._guard:
            ours = {name for name, state in self._tenants.items() if state.lb_ids()}
        for name in sorted(held):
            if name.startswith(self.settings.tenant_prefix) and name not in ours:
                LOG.info("f5: removing tenant %s: no load balancer of Statera's is in it", name)
                try:
                    self.client.delete_tenant(name)
                except Exception as exc:  # the next resync tries again
                    LOG.error("f5: removing tenant %s failed: %s", name, exc)

    def observe(self, lib: Reporter) -> None:
        """Read member health and virtual-server statistics; report what changed."""
        with self._guard:
            graphs = dict(self._graphs)
            tenants = dict(self._lb_tenant)
        statistics: list[dict[str, Any]] = []
        for lb_id, lb in sorted(graphs.items()):
            tenant = tenants.get(lb_id)
            if tenant is None:
                continue
            try:
                observed, records = self._observe_one(tenant, lb)
            except DeviceError as exc:
                LOG.warning("f5 %s: health/statistics read failed: %s", lb_id, exc)
                with self._guard:
                    self._device_up = False
                return
            with self._guard:
                if self._graphs.get(lb_id) is not lb:
                    continue  # changed meanwhile: the next read reports it
                self._observed[lb_id] = observed
                reported = self._reported.get(lb_id, {})
            report = health.changes(observed, reported)
            if report:
                try:
                    lib.update_loadbalancer_status(report)
                    with self._guard:
                        self._reported[lb_id] = observed
                except Exception:
                    LOG.exception("f5 %s: health report failed", lb_id)
            statistics.extend(records)
        if statistics:
            lib.update_listener_statistics({"listeners": statistics})

    def _observe_one(self, tenant: str, lb: dm.LoadBalancer
                     ) -> tuple[health.Statuses, list[dict[str, Any]]]:
        app = decl.Names.app(lb.loadbalancer_id)
        members: dict[str, list[dict[str, Any]]] = {}
        for pool in val(lb.pools, []):
            members[str(pool.pool_id)] = self.client.pool_member_stats(
                tenant, app, decl.Names.pool(pool.pool_id))
        records = []
        virtuals: dict[str, dict[str, Any]] = {}
        for listener in val(lb.listeners, []):
            entries = self.client.virtual_stats(tenant, app,
                                                decl.Names.service(listener.listener_id))
            virtuals[str(listener.listener_id)] = entries
            records.append(health.listener_record(str(listener.listener_id), entries))
        return health.observe(lb, members, virtuals), records
