"""Availability-zone profiles (admin only): ``/availabilityzoneprofiles[/{id}]``, list links key
``availability_zone_profile_links`` (singular, as Octavia spells it).

The same rules as flavor profiles: the provider must be enabled (400); its driver's
``validate_availability_zone`` runs on create and when provider or data change; a profile used
by an availability zone cannot be deleted or change provider or data (409).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends, Request, Response

from statera.api import schemas, views
from statera.api.deps import Services, caller, services
from statera.api.errors import Conflict, InvalidInput
from statera.api.policy import Identity, authorize
from statera.api.resources.flavorprofiles import (
    NIL_UUID,
    count,
    flush_unique,
    get_or_404,
    list_rows,
    require_values,
    show,
    simple_spec,
    validate_metadata,
)
from statera.db import models as m

router = APIRouter()
SINGLE, PLURAL = "availability_zone_profile", "availability_zone_profiles"
POLICY_TYPE = "availability-zone-profile"
LABEL = "Availability zone profile"
DATA = "availability_zone_data"
VALIDATE = "validate_availability_zone"

_SPEC = simple_spec(m.AvailabilityZoneProfile, PLURAL, "availability_zone_profile_links",
                    views.availability_zone_profile, ["id", "name", "provider_name", DATA])


def _in_use(session: Any, profile_id: str) -> None:
    if count(session, m.AvailabilityZone.availability_zone_profile_id, profile_id):
        raise Conflict(f"{LABEL} {profile_id} is in use and cannot be modified.")


@router.get("/availabilityzoneprofiles")
def list_az_profiles(request: Request, svc: Services = Depends(services),
                     ident: Identity = Depends(caller)) -> dict[str, Any]:
    authorize(ident, POLICY_TYPE, "get_all")
    with svc.db.read_session() as session:
        result: dict[str, Any] = list_rows(session, request, svc, _SPEC)
        return result


@router.get("/availabilityzoneprofiles/{profile_id}")
def show_az_profile(profile_id: str, request: Request, svc: Services = Depends(services),
                    ident: Identity = Depends(caller)) -> dict[str, Any]:
    authorize(ident, POLICY_TYPE, "get_one")
    with svc.db.read_session() as session:
        row = get_or_404(session, m.AvailabilityZoneProfile, profile_id, LABEL)
        return {SINGLE: show(request, views.availability_zone_profile(row))}


@router.post("/availabilityzoneprofiles", status_code=201)
def create_az_profile(payload: Any = Body(None), svc: Services = Depends(services),
                      ident: Identity = Depends(caller)) -> dict[str, Any]:
    authorize(ident, POLICY_TYPE, "post")
    body = schemas.parse(schemas.AZProfilePost, payload, SINGLE)
    if body.id == NIL_UUID:
        raise InvalidInput("id", body.id, "The nil UUID is reserved.")
    validate_metadata(svc.settings, body.provider_name, body.availability_zone_data, VALIDATE)
    with svc.db.session() as session:
        if body.id and session.get(m.AvailabilityZoneProfile, body.id) is not None:
            raise Conflict(f"An availability zone profile of {body.id} already exists.")
        row = m.AvailabilityZoneProfile(
            id=body.id or m.new_id(), name=body.name, provider_name=body.provider_name,
            availability_zone_data=body.availability_zone_data)
        session.add(row)
        flush_unique(session, f"An availability zone profile of {row.id} already exists.")
        return {SINGLE: views.availability_zone_profile(row)}


@router.put("/availabilityzoneprofiles/{profile_id}")
def update_az_profile(profile_id: str, payload: Any = Body(None),
                      svc: Services = Depends(services),
                      ident: Identity = Depends(caller)) -> dict[str, Any]:
    authorize(ident, POLICY_TYPE, "put")
    body = schemas.parse(schemas.AZProfilePut, payload, SINGLE)
    given = body.given()
    require_values(given, ("name", "provider_name", DATA))
    with svc.db.session() as session:
        row = get_or_404(session, m.AvailabilityZoneProfile, profile_id, LABEL)
        if any(f in given and given[f] != getattr(row, f) for f in ("provider_name", DATA)):
            _in_use(session, row.id)
            validate_metadata(svc.settings, given.get("provider_name", row.provider_name),
                              given.get(DATA, row.availability_zone_data), VALIDATE)
        for field, value in given.items():
            setattr(row, field, value)
        session.flush()
        return {SINGLE: views.availability_zone_profile(row)}


@router.delete("/availabilityzoneprofiles/{profile_id}", status_code=204)
def delete_az_profile(profile_id: str, svc: Services = Depends(services),
                      ident: Identity = Depends(caller)) -> Response:
    authorize(ident, POLICY_TYPE, "delete")
    with svc.db.session() as session:
        row = get_or_404(session, m.AvailabilityZoneProfile, profile_id, LABEL)
        _in_use(session, row.id)
        session.delete(row)
    return Response(status_code=204)
