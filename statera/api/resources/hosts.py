"""Agent hosts (admin only), Statera's own API under ``/v2/statera``: ``GET /hosts`` and
``GET /hosts/{name}``. Each host shows whether its lease is current (``status`` UP or DOWN),
the seconds since it last renewed it, and the load-balancer instances placed on it; the
amphora API (``compute_id``) says which instance runs where."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from statera.api.deps import Services, caller, services
from statera.api.errors import NotFound
from statera.api.policy import Identity, authorize
from statera.controller.hosts import host_views

router = APIRouter()
POLICY_TYPE = "agent-host"


@router.get("/hosts")
def list_hosts(svc: Services = Depends(services),
               ident: Identity = Depends(caller)) -> dict[str, Any]:
    authorize(ident, POLICY_TYPE, "get_all")
    with svc.db.read_session() as session:
        return {"hosts": host_views(session), "hosts_links": []}


@router.get("/hosts/{host_name}")
def show_host(host_name: str, svc: Services = Depends(services),
              ident: Identity = Depends(caller)) -> dict[str, Any]:
    authorize(ident, POLICY_TYPE, "get_one")
    with svc.db.read_session() as session:
        found = host_views(session, host_name)
    if not found:
        raise NotFound("Host", host_name)
    return {"host": found[0]}
