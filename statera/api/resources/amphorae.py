"""Amphorae (admin only), mounted under ``/v2/octavia``: ``/amphorae[/{id}]``,
``/amphorae/{id}/stats``, ``/amphorae/{id}/failover`` and ``/amphorae/{id}/config``.

For Statera's own providers an "amphora" is the data-plane instance serving one load balancer
(the amphora table is written by the driver side). List and show render ``views.amphora`` with
Octavia's filters and pagination; stats come from the ``listener_statistics`` rows that the
instance reported.

Failover does not call a provider (Octavia sends it to its amphora worker, not to a provider
driver): it opens a new desired generation of the load balancer, as every Statera write does
instead of Octavia's ``PENDING_UPDATE`` lock, moves the instance to another live agent host
when there is one (``statera.controller.placement``), and hints the provider agents: the new
host builds the data plane, the old one tears it down (or, with no other host, rebuilds it).
Config re-sends the hint only. Delete is allowed only from
ERROR (409 otherwise).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from statera.api import views
from statera.api.deps import Services, caller, services
from statera.api.errors import ApiError, Conflict, NotFound
from statera.api.listing import ListSpec, fields_of, prune
from statera.api.policy import Identity, authorize
from statera.api.resources import common
from statera.bus.base import FAILOVER
from statera.controller import placement, writes
from statera.db import models as m
from statera.db.statuses import ProvisioningStatus

router = APIRouter()
SINGLE, PLURAL = "amphora", "amphorae"
POLICY_TYPE = "amphora"
STAT_FIELDS = ("active_connections", "bytes_in", "bytes_out", "request_errors",
               "total_connections")

_COLUMNS: dict[str, Any] = {
    ("loadbalancer_id" if col.name == "load_balancer_id" else col.name): getattr(m.Amphora,
                                                                                col.name)
    for col in m.Amphora.__table__.columns
}
_SPEC = ListSpec(model=m.Amphora, plural=PLURAL, links_key="amphorae_links",
                 render=views.amphora, columns=_COLUMNS, tagged=False)


def _amphora(session: Session, amphora_id: str) -> m.Amphora:
    row = session.get(m.Amphora, amphora_id)
    if row is None or row.status == ProvisioningStatus.DELETED:
        raise NotFound("Amphora", amphora_id)
    return row


def _live_lb(session: Session, amphora: m.Amphora) -> m.LoadBalancer | None:
    if not amphora.load_balancer_id:
        return None
    lb = session.get(m.LoadBalancer, amphora.load_balancer_id)
    return None if lb is None or lb.provisioning_status == ProvisioningStatus.DELETED else lb


def _served_lb(svc: Services, amphora_id: str) -> m.LoadBalancer | None:
    """The live load balancer the amphora serves, if any (404 for an unknown amphora)."""
    with svc.db.read_session() as session:
        return _live_lb(session, _amphora(session, amphora_id))


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
        return {SINGLE: prune(views.amphora(_amphora(session, amphora_id)), fields_of(request))}


@router.get("/amphorae/{amphora_id}/stats")
def amphora_stats(amphora_id: str, svc: Services = Depends(services),
                  ident: Identity = Depends(caller)) -> dict[str, Any]:
    authorize(ident, POLICY_TYPE, "get_stats")
    with svc.db.read_session() as session:
        amphora = _amphora(session, amphora_id)
        rows = session.scalars(
            select(m.ListenerStatistics)
            .where(or_(m.ListenerStatistics.amphora_id == amphora.id,
                       _provider_rows_of(amphora.load_balancer_id)))
            .order_by(m.ListenerStatistics.listener_id)
        ).all()
        if not rows:
            raise NotFound("Amphora stats for", amphora_id)
        out = []
        for row in rows:
            listener = session.get(m.Listener, row.listener_id)
            item: dict[str, Any] = {"id": amphora.id, "listener_id": row.listener_id,
                                    "loadbalancer_id": listener.load_balancer_id
                                    if listener is not None else amphora.load_balancer_id}
            item.update({f: int(getattr(row, f) or 0) for f in STAT_FIELDS})
            out.append(item)
        return {"amphora_stats": out}


def _provider_rows_of(lb_id: str | None) -> Any:
    """Rows a provider reported through the stats socket (keyed by the listener, as Octavia
    keys provider-driver rows) for the listeners of ``lb_id``: Statera's providers run one
    instance per load balancer, so those counts are that instance's."""
    listeners = select(m.Listener.id).where(m.Listener.load_balancer_id == lb_id)
    return and_(m.ListenerStatistics.amphora_id == m.ListenerStatistics.listener_id,
                m.ListenerStatistics.listener_id.in_(listeners))


@router.put("/amphorae/{amphora_id}/failover", status_code=202)
def failover_amphora(amphora_id: str, svc: Services = Depends(services),
                     ident: Identity = Depends(caller)) -> Response:
    authorize(ident, POLICY_TYPE, "put_failover")
    lb = _served_lb(svc, amphora_id)
    if lb is None:
        raise ApiError(f"Amphora {amphora_id} is not serving a load balancer; there is "
                       "nothing to fail over.", 409)
    with writes.change(svc, lb.id, FAILOVER) as change:
        amphora = _amphora(change.session, amphora_id)
        amphora.updated_at = m.utcnow()
        if amphora.compute_id:  # placed: to another live host when there is one
            placement.schedule(change.session, [lb.id], move={amphora.id: amphora.compute_id})
    return Response(status_code=202)


@router.put("/amphorae/{amphora_id}/config", status_code=202)
def configure_amphora(amphora_id: str, svc: Services = Depends(services),
                      ident: Identity = Depends(caller)) -> Response:
    authorize(ident, POLICY_TYPE, "put_config")
    lb = _served_lb(svc, amphora_id)
    if lb is not None:
        writes.hint(svc, lb.provider, lb.id)
    return Response(status_code=202)


@router.delete("/amphorae/{amphora_id}", status_code=204)
def delete_amphora(amphora_id: str, svc: Services = Depends(services),
                   ident: Identity = Depends(caller)) -> Response:
    authorize(ident, POLICY_TYPE, "delete")
    with svc.db.session() as session:
        amphora = session.scalars(
            select(m.Amphora).where(m.Amphora.id == amphora_id).with_for_update()).first()
        if amphora is None:
            raise NotFound("Amphora", amphora_id)
        if amphora.status != ProvisioningStatus.ERROR:
            raise Conflict(f"Amphora {amphora_id} is immutable and cannot be updated.")
        lb = _live_lb(session, amphora)
        session.delete(amphora)
    if lb is not None:
        writes.hint(svc, lb.provider, lb.id)
    return Response(status_code=204)
