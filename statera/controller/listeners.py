"""Listeners: the rules for creating, changing and deleting one, their statistics, and the
builder the load-balancer create graph reuses.

Statera differs from Octavia on purpose: a write under a load balancer that is ``PENDING_*``
is accepted, not refused with 409. Each write row-locks the load balancer and opens a new
desired generation (:func:`statera.controller.changes.lock_loadbalancer`), so changes made
while an earlier one is still converging are coalesced into the next convergence. Only a load
balancer or listener that is being deleted refuses writes (409). A DELETE marks the listener
(and its L7 policies and rules) ``PENDING_DELETE``; the driver agent removes the rows once the
provider has converged.

A write runs in two transactions: a short one that finds the object and checks the caller's
rights, then the change itself (:func:`statera.controller.writes.change`), which takes the
load-balancer lock as its first statement so that on every database it reads what the previous
writer committed. Certificate references are checked between the two, outside any
transaction: the certificate manager may open its own or call Barbican.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from statera.certs.base import Caller
from statera.controller import changes, provider_models, quotas, rules, schemas, writes
from statera.controller.access import Requester
from statera.controller.errors import Conflict, InvalidInput, NotFound
from statera.controller.services import Services
from statera.controller.stats import listener_stats
from statera.controller.views import Render, T
from statera.db import models as m
from statera.db import names
from statera.db.statuses import OperatingStatus, ProvisioningStatus

#: Listener fields under their API names; the column has the same name except
#: ``admin_state_up`` (``enabled``).
FIELDS = (
    "name", "description", "admin_state_up", "connection_limit", "default_pool_id",
    "default_tls_container_ref", "sni_container_refs", "client_authentication",
    "client_ca_tls_container_ref", "client_crl_container_ref", "insert_headers",
    "timeout_client_data", "timeout_member_connect", "timeout_member_data",
    "timeout_tcp_inspect", "allowed_cidrs", "tls_ciphers", "tls_versions", "alpn_protocols",
    "hsts_max_age", "hsts_include_subdomains", "hsts_preload",
)
BUNDLE_REFS = ("default_tls_container_ref",)
PEM_REFS = ("client_ca_tls_container_ref", "client_crl_container_ref")


def _column(api_name: str) -> str:
    return names.column(api_name)


# Builder ----------------------------------------------------------------------------------

def build_listener(session: Session, svc: Services, lb: m.LoadBalancer,
                   body: schemas.ListenerPost, project_id: str) -> m.Listener:
    """Validate and add a listener to ``lb`` (PENDING_CREATE/OFFLINE, the LB's generation).

    Checks the protocol against the deployment, the port against the other listeners of the
    same L4 family (409), ``default_pool_id`` (404 unless on this LB, 400 if the protocols do
    not fit) and every cross-field rule of :func:`rules.validate_listener`. The caller locks
    the load balancer, checks quotas and calls the driver; nested ``default_pool`` and
    ``l7policies`` of a create graph are the caller's too.
    """
    protocol = body.protocol
    rules.check_listener_protocol_allowed(protocol, svc.settings)
    for other in lb.listeners:
        if (other.provisioning_status not in changes.DELETING
                and other.protocol_port == body.protocol_port
                and rules.ports_collide(other.protocol, protocol)):
            raise Conflict(f"Another Listener on this Load Balancer is already using protocol "
                           f"{other.protocol} and protocol_port {body.protocol_port}")
    requested = {name: getattr(body, name) for name in FIELDS}
    values = rules.apply_nulls(requested, rules.listener_null_defaults(svc.settings))
    pool = None
    if body.default_pool_id is not None:
        pool = _default_pool(session, lb, body.default_pool_id, protocol)
    values = rules.validate_listener(values, protocol, lb, svc.settings)
    row = m.Listener(
        id=m.new_id(), load_balancer_id=lb.id, project_id=project_id, protocol=protocol,
        protocol_port=body.protocol_port, provisioning_status=ProvisioningStatus.PENDING_CREATE,
        operating_status=OperatingStatus.OFFLINE, generation=lb.desired_generation,
        **{_column(k): v for k, v in values.items()},
    )
    row.default_pool = pool
    lb.listeners.append(row)
    session.flush()
    writes.set_tags(session, row.id, body.tags)
    return row


def _default_pool(session: Session, lb: m.LoadBalancer, pool_id: str,
                  protocol: str) -> m.Pool:
    """The pool a listener forwards to: on the same load balancer (404), not being deleted
    (409) and of a protocol the listener can use (400)."""
    pool = session.get(m.Pool, pool_id)
    if pool is None or pool.load_balancer_id != lb.id:
        raise NotFound("Pool", pool_id)
    changes.ensure_mutable(pool, "Pool")
    rules.check_pool_protocol(protocol, pool.protocol)
    return pool


def cert_refs(values: dict[str, Any]) -> tuple[list[str], list[str], list[str]]:
    """Certificate references among ``values``: (server bundles, CAs, CRLs)."""
    bundles = [values[k] for k in BUNDLE_REFS if values.get(k)]
    bundles += list(values.get("sni_container_refs") or [])
    ca, crl = (values.get(k) for k in PEM_REFS)
    return bundles, [ca] if ca else [], [crl] if crl else []


# Operations -------------------------------------------------------------------------------

def create(svc: Services, who: Requester, body: schemas.ListenerPost, render: Render[T], *,
           token: str | None) -> T:
    """Add a listener to the load balancer ``body.loadbalancer_id`` names. ``token`` is the
    caller's Keystone token, with which the certificate manager checks the references."""
    if body.loadbalancer_id is None:
        raise InvalidInput("loadbalancer_id", None, "Mandatory field missing.")
    if body.default_pool is not None or body.l7policies:
        raise InvalidInput("default_pool" if body.default_pool is not None else "l7policies",
                           "...", "Only accepted inside a load balancer create graph.")
    with svc.db.read_session() as session:
        lb = writes.fetch(session, m.LoadBalancer, body.loadbalancer_id)
        who.authorize("listener", "post", lb.project_id)
        project = str(lb.project_id)
    rules.check_cert_refs(svc.certs, Caller(project, token), *cert_refs(body.model_dump()))
    rules.check_ca_and_crl(svc.certs, body.client_ca_tls_container_ref,
                           body.client_crl_container_ref)
    with writes.change(svc, body.loadbalancer_id) as change:
        change.load_driver()
        quotas.check(change.session, svc.settings, project, {"listener": 1})
        row = build_listener(change.session, svc, change.lb, body, project)
        change.call("listener_create", provider_models.listener_model(row))
        return render(change.session, row)


def update(svc: Services, who: Requester, listener_id: str, body: schemas.ListenerPut,
           render: Render[T], *, token: str | None) -> T:
    """Change the fields ``body`` sets (a null resets a field to its default), checking the
    certificate references the listener will have as :func:`create` does."""
    given = rules.apply_nulls(body.given(), rules.listener_null_defaults(svc.settings))
    with svc.db.read_session() as session:
        row = writes.fetch_authorized(session, m.Listener, listener_id, who, "put")
        lb_id, project = str(row.load_balancer_id), str(row.project_id)
        ca_ref, crl_ref = (given.get(k, getattr(row, k)) for k in PEM_REFS)
    rules.check_cert_refs(svc.certs, Caller(project, token), *cert_refs(given))
    rules.check_ca_and_crl(svc.certs, ca_ref, crl_ref)
    with writes.change(svc, lb_id) as change:
        row = writes.fetch(change.session, m.Listener, listener_id)
        rules.refuse_deleting(row, "listener")
        change.load_driver()
        old = provider_models.listener_model(row)
        _update(change, row, given)
        new = rules.partial_model(provider_models.listener_model(row), "listener_id", given)
        change.call("listener_update", old, new)
        return render(change.session, row)


def _update(change: writes.Change, row: m.Listener, given: dict[str, Any]) -> None:
    """Apply a PUT's fields to ``row`` with every create-time check on the merged result."""
    session, lb = change.session, change.lb
    values = {name: getattr(row, _column(name)) for name in FIELDS}
    values.update({k: v for k, v in given.items() if k != "tags"})
    pool = row.default_pool
    if "default_pool_id" in given:
        pool_id = given["default_pool_id"]
        pool = _default_pool(session, lb, pool_id, row.protocol) if pool_id else None
    if (given.get("client_ca_tls_container_ref", "") is None
            and values.get("client_crl_container_ref")):
        raise rules.validation("A client authentication CA reference cannot be removed "
                               "while a revocation list is set.")
    values = rules.validate_listener(values, row.protocol, lb, change.svc.settings)
    for name, value in values.items():
        setattr(row, _column(name), value)
    row.default_pool = pool
    if "tags" in given:
        writes.set_tags(session, row.id, given["tags"] or [])
    changes.mark(row, lb, ProvisioningStatus.PENDING_UPDATE)
    session.flush()


def delete(svc: Services, who: Requester, listener_id: str) -> None:
    """Mark the listener and its L7 policies and rules PENDING_DELETE; the driver agent
    removes the rows once the provider has applied it."""
    with svc.db.read_session() as session:
        row = writes.fetch_authorized(session, m.Listener, listener_id, who, "delete")
        lb_id = str(row.load_balancer_id)
    with writes.change(svc, lb_id) as change:
        row = writes.fetch(change.session, m.Listener, listener_id)
        rules.refuse_deleting(row, "listener")
        change.load_driver()
        model = provider_models.listener_model(row)
        changes.mark(row, change.lb, ProvisioningStatus.PENDING_DELETE)
        for policy in row.l7policies:
            changes.mark(policy, change.lb, ProvisioningStatus.PENDING_DELETE)
            for rule in policy.rules:
                changes.mark(rule, change.lb, ProvisioningStatus.PENDING_DELETE)
        change.call("listener_delete", model)


def stats(svc: Services, who: Requester, listener_id: str) -> dict[str, int]:
    """The listener's counters, summed over its hosts, if ``who`` may read them."""
    with svc.db.read_session() as session:
        row = writes.fetch_authorized(session, m.Listener, listener_id, who, "get_stats")
        return listener_stats(session, [row.id])
