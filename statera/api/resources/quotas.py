"""Quotas: ``/quotas``, ``/quotas/{project_id}``, ``/quotas/{project_id}/default`` and
``/quotas/defaults``.

As Octavia: the list shows only projects with a stored row (unset values as null); a project's
quota fills unset values from ``[quotas] default_*_quota``; PUT answers **202 with the body**
and DELETE (back to the defaults) **202 with an empty body**. Bodies accept and responses carry
both spellings, ``loadbalancer``/``load_balancer`` and ``healthmonitor``/``health_monitor``.
Reading one's own project needs a reader role; everything else needs admin or
``load-balancer_quota_admin``. Usage is counted live by ``statera.controller.quotas``.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends, Request, Response
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from statera.api.deps import Services, caller, services
from statera.api.errors import ApiError, Conflict, InvalidInput, NotFound
from statera.api.listing import ListSpec
from statera.api.policy import Identity, authorize
from statera.api.resources import common
from statera.config import Settings
from statera.controller import schemas
from statera.db import models as m

router = APIRouter()
SINGLE, PLURAL = "quota", "quotas"
POLICY_TYPE = "quota"
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


def _check_project(project_id: str) -> None:
    if not project_id or len(project_id) > MAX_PROJECT_ID:
        raise InvalidInput("project_id", project_id,
                           f"Value should have at most {MAX_PROJECT_ID} characters.")


def _defaults(settings: Settings) -> dict[str, int]:
    return {col: int(getattr(settings.quotas, f"default_{col}_quota")) for col in API_NAMES}


def render(project_id: str, values: dict[str, int | None]) -> dict[str, Any]:
    """Octavia's quota body: both spellings of two names, and ``tenant_id`` beside
    ``project_id`` as in every Octavia type that has a project."""
    body: dict[str, Any] = {"project_id": project_id, "tenant_id": project_id}
    for column, names in API_NAMES.items():
        for name in names:
            body[name] = values.get(column)
    return body


def _stored(row: m.Quota) -> dict[str, int | None]:
    return {col: getattr(row, col) for col in API_NAMES}


def effective(settings: Settings, row: m.Quota | None) -> dict[str, int | None]:
    values: dict[str, int | None] = dict(_defaults(settings))
    if row is not None:
        values.update({k: v for k, v in _stored(row).items() if v is not None})
    return values


_SPEC = ListSpec(
    model=m.Quota, plural=PLURAL, links_key="quotas_links",
    render=lambda row: render(row.project_id, _stored(row)),
    columns={"project_id": m.Quota.project_id, "tenant_id": m.Quota.project_id},
    tagged=False, id_column="project_id",
)


@router.get("/quotas")
def list_quotas(request: Request, svc: Services = Depends(services),
                ident: Identity = Depends(caller)) -> dict[str, Any]:
    return common.list_in_scope(svc, request, ident, POLICY_TYPE, _SPEC)


@router.get("/quotas/defaults")
def show_global_defaults(svc: Services = Depends(services),
                         ident: Identity = Depends(caller)) -> dict[str, Any]:
    """The api-ref's spelling; Octavia reads it as project "defaults", which also yields the
    configured defaults."""
    authorize(ident, POLICY_TYPE, "get_defaults", ident.project_id)
    return {SINGLE: render(ident.project_id or "", dict(_defaults(svc.settings)))}


@router.get("/quotas/{project_id}")
def show_quota(project_id: str, svc: Services = Depends(services),
               ident: Identity = Depends(caller)) -> dict[str, Any]:
    _check_project(project_id)
    authorize(ident, POLICY_TYPE, "get_one", project_id)
    with svc.db.read_session() as session:
        row = session.get(m.Quota, project_id)
        return {SINGLE: render(project_id, effective(svc.settings, row))}


@router.get("/quotas/{project_id}/default")
def show_default_quota(project_id: str, svc: Services = Depends(services),
                       ident: Identity = Depends(caller)) -> dict[str, Any]:
    _check_project(project_id)
    authorize(ident, POLICY_TYPE, "get_defaults", project_id)
    return {SINGLE: render(project_id, dict(_defaults(svc.settings)))}


@router.put("/quotas/{project_id}", status_code=202)
def update_quota(project_id: str, payload: Any = Body(None), svc: Services = Depends(services),
                 ident: Identity = Depends(caller)) -> dict[str, Any]:
    _check_project(project_id)
    authorize(ident, POLICY_TYPE, "put", project_id)
    body = schemas.parse(schemas.QuotaPut, payload, SINGLE)
    given = body.given()
    wanted: dict[str, int | None] = {}
    for column, names in API_NAMES.items():
        sent = [name for name in names if name in given]
        values = {given[name] for name in sent}
        if len(values) > 1:
            raise ApiError(f"Invalid input: '{names[0]}' and '{names[1]}' are the same quota "
                           "and were given different values.")
        if sent:
            wanted[column] = given[sent[0]]
    for attempt in (1, 2):
        try:
            return {SINGLE: _store(svc, project_id, wanted)}
        except IntegrityError:
            if attempt == 2:
                raise Conflict(f"Quotas of project {project_id} changed concurrently; "
                               "retry.") from None
    raise AssertionError("unreachable")


def _store(svc: Services, project_id: str, wanted: dict[str, int | None]) -> dict[str, Any]:
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
        return render(project_id, effective(svc.settings, row))


@router.delete("/quotas/{project_id}", status_code=202)
def delete_quota(project_id: str, svc: Services = Depends(services),
                 ident: Identity = Depends(caller)) -> Response:
    _check_project(project_id)
    authorize(ident, POLICY_TYPE, "delete", project_id)
    with svc.db.session() as session:
        row = session.get(m.Quota, project_id)
        if row is None:
            raise NotFound("Quotas", project_id)
        session.delete(row)
    return Response(status_code=202)
