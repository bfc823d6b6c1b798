"""Pools: the rules for creating, changing and deleting one, and the builder the create graphs
share.

As for every Statera write, a pool change under a ``PENDING_*`` load balancer is accepted and
coalesced rather than refused; only a load balancer, listener or pool that is being deleted
refuses (Conflict). Deleting a pool marks it, its members and its health monitor
``PENDING_DELETE`` and clears ``default_pool_id`` on the listeners that used it at once
(Octavia clears it when the row goes); a pool still named by an L7 policy cannot be deleted
(Conflict).

What a member or monitor change flags on its pool and listeners is in
:mod:`statera.controller.parents` (re-exported here), below this module and the member and
monitor builders it calls.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from statera.certs.base import Caller
from statera.controller import changes, provider_models, quotas, rules, schemas, writes
from statera.controller.access import Requester
from statera.controller.errors import Conflict, InvalidInput
from statera.controller.healthmonitors import build_healthmonitor
from statera.controller.members import build_member
from statera.controller.parents import pool_listeners, touch_pool
from statera.controller.services import Services
from statera.controller.views import Render, T
from statera.db import models as m
from statera.db import names
from statera.db.statuses import OperatingStatus, ProvisioningStatus

__all__ = ["FIELDS", "PEM_REFS", "build_pool", "cert_refs", "create", "delete",
           "pool_listeners", "touch_pool", "update"]

#: Pool fields under their API names: API name -> column (``enabled`` for
#: ``admin_state_up``).
FIELDS = names.renamed(
    "name", "description", "admin_state_up", "lb_algorithm", "session_persistence",
    "tls_enabled", "tls_container_ref", "ca_tls_container_ref", "crl_container_ref",
    "tls_ciphers", "tls_versions", "alpn_protocols",
)

#: The references that name PEM material the pool checks its peers with.
PEM_REFS = ("ca_tls_container_ref", "crl_container_ref")


# Builder ----------------------------------------------------------------------------------

def build_pool(session: Session, svc: Services, lb: m.LoadBalancer, body: schemas.PoolPost,
               project_id: str, listener: m.Listener | None) -> m.Pool:
    """Validate and add a pool to ``lb`` (PENDING_CREATE/OFFLINE, the LB's generation).

    With ``listener`` the pool becomes its default pool (Conflict if it has one, Invalid if
    the protocols do not fit). ``body.members`` and ``body.healthmonitor`` are built too, as
    in a create graph. The caller locks the load balancer, checks quotas, flags the listener
    and calls the driver.
    """
    if listener is not None:
        changes.ensure_mutable(listener, "Listener")
        if listener.default_pool_id is not None:
            raise Conflict("This listener already has a default pool")
        rules.check_pool_protocol(listener.protocol, body.protocol)
    requested = {name: getattr(body, name) for name in FIELDS}
    if body.session_persistence is not None:
        requested["session_persistence"] = body.session_persistence.model_dump()
    values = rules.apply_nulls(requested, rules.POOL_NULL_DEFAULTS)
    values = rules.validate_pool(values, body.protocol, svc.settings)
    row = m.Pool(
        id=m.new_id(), load_balancer_id=lb.id, project_id=project_id, protocol=body.protocol,
        provisioning_status=ProvisioningStatus.PENDING_CREATE,
        operating_status=OperatingStatus.OFFLINE,
        generation=lb.desired_generation, **{FIELDS[k]: v for k, v in values.items()},
    )
    lb.pools.append(row)
    session.flush()
    writes.set_tags(session, row.id, body.tags)
    if listener is not None:
        listener.default_pool = row
        listener.default_pool_id = row.id
    # The monitor first: members of a monitored pool start OFFLINE, not NO_MONITOR.
    if body.healthmonitor is not None:
        build_healthmonitor(session, svc, lb, row, body.healthmonitor, project_id)
    for member in body.members or []:
        build_member(session, svc, lb, row, member, project_id)
    return row


def cert_refs(values: dict[str, Any]) -> tuple[list[str], list[str], list[str]]:
    """Certificate references among ``values``: (client certificate, CAs, CRLs)."""
    bundles = [values["tls_container_ref"]] if values.get("tls_container_ref") else []
    ca, crl = (values.get(k) for k in PEM_REFS)
    return bundles, [ca] if ca else [], [crl] if crl else []


def _graph_counts(body: schemas.PoolPost) -> dict[str, int]:
    """What a pool create adds, for the quota check."""
    return {"pool": 1, "member": len(body.members or []),
            "health_monitor": 1 if body.healthmonitor is not None else 0}


# Operations -------------------------------------------------------------------------------

def create(svc: Services, who: Requester, body: schemas.PoolPost, render: Render[T], *,
           token: str | None = None) -> T:
    """Add a pool to the load balancer ``body`` names, or as the default pool of the listener
    it names. ``token``: the caller's, for a certificate manager that acts with it."""
    if body.loadbalancer_id is None and body.listener_id is None:
        raise InvalidInput("loadbalancer_id", None,
                           "Either loadbalancer_id or listener_id must be specified.")
    lb_id, project = _authorized_parent(svc, who, body)
    rules.check_cert_refs(svc.certs, Caller(project, token), *cert_refs(body.model_dump()))
    rules.check_ca_and_crl(svc.certs, body.ca_tls_container_ref, body.crl_container_ref, "CA")
    with writes.change(svc, lb_id) as change:
        session, lb = change.session, change.lb
        listener = None
        if body.listener_id is not None:
            listener = writes.fetch(session, m.Listener, body.listener_id)
        change.load_driver()
        quotas.check(session, svc.settings, project, _graph_counts(body))
        row = build_pool(session, svc, lb, body, project, listener)
        if listener is not None:
            changes.touch(listener, lb)
        session.flush()
        change.call("pool_create", provider_models.pool_model(row))
        return render(session, row)


def _authorized_parent(svc: Services, who: Requester, body: schemas.PoolPost) -> tuple[str, str]:
    """Check the caller may add a pool to the load balancer ``body`` names (directly or
    through its listener): its (id, project)."""
    with svc.db.read_session() as session:
        lb_id = body.loadbalancer_id
        if body.listener_id is not None:
            listener = writes.fetch(session, m.Listener, body.listener_id)
            if lb_id is not None and listener.load_balancer_id != lb_id:
                raise rules.validation(f"Listener {body.listener_id} does not belong to load "
                                       f"balancer {lb_id}.")
            lb_id = listener.load_balancer_id
        assert lb_id is not None
        lb = writes.fetch(session, m.LoadBalancer, lb_id)
        who.authorize("pool", "post", lb.project_id)
        return lb_id, str(lb.project_id)


def update(svc: Services, who: Requester, pool_id: str, body: schemas.PoolPut,
           render: Render[T], *, token: str | None = None) -> T:
    """Change the fields ``body`` sets (a null resets a field to its default), with every
    create-time check on the merged result."""
    given = rules.apply_nulls(body.given(), rules.POOL_NULL_DEFAULTS)
    if "lb_algorithm" in given and given["lb_algorithm"] is None:
        raise InvalidInput("lb_algorithm", None, "Mandatory field missing.")
    with svc.db.read_session() as session:
        row = writes.fetch_authorized(session, m.Pool, pool_id, who, "put")
        lb_id, project = str(row.load_balancer_id), str(row.project_id)
        ca_ref, crl_ref = (given.get(k, getattr(row, k)) for k in PEM_REFS)
    rules.check_cert_refs(svc.certs, Caller(project, token), *cert_refs(given))
    rules.check_ca_and_crl(svc.certs, ca_ref, crl_ref, "CA")
    with writes.change(svc, lb_id) as change:
        row = writes.fetch(change.session, m.Pool, pool_id)
        rules.refuse_deleting(row, "pool")
        change.load_driver()
        old = provider_models.pool_model(row)
        _apply_put(change, row, body, given)
        new = rules.partial_model(provider_models.pool_model(row), "pool_id", given)
        change.call("pool_update", old, new)
        return render(change.session, row)


def _apply_put(change: writes.Change, row: m.Pool, body: schemas.PoolPut,
               given: dict[str, Any]) -> None:
    """Apply a PUT's fields to ``row`` with every create-time check on the merged result."""
    values = {api: getattr(row, column) for api, column in FIELDS.items()}
    values.update({k: v for k, v in given.items() if k != "tags"})
    if "session_persistence" in given:
        values["session_persistence"] = merge_persistence(row.session_persistence,
                                                          body.session_persistence)
    if given.get("ca_tls_container_ref", "") is None and values.get("crl_container_ref"):
        raise rules.validation("A CA reference cannot be removed when a certificate "
                               "revocation list is present.")
    values = rules.validate_pool(values, row.protocol, change.svc.settings)
    for api, value in values.items():
        setattr(row, FIELDS[api], value)
    if "tags" in given:
        writes.set_tags(change.session, row.id, given["tags"] or [])
    changes.mark(row, change.lb, ProvisioningStatus.PENDING_UPDATE)
    for listener in pool_listeners(row):
        changes.touch(listener, change.lb)
    change.session.flush()


def merge_persistence(stored: dict[str, Any] | None,
                      given: schemas.SessionPersistence | None) -> dict[str, Any] | None:
    """PUT semantics: null removes it; an omitted ``type`` keeps the stored one; a new type
    starts from a clean object (a cookie name does not outlive APP_COOKIE)."""
    if given is None:
        return None
    fields = given.given()
    base = dict(stored or {})
    if "type" in fields and fields["type"] != base.get("type"):
        base = {}
    base.update(fields)
    return base


def delete(svc: Services, who: Requester, pool_id: str) -> None:
    """Mark the pool, its members and its monitor PENDING_DELETE and detach it from the
    listeners that default to it; Conflict while an L7 policy still redirects to it."""
    with svc.db.read_session() as session:
        row = writes.fetch_authorized(session, m.Pool, pool_id, who, "delete")
        lb_id = str(row.load_balancer_id)
    with writes.change(svc, lb_id) as change:
        lb = change.lb
        row = writes.fetch(change.session, m.Pool, pool_id)
        rules.refuse_deleting(row, "pool")
        _refuse_if_redirected(change.session, row)
        change.load_driver()
        model = provider_models.pool_model(row)
        for listener in pool_listeners(row):
            changes.touch(listener, lb)
            if listener.default_pool_id == row.id:
                listener.default_pool = None
                listener.default_pool_id = None
        changes.mark(row, lb, ProvisioningStatus.PENDING_DELETE)
        for member in row.members:
            changes.mark(member, lb, ProvisioningStatus.PENDING_DELETE)
        if row.health_monitor is not None:
            changes.mark(row.health_monitor, lb, ProvisioningStatus.PENDING_DELETE)
        change.call("pool_delete", model)


def _refuse_if_redirected(session: Session, pool: m.Pool) -> None:
    """Conflict while an L7 policy (not being deleted) redirects to ``pool``: deleting it
    would leave the policy pointing nowhere."""
    policy = session.scalars(select(m.L7Policy).where(
        m.L7Policy.redirect_pool_id == pool.id,
        m.L7Policy.provisioning_status.not_in(changes.DELETING))).first()
    if policy is not None:
        raise Conflict(f"Pool {pool.id} is in use by L7 policy {policy.id}")
