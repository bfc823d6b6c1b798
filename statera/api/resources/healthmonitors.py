"""Health monitors: the HTTP edge of :mod:`statera.controller.healthmonitors`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends, Request, Response

from statera.api.deps import Services, caller, services
from statera.api.policy import Identity
from statera.api.resources import common
from statera.controller import healthmonitors, schemas
from statera.db import models as m

router = APIRouter()
SINGLE, PLURAL = "healthmonitor", "healthmonitors"


@router.get("/healthmonitors")
def list_healthmonitors(request: Request, svc: Services = Depends(services),
                        ident: Identity = Depends(caller)) -> dict[str, Any]:
    return common.list_visible(svc, request, ident, m.HealthMonitor, PLURAL)


@router.get("/healthmonitors/{hm_id}")
def show_healthmonitor(hm_id: str, request: Request, svc: Services = Depends(services),
                       ident: Identity = Depends(caller)) -> dict[str, Any]:
    return common.show(svc, request, ident, m.HealthMonitor, hm_id, SINGLE)


@router.post("/healthmonitors", status_code=201)
def create_healthmonitor(payload: Any = Body(None), svc: Services = Depends(services),
                         ident: Identity = Depends(caller)) -> dict[str, Any]:
    body = schemas.parse(schemas.HealthMonitorPost, payload, SINGLE)
    return {SINGLE: healthmonitors.create(svc, ident, body, common.render)}


@router.put("/healthmonitors/{hm_id}")
def update_healthmonitor(hm_id: str, payload: Any = Body(None),
                         svc: Services = Depends(services),
                         ident: Identity = Depends(caller)) -> dict[str, Any]:
    body = schemas.parse(schemas.HealthMonitorPut, payload, SINGLE)
    return {SINGLE: healthmonitors.update(svc, ident, hm_id, body, common.render)}


@router.delete("/healthmonitors/{hm_id}", status_code=204)
def delete_healthmonitor(hm_id: str, svc: Services = Depends(services),
                         ident: Identity = Depends(caller)) -> Response:
    healthmonitors.delete(svc, ident, hm_id)
    return Response(status_code=204)
