"""The status socket: provisioning and operating status reported by provider agents.

Semantics follow Octavia's driver agent (octavia.md §4.4): records are applied in a fixed
order (members first, load balancers last) and the first bad record stops the batch with a
reply that names it (the records before it are applied). Unlike Octavia, a report is one
transaction taken under the row locks of the load balancers it speaks about, the same lock
every API write takes, so no report can undo a request made after the provider read.
Unknown ids are ignored; DELETED removes rows (a load balancer's row is kept as a DELETED
tombstone and its VIP released).

Statera adds generations (see ``statera.db.models``) so that provisioning status follows from
"what the provider has seen" instead of acting as a lock:

* an ACTIVE or ERROR report for an object whose generation is newer than the generation last
  served to the provider speaks about an older version of it and does not touch its
  provisioning status (operating status, which is observed health, is still applied);
* an ACTIVE report for a load balancer marks the served generation applied, which completes
  every still-pending object of that generation or older, even if the provider forgot to
  report it: their provisioning status is derived from the generations (``statera.db.models``),
  so the load balancer's row is the only one written, whatever the number of children
  (PENDING_DELETE rows are removed). If nothing newer is wanted, the load balancer becomes
  ACTIVE; otherwise it stays pending and the provider is hinted to converge again;
* an ERROR report for a load balancer fails its pending objects of the served generation;
* when no generation was ever served (a provider that never uses the get socket), reports
  are applied exactly as Octavia would apply them.

The served generation is the get socket's record in this driver agent's memory
(``statera.agent.served``: the get socket only reads).

What a provider says about an object is recorded as that object's ``reported_status`` for
its current generation (the columns this handler alone writes, with the load balancer's
``applied_generation``); a later request supersedes it by stamping a newer generation.

The extension key ``amphorae`` lets a provider report its data-plane instances. Reports and
the records they apply are counted for ``/metrics``.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from octavia_lib.common import constants as lib_consts
from sqlalchemy import Boolean, DateTime, Integer, delete, select
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import Session

from statera.agent import dbgraph
from statera.agent.get import HostScope
from statera.agent.served import ServedGenerations
from statera.controller import placement
from statera.db.engine import Database
from statera.db.models import Amphora, LoadBalancer, utcnow
from statera.db.statuses import (
    COMPLETED_BY_ACTIVE,
    DELETING,
    PENDING,
    OperatingStatus,
    ProvisioningStatus,
)
from statera.metrics.instruments import STATUS_RECORDS, STATUS_REPORTS

LOG = logging.getLogger(__name__)


AMPHORAE = "amphorae"
#: Octavia's status of an amphora that serves a load balancer.
ALLOCATED = "ALLOCATED"

#: Octavia's processing order (children before parents), then Statera's amphora extension.
ORDER: tuple[str, ...] = (
    lib_consts.MEMBERS,
    lib_consts.HEALTHMONITORS,
    lib_consts.POOLS,
    lib_consts.L7RULES,
    lib_consts.L7POLICIES,
    lib_consts.LISTENERS,
    lib_consts.LOADBALANCERS,
    AMPHORAE,
)

#: ``release_vip(session, lb_row)``: give back a deleted load balancer's VIP (network layer).
ReleaseVip = Callable[[Session, LoadBalancer], None]
#: ``rehint(provider, lb_id)``: ask the provider's agent to converge the load balancer again.
Rehint = Callable[[str, str], None]

Reply = dict[str, Any]


class RecordError(Exception):
    """A status record that cannot be applied; the message is sent to the provider."""


def _no_vip_release(_session: Session, _lb: LoadBalancer) -> None:
    return None


def _no_rehint(_provider: str, _lb_id: str) -> None:
    return None


def _status_value(record: dict[str, Any], key: str, allowed: type[StrEnum]) -> str | None:
    """The record's status under ``key``, None when absent or empty, RecordError if invalid."""
    value = record.get(key)
    if value is None or value == "":
        return None
    choices = [member.value for member in allowed]
    if not isinstance(value, str) or value not in choices:
        raise RecordError(f"invalid {key} {value!r}; expected one of: {', '.join(choices)}")
    return value


