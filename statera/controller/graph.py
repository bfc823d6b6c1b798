"""The load-balancer create graph: listeners, pools, members, monitors, L7 policies and rules
nested in one ``POST /loadbalancers`` body.

Pools nested as a listener's default pool or a policy's redirect pool need a name; a name-only
pool (``PoolRef``) refers to a pool defined elsewhere in the same request.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from statera.certs.base import Caller
from statera.controller import l7policies, listeners, pools, rules, schemas
from statera.controller.errors import Invalid
from statera.controller.services import Services
from statera.db import models as m


def counts(body: schemas.LoadBalancerPost) -> dict[str, int]:
    """How many objects of each quota kind the create graph adds (for the quota check)."""
    out = {"load_balancer": 1, "listener": 0, "pool": 0, "member": 0, "health_monitor": 0,
           "l7policy": 0, "l7rule": 0}
    nested: list[schemas.PoolPost | schemas.PoolRef] = list(body.pools or [])
    for lst in body.listeners or []:
        out["listener"] += 1
        if lst.default_pool is not None:
            nested.append(lst.default_pool)
        for pol in lst.l7policies or []:
            out["l7policy"] += 1
            out["l7rule"] += len(pol.rules or [])
            if pol.redirect_pool is not None:
                nested.append(pol.redirect_pool)
    for pool in nested:
        if isinstance(pool, schemas.PoolRef):
            continue
        out["pool"] += 1
        out["member"] += len(pool.members or [])
        out["health_monitor"] += 1 if pool.healthmonitor else 0
    return out


def check_certificates(svc: Services, body: schemas.LoadBalancerPost, cert_caller: Caller) -> None:
    """The certificate references of a create graph, checked as the listener and pool APIs
    check them (Invalid unless the manager accepts each for ``cert_caller``), before the write
    transaction: the certificate manager opens its own or calls Barbican."""
    graph_pools: list[schemas.PoolPost | schemas.PoolRef] = list(body.pools or [])
    for lst in body.listeners or []:
        rules.check_cert_refs(svc.certs, cert_caller, *listeners.cert_refs(lst.model_dump()))
        rules.check_ca_and_crl(svc.certs, lst.client_ca_tls_container_ref,
                               lst.client_crl_container_ref)
        if lst.default_pool is not None:
            graph_pools.append(lst.default_pool)
        graph_pools.extend(pol.redirect_pool for pol in lst.l7policies or []
                           if pol.redirect_pool is not None)
    for pool in graph_pools:
        if isinstance(pool, schemas.PoolPost):
            rules.check_cert_refs(svc.certs, cert_caller, *pools.cert_refs(pool.model_dump()))
            rules.check_ca_and_crl(svc.certs, pool.ca_tls_container_ref,
                                   pool.crl_container_ref, "CA")


def build(session: Session, svc: Services, lb: m.LoadBalancer, body: schemas.LoadBalancerPost,
          project: str) -> None:
    """Create the nested listeners, pools, members, monitors, policies and rules under ``lb``
    (the builders check each object as its own create would)."""
    if not (body.pools or body.listeners):
        return
    by_name: dict[str, m.Pool] = {}
    for pbody in body.pools or []:
        pool = pools.build_pool(session, svc, lb, pbody, project, None)
        _remember(by_name, pbody, pool)
    for lbody in body.listeners or []:
        default_pool = lbody.default_pool
        policies = lbody.l7policies or []
        plain = lbody.model_copy(update={"default_pool": None, "l7policies": None})
        listener = listeners.build_listener(session, svc, lb, plain, project)
        if default_pool is not None:
            pool = _graph_pool(session, svc, lb, default_pool, project, by_name)
            rules.check_pool_protocol(listener.protocol, pool.protocol)
            listener.default_pool_id = pool.id
        for polbody in policies:
            if polbody.redirect_pool is not None:
                pool = _graph_pool(session, svc, lb, polbody.redirect_pool, project, by_name)
                polbody = polbody.model_copy(
                    update={"redirect_pool": None, "redirect_pool_id": pool.id})
            l7policies.build_l7policy(session, svc, lb, listener, polbody, project)
        session.flush()


def _remember(by_name: dict[str, m.Pool], body: schemas.PoolPost, pool: m.Pool) -> None:
    """Record a top-level pool under its name (Invalid for a name used twice)."""
    if body.name:
        if body.name in by_name:
            raise Invalid(f"Pool names must be unique in a create graph: '{body.name}'")
        by_name[body.name] = pool


def _graph_pool(session: Session, svc: Services, lb: m.LoadBalancer,
                body: schemas.PoolPost | schemas.PoolRef, project: str,
                by_name: dict[str, m.Pool]) -> m.Pool:
    """A nested pool: the one a ``PoolRef`` names, or a new one (both need a name)."""
    if not body.name:
        raise Invalid("Pools nested in a load balancer create graph need a name.")
    if isinstance(body, schemas.PoolRef):
        if body.name not in by_name:
            raise Invalid(f"Pool '{body.name}' is referenced by name but not defined in the "
                          "request.")
        return by_name[body.name]
    if body.name in by_name:
        raise Invalid(f"Pool names must be unique in a create graph: '{body.name}'")
    pool = pools.build_pool(session, svc, lb, body, project, None)
    by_name[body.name] = pool
    return pool
