"""Agent hosts as operators see them (the admin API and ``statera hosts``)."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from statera.controller.access import Requester
from statera.controller.errors import NotFound
from statera.controller.placement import is_live
from statera.controller.services import Services
from statera.db.models import AgentHost, Amphora

UP, DOWN = "UP", "DOWN"
#: The policy object type of the hosts API (admin only, as Octavia's amphorae).
POLICY_TYPE = "agent-host"


def list_hosts(svc: Services, who: Requester) -> list[dict[str, Any]]:
    """Every agent host, for a caller the policy lets see them."""
    who.authorize(POLICY_TYPE, "get_all")
    with svc.db.read_session() as session:
        return host_views(session)


def show_host(svc: Services, who: Requester, name: str) -> dict[str, Any]:
    """The agent host ``name`` (NotFound if no host has that name)."""
    who.authorize(POLICY_TYPE, "get_one")
    with svc.db.read_session() as session:
        found = host_views(session, name)
    if not found:
        raise NotFound("Host", name)
    return found[0]


def host_views(session: Session, name: str | None = None) -> list[dict[str, Any]]:
    """Every host (or the one named), by name: its lease, load and what it serves."""
    query = select(AgentHost).order_by(AgentHost.name)
    if name is not None:
        query = query.where(AgentHost.name == name)
    hosts = list(session.scalars(query))
    counts = {str(host): int(count) for host, count in session.execute(
        select(Amphora.compute_id, func.count()).where(
            Amphora.compute_id.in_([h.name for h in hosts])).group_by(Amphora.compute_id))}
    now = time.time()
    return [{
        "name": h.name,
        "status": UP if is_live(h, now) else DOWN,
        "lease_age": round(max(0.0, now - h.renewed_at), 3),
        "down_after": h.down_after,
        "providers": list(h.providers or []),
        "availability_zone": h.availability_zone,
        "capacity": h.capacity,
        "instances": int(counts.get(h.name, 0)),
        "incarnation": h.incarnation,
        "created_at": h.created_at.isoformat() if h.created_at else None,
        "updated_at": h.updated_at.isoformat() if h.updated_at else None,
    } for h in hosts]
