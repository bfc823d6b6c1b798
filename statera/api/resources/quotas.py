"""Quotas: ``/quotas``, ``/quotas/{project_id}``, ``/quotas/{project_id}/default`` and
``/quotas/defaults``: the HTTP edge of :mod:`statera.controller.quotas`.

As Octavia: the list shows only projects with a stored row (unset values as null); a project's
quota fills unset values from ``[quotas] default_*_quota``; PUT answers **202 with the body**
and DELETE (back to the defaults) **202 with an empty body**. Bodies accept and responses carry
both spellings, ``loadbalancer``/``load_balancer`` and ``healthmonitor``/``health_monitor``.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends, Request, Response

from statera.api.deps import Services, caller, services
from statera.api.listing import ListSpec
from statera.api.policy import Identity
from statera.api.resources import common
from statera.controller import quotas
from statera.db import models as m

router = APIRouter()
SINGLE, PLURAL = "quota", "quotas"


def render(project_id: str, values: quotas.Values) -> dict[str, Any]:
    """Octavia's quota body: both spellings of two names, and ``tenant_id`` beside
    ``project_id`` as in every Octavia type that has a project."""
    body: dict[str, Any] = {"project_id": project_id, "tenant_id": project_id}
    for column, names in quotas.API_NAMES.items():
        for name in names:
            body[name] = values.get(column)
    return body


_SPEC = ListSpec(
    model=m.Quota, plural=PLURAL, links_key="quotas_links",
    render=lambda row: render(row.project_id, quotas.stored(row)),
    columns={"project_id": m.Quota.project_id, "tenant_id": m.Quota.project_id},
    tagged=False, id_column="project_id",
)


@router.get("/quotas")
def list_quotas(request: Request, svc: Services = Depends(services),
                ident: Identity = Depends(caller)) -> dict[str, Any]:
    return common.list_in_scope(svc, request, ident, quotas.POLICY_TYPE, _SPEC)


@router.get("/quotas/defaults")
def show_global_defaults(svc: Services = Depends(services),
                         ident: Identity = Depends(caller)) -> dict[str, Any]:
    """The api-ref's spelling; Octavia reads it as project "defaults", which also yields the
    configured defaults."""
    return {SINGLE: render(ident.project_id or "", quotas.global_defaults(svc, ident))}


@router.get("/quotas/{project_id}")
def show_quota(project_id: str, svc: Services = Depends(services),
               ident: Identity = Depends(caller)) -> dict[str, Any]:
    return {SINGLE: render(project_id, quotas.show(svc, ident, project_id))}


@router.get("/quotas/{project_id}/default")
def show_default_quota(project_id: str, svc: Services = Depends(services),
                       ident: Identity = Depends(caller)) -> dict[str, Any]:
    return {SINGLE: render(project_id, quotas.project_defaults(svc, ident, project_id))}


@router.put("/quotas/{project_id}", status_code=202)
def update_quota(project_id: str, payload: Any = Body(None), svc: Services = Depends(services),
                 ident: Identity = Depends(caller)) -> dict[str, Any]:
    return {SINGLE: render(project_id, quotas.update(svc, ident, project_id, payload))}


@router.delete("/quotas/{project_id}", status_code=202)
def delete_quota(project_id: str, svc: Services = Depends(services),
                 ident: Identity = Depends(caller)) -> Response:
    quotas.delete(svc, ident, project_id)
    return Response(status_code=202)
