"""Agent hosts (admin only), Statera's own API under ``/v2/statera``: ``GET /hosts`` and
``GET /hosts/{name}``. Each host shows whether its lease is current (``status`` UP or DOWN),
the seconds since it last renewed it, and the load-balancer instances placed on it; the
amphora API (``compute_id``) says which instance runs where. The HTTP edge of
:mod:`statera.controller.hosts`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from statera.api.deps import Services, caller, services
from statera.api.policy import Identity
from statera.controller import hosts

router = APIRouter()


@router.get("/hosts")
def list_hosts(svc: Services = Depends(services),
               ident: Identity = Depends(caller)) -> dict[str, Any]:
    return {"hosts": hosts.list_hosts(svc, ident), "hosts_links": []}


@router.get("/hosts/{host_name}")
def show_host(host_name: str, svc: Services = Depends(services),
              ident: Identity = Depends(caller)) -> dict[str, Any]:
    return {"host": hosts.show_host(svc, ident, host_name)}
