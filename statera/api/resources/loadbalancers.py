"""Load balancers: the HTTP edge of :mod:`statera.controller.loadbalancers` (CRUD, the
full-graph create, cascade delete, status tree, stats, failover)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends, Request, Response
from sqlalchemy.orm import Session, selectinload

from statera.api.deps import Services, caller, caller_token, services
from statera.api.policy import Identity
from statera.api.resources import common
from statera.controller import loadbalancers, schemas
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
    return {SINGLE: loadbalancers.create(svc, ident, body, token, _render_full)}


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