#: Seconds between two re-hints of one load balancer. The API hints on every write itself;
#: re-hints are a backstop, and a provider that keeps reporting ACTIVE without reading the
#: new generation must not turn them into a busy loop between it and the driver agent.
REHINT_INTERVAL = 1.0


class StatusHandler:
    """Answers one status-socket request; thread-safe (one transaction per request).

    ``release_vip`` is called for every load balancer reported DELETED, inside the transaction
    that tombstones it, whoever owns the VIP: the network layer deletes an address it allocated
    and only detaches a port the user brought (``lb.vip_octavia_owned`` says which).
    """

    def __init__(
        self,
        database: Database,
        *,
        release_vip: ReleaseVip | None = None,
        rehint: Rehint | None = None,
        rehint_interval: float = REHINT_INTERVAL,
        scope: HostScope | None = None,
        served: ServedGenerations | None = None,
    ) -> None:
        self.database = database
        self.scope = scope
        #: What the get socket of this driver agent served (shared with it).
        self.served = served if served is not None else ServedGenerations()
        self.release_vip = release_vip or _no_vip_release
        self.rehint = rehint or _no_rehint
        self.rehint_interval = rehint_interval
        self._hinted: dict[str, float] = {}
        self._hint_lock = threading.Lock()

    def __call__(self, request: dict[str, Any]) -> Reply:
        records, failure = _parse_request(request)
        if records:
            try:
                hints = self._apply_report(records)
            except _ApplyFailed as exc:  # a database error: report it, keep serving
                STATUS_REPORTS.labels("failed").inc()
                LOG.error("status report for %s %s failed", exc.record.kind, exc.record.obj_id,
                          exc_info=exc.__cause__)
                cause = exc.__cause__
                message = (str(cause).splitlines()[0] if str(cause) else type(cause).__name__)
                return _failure(f"could not apply the record: {message}", exc.record.kind,
                                exc.record.obj_id, exc.record.raw)
            for record in records:
                STATUS_RECORDS.labels(record.kind).inc()
            for provider, lb_id in hints:
                self._send_hint(provider, lb_id)
        STATUS_REPORTS.labels("rejected" if failure else "applied").inc()
        return failure or {lib_consts.STATUS_CODE: lib_consts.DRVR_STATUS_CODE_OK}

    def _send_hint(self, provider: str, lb_id: str) -> None:
        now = time.monotonic()
        with self._hint_lock:
            last = self._hinted.get(lb_id)
            if last is not None and now - last < self.rehint_interval:
                LOG.debug("load balancer %s was re-hinted %.2f s ago; not again", lb_id, now - last)
                return
            self._hinted[lb_id] = now
            if len(self._hinted) > 4096:  # forget load balancers not hinted recently
                self._hinted = {k: t for k, t in self._hinted.items()
                                if now - t < self.rehint_interval}
        try:
            self.rehint(provider, lb_id)
        except Exception:  # the periodic resync converges it anyway
            LOG.exception("could not hint provider %s about load balancer %s", provider, lb_id)

    # Records --------------------------------------------------------------------------------
    def _apply_report(self, records: list[_Record]) -> list[tuple[str, str]]:
        """Apply a whole report in one transaction, under the load balancers' row locks.

        Every writer of a load balancer's state (the API's changes, this handler; the get
        socket only reads) takes the load balancer's row lock first, so a report
        can never be decided on a state that a later request has already replaced (a late
        ACTIVE undoing a PENDING_DELETE). Locks are taken in id order: two reports that share
        load balancers cannot deadlock. On SQLite, BEGIN IMMEDIATE already serialises writers.
        """
        hints: list[tuple[str, str]] = []
        with self.database.session() as session:
            lb_ids = _owning_lb_ids(session, records)
            dbgraph.lock_load_balancers(session, lb_ids)
            _graphs = dbgraph.load_graphs(session, lb_ids)  # referenced until the commit
            foreign = self._placed_elsewhere(session, lb_ids)
            if foreign:
                # A host that no longer owns a load balancer (it was moved while this host
                # was away, or it is tearing down a stray) has nothing to say about it.
                LOG.info("status report about load balancer(s) %s not placed on %s ignored",
                         ", ".join(sorted(foreign)), self.scope.host if self.scope else "-")
                return []
            completing = {record.obj_id for record in records
                          if record.kind == lib_consts.LOADBALANCERS
                          and record.prov == ProvisioningStatus.ACTIVE}
            for record in records:
                try:
                    hints.extend(self._apply_record(session, record, completing))
                    session.flush()
                except Exception as exc:
                    raise _ApplyFailed(record) from exc
            self._instances_serving(session, records)
        return hints

    def _instances_serving(self, session: Session, records: list[_Record]) -> None:
        """This host's placed instance of a load balancer it reported ACTIVE is serving
        (ALLOCATED, as Octavia's amphora of a live load balancer), whether or not its provider
        reports instances itself."""
        if self.scope is None:
            return
        for record in records:
            if record.kind != lib_consts.LOADBALANCERS or record.prov != ProvisioningStatus.ACTIVE:
                continue
            placed = session.scalars(select(Amphora).where(
                Amphora.load_balancer_id == record.obj_id,
                Amphora.compute_id == self.scope.host)).first()
            if placed is not None and placed.status == placement.BOOTING:
                placed.status = ALLOCATED
                placed.updated_at = utcnow()

    def _served_generation(self, lb: LoadBalancer) -> int | None:
        """The generation of ``lb`` this driver agent's get socket last served whole, recorded
        on the row (``served_generation``, under the report's row lock) for what reads the
        database: a load balancer served once follows what it was served from then on.

        None: never served (nor placed on hosts), so Octavia's plain semantics apply (a
        provider that never reads). Served before but not on record here (this driver agent
        restarted since the provider's read), or placed (its agent always reads before it
        reports): the report cannot be tied to a generation, so it stands for what is
        already applied. It completes nothing new, and a newer desired generation is hinted
        so the provider reads and reports again."""
        served = self.served.get(lb.id)
        if served is not None:
            if lb.served_generation != served:
                lb.served_generation = served
            return served
        if lb.served_generation is not None or self._placed(lb):
            return lb.applied_generation
        return None

    def _placed(self, lb: LoadBalancer) -> bool:
        """Whether ``lb`` belongs to a provider this driver agent places on hosts."""
        return self.scope is not None and self.scope.covers(lb.provider)

    def _placed_elsewhere(self, session: Session, lb_ids: set[str]) -> set[str]:
        """Of ``lb_ids``, the placed load balancers that have no instance on this host."""
        scope = self.scope
        if scope is None or not lb_ids:
            return set()
        foreign: set[str] = set()
        for lb_id in sorted(lb_ids):
            lb = session.get(LoadBalancer, lb_id)
            if lb is None or not scope.covers(lb.provider):
                continue
            if lb.provisioning_status == ProvisioningStatus.DELETED:
                continue
            if not placement.owns(session, scope.host, lb_id):
                foreign.add(lb_id)
        return foreign

    def _apply_record(
        self, session: Session, record: _Record, completing: set[str]
    ) -> list[tuple[str, str]]:
        """Apply one parsed record; returns hints to send after the commit. ``completing``:
        the load balancers this report says are ACTIVE (their records come last)."""
        if record.kind == AMPHORAE:
            return self._apply_amphora(session, record)
        row = dbgraph.get_row(session, record.kind, record.obj_id)
        if row is None:
            LOG.debug("status report for unknown %s %s ignored", record.kind, record.obj_id)
            return []
        if isinstance(row, LoadBalancer):
            return self._apply_lb(session, row, record.prov, record.oper)
        self._apply_child(session, row, record.prov, record.oper, completing)
        return []

    def _apply_child(
        self, session: Session, row: dbgraph.ChildRow, prov: str | None, oper: str | None,
        completing: set[str],
    ) -> None:
        if prov == ProvisioningStatus.DELETED:
            dbgraph.remove_row(session, row)
            return
        now = utcnow()
        lb = dbgraph.owning_load_balancer(row)
        # What the object reads now (derived once: it walks to the load balancer); a report
        # that says the same changes nothing, which is every record of a converged graph.
        current = row.provisioning_status if prov is not None else None
        if prov is not None and prov != current and self._completion_applies(
                row, lb, prov, current) and not (
                lb.id in completing and _completed_with(
                    lb, row, prov, current, self._served_generation(lb))):
            _report(row, prov, row.generation, now)
        if oper is not None:
            _set(row, "operating_status", oper, now)

    def _completion_applies(
        self, row: dbgraph.ChildRow, lb: LoadBalancer, prov: str, current: str | None
    ) -> bool:
        """Whether an object's reported provisioning status speaks for its current version
        (``current``: what it reads now)."""
        served = self._served_generation(lb)
        if served is None:  # no generation served: Octavia's plain semantics
            return True
        if prov in (ProvisioningStatus.ACTIVE, ProvisioningStatus.ERROR) and (
            row.generation > served
        ):
            LOG.debug("%s %s: %s report ignored, generation %d not yet served (served %d)",
                      type(row).__name__, row.id, prov, row.generation, served)
            return False
        if prov == ProvisioningStatus.ACTIVE and current == ProvisioningStatus.PENDING_DELETE:
            # The served graph did not contain it; only its removal (DELETED or the load
            # balancer's ACTIVE finalisation) completes a pending delete.
            return False
        return True

    def _apply_lb(
        self, session: Session, lb: LoadBalancer, prov: str | None, oper: str | None
    ) -> list[tuple[str, str]]:
        now = utcnow()
        if lb.provisioning_status == ProvisioningStatus.DELETED:
            return []  # a tombstone; late reports about it change nothing
        hints: list[tuple[str, str]] = []
        if prov == ProvisioningStatus.DELETED:
            if self._placed(lb) and lb.provisioning_status != ProvisioningStatus.PENDING_DELETE:
                # For a placed load balancer only a requested delete ends it. Its host's agent
                # found nothing to serve when the get socket did not count it the owner (a
                # lease seen lapsed, a placement moved meanwhile) and reports DELETED for what
                # the API still wants: converge again. (Unplaced providers keep Octavia's
                # plain semantics: their DELETED is final.)
                LOG.warning("DELETED report for load balancer %s ignored: it is %s, not "
                            "PENDING_DELETE", lb.id, lb.provisioning_status)
                return [(lb.provider, lb.id)] if lb.provider else []
            self._delete_lb(session, lb, now)
        elif prov == ProvisioningStatus.ACTIVE:
            hints = self._lb_active(session, lb, now)
        elif prov == ProvisioningStatus.ERROR:
            hints = self._lb_error(lb, now)
        elif prov is not None:
            _report(lb, prov, lb.desired_generation, now)
        if oper is not None:
            _set(lb, "operating_status", oper, now)
        return hints

    def _delete_lb(self, session: Session, lb: LoadBalancer, now: dt.datetime) -> None:
        self.release_vip(session, lb)
        dbgraph.remove_children(session, lb)  # their statistics and tags go with them
        # The data plane is gone, so are the instances that ran it.
        session.execute(delete(Amphora).where(Amphora.load_balancer_id == lb.id))
        _report(lb, ProvisioningStatus.DELETED, lb.desired_generation, now)
        self.served.forget(lb.id)

    def _lb_active(
        self, session: Session, lb: LoadBalancer, now: dt.datetime
    ) -> list[tuple[str, str]]:
        served = self._served_generation(lb)
        before = lb.provisioning_status  # read before the applied generation moves
        if served is None:
            # Octavia semantics: the provider says it is done; it reports children itself.
            lb.applied_generation = max(lb.applied_generation, lb.desired_generation)
            _report_active(lb, before, now)
            return []
        applied = max(lb.applied_generation, served)
        completed, deleted = self._completed_by(lb, applied)
        lb.applied_generation = applied
        if lb.provisioning_status == ProvisioningStatus.PENDING_DELETE:
            # The provider converged to a graph it read before the delete: not done yet.
            return self._hint_for(lb)
        # What the provider was served is in place, whether or not something newer waits: the
        # applied generation alone makes its creates and updates read ACTIVE (their updated_at
        # is touched, as on any status change); its deletes remove rows.
        dbgraph.touch_rows(session, completed, now)
        self._remove(session, deleted)
        if lb.desired_generation > lb.applied_generation:
            LOG.info("load balancer %s: generation %d applied, %d wanted; converging again",
                     lb.id, lb.applied_generation, lb.desired_generation)
            return self._hint_for(lb)
        _report_active(lb, before, now)
        return []

    @staticmethod
    def _completed_by(
        lb: LoadBalancer, applied: int
    ) -> tuple[list[dbgraph.ChildRow], list[dbgraph.ChildRow]]:
        """The pending objects that applying ``applied`` completes, read before it is recorded:
        (creates and updates, which will read ACTIVE; deletes, whose rows go)."""
        completed: list[dbgraph.ChildRow] = []
        deleted: list[dbgraph.ChildRow] = []
        for row in dbgraph.descendants(lb):
            if row.generation > applied:
                continue
            status = row.provisioning_status
            if status in COMPLETED_BY_ACTIVE:
                completed.append(row)
            elif status == ProvisioningStatus.PENDING_DELETE:
                deleted.append(row)
        return completed, deleted

    @staticmethod
    def _remove(session: Session, to_remove: list[dbgraph.ChildRow]) -> None:
        """Remove rows whose deletion was applied (a parent's removal takes its children)."""
        removed: set[str] = set()
        for row in to_remove:
            # A parent removed earlier took its children with it.
            if row.id in removed or any(p.id in removed for p in dbgraph.ancestors(row)):
                continue
            removed.update(child.id for child in dbgraph.descendants(row))
            removed.add(row.id)
            dbgraph.remove_row(session, row)

    def _lb_error(self, lb: LoadBalancer, now: dt.datetime) -> list[tuple[str, str]]:
        """The load balancer and its pending objects of the served generation failed: each is
        recorded ERROR (the rare path; an ACTIVE report writes no child)."""
        _report(lb, ProvisioningStatus.ERROR, lb.desired_generation, now)
        served = self._served_generation(lb)
        if served is None:
            return []
        failed = [row for row in dbgraph.descendants(lb)
                  if row.generation <= served and row.provisioning_status in PENDING]
        for row in failed:
            _report(row, ProvisioningStatus.ERROR, row.generation, now)
        # A newer change the provider has not seen yet may still succeed.
        return self._hint_for(lb) if lb.desired_generation > served else []

    @staticmethod
    def _hint_for(lb: LoadBalancer) -> list[tuple[str, str]]:
        return [(lb.provider, lb.id)] if lb.provider else []

    # Amphorae -------------------------------------------------------------------------------
    def _placed_instance(self, session: Session, record: _Record) -> Amphora | None:
        """This host's instance of the reported load balancer, when it is placed: a provider
        reports its instance under an id of its own; placement owns the row."""
        lb_id = record.amphora_values.get("load_balancer_id")
        if self.scope is None or not isinstance(lb_id, str):
            return None
        return session.scalars(select(Amphora).where(
            Amphora.load_balancer_id == lb_id,
            Amphora.compute_id == self.scope.host)).first()

    def _apply_amphora(self, session: Session, record: _Record) -> list[tuple[str, str]]:
        """Apply an amphora record; a placed instance whose VRRP address changed hints its
        load balancer, so the peer instance's host learns where to advertise."""
        placed = self._placed_instance(session, record)
        if placed is not None:
            if record.prov == ProvisioningStatus.DELETED:
                return []  # the instance is placement's to remove, with its load balancer
            values = {k: v for k, v in record.amphora_values.items()
                      if k not in PLACEMENT_COLUMNS}
            hints: list[tuple[str, str]] = []
            if "vrrp_ip" in values and values["vrrp_ip"] != placed.vrrp_ip:
                lb = session.get(LoadBalancer, placed.load_balancer_id)
                hints = self._hint_for(lb) if lb is not None else []
            if record.prov is not None and placed.status != record.prov or any(
                    getattr(placed, k) != v for k, v in values.items()):
                placed.updated_at = utcnow()
            for key, value in values.items():
                setattr(placed, key, value)
            if record.prov is not None:
                placed.status = record.prov
            return hints
        status, values = record.prov, record.amphora_values
        row = session.get(Amphora, record.obj_id)
        if status == ProvisioningStatus.DELETED:
            if row is not None:
                session.delete(row)
            return []
        lb_id = values.get("load_balancer_id")
        lb = session.get(LoadBalancer, lb_id) if isinstance(lb_id, str) else None
        if lb is not None and lb.provisioning_status == ProvisioningStatus.DELETED:
            # A report that raced the load balancer's deletion (which removed its
            # amphorae) must not bring an amphora of a deleted load balancer back.
            LOG.debug("amphora %s of deleted load balancer %s ignored", record.obj_id, lb_id)
            return []
        now = utcnow()
        if row is None:
            row = Amphora(id=record.obj_id, created_at=now)
            session.add(row)
        elif any(getattr(row, key) != value for key, value in values.items()) or (
            status is not None and row.status != status
        ):
            row.updated_at = now
        for key, value in values.items():
            setattr(row, key, value)
        if status is not None:
            row.status = status
        return []


