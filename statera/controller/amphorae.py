"""Amphorae (admin only): an amphora's statistics, failing it over, re-sending its
configuration, and deleting one in ERROR.

For Statera's own providers an "amphora" is the data-plane instance serving one load balancer
(the amphora table is written by the driver side); its statistics are the ``listener_statistics``
rows that the instance reported.

Failover does not call a provider (Octavia sends it to its amphora worker, not to a provider
driver): it opens a new desired generation of the load balancer, as every Statera write does
instead of Octavia's ``PENDING_UPDATE`` lock, moves the instance to another live agent host
when there is one (``statera.controller.placement``), and hints the provider agents: the new
host builds the data plane, the old one tears it down (or, with no other host, rebuilds it).
Config re-sends the hint only. Delete is allowed only from ERROR (Conflict otherwise).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from statera.bus.base import FAILOVER
from statera.controller import placement, writes
from statera.controller.access import Requester
from statera.controller.errors import Conflict, NotFound
from statera.controller.services import Services
from statera.db import models as m
from statera.db.statuses import ProvisioningStatus

#: Octavia's policy object type.
POLICY_TYPE = "amphora"
#: An amphora's counters, in the order Octavia shows them.
STAT_FIELDS = ("active_connections", "bytes_in", "bytes_out", "request_errors",
               "total_connections")


def fetch(session: Session, amphora_id: str) -> m.Amphora:
    """The amphora, or NotFound (a DELETED one counts as missing)."""
    row = session.get(m.Amphora, amphora_id)
    if row is None or row.status == ProvisioningStatus.DELETED:
        raise NotFound("Amphora", amphora_id)
    return row


def stats(svc: Services, who: Requester, amphora_id: str) -> list[dict[str, Any]]:
    """Octavia's ``amphora_stats``: one item per listener the amphora reported counters for
    (NotFound if it reported none)."""
    who.authorize(POLICY_TYPE, "get_stats")
    with svc.db.read_session() as session:
        amphora = fetch(session, amphora_id)
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
        return out


def failover(svc: Services, who: Requester, amphora_id: str) -> None:
    """Move the amphora to another live host when there is one (else rebuild it where it
    runs); Conflict if it serves no load balancer."""
    who.authorize(POLICY_TYPE, "put_failover")
    lb = _served_lb(svc, amphora_id)
    if lb is None:
        raise Conflict(f"Amphora {amphora_id} is not serving a load balancer; there is "
                       "nothing to fail over.")
    with writes.change(svc, lb.id, FAILOVER) as change:
        amphora = fetch(change.session, amphora_id)
        amphora.updated_at = m.utcnow()
        if amphora.compute_id:  # placed: to another live host when there is one
            placement.schedule(change.session, [lb.id], move={amphora.id: amphora.compute_id})


def configure(svc: Services, who: Requester, amphora_id: str) -> None:
    """Hint the provider agent of the load balancer the amphora serves to converge it again."""
    who.authorize(POLICY_TYPE, "put_config")
    lb = _served_lb(svc, amphora_id)
    if lb is not None:
        writes.hint(svc, lb.provider, lb.id)


def delete(svc: Services, who: Requester, amphora_id: str) -> None:
    """Forget an amphora in ERROR (Conflict in any other state), and hint its load balancer's
    provider agent, which places and builds a new one."""
    who.authorize(POLICY_TYPE, "delete")
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


def _provider_rows_of(lb_id: str | None) -> Any:
    """Rows a provider reported through the stats socket (keyed by the listener, as Octavia
    keys provider-driver rows) for the listeners of ``lb_id``: Statera's providers run one
    instance per load balancer, so those counts are that instance's."""
    listeners = select(m.Listener.id).where(m.Listener.load_balancer_id == lb_id)
    return and_(m.ListenerStatistics.amphora_id == m.ListenerStatistics.listener_id,
                m.ListenerStatistics.listener_id.in_(listeners))


def _live_lb(session: Session, amphora: m.Amphora) -> m.LoadBalancer | None:
    if not amphora.load_balancer_id:
        return None
    lb = session.get(m.LoadBalancer, amphora.load_balancer_id)
    return None if lb is None or lb.provisioning_status == ProvisioningStatus.DELETED else lb


def _served_lb(svc: Services, amphora_id: str) -> m.LoadBalancer | None:
    """The live load balancer the amphora serves, if any (NotFound for an unknown amphora)."""
    with svc.db.read_session() as session:
        return _live_lb(session, fetch(session, amphora_id))
