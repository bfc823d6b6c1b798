"""Pools: the HTTP edge of :mod:`statera.controller.pools`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends, Request, Response
from sqlalchemy.orm import selectinload

from statera.api.deps import Services, caller, caller_token, services
from statera.api.policy import Identity
from statera.api.resources import common
from statera.controller import pools, schemas
from statera.db import models as m

router = APIRouter()
SINGLE, PLURAL = "pool", "pools"


def _list_options() -> list[Any]:
    """What rendering a page of pools reads (listeners and policies for ``listeners``)."""
    return [
        selectinload(m.Pool.load_balancer).selectinload(m.LoadBalancer.listeners)
        .selectinload(m.Listener.l7policies),
        selectinload(m.Pool.members),
        selectinload(m.Pool.health_monitor),
    ]


@router.get("/pools")
def list_pools(request: Request, svc: Services = Depends(services),
               ident: Identity = Depends(caller)) -> dict[str, Any]:
    return common.list_visible(svc, request, ident, m.Pool, PLURAL, *_list_options())


@router.get("/pools/{pool_id}")
def show_pool(pool_id: str, request: Request, svc: Services = Depends(services),
              ident: Identity = Depends(caller)) -> dict[str, Any]:
    return common.show(svc, request, ident, m.Pool, pool_id, SINGLE)


@router.post("/pools", status_code=201)
def create_pool(payload: Any = Body(None), svc: Services = Depends(services),
                ident: Identity = Depends(caller),
                token: str | None = Depends(caller_token)) -> dict[str, Any]:
    body = schemas.parse(schemas.PoolPost, payload, SINGLE)
    return {SINGLE: pools.create(svc, ident, body, common.render, token=token)}


@router.put("/pools/{pool_id}")
def update_pool(pool_id: str, payload: Any = Body(None), svc: Services = Depends(services),
                ident: Identity = Depends(caller),
                token: str | None = Depends(caller_token)) -> dict[str, Any]:
    body = schemas.parse(schemas.PoolPut, payload, SINGLE)
    return {SINGLE: pools.update(svc, ident, pool_id, body, common.render, token=token)}


@router.delete("/pools/{pool_id}", status_code=204)
def delete_pool(pool_id: str, svc: Services = Depends(services),
                ident: Identity = Depends(caller)) -> Response:
    pools.delete(svc, ident, pool_id)
    return Response(status_code=204)
