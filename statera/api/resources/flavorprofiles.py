"""Flavor profiles (admin only): ``/flavorprofiles[/{id}]``, list links key
``flavorprofile_links`` (singular, as Octavia spells it).

A profile names a provider and holds that provider's flavor metadata as a JSON *string*. The
provider must be enabled (400) and its driver's ``validate_flavor`` runs on create and whenever
the provider or the data changes; driver errors are mapped by ``call_provider`` (501 for an
unsupported option). A profile used by a flavor cannot be deleted or change provider or data
(409). The code is shared with availability-zone profiles (:mod:`.catalogue`).
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
SINGLE, PLURAL, LINKS = "flavorprofile", "flavorprofiles", "flavorprofile_links"
POLICY_TYPE = "flavor-profile"

KIND = catalogue.ProfileKind(
    model=m.FlavorProfile, policy=POLICY_TYPE, single=SINGLE, label="Flavor profile",
    spec=catalogue.simple_spec(m.FlavorProfile, PLURAL, LINKS, views.flavorprofile,
                               ["id", "name", "provider_name", "flavor_data"]),
    data="flavor_data", validate="validate_flavor", a_label="A flavor profile",
    used_by=m.Flavor.flavor_profile_id,
)


@router.get("/flavorprofiles")
def list_flavorprofiles(request: Request, svc: Services = Depends(services),
                        ident: Identity = Depends(caller)) -> dict[str, Any]:
    return catalogue.list_all(KIND, svc, request, ident)


@router.get("/flavorprofiles/{profile_id}")
def show_flavorprofile(profile_id: str, request: Request, svc: Services = Depends(services),
                       ident: Identity = Depends(caller)) -> dict[str, Any]:
    return catalogue.show_one(KIND, svc, request, ident, profile_id)


@router.post("/flavorprofiles", status_code=201)
def create_flavorprofile(payload: Any = Body(None), svc: Services = Depends(services),
                         ident: Identity = Depends(caller)) -> dict[str, Any]:
    authorize(ident, POLICY_TYPE, "post")
    body = schemas.parse(schemas.FlavorProfilePost, payload, SINGLE)
    return catalogue.create_profile(KIND, svc, body)


@router.put("/flavorprofiles/{profile_id}")
def update_flavorprofile(profile_id: str, payload: Any = Body(None),
                         svc: Services = Depends(services),
                         ident: Identity = Depends(caller)) -> dict[str, Any]:
    authorize(ident, POLICY_TYPE, "put")
    body = schemas.parse(schemas.FlavorProfilePut, payload, SINGLE)
    return catalogue.update_profile(KIND, svc, profile_id, body.given())


@router.delete("/flavorprofiles/{profile_id}", status_code=204)
def delete_flavorprofile(profile_id: str, svc: Services = Depends(services),
                         ident: Identity = Depends(caller)) -> Response:
    authorize(ident, POLICY_TYPE, "delete")
    catalogue.delete_profile(KIND, svc, profile_id)
    return Response(status_code=204)
