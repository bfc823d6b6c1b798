"""Availability zones: ``/availabilityzones[/{name}]``, keyed by **name** (there is no id).
Readers may list and show; only admins write.

An AZ points at an availability-zone profile (a nonexistent one is a 400, not Octavia's 500).
Names are unique (409). Only description and enabled change on PUT. An AZ named by a load
balancer that is not DELETED cannot be deleted (409).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends, Request, Response

from statera.api import views
from statera.api.deps import Services, caller, services
from statera.api.errors import ApiError, Conflict
from statera.api.policy import Identity, authorize
from statera.api.resources import catalogue
from statera.controller import schemas
from statera.db import models as m
from statera.db.statuses import ProvisioningStatus

router = APIRouter()
SINGLE, PLURAL = "availability_zone", "availability_zones"
POLICY_TYPE = "availability-zone"
LABEL = "Availability zone"

KIND = catalogue.Kind(
    model=m.AvailabilityZone, policy=POLICY_TYPE, single=SINGLE, label=LABEL,
    spec=catalogue.simple_spec(m.AvailabilityZone, PLURAL, "availability_zones_links",
                               views.availability_zone,
                               ["name", "description", "enabled", "availability_zone_profile_id"],
                               id_column="name"),
)


@router.get("/availabilityzones")
def list_azs(request: Request, svc: Services = Depends(services),
             ident: Identity = Depends(caller)) -> dict[str, Any]:
    return catalogue.list_all(KIND, svc, request, ident)


@router.get("/availabilityzones/{name}")
def show_az(name: str, request: Request, svc: Services = Depends(services),
            ident: Identity = Depends(caller)) -> dict[str, Any]:
    return catalogue.show_one(KIND, svc, request, ident, name)


@router.post("/availabilityzones", status_code=201)
def create_az(payload: Any = Body(None), svc: Services = Depends(services),
              ident: Identity = Depends(caller)) -> dict[str, Any]:
    authorize(ident, POLICY_TYPE, "post")
    body = schemas.parse(schemas.AZPost, payload, SINGLE)
    with svc.db.session() as session:
        profile_id = body.availability_zone_profile_id
        if session.get(m.AvailabilityZoneProfile, profile_id) is None:
            raise ApiError(f"{profile_id} is not a valid option for availability_zone_profile_id")
        if session.get(m.AvailabilityZone, body.name) is not None:
            raise Conflict(f"An availability zone of {body.name} already exists.")
        row = m.AvailabilityZone(name=body.name, description=body.description,
                                 enabled=body.enabled, availability_zone_profile_id=profile_id)
        session.add(row)
        catalogue.flush_unique(session, f"An availability zone of {body.name} already exists.")
        return {SINGLE: views.availability_zone(row)}


@router.put("/availabilityzones/{name}")
def update_az(name: str, payload: Any = Body(None), svc: Services = Depends(services),
              ident: Identity = Depends(caller)) -> dict[str, Any]:
    authorize(ident, POLICY_TYPE, "put")
    body = schemas.parse(schemas.AZPut, payload, SINGLE)
    given = body.given()
    with svc.db.session() as session:
        row = catalogue.get_or_404(session, m.AvailabilityZone, name, LABEL)
        if "description" in given:
            row.description = given["description"]
        if "enabled" in given:
            row.enabled = bool(given["enabled"])  # null means false, as for admin_state_up
        session.flush()
        return {SINGLE: views.availability_zone(row)}


@router.delete("/availabilityzones/{name}", status_code=204)
def delete_az(name: str, svc: Services = Depends(services),
              ident: Identity = Depends(caller)) -> Response:
    authorize(ident, POLICY_TYPE, "delete")
    with svc.db.session() as session:
        row = catalogue.get_or_404(session, m.AvailabilityZone, name, LABEL)
        catalogue.refuse_in_use(session, LABEL, row.name, m.LoadBalancer.availability_zone,
                                m.LoadBalancer.provisioning_status != ProvisioningStatus.DELETED)
        session.delete(row)
    return Response(status_code=204)
