"""Flavor profiles (admin only): ``/flavorprofiles[/{id}]``, list links key
``flavorprofile_links`` (singular, as Octavia spells it).

A profile names a provider and holds that provider's flavor metadata as a JSON *string*. The
provider must be enabled (400) and its driver's ``validate_flavor`` runs on create and whenever
the provider or the data changes; driver errors are mapped by ``call_provider`` (501 for an
unsupported option). A profile used by a flavor cannot be deleted or change provider or data
(409). Also holds the helpers shared by the flavor and availability-zone routers.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Body, Depends, Request, Response
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from statera.api import schemas, views
from statera.api.deps import Services, caller, services
from statera.api.errors import ApiError, Conflict, InvalidInput, NotFound
from statera.api.listing import ListSpec, fields_of, prune
from statera.api.policy import Identity, authorize
from statera.api.resources import common
from statera.config import Settings
from statera.controller.providers import call_provider, load_driver
from statera.db import models as m

router = APIRouter()
SINGLE, PLURAL, LINKS = "flavorprofile", "flavorprofiles", "flavorprofile_links"
POLICY_TYPE = "flavor-profile"
NIL_UUID = "00000000-0000-0000-0000-000000000000"


# Helpers shared with flavors, availability zones and availability-zone profiles -----------


def get_or_404(session: Session, model: type[Any], key: str, label: str) -> Any:
    """The row with primary key ``key``; 404 for a missing one and for Octavia's nil UUID."""
    row = None if key == NIL_UUID else session.get(model, key)
    if row is None:
        raise NotFound(label, key)
    return row


def simple_spec(model: type[Any], plural: str, links_key: str,
                render: Callable[[Any], dict[str, Any]], columns: list[str],
                id_column: str = "id") -> ListSpec:
    """A ListSpec for an untagged, project-less admin resource."""
    return ListSpec(model=model, plural=plural, links_key=links_key, render=render,
                    columns={c: getattr(model, c) for c in columns}, tagged=False,
                    id_column=id_column)


def list_rows(session: Session, request: Request, svc: Services, spec: ListSpec) -> Any:
    return common.listed(session, request, svc, spec, select(spec.model))


def show(request: Request, body: dict[str, Any]) -> dict[str, Any]:
    return prune(body, fields_of(request))


def validate_metadata(settings: Settings, provider: str, data: str, method: str) -> None:
    """Run the provider driver's ``validate_flavor``/``validate_availability_zone``."""
    driver = load_driver(settings, provider)
    try:
        metadata = json.loads(data)
    except ValueError:
        raise ApiError(f"{data} is not a valid option for {method}") from None
    call_provider(driver.name, getattr(driver, method), metadata)


def require_values(given: dict[str, Any], fields: tuple[str, ...]) -> None:
    """PUT may not null a field that has no default."""
    for field in fields:
        if field in given and given[field] is None:
            raise InvalidInput(field, None, "Mandatory field missing.")


def flush_unique(session: Session, message: str) -> None:
    """Flush; a unique-key race lost to a concurrent request becomes a 409."""
    try:
        session.flush()
    except IntegrityError:
        raise Conflict(message) from None


def count(session: Session, column: Any, value: Any, *extra: Any) -> int:
    stmt = select(func.count()).where(column == value, *extra)
    return int(session.scalar(stmt) or 0)


# Routes ----------------------------------------------------------------------------------

_SPEC = simple_spec(m.FlavorProfile, PLURAL, LINKS, views.flavorprofile,
                    ["id", "name", "provider_name", "flavor_data"])


@router.get("/flavorprofiles")
def list_flavorprofiles(request: Request, svc: Services = Depends(services),
                        ident: Identity = Depends(caller)) -> dict[str, Any]:
    authorize(ident, POLICY_TYPE, "get_all")
    with svc.db.read_session() as session:
        result: dict[str, Any] = list_rows(session, request, svc, _SPEC)
        return result


@router.get("/flavorprofiles/{profile_id}")
def show_flavorprofile(profile_id: str, request: Request, svc: Services = Depends(services),
                       ident: Identity = Depends(caller)) -> dict[str, Any]:
    authorize(ident, POLICY_TYPE, "get_one")
    with svc.db.read_session() as session:
        row = get_or_404(session, m.FlavorProfile, profile_id, "Flavor profile")
        return {SINGLE: show(request, views.flavorprofile(row))}


@router.post("/flavorprofiles", status_code=201)
def create_flavorprofile(payload: Any = Body(None), svc: Services = Depends(services),
                         ident: Identity = Depends(caller)) -> dict[str, Any]:
    authorize(ident, POLICY_TYPE, "post")
    body = schemas.parse(schemas.FlavorProfilePost, payload, SINGLE)
    if body.id == NIL_UUID:
        raise InvalidInput("id", body.id, "The nil UUID is reserved.")
    validate_metadata(svc.settings, body.provider_name, body.flavor_data, "validate_flavor")
    with svc.db.session() as session:
        if body.id and session.get(m.FlavorProfile, body.id) is not None:
            raise Conflict(f"A flavor profile of {body.id} already exists.")
        row = m.FlavorProfile(id=body.id or m.new_id(), name=body.name,
                              provider_name=body.provider_name, flavor_data=body.flavor_data)
        session.add(row)
        flush_unique(session, f"A flavor profile of {row.id} already exists.")
        return {SINGLE: views.flavorprofile(row)}


@router.put("/flavorprofiles/{profile_id}")
def update_flavorprofile(profile_id: str, payload: Any = Body(None),
                         svc: Services = Depends(services),
                         ident: Identity = Depends(caller)) -> dict[str, Any]:
    authorize(ident, POLICY_TYPE, "put")
    body = schemas.parse(schemas.FlavorProfilePut, payload, SINGLE)
    given = body.given()
    require_values(given, ("name", "provider_name", "flavor_data"))
    with svc.db.session() as session:
        row = get_or_404(session, m.FlavorProfile, profile_id, "Flavor profile")
        changes_backend = any(
            f in given and given[f] != getattr(row, f) for f in ("provider_name", "flavor_data"))
        if changes_backend:
            if count(session, m.Flavor.flavor_profile_id, row.id):
                raise Conflict(f"Flavor profile {row.id} is in use and cannot be modified.")
            validate_metadata(svc.settings, given.get("provider_name", row.provider_name),
                              given.get("flavor_data", row.flavor_data), "validate_flavor")
        for field, value in given.items():
            setattr(row, field, value)
        session.flush()
        return {SINGLE: views.flavorprofile(row)}


@router.delete("/flavorprofiles/{profile_id}", status_code=204)
def delete_flavorprofile(profile_id: str, svc: Services = Depends(services),
                         ident: Identity = Depends(caller)) -> Response:
    authorize(ident, POLICY_TYPE, "delete")
    with svc.db.session() as session:
        row = get_or_404(session, m.FlavorProfile, profile_id, "Flavor profile")
        if count(session, m.Flavor.flavor_profile_id, row.id):
            raise Conflict(f"Flavor profile {row.id} is in use and cannot be modified.")
        session.delete(row)
    return Response(status_code=204)
