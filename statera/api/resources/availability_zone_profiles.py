"""Availability-zone profiles (admin only): ``/availabilityzoneprofiles[/{id}]``, list links key
``availability_zone_profile_links`` (singular, as Octavia spells it).

The same rules as flavor profiles, by the same code (:mod:`.catalogue`): the provider must be
enabled (400); its driver's ``validate_availability_zone`` runs on create and when provider or
data change; a profile used by an availability zone cannot be deleted or change provider or
data (409).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends, Request, Response

from statera.api import views
from statera.api.deps import Services, caller, services
from statera.api.policy import Identity, authorize
from statera.api.resources import catalogue
from statera.controller import schemas
from statera.db import models as m

router = APIRouter()
SINGLE, PLURAL = "availability_zone_profile", "availability_zone_profiles"
POLICY_TYPE = "availability-zone-profile"
DATA = "availability_zone_data"

KIND = catalogue.ProfileKind(
    model=m.AvailabilityZoneProfile, policy=POLICY_TYPE, single=SINGLE,
    label="Availability zone profile",
    spec=catalogue.simple_spec(m.AvailabilityZoneProfile, PLURAL,
                               "availability_zone_profile_links",
                               views.availability_zone_profile,
                               ["id", "name", "provider_name", DATA]),
    data=DATA, validate="validate_availability_zone", a_label="An availability zone profile",
    used_by=m.AvailabilityZone.availability_zone_profile_id,
)


@router.get("/availabilityzoneprofiles")
def list_az_profiles(request: Request, svc: Services = Depends(services),
                     ident: Identity = Depends(caller)) -> dict[str, Any]:
    return catalogue.list_all(KIND, svc, request, ident)


@router.get("/availabilityzoneprofiles/{profile_id}")
def show_az_profile(profile_id: str, request: Request, svc: Services = Depends(services),
                    ident: Identity = Depends(caller)) -> dict[str, Any]:
    return catalogue.show_one(KIND, svc, request, ident, profile_id)


@router.post("/availabilityzoneprofiles", status_code=201)
def create_az_profile(payload: Any = Body(None), svc: Services = Depends(services),
                      ident: Identity = Depends(caller)) -> dict[str, Any]:
    authorize(ident, POLICY_TYPE, "post")
    body = schemas.parse(schemas.AZProfilePost, payload, SINGLE)
    return catalogue.create_profile(KIND, svc, body)


@router.put("/availabilityzoneprofiles/{profile_id}")
def update_az_profile(profile_id: str, payload: Any = Body(None),
                      svc: Services = Depends(services),
                      ident: Identity = Depends(caller)) -> dict[str, Any]:
    authorize(ident, POLICY_TYPE, "put")
    body = schemas.parse(schemas.AZProfilePut, payload, SINGLE)
    return catalogue.update_profile(KIND, svc, profile_id, body.given())


@router.delete("/availabilityzoneprofiles/{profile_id}", status_code=204)
def delete_az_profile(profile_id: str, svc: Services = Depends(services),
                      ident: Identity = Depends(caller)) -> Response:
    authorize(ident, POLICY_TYPE, "delete")
    catalogue.delete_profile(KIND, svc, profile_id)
    return Response(status_code=204)
