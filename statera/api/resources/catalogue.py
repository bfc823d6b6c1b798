"""The HTTP edge of the catalogue (:mod:`statera.controller.catalogue`): one router factory for
flavors, flavor profiles, availability zones and availability-zone profiles.

A family's rules are the controller's :class:`~statera.controller.catalogue.Family`; what is
left here is how it is served (:class:`Routes`): its path and path parameter, the names of its
five handlers (which are its access keys, ``statera.api.access.RULES``, and its OpenAPI bodies,
``statera.api.openapi.BODIES``), its list body's keys, its view and its filterable columns.
:func:`router` builds the five routes from that, each handler registered under the module that
serves the family (``flavors.create_flavor``), so endpoints, operation ids and the served
document are what four hand-written routers gave.

The reads stay here (a read and a render, as for every resource); each write is one
controller call, which checks the policy before it parses the body, as Octavia does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Body, Depends, Path, Request, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from statera.api import views
from statera.api.deps import Services, caller, services
from statera.api.listing import ListSpec, fields_of, prune
from statera.api.policy import Identity, authorize
from statera.api.resources import common
from statera.controller import catalogue
from statera.controller.catalogue import Family


@dataclass(frozen=True)
class Routes:
    """How one family is served. ``single``/``plural`` name its handlers (``show_<single>``,
    ``list_<plural>``); ``listed`` and ``links`` are its list body's keys; ``columns`` what a
    list may filter on, the fields its ``view`` renders."""

    family: Family
    path: str
    param: str
    single: str
    plural: str
    listed: str
    links: str
    view: Callable[[Any], dict[str, Any]]
    columns: tuple[str, ...]

    @property
    def spec(self) -> ListSpec:
        """The list spec of an untagged, project-less admin resource."""
        model = self.family.model
        return ListSpec(model=model, plural=self.listed, links_key=self.links,
                        render=self.view, columns={c: getattr(model, c) for c in self.columns},
                        tagged=False, id_column=self.family.key)


FLAVORS = Routes(
    family=catalogue.FLAVORS, path="/flavors", param="flavor_id",
    single="flavor", plural="flavors", listed="flavors", links="flavors_links",
    view=views.flavor, columns=("id", "name", "description", "enabled", "flavor_profile_id"),
)
# Octavia spells the profiles' links keys in the singular.
FLAVOR_PROFILES = Routes(
    family=catalogue.FLAVOR_PROFILES, path="/flavorprofiles", param="profile_id",
    single="flavorprofile", plural="flavorprofiles", listed="flavorprofiles",
    links="flavorprofile_links", view=views.flavorprofile,
    columns=("id", "name", "provider_name", "flavor_data"),
)
AZS = Routes(
    family=catalogue.AZS, path="/availabilityzones", param="name",
    single="az", plural="azs", listed="availability_zones", links="availability_zones_links",
    view=views.availability_zone,
    columns=("name", "description", "enabled", "availability_zone_profile_id"),
)
AZ_PROFILES = Routes(
    family=catalogue.AZ_PROFILES, path="/availabilityzoneprofiles", param="profile_id",
    single="az_profile", plural="az_profiles", listed="availability_zone_profiles",
    links="availability_zone_profile_links", view=views.availability_zone_profile,
    columns=("id", "name", "provider_name", "availability_zone_data"),
)


def router(routes: Routes, module: str) -> APIRouter:
    """GET list, GET one, POST, PUT and DELETE for one family, with handlers named as
    ``module`` would name its own (``module`` is the caller's ``__name__``)."""
    family, spec = routes.family, routes.spec
    one = f"{routes.path}/{{{routes.param}}}"

    def render(_session: Session, row: Any) -> dict[str, Any]:
        return routes.view(row)

    def list_all(request: Request, svc: Services = Depends(services),
                 ident: Identity = Depends(caller)) -> dict[str, Any]:
        authorize(ident, family.policy, "get_all")
        with svc.db.read_session() as session:
            return common.listed(session, request, svc, spec, select(family.model))

    def show_one(request: Request, key: str = Path(alias=routes.param),
                 svc: Services = Depends(services),
                 ident: Identity = Depends(caller)) -> dict[str, Any]:
        authorize(ident, family.policy, "get_one")
        with svc.db.read_session() as session:
            row = catalogue.fetch(session, family, key)
            return {family.single: prune(routes.view(row), fields_of(request))}

    def create(payload: Any = Body(None), svc: Services = Depends(services),
               ident: Identity = Depends(caller)) -> dict[str, Any]:
        return {family.single: catalogue.create(svc, ident, family, payload, render)}

    def update(key: str = Path(alias=routes.param), payload: Any = Body(None),
               svc: Services = Depends(services),
               ident: Identity = Depends(caller)) -> dict[str, Any]:
        return {family.single: catalogue.update(svc, ident, family, key, payload, render)}

    def delete(key: str = Path(alias=routes.param), svc: Services = Depends(services),
               ident: Identity = Depends(caller)) -> Response:
        catalogue.delete(svc, ident, family, key)
        return Response(status_code=204)

    out = APIRouter()
    for path, method, handler, name, status in (
        (routes.path, "GET", list_all, f"list_{routes.plural}", None),
        (one, "GET", show_one, f"show_{routes.single}", None),
        (routes.path, "POST", create, f"create_{routes.single}", 201),
        (one, "PUT", update, f"update_{routes.single}", None),
        (one, "DELETE", delete, f"delete_{routes.single}", 204),
    ):
        handler.__module__, handler.__name__, handler.__qualname__ = module, name, name
        out.add_api_route(path, handler, methods=[method], status_code=status)
    return out