@dataclass(frozen=True)
class _Record:
    """One status record, checked: what to apply and the raw record to name on failure."""

    kind: str
    obj_id: str
    raw: dict[str, Any]
    prov: str | None
    oper: str | None = None
    amphora_values: dict[str, Any] = field(default_factory=dict)


class _ApplyFailed(Exception):
    """A record that the database refused (the cause is chained)."""

    def __init__(self, record: _Record) -> None:
        super().__init__(record.kind, record.obj_id)
        self.record = record


def _parse_request(request: dict[str, Any]) -> tuple[list[_Record], Reply | None]:
    """The records to apply, in Octavia's order, up to the first invalid one.

    As in Octavia, the first bad record stops the batch and the reply names it; the records
    before it are still applied.
    """
    parsed: list[_Record] = []
    for kind in ORDER:
        records = request.get(kind)
        if records is None:
            continue
        if not isinstance(records, list):
            return parsed, _failure(f"'{kind}' must be a list of records", kind, None, None)
        for record in records:
            try:
                parsed.append(_parse_record(kind, record))
            except RecordError as exc:
                obj_id = record.get(lib_consts.ID) if isinstance(record, dict) else None
                LOG.warning("status report rejected: %s %s: %s", kind, obj_id, exc)
                return parsed, _failure(str(exc), kind, obj_id, record)
    return parsed, None


