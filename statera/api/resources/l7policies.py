"""L7 policies: ``/l7policies[/{id}]``, the HTTP edge of :mod:`statera.controller.l7policies`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends, Request, Response

from statera.api.deps import Services, caller, services
from statera.api.policy import Identity
from statera.api.resources import common
from statera.controller import l7policies, schemas
from statera.db import models as m

router = APIRouter()
SINGLE, PLURAL = "l7policy", "l7policies"


@router.get("/l7policies")
def list_l7policies(request: Request, svc: Services = Depends(services),
                    ident: Identity = Depends(caller)) -> dict[str, Any]:
    return common.list_in_scope(svc, request, ident, l7policies.POLICY_TYPE,
                                common.list_spec(m.L7Policy, PLURAL))


@router.get("/l7policies/{l7policy_id}")
def show_l7policy(l7policy_id: str, request: Request, svc: Services = Depends(services),
                  ident: Identity = Depends(caller)) -> dict[str, Any]:
    return common.show(svc, request, ident, m.L7Policy, l7policy_id, SINGLE)


@router.post("/l7policies", status_code=201)
def create_l7policy(payload: Any = Body(None), svc: Services = Depends(services),
                    ident: Identity = Depends(caller)) -> dict[str, Any]:
    body = schemas.parse(schemas.L7PolicyPost, payload, SINGLE)
    return {SINGLE: l7policies.create(svc, ident, body, common.render)}


@router.put("/l7policies/{l7policy_id}")
def update_l7policy(l7policy_id: str, payload: Any = Body(None),
                    svc: Services = Depends(services),
                    ident: Identity = Depends(caller)) -> dict[str, Any]:
    body = schemas.parse(schemas.L7PolicyPut, payload, SINGLE)
    return {SINGLE: l7policies.update(svc, ident, l7policy_id, body, common.render)}


@router.delete("/l7policies/{l7policy_id}", status_code=204)
def delete_l7policy(l7policy_id: str, svc: Services = Depends(services),
                    ident: Identity = Depends(caller)) -> Response:
    l7policies.delete(svc, ident, l7policy_id)
    return Response(status_code=204)
