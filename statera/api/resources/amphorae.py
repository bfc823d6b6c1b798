"""Amphorae (admin only), mounted under ``/v2/octavia``: ``/amphorae[/{id}]``,
``/amphorae/{id}/stats``, ``/amphorae/{id}/failover`` and ``/amphorae/{id}/config``: the HTTP
edge of :mod:`statera.controller.amphorae`.

List and show render ``views.amphora`` with Octavia's filters and pagination; the rest is the
controller's (failover, config, delete, and the stats the instance reported).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy import select

from statera.api import views
from statera.api.deps import Services, caller, services
from statera.api.listing import ListSpec, fields_of, prune
from statera.api.policy import Identity, authorize
from statera.api.resources import common
from statera.controller import amphorae
from statera.controller.amphorae import POLICY_TYPE
from statera.db import models as m

router = APIRouter()
SINGLE, PLURAL = "amphora", "amphorae"

_COLUMNS: dict[str, Any] = {
    ("loadbalancer_id" if col.name == "load_balancer_id" else col.name): getattr(m.Amphora,
                                                                                col.name)
    for col in m.Amphora.__table__.columns
}
_SPEC = ListSpec(model=m.Amphora, plural=PLURAL, links_key="amphorae_links",
                 render=views.amphora, columns=_COLUMNS, tagged=False)


@router.get("/amphorae")
def list_amphorae(request: Request, svc: Services = Depends(services),
                  ident: Identity = Depends(caller)) -> dict[str, Any]:
    authorize(ident, POLICY_TYPE, "get_all")
    with svc.db.read_session() as session:
        return common.listed(session, request, svc, _SPEC, select(m.Amphora))


@router.get("/amphorae/{amphora_id}")
def show_amphora(amphora_id: str, request: Request, svc: Services = Depends(services),
                 ident: Identity = Depends(caller)) -> dict[str, Any]:
    authorize(ident, POLICY_TYPE, "get_one")
    with svc.db.read_session() as session:
        row = amphorae.fetch(session, amphora_id)
        return {SINGLE: prune(views.amphora(row), fields_of(request))}


@router.get("/amphorae/{amphora_id}/stats")
def amphora_stats(amphora_id: str, svc: Services = Depends(services),
                  ident: Identity = Depends(caller)) -> dict[str, Any]:
    return {"amphora_stats": amphorae.stats(svc, ident, amphora_id)}


@router.put("/amphorae/{amphora_id}/failover", status_code=202)
def failover_amphora(amphora_id: str, svc: Services = Depends(services),
                     ident: Identity = Depends(caller)) -> Response:
    amphorae.failover(svc, ident, amphora_id)
    return Response(status_code=202)


@router.put("/amphorae/{amphora_id}/config", status_code=202)
def configure_amphora(amphora_id: str, svc: Services = Depends(services),
                      ident: Identity = Depends(caller)) -> Response:
    amphorae.configure(svc, ident, amphora_id)
    return Response(status_code=202)


@router.delete("/amphorae/{amphora_id}", status_code=204)
def delete_amphora(amphora_id: str, svc: Services = Depends(services),
                   ident: Identity = Depends(caller)) -> Response:
    amphorae.delete(svc, ident, amphora_id)
    return Response(status_code=204)
