"""Providers: ``/providers`` and each provider's flavor and availability-zone capabilities, the
HTTP edge of :mod:`statera.controller.providers`.

The list comes straight from ``[api] enabled_provider_drivers`` (name → description). The
capabilities come from the driver's ``get_supported_flavor_metadata()`` /
``get_supported_availability_zone_metadata()`` (``{key: description}``), rendered as
``[{"name", "description"}]``; a provider that is not enabled is a 400, one that does not
implement the call a 501; as in Octavia, only admins may read capabilities. All three accept
exact ``name``/``description`` filters and ``fields``; any other query parameter is a 400.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from statera.api.deps import Services, caller, services
from statera.api.errors import ApiError
from statera.api.listing import fields_of, prune
from statera.api.policy import Identity
from statera.controller import providers

router = APIRouter()
FILTERS = ("name", "description")


def _select(request: Request, items: list[dict[str, str]]) -> list[dict[str, Any]]:
    """Octavia's exact-match filters on name/description, then ``fields`` pruning."""
    params = request.query_params
    for key in params:
        if key not in (*FILTERS, "fields"):
            raise ApiError("One or more arguments are either duplicate or invalid")
    for key in FILTERS:
        if key in params:
            items = [i for i in items if i[key] == params[key]]
    fields = fields_of(request)
    return [prune(i, fields) for i in items]


@router.get("/providers")
def list_providers(request: Request, svc: Services = Depends(services),
                   ident: Identity = Depends(caller)) -> dict[str, Any]:
    return {"providers": _select(request, providers.enabled(svc.settings, ident))}


@router.get("/providers/{provider}/flavor_capabilities")
def flavor_capabilities(provider: str, request: Request, svc: Services = Depends(services),
                        ident: Identity = Depends(caller)) -> dict[str, Any]:
    return {"flavor_capabilities": _select(
        request, providers.capabilities(svc.settings, ident, provider, "flavor"))}


@router.get("/providers/{provider}/availability_zone_capabilities")
def availability_zone_capabilities(provider: str, request: Request,
                                   svc: Services = Depends(services),
                                   ident: Identity = Depends(caller)) -> dict[str, Any]:
    return {"availability_zone_capabilities": _select(
        request, providers.capabilities(svc.settings, ident, provider, "availability_zone"))}
