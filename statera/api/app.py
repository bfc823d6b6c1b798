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
API_VERSION = "v2.30"
VERSIONS_UPDATED = "2024-10-01T00:00:00Z"
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
    """One document for both services on this port: Octavia's versions (the SDK picks the
    CURRENT one, /v2) and v2.0 at /v2.0/ (which Neutron discovery needs for the network API)."""
    host = str(request.base_url).rstrip("/")
    return {
        "versions": [
            {"id": "v2.0", "status": "SUPPORTED", "updated": "2016-12-11T00:00:00Z",
             "links": [{"href": f"{host}/v2.0/", "rel": "self"}]},
            {"id": API_VERSION, "status": "CURRENT", "updated": VERSIONS_UPDATED,
             "links": [{"href": f"{host}/v2", "rel": "self"}]},
        ]
    }


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
