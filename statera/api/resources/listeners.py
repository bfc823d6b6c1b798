"""Listeners: the HTTP edge of :mod:`statera.controller.listeners`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends, Request, Response
from sqlalchemy.orm import selectinload

from statera.api.deps import Services, caller, caller_token, services
from statera.api.policy import Identity
from statera.api.resources import common
from statera.controller import listeners, schemas
from statera.db import models as m

router = APIRouter()
SINGLE, PLURAL = "listener", "listeners"


@router.get("/listeners")
def list_listeners(request: Request, svc: Services = Depends(services),
                   ident: Identity = Depends(caller)) -> dict[str, Any]:
    return common.list_visible(svc, request, ident, m.Listener, PLURAL,
                               selectinload(m.Listener.l7policies))


@router.get("/listeners/{listener_id}")
def show_listener(listener_id: str, request: Request, svc: Services = Depends(services),
                  ident: Identity = Depends(caller)) -> dict[str, Any]:
    return common.show(svc, request, ident, m.Listener, listener_id, SINGLE)


@router.get("/listeners/{listener_id}/stats")
def listener_stats(listener_id: str, svc: Services = Depends(services),
                   ident: Identity = Depends(caller)) -> dict[str, Any]:
    return {"stats": listeners.stats(svc, ident, listener_id)}


@router.post("/listeners", status_code=201)
def create_listener(payload: Any = Body(None), svc: Services = Depends(services),
                    ident: Identity = Depends(caller),
                    token: str | None = Depends(caller_token)) -> dict[str, Any]:
    body = schemas.parse(schemas.ListenerPost, payload, SINGLE)
    return {SINGLE: listeners.create(svc, ident, body, common.render, token=token)}


@router.put("/listeners/{listener_id}")
def update_listener(listener_id: str, payload: Any = Body(None),
                    svc: Services = Depends(services),
                    ident: Identity = Depends(caller),
                    token: str | None = Depends(caller_token)) -> dict[str, Any]:
    body = schemas.parse(schemas.ListenerPut, payload, SINGLE)
    return {SINGLE: listeners.update(svc, ident, listener_id, body, common.render,
                                     token=token)}


@router.delete("/listeners/{listener_id}", status_code=204)
def delete_listener(listener_id: str, svc: Services = Depends(services),
                    ident: Identity = Depends(caller)) -> Response:
    listeners.delete(svc, ident, listener_id)
    return Response(status_code=204)
