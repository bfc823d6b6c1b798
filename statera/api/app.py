"""The FastAPI application: mounts every resource router under Octavia's prefixes, serves the
version document and the OpenAPI schema, and maps errors to Octavia's bodies."""

from __future__ import annotations

import importlib
import logging
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse

from statera.api import access, openapi
from statera.api.certificates import certificates_router
from statera.api.deps import Services
from statera.api.edge import EdgeMiddleware
from statera.api.errors import install_handlers
from statera.api.neutron import neutron_router
from statera.api.policy import Policy, identity

LOG = logging.getLogger(__name__)
#: Every version Octavia 19 lists at ``GET /``, with its date; the last one is CURRENT.
VERSIONS = (
    ("v2.0", "2016-12-11"), ("v2.1", "2018-04-20"), ("v2.2", "2018-07-31"),
    ("v2.3", "2018-12-18"), ("v2.4", "2018-12-19"), ("v2.5", "2019-01-21"),
    ("v2.6", "2019-01-25"), ("v2.7", "2018-01-25T12:00:00"), ("v2.8", "2019-02-12"),
    ("v2.9", "2019-03-04"), ("v2.10", "2019-03-05"), ("v2.11", "2019-06-24"),
    ("v2.12", "2019-09-11"), ("v2.13", "2019-09-13"), ("v2.14", "2019-11-10"),
    ("v2.15", "2020-03-10"), ("v2.16", "2020-03-15"), ("v2.17", "2020-04-29"),
    ("v2.18", "2020-04-29T01:00:00"), ("v2.19", "2020-05-12"), ("v2.20", "2020-08-02"),
    ("v2.21", "2020-09-03"), ("v2.22", "2020-09-04"), ("v2.23", "2020-09-07"),
    ("v2.24", "2020-10-15"), ("v2.25", "2021-10-02"), ("v2.26", "2022-08-29"),
    ("v2.27", "2023-05-05"), ("v2.28", "2023-11-08"), ("v2.29", "2024-10-15"),
    ("v2.30", "2025-02-26"),
)
API_VERSION = VERSIONS[-1][0]
LBAAS_RESOURCES = [
    "loadbalancers", "listeners", "pools", "members", "healthmonitors", "l7policies",
    "l7rules", "flavors", "flavorprofiles", "availability_zones",
    "availability_zone_profiles", "quotas", "providers",
]
OCTAVIA_RESOURCES = ["amphorae"]
#: Statera's own admin resources, under /v2/statera.
STATERA_RESOURCES = ["hosts"]


def _routers(names: list[str]) -> list[APIRouter]:
    """The ``router`` of each resource module, in the order given."""
    return [importlib.import_module(f"statera.api.resources.{name}").router for name in names]


def version_document(request: Request) -> dict[str, Any]:
    """Octavia's version document: every version it lists, each linking to /v2 (the SDK
    picks the CURRENT one). Neutron discovery finds "v2.0" here too; the edge serves the
    Neutron paths it then asks for under /v2 as /v2.0."""
    href = str(request.base_url).rstrip("/") + "/v2"
    return {"versions": [
        {"id": version, "status": "CURRENT" if version == API_VERSION else "SUPPORTED",
         "updated": _timestamp(day), "links": [{"href": href, "rel": "self"}]}
        for version, day in VERSIONS
    ]}


def _timestamp(day: str) -> str:
    """``2016-12-11`` → ``2016-12-11T00:00:00Z`` (a time given is kept)."""
    return (day if "T" in day else f"{day}T00:00:00") + "Z"


def create_app(services: Services) -> FastAPI:
    app = FastAPI(title="Statera", version=API_VERSION, docs_url=None, redoc_url=None,
                  openapi_url="/openapi.json", dependencies=[Depends(access.enforce)])
    app.state.services = services
    app.state.policy = Policy(services.settings.oslo_policy.policy_file)
    install_handlers(app)
    access.install(app)

    @app.get("/", include_in_schema=False)
    def root(request: Request) -> JSONResponse:
        return JSONResponse(version_document(request))

    for prefix in ("/v2", "/v2.0"):
        @app.get(prefix, include_in_schema=False)
        def v2() -> JSONResponse:
            return JSONResponse("v2")

        for router in _routers(LBAAS_RESOURCES):
            app.include_router(router, prefix=f"{prefix}/lbaas")
            app.include_router(router, prefix=prefix, include_in_schema=False)
        for router in _routers(OCTAVIA_RESOURCES):
            app.include_router(router, prefix=f"{prefix}/octavia")
    for router in _routers(STATERA_RESOURCES):
        app.include_router(router, prefix="/v2/statera")

    @app.get("/v3/projects/{project_id}", include_in_schema=False)
    def keystone_project(project_id: str) -> dict[str, Any]:
        """Without Keystone, `openstack ... --project P` still looks P up here; any id
        exists (projects are just strings in noauth mode)."""
        return {"project": {"id": project_id, "name": project_id, "domain_id": "default",
                            "enabled": True, "description": "", "is_domain": False,
                            "parent_id": "default", "tags": []}}

    _mount_extras(app, services)
    access.check_routes(app, app.state.policy)
    openapi.install(app)
    # Middleware runs outside-in in the reverse order of these calls: the edge checks come
    # first, then Keystone's token check, then the routes.
    if services.settings.api.auth_strategy == "keystone":
        from statera.api.keystone import KeystoneAuth

        app.add_middleware(KeystoneAuth, options=services.settings.keystone_authtoken,
                           public_paths=access.public_paths(app))
    app.add_middleware(EdgeMiddleware, max_body=services.settings.api.max_body_size,
                       statements=services.db.statements)
    return app


def _mount_extras(app: FastAPI, services: Services) -> None:
    """The Neutron subset and the certificate upload API (router factories), when the
    services they serve were built."""
    if services.network is not None:

        def sees_project(request: Request, project_id: str | None) -> bool:
            return identity(request, services.settings).sees_project(project_id)

        app.include_router(
            neutron_router(lambda: services.network, services.db.session, sees_project)
        )
    if services.certs is not None and callable(getattr(services.certs, "store", None)):
        # Only a manager that keeps uploads (local) has an upload API: with Barbican, users
        # store certificates in Barbican; with noop there is nothing to store.

        def project(request: Request) -> str | None:
            return identity(request, services.settings).project_id

        app.include_router(
            certificates_router(lambda: services.certs, services.db.session, project)
        )
