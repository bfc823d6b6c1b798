"""Members of a pool: CRUD, Octavia's batch update, and the builder for create graphs.

As for every Statera write (see :mod:`statera.api.resources.listeners`), member changes under a
``PENDING_*`` load balancer or pool are accepted and coalesced; only a pool (or load balancer)
being deleted refuses them with 409, where Octavia requires the pool to be ACTIVE. Each change
flags the pool and the listeners using it ``PENDING_UPDATE``; a DELETE marks the member
``PENDING_DELETE`` and the driver agent removes it once the provider has converged.

A pool id in the URL that does not exist is answered as Octavia does, with a 404 in Pecan's
``{"code", "title", "description"}`` shape; a member that is not in that pool is a plain 404.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Body, Depends, Request, Response
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from statera.api.deps import Services, caller, services
from statera.api.errors import ApiError, Conflict, NotFound, PecanError
from statera.api.policy import Identity, authorize
from statera.api.resources import common
from statera.controller import changes, provider_models, quotas, rules, schemas, writes
from statera.controller.pools import touch_pool
from statera.controller.schemas import parse_bool
from statera.db import models as m
from statera.db import names
from statera.db.statuses import OperatingStatus, ProvisioningStatus

router = APIRouter()
SINGLE, PLURAL = "member", "members"
#: Member fields a PUT may change, under their API names.
PUT_FIELDS = ("name", "admin_state_up", "weight", "backup", "monitor_address", "monitor_port")


def _column(api_name: str) -> str:
    return names.column(api_name)


# Builder ----------------------------------------------------------------------------------

def build_member(session: Session, svc: Services, lb: m.LoadBalancer, pool: m.Pool,
                 body: schemas.MemberPost, project_id: str) -> m.Member:
    """Validate and add a member to ``pool`` (PENDING_CREATE; NO_MONITOR, or OFFLINE when the
    pool has a health monitor). 400 for a reserved address, an unknown subnet or SR-IOV the
    flavor does not allow; 409 if (address, protocol_port) is taken in the pool. The caller
    locks the load balancer, checks quotas, flags the parents and calls the driver."""
    values = _post_values(session, svc, lb, body)
    for other in pool.members:
        if other.address == body.address and other.protocol_port == body.protocol_port:
            raise _duplicate(body)
    hm = pool.health_monitor
    monitored = hm is not None and hm.provisioning_status not in changes.DELETING
    row = m.Member(
        id=m.new_id(), pool_id=pool.id, project_id=project_id, address=body.address,
        protocol_port=body.protocol_port, provisioning_status=ProvisioningStatus.PENDING_CREATE,
        operating_status=OperatingStatus.OFFLINE if monitored else OperatingStatus.NO_MONITOR,
        generation=lb.desired_generation, **values,
    )
    pool.members.append(row)
    try:
        session.flush()
    except IntegrityError:
        raise _duplicate(body) from None
    writes.set_tags(session, row.id, body.tags)
    return row


def _duplicate(body: schemas.MemberPost) -> Conflict:
    return Conflict(f"Another member on this pool is already using ip {body.address} on "
                    f"protocol_port {body.protocol_port}")


def _post_values(session: Session, svc: Services, lb: m.LoadBalancer,
                 body: schemas.MemberPost) -> dict[str, Any]:
    """Column values for a member as a POST body describes it (omitted fields = defaults)."""
    rules.check_member_address(body.address, svc.settings)
    if body.subnet_id is not None and svc.network is not None:
        from statera.network.base import NetworkError

        try:
            svc.network.get_subnet(body.subnet_id)
        except NetworkError as exc:
            raise ApiError(str(exc), exc.status_code) from None
    if body.request_sriov and not _flavor_allows_sriov(session, lb):
        raise rules.validation("The load balancer flavor does not allow SR-IOV member ports.")
    return {
        "name": body.name, "enabled": body.admin_state_up is not False,
        "weight": 1 if body.weight is None else body.weight, "backup": bool(body.backup),
        "subnet_id": body.subnet_id, "monitor_address": body.monitor_address,
        "monitor_port": body.monitor_port,
        "vnic_type": "direct" if body.request_sriov else "normal",
    }


def _flavor_allows_sriov(session: Session, lb: m.LoadBalancer) -> bool:
    flavor = session.get(m.Flavor, lb.flavor_id) if lb.flavor_id else None
    profile = session.get(m.FlavorProfile, flavor.flavor_profile_id) if flavor else None
    if profile is None:
        return False
    try:
        data = json.loads(profile.flavor_data)
    except ValueError:
        return False
    return isinstance(data, dict) and data.get("allow_member_sriov") is True


# Lookups ----------------------------------------------------------------------------------

def _parent(session: Session, pool_id: str) -> m.Pool:
    """The pool named in the URL; Octavia answers a missing one in Pecan's body shape."""
    pool = session.get(m.Pool, pool_id)
    if pool is None:
        raise PecanError(404, "Bad Request", f"Pool {pool_id} not found.")
    return pool