def _parse_record(kind: str, record: Any) -> _Record:
    if not isinstance(record, dict):
        raise RecordError(f"a {kind} record must be a JSON object, not {record!r}")
    obj_id = record.get(lib_consts.ID)
    if not obj_id or not isinstance(obj_id, str):
        raise RecordError(f"a {kind} record has no 'id'")
    if kind == AMPHORAE:
        return _Record(kind, obj_id, record, _status_value(record, "status", ProvisioningStatus),
                       amphora_values=_amphora_values(record))
    return _Record(
        kind, obj_id, record,
        _status_value(record, lib_consts.PROVISIONING_STATUS, ProvisioningStatus),
        _status_value(record, lib_consts.OPERATING_STATUS, OperatingStatus),
    )


def _owning_lb_ids(session: Session, records: list[_Record]) -> set[str]:
    """The load balancers a report speaks about (read without locks; ownership never moves)."""
    lb_ids: set[str] = set()
    by_kind: dict[str, list[str]] = {}
    for record in records:
        if record.kind == AMPHORAE:
            lb_id = record.amphora_values.get("load_balancer_id")
            if isinstance(lb_id, str):
                lb_ids.add(lb_id)
        else:
            by_kind.setdefault(record.kind, []).append(record.obj_id)
    for kind, ids in by_kind.items():
        lb_ids |= dbgraph.owning_lb_ids(session, kind, ids)
    return lb_ids


