"""Flavors: ``/flavors[/{id}]``. Readers may list and show; only admins write.

A flavor points at a flavor profile (a nonexistent one is a 400, not Octavia's 500). Names are
unique (409). Only name, description and enabled change on PUT. A flavor used by a load
balancer that is not DELETED cannot be deleted (409); DELETED load-balancer rows, which Statera
keeps as Octavia does, have their reference cleared instead of blocking the delete.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends, Request, Response
from sqlalchemy import select, update

from statera.api import views
from statera.api.deps import Services, caller, services
from statera.api.errors import ApiError, Conflict, InvalidInput
from statera.api.policy import Identity, authorize
from statera.api.resources import catalogue
from statera.controller import schemas
from statera.db import models as m
from statera.db.statuses import ProvisioningStatus

router = APIRouter()
SINGLE, PLURAL = "flavor", "flavors"
POLICY_TYPE = "flavor"

KIND = catalogue.Kind(
    model=m.Flavor, policy=POLICY_TYPE, single=SINGLE, label="Flavor",
    spec=catalogue.simple_spec(m.Flavor, PLURAL, "flavors_links", views.flavor,
                               ["id", "name", "description", "enabled", "flavor_profile_id"]),
)


def _name_taken(session: Any, name: str) -> None:
    if session.scalar(select(m.Flavor.id).where(m.Flavor.name == name)) is not None:
        raise Conflict(f"A flavor of {name} already exists.")


@router.get("/flavors")
def list_flavors(request: Request, svc: Services = Depends(services),
                 ident: Identity = Depends(caller)) -> dict[str, Any]:
    return catalogue.list_all(KIND, svc, request, ident)


@router.get("/flavors/{flavor_id}")
def show_flavor(flavor_id: str, request: Request, svc: Services = Depends(services),
                ident: Identity = Depends(caller)) -> dict[str, Any]:
    return catalogue.show_one(KIND, svc, request, ident, flavor_id)


@router.post("/flavors", status_code=201)
def create_flavor(payload: Any = Body(None), svc: Services = Depends(services),
                  ident: Identity = Depends(caller)) -> dict[str, Any]:
    authorize(ident, POLICY_TYPE, "post")
    body = schemas.parse(schemas.FlavorPost, payload, SINGLE)
    if body.id == catalogue.NIL_UUID:
        raise InvalidInput("id", body.id, "The nil UUID is reserved.")
    with svc.db.session() as session:
        if session.get(m.FlavorProfile, body.flavor_profile_id) is None:
            raise ApiError(f"{body.flavor_profile_id} is not a valid option for "
                           "flavor_profile_id")
        _name_taken(session, body.name)
        if body.id and session.get(m.Flavor, body.id) is not None:
            raise Conflict(f"A flavor of {body.id} already exists.")
        row = m.Flavor(id=body.id or m.new_id(), name=body.name, description=body.description,
                       enabled=body.enabled, flavor_profile_id=body.flavor_profile_id)
        session.add(row)
        catalogue.flush_unique(session, f"A flavor of {body.name} already exists.")
        return {SINGLE: views.flavor(row)}


@router.put("/flavors/{flavor_id}")
def update_flavor(flavor_id: str, payload: Any = Body(None), svc: Services = Depends(services),
                  ident: Identity = Depends(caller)) -> dict[str, Any]:
    authorize(ident, POLICY_TYPE, "put")
    body = schemas.parse(schemas.FlavorPut, payload, SINGLE)
    given = body.given()
    catalogue.require_values(given, ("name",))
    with svc.db.session() as session:
        row = catalogue.get_or_404(session, m.Flavor, flavor_id, "Flavor")
        if "name" in given and given["name"] != row.name:
            _name_taken(session, given["name"])
        for field in ("name", "description"):
            if field in given:
                setattr(row, field, given[field])
        if "enabled" in given:
            row.enabled = bool(given["enabled"])  # null means false, as for admin_state_up
        catalogue.flush_unique(session, f"A flavor of {row.name} already exists.")
        return {SINGLE: views.flavor(row)}


@router.delete("/flavors/{flavor_id}", status_code=204)
def delete_flavor(flavor_id: str, svc: Services = Depends(services),
                  ident: Identity = Depends(caller)) -> Response:
    authorize(ident, POLICY_TYPE, "delete")
    with svc.db.session() as session:
        row = catalogue.get_or_404(session, m.Flavor, flavor_id, "Flavor")
        catalogue.refuse_in_use(session, "Flavor", row.id, m.LoadBalancer.flavor_id,
                                m.LoadBalancer.provisioning_status != ProvisioningStatus.DELETED)
        session.execute(update(m.LoadBalancer).where(m.LoadBalancer.flavor_id == row.id)
                        .values(flavor_id=None))
        session.delete(row)
    return Response(status_code=204)