def _member(session: Session, pool_id: str, member_id: str) -> m.Member:
    _parent(session, pool_id)
    row = session.get(m.Member, member_id)
    if row is None or row.pool_id != pool_id:
        raise NotFound("Member", member_id)
    return row


# Routes -----------------------------------------------------------------------------------

@router.get("/pools/{pool_id}/members")
def list_members(pool_id: str, request: Request, svc: Services = Depends(services),
                 ident: Identity = Depends(caller)) -> dict[str, Any]:
    spec = common.list_spec(m.Member, PLURAL)
    with svc.db.read_session() as session:
        pool = _parent(session, pool_id)
        authorize(ident, "member", "get_all", pool.project_id)
        # A pool's members are its project's: the check above is the check on every one.
        stmt = select(m.Member).where(m.Member.pool_id == pool_id)
        return common.listed(session, request, svc, spec, stmt)


@router.get("/pools/{pool_id}/members/{member_id}")
def show_member(pool_id: str, member_id: str, request: Request,
                svc: Services = Depends(services),
                ident: Identity = Depends(caller)) -> dict[str, Any]:
    with svc.db.read_session() as session:
        row = _member(session, pool_id, member_id)
        authorize(ident, "member", "get_one", row.project_id)
        return {SINGLE: common.render_one(session, request, row)}


@router.post("/pools/{pool_id}/members", status_code=201)
def create_member(pool_id: str, payload: Any = Body(None), svc: Services = Depends(services),
                  ident: Identity = Depends(caller)) -> dict[str, Any]:
    body = schemas.parse(schemas.MemberPost, payload, SINGLE)
    lb_id, project = _authorized_pool(svc, ident, pool_id, "post")
    with writes.change(svc, lb_id) as change:
        pool = _mutable_pool(change, pool_id)
        change.load_driver()
        quotas.check(change.session, svc.settings, project, {"member": 1})
        row = build_member(change.session, svc, change.lb, pool, body, project)
        touch_pool(pool, change.lb)
        change.call("member_create", provider_models.member_model(row))
        return {SINGLE: common.render(change.session, row)}


@router.put("/pools/{pool_id}/members/{member_id}")
def update_member(pool_id: str, member_id: str, payload: Any = Body(None),
                  svc: Services = Depends(services),
                  ident: Identity = Depends(caller)) -> dict[str, Any]:
    body = schemas.parse(schemas.MemberPut, payload, SINGLE)
    given = rules.apply_nulls(body.given(), rules.MEMBER_NULL_DEFAULTS)
    lb_id = _authorized_member(svc, ident, pool_id, member_id, "put")
    with writes.change(svc, lb_id) as change:
        row = _mutable_member(change, pool_id, member_id)
        change.load_driver()
        old = provider_models.member_model(row)
        for name in PUT_FIELDS:
            if name in given:
                setattr(row, _column(name), given[name])
        if "tags" in given:
            writes.set_tags(change.session, row.id, given["tags"] or [])
        changes.mark(row, change.lb, ProvisioningStatus.PENDING_UPDATE)
        touch_pool(row.pool, change.lb)
        change.session.flush()
        new = rules.partial_model(provider_models.member_model(row), "member_id", given)
        change.call("member_update", old, new)
        return {SINGLE: common.render(change.session, row)}


@router.delete("/pools/{pool_id}/members/{member_id}", status_code=204)
def delete_member(pool_id: str, member_id: str, svc: Services = Depends(services),
                  ident: Identity = Depends(caller)) -> Response:
    lb_id = _authorized_member(svc, ident, pool_id, member_id, "delete")
    with writes.change(svc, lb_id) as change:
        row = _mutable_member(change, pool_id, member_id)
        change.load_driver()
        model = provider_models.member_model(row)
        changes.mark(row, change.lb, ProvisioningStatus.PENDING_DELETE)
        touch_pool(row.pool, change.lb)
        change.call("member_delete", model)
    return Response(status_code=204)


class _NoChange(Exception):
    """The batch describes the pool as it already is: roll back the lock, answer 202."""


