"""Quotas: the checks every create makes, and the rules of the quota API.

Limits come from the project's quota row or the configured defaults (``[quotas]
default_*_quota``); usage is counted from live rows (no counters to drift). As Octavia, a
project's stored row holds only the values set for it (null: the default); reading one's own
project needs a reader role, everything else admin or ``load-balancer_quota_admin``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from statera.config import Settings
from statera.controller import schemas
from statera.controller.access import Requester
from statera.controller.errors import Conflict, Invalid, InvalidInput, NotFound, QuotaExceeded
from statera.controller.services import Services
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


# The quota API -------------------------------------------------------------------------

#: Octavia's policy object type.
POLICY_TYPE = "quota"
#: The request key of a quota body.
SINGLE = "quota"
#: quota row column -> API names that show it (the second is Octavia's deprecated spelling).
API_NAMES: dict[str, tuple[str, ...]] = {
    "load_balancer": ("loadbalancer", "load_balancer"),
    "listener": ("listener",),
    "member": ("member",),
    "pool": ("pool",),
    "health_monitor": ("healthmonitor", "health_monitor"),
    "l7policy": ("l7policy",),
    "l7rule": ("l7rule",),
}
MAX_PROJECT_ID = 36

#: A project's quota values by column (None: unset, for a stored row).
Values = dict[str, int | None]


def check_project(project_id: str) -> None:
    """InvalidInput for a project id Octavia's column could not hold."""
    if not project_id or len(project_id) > MAX_PROJECT_ID:
        raise InvalidInput("project_id", project_id,
                           f"Value should have at most {MAX_PROJECT_ID} characters.")


def defaults(settings: Settings) -> dict[str, int]:
    """The configured default of each quota."""
    return {col: int(getattr(settings.quotas, f"default_{col}_quota")) for col in API_NAMES}


def stored(row: m.Quota) -> Values:
    """What a project's row sets (None where it leaves the default)."""
    return {col: getattr(row, col) for col in API_NAMES}


def effective(settings: Settings, row: m.Quota | None) -> Values:
    """A project's quotas: its row's values, the defaults where it sets none."""
    values: Values = dict(defaults(settings))
    if row is not None:
        values.update({k: v for k, v in stored(row).items() if v is not None})
    return values


def show(svc: Services, who: Requester, project_id: str) -> Values:
    """The project's effective quotas."""
    check_project(project_id)
    who.authorize(POLICY_TYPE, "get_one", project_id)
    with svc.db.read_session() as session:
        return effective(svc.settings, session.get(m.Quota, project_id))


def global_defaults(svc: Services, who: Requester) -> Values:
    """The configured defaults, for a caller who may read their own project's."""
    who.authorize(POLICY_TYPE, "get_defaults", who.project_id)
    return dict(defaults(svc.settings))


def project_defaults(svc: Services, who: Requester, project_id: str) -> Values:
    """The configured defaults, as project ``project_id`` would get them."""
    check_project(project_id)
    who.authorize(POLICY_TYPE, "get_defaults", project_id)
    return dict(defaults(svc.settings))


def update(svc: Services, who: Requester, project_id: str, payload: Any) -> Values:
    """Set the quotas ``payload`` names (null: back to the default); the project's effective
    quotas after. The body is parsed after the policy check (a caller who may not set quotas
    learns nothing about the body), so this takes the raw payload."""
    check_project(project_id)
    who.authorize(POLICY_TYPE, "put", project_id)
    body = schemas.parse(schemas.QuotaPut, payload, SINGLE)
    wanted = _wanted(body.given())
    for attempt in (1, 2):
        try:
            return _store(svc, project_id, wanted)
        except IntegrityError:
            if attempt == 2:
                raise Conflict(f"Quotas of project {project_id} changed concurrently; "
                               "retry.") from None
    raise AssertionError("unreachable")


def delete(svc: Services, who: Requester, project_id: str) -> None:
    """Forget the project's row: its quotas go back to the defaults (NotFound if it has
    none)."""
    check_project(project_id)
    who.authorize(POLICY_TYPE, "delete", project_id)
    with svc.db.session() as session:
        row = session.get(m.Quota, project_id)
        if row is None:
            raise NotFound("Quotas", project_id)
        session.delete(row)


def _wanted(given: dict[str, Any]) -> Values:
    """Column -> value from a body that may use both spellings of a name (Invalid if they
    disagree)."""
    wanted: Values = {}
    for column, names in API_NAMES.items():
        sent = [name for name in names if name in given]
        values = {given[name] for name in sent}
        if len(values) > 1:
            raise Invalid(f"Invalid input: '{names[0]}' and '{names[1]}' are the same quota "
                          "and were given different values.")
        if sent:
            wanted[column] = given[sent[0]]
    return wanted


def _store(svc: Services, project_id: str, wanted: Values) -> Values:
    """Upsert the project's row; a concurrent first insert loses with IntegrityError."""
    with svc.db.session() as session:
        row = session.scalars(
            select(m.Quota).where(m.Quota.project_id == project_id).with_for_update()
        ).first()
        if row is None:
            row = m.Quota(project_id=project_id)
            session.add(row)
        for column, value in wanted.items():
            setattr(row, column, value)  # null: back to the configured default
        session.flush()
        return effective(svc.settings, row)
