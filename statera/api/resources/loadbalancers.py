"""Load balancers: the HTTP edge of :mod:`statera.controller.loadbalancers` (CRUD, the
full-graph create, cascade delete, status tree, stats, failover)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends, Request, Response
from sqlalchemy.orm import Session, selectinload

from statera.api.deps import Services, caller, caller_token, services
from statera.api.policy import Identity
from statera.api.resources import common
from statera.api.resources.l7policies import build_l7policy
from statera.api.resources.listeners import build_listener
from statera.api.resources.listeners import cert_refs as listener_cert_refs
from statera.api.resources.pools import build_pool
from statera.api.resources.pools import cert_refs as pool_cert_refs
from statera.certs.base import Caller
from statera.controller import loadbalancers, rules, schemas
from statera.controller.errors import Invalid
from statera.controller.stats import listener_stats as listener_stats  # listeners.py's, for now
from statera.db import models as m
from statera.db.statuses import ProvisioningStatus

router = APIRouter()
SINGLE, PLURAL = "loadbalancer", "loadbalancers"
#: The spellings of a true ``cascade`` query parameter.
TRUE = ("true", "1", "yes", "on", "y", "t")


@router.get("/loadbalancers")
def list_loadbalancers(request: Request, svc: Services = Depends(services),
                       ident: Identity = Depends(caller)) -> dict[str, Any]:
    return common.list_visible(
        svc, request, ident, m.LoadBalancer, PLURAL,
        selectinload(m.LoadBalancer.listeners), selectinload(m.LoadBalancer.pools),
        where=(m.LoadBalancer.provisioning_status != ProvisioningStatus.DELETED,))


@router.get("/loadbalancers/{lb_id}")
def show_loadbalancer(lb_id: str, request: Request, svc: Services = Depends(services),
                      ident: Identity = Depends(caller)) -> dict[str, Any]:
    return common.show(svc, request, ident, m.LoadBalancer, lb_id, SINGLE)


@router.post("/loadbalancers", status_code=201)
def create_loadbalancer(payload: Any = Body(None), svc: Services = Depends(services),
                        ident: Identity = Depends(caller),
                        token: str | None = Depends(caller_token)) -> dict[str, Any]:
    body = schemas.parse(schemas.LoadBalancerPost, payload, SINGLE)
    return {SINGLE: loadbalancers.create(svc, ident, body, token, _render_full,
                                         build_graph=_build_graph,
                                         check_certificates=_check_graph_certificates)}


@router.put("/loadbalancers/{lb_id}")
def update_loadbalancer(lb_id: str, payload: Any = Body(None),
                        svc: Services = Depends(services),
                        ident: Identity = Depends(caller)) -> dict[str, Any]:
    body = schemas.parse(schemas.LoadBalancerPut, payload, SINGLE)
    return {SINGLE: loadbalancers.update(svc, ident, lb_id, body, common.render)}


@router.delete("/loadbalancers/{lb_id}", status_code=204)
def delete_loadbalancer(lb_id: str, cascade: str = "false",
                        svc: Services = Depends(services),
                        ident: Identity = Depends(caller)) -> Response:
    loadbalancers.delete(svc, ident, lb_id, cascade.strip().lower() in TRUE)
    return Response(status_code=204)


@router.get("/loadbalancers/{lb_id}/status")
@router.get("/loadbalancers/{lb_id}/statuses")
def status_tree(lb_id: str, svc: Services = Depends(services),
                ident: Identity = Depends(caller)) -> dict[str, Any]:
    return {"statuses": {"loadbalancer": loadbalancers.status_tree(svc, ident, lb_id)}}


@router.get("/loadbalancers/{lb_id}/stats")
def lb_stats(lb_id: str, svc: Services = Depends(services),
             ident: Identity = Depends(caller)) -> dict[str, Any]:
    return {"stats": loadbalancers.stats(svc, ident, lb_id)}


@router.put("/loadbalancers/{lb_id}/failover", status_code=202)
def failover(lb_id: str, svc: Services = Depends(services),
             ident: Identity = Depends(caller)) -> Response:
    loadbalancers.failover(svc, ident, lb_id)
    return Response(status_code=202)


# Rendering ------------------------------------------------------------------------------

def _render_full(session: Session, lb: m.LoadBalancer) -> dict[str, Any]:
    """The create response nests whole objects (octavia.md §1.4). As in Octavia's "full"
    types, a nested object leaves out its references upwards (a listener's and a pool's
    ``loadbalancers``, a health monitor's ``pools``, a pool's ``healthmonitor_id``)."""
    body = common.render(session, lb)
    pools = {p.id: _full_pool(session, p) for p in lb.pools}
    listeners = []
    for lst in lb.listeners:
        lbody = common.render(session, lst)
        del lbody["loadbalancers"]
        policies = []
        for pol in lst.l7policies:
            pbody = common.render(session, pol)
            pbody["rules"] = [common.render(session, r) for r in pol.rules]
            policies.append(pbody)
        lbody["l7policies"] = policies
        listeners.append(lbody)
    body["listeners"] = listeners
    body["pools"] = list(pools.values())
    return body


def _full_pool(session: Session, pool: m.Pool) -> dict[str, Any]:
    body = common.render(session, pool)
    del body["loadbalancers"]
    body.pop("healthmonitor_id", None)
    body["members"] = [common.render(session, mem) for mem in pool.members]
    hm = pool.health_monitor
    if hm is not None:
        body["healthmonitor"] = common.render(session, hm)
        del body["healthmonitor"]["pools"]
    return body


# The create graph (interim: moves into statera.controller.graph with the builders) -------


def _check_graph_certificates(svc: Services, body: schemas.LoadBalancerPost,
                              cert_caller: Caller) -> None:
    """The certificate references of a create graph, checked as the listener and pool APIs
    check them (400 unless the manager accepts each for ``cert_caller``), before the write
    transaction: the certificate manager opens its own or calls Barbican."""
    graph_pools: list[schemas.PoolPost | schemas.PoolRef] = list(body.pools or [])
    for lst in body.listeners or []:
        rules.check_cert_refs(svc.certs, cert_caller, *listener_cert_refs(lst.model_dump()))
        rules.check_ca_and_crl(svc.certs, lst.client_ca_tls_container_ref,
                               lst.client_crl_container_ref)
        if lst.default_pool is not None:
            graph_pools.append(lst.default_pool)
        graph_pools.extend(pol.redirect_pool for pol in lst.l7policies or []
                           if pol.redirect_pool is not None)
    for pool in graph_pools:
        if isinstance(pool, schemas.PoolPost):
            rules.check_cert_refs(svc.certs, cert_caller, *pool_cert_refs(pool.model_dump()))
            rules.check_ca_and_crl(svc.certs, pool.ca_tls_container_ref,
                                   pool.crl_container_ref, "CA")


def _build_graph(session: Session, svc: Services, lb: m.LoadBalancer,
                 body: schemas.LoadBalancerPost, project: str) -> None:
    """Create the nested listeners, pools, members, monitors, policies and rules.

    Pools nested as a listener's default pool or a policy's redirect pool need a name; a
    name-only pool refers to a top-level pool of the same request.
    """
    if not (body.pools or body.listeners):
        return
    by_name: dict[str, m.Pool] = {}
    for pbody in body.pools or []:
        pool = build_pool(session, svc, lb, pbody, project, None)
        _remember(by_name, pbody, pool)
    for lbody in body.listeners or []:
        default_pool = lbody.default_pool
        policies = lbody.l7policies or []
        plain = lbody.model_copy(update={"default_pool": None, "l7policies": None})
        listener = build_listener(session, svc, lb, plain, project)
        if default_pool is not None:
            pool = _graph_pool(session, svc, lb, default_pool, project, by_name)
            rules.check_pool_protocol(listener.protocol, pool.protocol)
            listener.default_pool_id = pool.id
        for polbody in policies:
            if polbody.redirect_pool is not None:
                pool = _graph_pool(session, svc, lb, polbody.redirect_pool, project, by_name)
                polbody = polbody.model_copy(
                    update={"redirect_pool": None, "redirect_pool_id": pool.id})
            build_l7policy(session, svc, lb, listener, polbody, project)
        session.flush()


def _remember(by_name: dict[str, m.Pool], body: schemas.PoolPost, pool: m.Pool) -> None:
    if body.name:
        if body.name in by_name:
            raise Invalid(f"Pool names must be unique in a create graph: '{body.name}'")
        by_name[body.name] = pool


def _graph_pool(session: Session, svc: Services, lb: m.LoadBalancer,
                body: schemas.PoolPost | schemas.PoolRef, project: str,
                by_name: dict[str, m.Pool]) -> m.Pool:
    if not body.name:
        raise Invalid("Pools nested in a load balancer create graph need a name.")
    if isinstance(body, schemas.PoolRef):
        if body.name not in by_name:
            raise Invalid(f"Pool '{body.name}' is referenced by name but not defined in the "
                          "request.")
        return by_name[body.name]
    if body.name in by_name:
        raise Invalid(f"Pool names must be unique in a create graph: '{body.name}'")
    pool = build_pool(session, svc, lb, body, project, None)
    by_name[body.name] = pool
    return pool

