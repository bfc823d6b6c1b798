"""Availability zones: ``/availabilityzones[/{name}]``, keyed by **name** (there is no id).
Readers may list and show; only admins write.

An AZ points at an availability-zone profile (a nonexistent one is a 400, not Octavia's 500).
Names are unique (409). Only description and enabled change on PUT. An AZ named by a load
balancer that is not DELETED cannot be deleted (409).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends, Request, Response

from statera.api import schemas, views
from statera.api.deps import Services, caller, services
from statera.api.errors import ApiError, Conflict
from statera.api.policy import Identity, authorize
from statera.api.resources.flavorprofiles import (
    count,
    flush_unique,
    get_or_404,
    list_rows,
    show,
    simple_spec,
)
from statera.db import models as m

router = APIRouter()
SINGLE, PLURAL = "availability_zone", "availability_zones"
POLICY_TYPE = "availability-zone"
LABEL = "Availability zone"

_SPEC = simple_spec(m.AvailabilityZone, PLURAL, "availability_zones_links",
                    views.availability_zone,
                    ["name", "description", "enabled", "availability_zone_profile_id"],
                    id_column="name")


@router.get("/availabilityzones")
def list_azs(request: Request, svc: Services = Depends(services),
             ident: Identity = Depends(caller)) -> dict[str, Any]:
    authorize(ident, POLICY_TYPE, "get_all")
    with svc.db.read_session() as session:
        result: dict[str, Any] = list_rows(session, request, svc, _SPEC)
        return result


@router.get("/availabilityzones/{name}")
def show_az(name: str, request: Request, svc: Services = Depends(services),
            ident: Identity = Depends(caller)) -> dict[str, Any]:
    authorize(ident, POLICY_TYPE, "get_one")
    with svc.db.read_session() as session:
        row = get_or_404(session, m.AvailabilityZone, name, LABEL)
        return {SINGLE: show(request, views.availability_zone(row))}


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
        flush_unique(session, f"An availability zone of {body.name} already exists.")
        return {SINGLE: views.availability_zone(row)}


@router.put("/availabilityzones/{name}")
def update_az(name: str, payload: Any = Body(None), svc: Services = Depends(services),
              ident: Identity = Depends(caller)) -> dict[str, Any]:
    authorize(ident, POLICY_TYPE, "put")
    body = schemas.parse(schemas.AZPut, payload, SINGLE)
    given = body.given()
    with svc.db.session() as session:
        row = get_or_404(session, m.AvailabilityZone, name, LABEL)
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
        row = get_or_404(session, m.AvailabilityZone, name, LABEL)
        if count(session, m.LoadBalancer.availability_zone, row.name,
                 m.LoadBalancer.provisioning_status != "DELETED"):
            raise Conflict(f"{LABEL} {row.name} is in use and cannot be modified.")
        session.delete(row)
    return Response(status_code=204)
