"""Quota checks. Limits come from the project's quota row or the configured defaults; usage is
counted from live rows (no counters to drift)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from statera.config import Settings
from statera.controller.errors import QuotaExceeded
from statera.db import models as m
from statera.db.statuses import ProvisioningStatus

# quota field -> (model, display name used in Octavia's message)
KINDS: dict[str, tuple[type[Any], str]] = {
    "load_balancer": (m.LoadBalancer, "LoadBalancer"),
    "listener": (m.Listener, "Listener"),
    "pool": (m.Pool, "Pool"),
    "health_monitor": (m.HealthMonitor, "HealthMonitor"),
    "member": (m.Member, "Member"),
    "l7policy": (m.L7Policy, "L7Policy"),
    "l7rule": (m.L7Rule, "L7Rule"),
}


def limits(session: Session, settings: Settings, project_id: str) -> dict[str, int]:
    row = session.get(m.Quota, project_id)
    out: dict[str, int] = {}
    for kind in KINDS:
        value = getattr(row, kind) if row is not None else None
        out[kind] = value if value is not None else getattr(
            settings.quotas, f"default_{kind}_quota")
    return out


def usage(session: Session, project_id: str, kind: str) -> int:
    model = KINDS[kind][0]
    stmt = select(func.count()).select_from(model).where(model.project_id == project_id)
    if kind == "load_balancer":
        stmt = stmt.where(model.provisioning_status != ProvisioningStatus.DELETED)
    return int(session.scalar(stmt) or 0)


def check(session: Session, settings: Settings, project_id: str, wanted: dict[str, int]) -> None:
    """403 'Quota has been met' if adding ``wanted[kind]`` objects would pass a limit."""
    if not settings.api.enforce_quotas:
        return
    lim = limits(session, settings, project_id)
    for kind, count in wanted.items():
        if count <= 0 or lim[kind] < 0:
            continue
        if usage(session, project_id, kind) + count > lim[kind]:
            raise QuotaExceeded(KINDS[kind][1])
