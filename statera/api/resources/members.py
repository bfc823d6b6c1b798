"""Members of a pool: the HTTP edge of :mod:`statera.controller.members`.

A pool id in the URL that does not exist is answered as Octavia does, with a 404 in Pecan's
``{"code", "title", "description"}`` shape (the controller's ``PoolNotFound``); a member that
is not in that pool is a plain 404.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastapi import APIRouter, Body, Depends, Request, Response
from sqlalchemy import select

from statera.api.deps import Services, caller, services
from statera.api.errors import InvalidInput, PecanError
from statera.api.policy import Identity, authorize
from statera.api.resources import common
from statera.controller import members, schemas
from statera.controller.members import PoolNotFound
from statera.controller.schemas import parse_bool
from statera.db import models as m

router = APIRouter()
SINGLE, PLURAL = "member", "members"


@contextmanager
def _pool_in_path() -> Iterator[None]:
    """Octavia answers a missing pool in a member URL in Pecan's shape (title and all)."""
    try:
        yield
    except PoolNotFound as exc:
        raise PecanError(404, "Bad Request", exc.message) from None


@router.get("/pools/{pool_id}/members")
def list_members(pool_id: str, request: Request, svc: Services = Depends(services),
                 ident: Identity = Depends(caller)) -> dict[str, Any]:
    spec = common.list_spec(m.Member, PLURAL)
    with _pool_in_path(), svc.db.read_session() as session:
        pool = members.parent(session, pool_id)
        authorize(ident, "member", "get_all", pool.project_id)
        # A pool's members are its project's: the check above is the check on every one.
        stmt = select(m.Member).where(m.Member.pool_id == pool_id)
        return common.listed(session, request, svc, spec, stmt)


@router.get("/pools/{pool_id}/members/{member_id}")
def show_member(pool_id: str, member_id: str, request: Request,
                svc: Services = Depends(services),
                ident: Identity = Depends(caller)) -> dict[str, Any]:
    with _pool_in_path(), svc.db.read_session() as session:
        row = members.member_of(session, pool_id, member_id)
        authorize(ident, "member", "get_one", row.project_id)
        return {SINGLE: common.render_one(session, request, row)}


@router.post("/pools/{pool_id}/members", status_code=201)
def create_member(pool_id: str, payload: Any = Body(None), svc: Services = Depends(services),
                  ident: Identity = Depends(caller)) -> dict[str, Any]:
    body = schemas.parse(schemas.MemberPost, payload, SINGLE)
    with _pool_in_path():
        return {SINGLE: members.create(svc, ident, pool_id, body, common.render)}


@router.put("/pools/{pool_id}/members/{member_id}")
def update_member(pool_id: str, member_id: str, payload: Any = Body(None),
                  svc: Services = Depends(services),
                  ident: Identity = Depends(caller)) -> dict[str, Any]:
    body = schemas.parse(schemas.MemberPut, payload, SINGLE)
    with _pool_in_path():
        return {SINGLE: members.update(svc, ident, pool_id, member_id, body, common.render)}


@router.delete("/pools/{pool_id}/members/{member_id}", status_code=204)
def delete_member(pool_id: str, member_id: str, svc: Services = Depends(services),
                  ident: Identity = Depends(caller)) -> Response:
    with _pool_in_path():
        members.delete(svc, ident, pool_id, member_id)
    return Response(status_code=204)


@router.put("/pools/{pool_id}/members", status_code=202)
def batch_update_members(pool_id: str, additive_only: str = "false",
                         payload: Any = Body(None), svc: Services = Depends(services),
                         ident: Identity = Depends(caller)) -> Response:
    """Octavia's batch update (see :func:`statera.controller.members.batch_update`)."""
    body = schemas.parse(schemas.MembersBatch, payload, None)
    try:
        additive = parse_bool(additive_only)
    except ValueError:
        raise InvalidInput("additive_only", additive_only,
                           "Value should be a boolean.") from None
    with _pool_in_path():
        members.batch_update(svc, ident, pool_id, body, additive)
    return Response(status_code=202)