#: What placement decides about an instance; a provider's report does not change it.
PLACEMENT_COLUMNS = frozenset({"load_balancer_id", "compute_id", "role", "vrrp_priority",
                               "cached_zone"})

_AMPHORA_COLUMNS = {
    column.key: column
    for column in sa_inspect(Amphora).columns
    if column.key not in ("id", "status", "created_at", "updated_at")
}


def _amphora_values(record: dict[str, Any]) -> dict[str, Any]:
    """Column values from an amphora record; Octavia's ``loadbalancer_id`` spelling accepted."""
    values: dict[str, Any] = {}
    for key, value in record.items():
        column_key = "load_balancer_id" if key == "loadbalancer_id" else key
        column = _AMPHORA_COLUMNS.get(column_key)
        if column is None:
            continue
        if value is None:
            if not column.nullable:
                continue
        elif isinstance(column.type, DateTime):
            if not isinstance(value, str):
                raise RecordError(f"amphora {key} must be an ISO 8601 string, not {value!r}")
            try:
                value = dt.datetime.fromisoformat(value)
            except ValueError as exc:
                raise RecordError(f"amphora {key}: {exc}") from exc
        elif isinstance(column.type, Boolean):
            if not isinstance(value, bool):
                raise RecordError(f"amphora {key} must be true or false, not {value!r}")
        elif isinstance(column.type, Integer):
            if isinstance(value, bool) or not isinstance(value, int):
                raise RecordError(f"amphora {key} must be an integer, not {value!r}")
        elif not isinstance(value, str):
            raise RecordError(f"amphora {key} must be a string, not {value!r}")
        values[column_key] = value
    return values


