"""Members of a pool: the rules for creating, changing and deleting one, Octavia's batch
update, and the builder the create graphs share.

As for every Statera write, member changes under a ``PENDING_*`` load balancer or pool are
accepted and coalesced; only a pool (or load balancer) being deleted refuses them (Conflict),
where Octavia requires the pool to be ACTIVE. Each change flags the pool and the listeners
using it ``PENDING_UPDATE``; a delete marks the member ``PENDING_DELETE`` and the driver agent
removes it once the provider has converged.

A member is addressed through its pool: a pool that does not exist is :class:`PoolNotFound`
(Octavia answers it in another body shape than other 404s), a member that is not in that pool
a plain :class:`NotFound`.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from statera.controller import changes, provider_models, quotas, rules, schemas, writes
from statera.controller.access import Requester
from statera.controller.errors import Conflict, NotFound, network_error
from statera.controller.parents import touch_pool
from statera.controller.services import Services
from statera.controller.views import Render, T
from statera.db import models as m
from statera.db import names
from statera.db.statuses import OperatingStatus, ProvisioningStatus
from statera.network.base import NetworkError

#: Member fields a PUT may change: API name -> column.
PUT_COLUMNS = names.renamed("name", "admin_state_up", "weight", "backup", "monitor_address",
                            "monitor_port")


class PoolNotFound(NotFound):
    """The pool a member request names does not exist. A class of its own because Octavia
    answers this 404 in Pecan's body shape, unlike a missing member."""

    def __init__(self, pool_id: str) -> None:
        super().__init__("Pool", pool_id)


# Builder ----------------------------------------------------------------------------------

def build_member(session: Session, svc: Services, lb: m.LoadBalancer, pool: m.Pool,
                 body: schemas.MemberPost, project_id: str) -> m.Member:
    """Validate and add a member to ``pool`` (PENDING_CREATE; NO_MONITOR, or OFFLINE when the
    pool has a health monitor). Invalid for a reserved address, an unknown subnet or SR-IOV
    the flavor does not allow; Conflict if (address, protocol_port) is taken in the pool. The
    caller locks the load balancer, checks quotas, flags the parents and calls the driver."""
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
        try:
            svc.network.get_subnet(body.subnet_id)
        except NetworkError as exc:
            raise network_error(exc) from None
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

def parent(session: Session, pool_id: str) -> m.Pool:
    """The pool a member request names, or :class:`PoolNotFound`."""
    pool = session.get(m.Pool, pool_id)
    if pool is None:
        raise PoolNotFound(pool_id)
    return pool


def member_of(session: Session, pool_id: str, member_id: str) -> m.Member:
    """Member ``member_id`` of pool ``pool_id`` (PoolNotFound first, then NotFound)."""
    parent(session, pool_id)
    row = session.get(m.Member, member_id)
    if row is None or row.pool_id != pool_id:
        raise NotFound("Member", member_id)
    return row


# Operations -------------------------------------------------------------------------------

def create(svc: Services, who: Requester, pool_id: str, body: schemas.MemberPost,
           render: Render[T]) -> T:
    """Add a member to pool ``pool_id``."""
    lb_id, project = _authorized_pool(svc, who, pool_id, "post")
    with writes.change(svc, lb_id) as change:
        pool = _mutable_pool(change, pool_id)
        change.load_driver()
        quotas.check(change.session, svc.settings, project, {"member": 1})
        row = build_member(change.session, svc, change.lb, pool, body, project)
        touch_pool(pool, change.lb)
        change.call("member_create", provider_models.member_model(row))
        return render(change.session, row)


def update(svc: Services, who: Requester, pool_id: str, member_id: str,
           body: schemas.MemberPut, render: Render[T]) -> T:
    """Change the fields ``body`` sets (a null resets a field to its default)."""
    given = rules.apply_nulls(body.given(), rules.MEMBER_NULL_DEFAULTS)
    lb_id = _authorized_member(svc, who, pool_id, member_id, "put")
    with writes.change(svc, lb_id) as change:
        row = _mutable_member(change, pool_id, member_id)
        change.load_driver()
        old = provider_models.member_model(row)
        for api, column in PUT_COLUMNS.items():
            if api in given:
                setattr(row, column, given[api])
        if "tags" in given:
            writes.set_tags(change.session, row.id, given["tags"] or [])
        changes.mark(row, change.lb, ProvisioningStatus.PENDING_UPDATE)
        touch_pool(row.pool, change.lb)
        change.session.flush()
        new = rules.partial_model(provider_models.member_model(row), "member_id", given)
        change.call("member_update", old, new)
        return render(change.session, row)


def delete(svc: Services, who: Requester, pool_id: str, member_id: str) -> None:
    """Mark the member PENDING_DELETE; the driver agent removes the row once the provider has
    applied it."""
    lb_id = _authorized_member(svc, who, pool_id, member_id, "delete")
    with writes.change(svc, lb_id) as change:
        row = _mutable_member(change, pool_id, member_id)
        change.load_driver()
        model = provider_models.member_model(row)
        changes.mark(row, change.lb, ProvisioningStatus.PENDING_DELETE)
        touch_pool(row.pool, change.lb)
        change.call("member_delete", model)


class _NoChange(Exception):
    """The batch describes the pool as it already is: roll back the lock, change nothing."""


def batch_update(svc: Services, who: Requester, pool_id: str, body: schemas.MembersBatch,
                 additive: bool) -> None:
    """Make the pool's members what ``body`` lists (octavia.md §1.4 Members, batch update).

    Members are matched on (address, protocol_port): unmatched ones are created, matched ones
    are replaced by the listed object (omitted fields back to their POST defaults), and the
    pool's other members are deleted unless ``additive``. The driver receives the members the
    pool keeps, not the ones being deleted. A batch that changes nothing opens no generation
    and wakes no agent.
    """
    lb_id, project = _authorized_pool(svc, who, pool_id, "put")
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


def _batch_keys(pool: m.Pool,
                items: list[schemas.MemberPost]) -> dict[tuple[str, int], schemas.MemberPost]:
    """The batch's members by (address, port). Named twice, an existing member is Invalid
    and a new one a Conflict (its second create collides with the first), as in Octavia."""
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


# The two transactions of a write ------------------------------------------------------------

def _authorized_pool(svc: Services, who: Requester, pool_id: str,
                     action: str) -> tuple[str, str]:
    """Check the caller may ``action`` the members of the pool: its (LB id, project)."""
    with svc.db.read_session() as session:
        pool = parent(session, pool_id)
        who.authorize("member", action, pool.project_id)
        return pool.load_balancer_id, str(pool.project_id)


def _authorized_member(svc: Services, who: Requester, pool_id: str, member_id: str,
                       action: str) -> str:
    """Check the caller may ``action`` the member: the id of its load balancer."""
    with svc.db.read_session() as session:
        row = member_of(session, pool_id, member_id)
        who.authorize("member", action, row.project_id)
        return row.pool.load_balancer_id


def _mutable_pool(change: writes.Change, pool_id: str) -> m.Pool:
    """The pool, under the change's lock; Conflict if it is being deleted."""
    pool = parent(change.session, pool_id)
    changes.ensure_mutable(pool, "Pool")
    return pool


def _mutable_member(change: writes.Change, pool_id: str, member_id: str) -> m.Member:
    """The member, under the change's lock; Conflict if it or its pool is being deleted."""
    row = member_of(change.session, pool_id, member_id)
    rules.refuse_deleting(row, "member")
    changes.ensure_mutable(row.pool, "Pool")
    return row
