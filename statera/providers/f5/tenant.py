"""One AS3 tenant's desired applications and the declarations that make the device match.

A declaration is always the whole tenant (AS3 replaces a tenant whole). Callers record their
load balancer's application and then wait for a declaration that includes it: while one is in
flight, every change that arrives is folded into the next one (group commit), so a burst of
changes costs at most two declarations however long it is.
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
    ok: bool
    reason: str = ""
    device_down: bool = False


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
        outcome = self._declare(snapshot, held)
        with self._cond:
            if outcome.ok:
                self._held = snapshot
            elif not outcome.device_down:
                self._revert(snapshot)
            self._applied = max(self._applied, target)
            self._outcome = outcome
            self._busy = False
            self._cond.notify_all()
        return outcome

    def _declare(self, snapshot: dict[str, App], held: dict[str, App] | None) -> Outcome:
        if held is not None and held == snapshot:
            return Outcome(True)  # the device already holds exactly this
        apps = dict(snapshot.values())
        try:
            self._send(self.name, apps)
        except DeclarationRefused as exc:
            return Outcome(False, str(exc))
        except DeviceError as exc:
            return Outcome(False, str(exc), device_down=True)
        return Outcome(True)

    def _revert(self, refused: dict[str, App]) -> None:
        """Put back what the device last accepted for the load balancers the device refused,
        so their error does not hold back the tenant's other load balancers."""
        if self._held is None:
            return  # nothing known to go back to: the tenant stays as declared, and refused
        held = self._held
        for lb_id, app in refused.items():
            if self._desired.get(lb_id) is not app or held.get(lb_id) == app:
                continue  # changed again since, or not part of the refusal
            if lb_id in held:
                self._desired[lb_id] = held[lb_id]
            else:
                self._desired.pop(lb_id, None)