def _set(row: Any, attr: str, value: str, now: dt.datetime) -> None:
    """Set a status column, touching ``updated_at`` only when the value changes."""
    if getattr(row, attr) != value:
        setattr(row, attr, str(value))
        row.updated_at = now


def _completed_with(lb: LoadBalancer, row: dbgraph.ChildRow, prov: str, current: str | None,
                    served: int | None) -> bool:
    """Whether the ACTIVE report of ``lb`` that closes this report will complete ``row``'s
    pending change anyway: then the row's own ACTIVE record is not written (the completion
    touches it, in one statement per table for the whole report). ``served``: what the load
    balancer's completion will count as served (``StatusHandler._served_generation``)."""
    return (prov == ProvisioningStatus.ACTIVE and served is not None
            and row.generation <= served
            and current in COMPLETED_BY_ACTIVE
            and lb.provisioning_status not in DELETING)


def _report(row: dbgraph.GraphRow, status: str, generation: int, now: dt.datetime) -> None:
    """Record the provider's ``status`` for the object's ``generation``, when it changes what
    the object's provisioning status reads (``updated_at`` is touched then, as Octavia does on
    a status change). A status the object already reads is not written again, so repeated
    reports of a converged load balancer write nothing."""
    if row.provisioning_status == status:  # (children: their caller checked already)
        return
    row.reported_status = str(status)
    row.reported_generation = generation
    row.updated_at = now


def _report_active(lb: LoadBalancer, before: str, now: dt.datetime) -> None:
    """Record a load balancer's ACTIVE. Moving its applied generation may already have made it
    read ACTIVE, so whether its status changed is judged on ``before`` (what it read when the
    report came): a change touches ``updated_at``, as Octavia does and its clients expect (a
    load balancer that became ACTIVE has an ``updated_at``)."""
    _report(lb, ProvisioningStatus.ACTIVE, lb.desired_generation, now)
    if before != ProvisioningStatus.ACTIVE:
        lb.updated_at = now


def _failure(message: str, kind: str, obj_id: Any, record: Any) -> Reply:
    return {
        lib_consts.STATUS_CODE: lib_consts.DRVR_STATUS_CODE_FAILED,
        lib_consts.FAULT_STRING: message,
        lib_consts.STATUS_OBJECT: kind,
        lib_consts.STATUS_OBJECT_ID: obj_id if isinstance(obj_id, str) else None,
        lib_consts.STATUS_RECORD: record,
    }