@router.put("/pools/{pool_id}/members", status_code=202)
def batch_update_members(pool_id: str, additive_only: str = "false",
                         payload: Any = Body(None), svc: Services = Depends(services),
                         ident: Identity = Depends(caller)) -> Response:
    """Make the pool's members what the body lists (octavia.md §1.4 Members, batch update).

    Members are matched on (address, protocol_port): unmatched ones are created, matched ones
    are replaced by the listed object (omitted fields back to their POST defaults), and the
    pool's other members are deleted unless ``additive_only``. The driver receives the
    members the pool keeps, not the ones being deleted.
    """
    body = schemas.parse(schemas.MembersBatch, payload, None)
    try:
        additive = parse_bool(additive_only)
    except ValueError:
        raise ApiError(f"Invalid input for field/attribute additive_only. Value: "
                       f"'{additive_only}'. Value should be a boolean.") from None
    lb_id, project = _authorized_pool(svc, ident, pool_id, "put")
    try:
        with writes.change(svc, lb_id) as change:
            pool = _mutable_pool(change, pool_id)
            change.load_driver()
            wanted = _batch_keys(pool, body.members)
            keep = _apply_batch(change.session, svc, change.lb, pool, wanted, additive, project)
            touch_pool(pool, change.lb)
            change.session.flush()
            change.call("member_batch_update", pool.id,
                        [provider_models.member_model(x) for x in keep])
    except _NoChange:
        pass
    return Response(status_code=202)


def _batch_keys(pool: m.Pool,
                items: list[schemas.MemberPost]) -> dict[tuple[str, int], schemas.MemberPost]:
    """The batch's members by (address, port). Named twice, an existing member is a 400
    and a new one a 409 (its second create collides with the first), as in Octavia."""
    existing = {(mem.address, mem.protocol_port) for mem in pool.members}
    wanted: dict[tuple[str, int], schemas.MemberPost] = {}
    for item in items:
        key = (item.address, item.protocol_port)
        if key in wanted:
            if key in existing:
                raise rules.validation("Member must be updated only once in the same "
                                       "request.")
            raise _duplicate(item)
        wanted[key] = item
    return wanted


# The two transactions of a write ------------------------------------------------------------

def _authorized_pool(svc: Services, ident: Identity, pool_id: str,
                     action: str) -> tuple[str, str]:
    """Check the caller may ``action`` the members of the pool: its (LB id, project)."""
    with svc.db.read_session() as session:
        pool = _parent(session, pool_id)
        authorize(ident, "member", action, pool.project_id)
        return pool.load_balancer_id, str(pool.project_id)


def _authorized_member(svc: Services, ident: Identity, pool_id: str, member_id: str,
                       action: str) -> str:
    """Check the caller may ``action`` the member: the id of its load balancer."""
    with svc.db.read_session() as session:
        row = _member(session, pool_id, member_id)
        authorize(ident, "member", action, row.project_id)
        return row.pool.load_balancer_id


def _mutable_pool(change: writes.Change, pool_id: str) -> m.Pool:
    """The pool, under the change's lock; 409 if it is being deleted."""
    pool = _parent(change.session, pool_id)
    changes.ensure_mutable(pool, "Pool")
    return pool


def _mutable_member(change: writes.Change, pool_id: str, member_id: str) -> m.Member:
    """The member, under the change's lock; 409 if it or its pool is being deleted."""
    row = _member(change.session, pool_id, member_id)
    rules.refuse_deleting(row, "member")
    changes.ensure_mutable(row.pool, "Pool")
    return row


def _apply_batch(session: Session, svc: Services, lb: m.LoadBalancer, pool: m.Pool,
                 wanted: dict[tuple[str, int], schemas.MemberPost], additive: bool,
                 project: str) -> list[m.Member]:
    """Create, replace and delete members; returns the members the pool keeps."""
    existing = {(x.address, x.protocol_port): x for x in pool.members}
    unlisted = [x for key, x in existing.items()
                if key not in wanted and x.provisioning_status not in changes.DELETING]
    doomed = [] if additive else unlisted
    new = [item for key, item in wanted.items() if key not in existing]
    growth = len(new) - len(doomed)
    if growth > 0:
        quotas.check(session, svc.settings, project, {"member": growth})
    tags = writes.tags_for(session, [x.id for x in existing.values()])
    changed = bool(new or doomed)
    keep: list[m.Member] = []
    for key, item in wanted.items():
        row = existing.get(key)
        if row is None:
            keep.append(build_member(session, svc, lb, pool, item, project))
            continue
        values = _post_values(session, svc, lb, item)
        wanted_tags = list(dict.fromkeys(item.tags))
        differs = any(getattr(row, col) != value for col, value in values.items())
        if differs or sorted(wanted_tags) != tags[row.id] or (
                row.provisioning_status in changes.DELETING):
            for col, value in values.items():
                setattr(row, col, value)
            writes.set_tags(session, row.id, wanted_tags)
            changes.mark(row, lb, ProvisioningStatus.PENDING_UPDATE)
            changed = True
        keep.append(row)
    for row in doomed:
        changes.mark(row, lb, ProvisioningStatus.PENDING_DELETE)
    if not changed:
        raise _NoChange()
    if additive:
        keep += unlisted
    return keep
