"""One AS3 tenant's desired applications and the declarations that make the device match.

A declaration is always the whole tenant (AS3 replaces a tenant whole). Callers record their
load balancer's application and then wait for a declaration that includes it: while one is in
flight, every change that arrives is folded into the next one (group commit), so a burst of
changes costs one declaration per declaration time the burst lasts, not one per change. Only
when the device refuses such a batch are its changes replayed one by one on top of what the
device held, so the load balancers whose own change is refused fail and the others still
converge.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from statera.providers.f5.client import DeclarationRefused, DeviceError

LOG = logging.getLogger(__name__)

App = tuple[str, dict[str, Any]]  # (AS3 application name, application body)
#: Makes the device hold exactly these applications (name -> body) in the tenant.
Send = Callable[[str, dict[str, dict[str, Any]]], None]


@dataclass(frozen=True)
class Outcome:
    """How a sync ended: ``ok`` with possibly some load balancers ``refused`` (their change
    alone was refused, the rest applied), or not ok (device down, or refused as a whole)."""

    ok: bool
    reason: str = ""
    device_down: bool = False
    refused: frozenset[str] = frozenset()

    def failed_for(self, lb_id: str) -> bool:
        return not self.ok or lb_id in self.refused


class TenantState:
    def __init__(self, name: str, send: Send) -> None:
        self.name = name
        self._send = send
        self._cond = threading.Condition()
        self._desired: dict[str, App] = {}  # load balancer id -> application
        self._held: dict[str, App] | None = None  # what the device holds; None: unknown
        self._generation = 0
        self._applied = 0
        self._busy = False
        self._outcome = Outcome(True)

    def record(self, lb_id: str, app: App | None) -> int:
        """Record a load balancer's application (None: none); returns the change's number."""
        with self._cond:
            if app is None:
                self._desired.pop(lb_id, None)
            else:
                self._desired[lb_id] = app
            self._generation += 1
            return self._generation

    def forget_device_state(self) -> None:
        """The device may hold anything now (it was away): the next sync declares again."""
        with self._cond:
            self._held = None

    def lb_ids(self) -> set[str]:
        with self._cond:
            return set(self._desired)

    def sync(self, generation: int) -> Outcome:
        """Wait until a declaration that includes change ``generation`` has been answered."""
        with self._cond:
            while self._applied < generation:
                if not self._busy:
                    self._busy = True
                    target, snapshot = self._generation, dict(self._desired)
                    held = self._held
                    break
                self._cond.wait()
            else:
                return self._outcome
        try:
            outcome, held_now = self._declare(snapshot, held)
        except Exception as exc:  # a bug must not leave the tenant busy for ever
            LOG.exception("f5: tenant %s: declaring failed", self.name)
            outcome, held_now = Outcome(False, f"{type(exc).__name__}: {exc}"), None
        with self._cond:
            if held_now is not None:
                self._held = held_now
            self._revert(snapshot, outcome.refused)
            self._applied = max(self._applied, target)
            self._outcome = outcome
            self._busy = False
            self._cond.notify_all()
        return outcome

    def _declare(self, snapshot: dict[str, App], held: dict[str, App] | None
                 ) -> tuple[Outcome, dict[str, App] | None]:
        """Send ``snapshot``; returns the outcome and what the device holds afterwards."""
        if held is not None and held == snapshot:
            return Outcome(True), snapshot  # the device already holds exactly this
        try:
            self._send(self.name, dict(snapshot.values()))
        except DeclarationRefused as exc:
            if held is None:  # nothing known to go back to: the tenant stays as it was
                return Outcome(False, str(exc)), None
            changed = sorted(k for k in set(snapshot) | set(held)
                             if snapshot.get(k) != held.get(k))
            if len(changed) == 1:
                return Outcome(True, str(exc), refused=frozenset(changed)), held
            return self._isolate(snapshot, held, changed)
        except DeviceError as exc:
            return Outcome(False, str(exc), device_down=True), None
        return Outcome(True), snapshot

    def _isolate(self, snapshot: dict[str, App], held: dict[str, App], changed: list[str]
                 ) -> tuple[Outcome, dict[str, App] | None]:
        """A batch of changes was refused: apply them one at a time on top of what the device
        held, so only the load balancers whose own change is refused fail."""
        current = dict(held)
        refused: dict[str, str] = {}
        for lb_id in changed:
            trial = dict(current)
            if lb_id in snapshot:
                trial[lb_id] = snapshot[lb_id]
            else:
                trial.pop(lb_id, None)
            try:
                self._send(self.name, dict(trial.values()))
            except DeclarationRefused as exc:
                refused[lb_id] = str(exc)
                continue
            except DeviceError as exc:
                return Outcome(False, str(exc), device_down=True), None
            current = trial
        reason = "; ".join(refused.values())
        LOG.info("f5: tenant %s: %d of %d changes refused when applied one by one",
                 self.name, len(refused), len(changed))
        return Outcome(True, reason, refused=frozenset(refused)), current

    def _revert(self, snapshot: dict[str, App], refused: frozenset[str]) -> None:
        """Put back what the device holds for the load balancers whose change it refused, so
        their error does not hold back the tenant's other load balancers."""
        held = self._held or {}
        for lb_id in refused:
            if self._desired.get(lb_id) is not snapshot.get(lb_id):
                continue  # changed again since: the next sync tries the new version
            if lb_id in held:
                self._desired[lb_id] = held[lb_id]
            else:
                self._desired.pop(lb_id, None)
