"""The FastAPI application: mounts every resource router under Octavia's prefixes, serves the
version document and the OpenAPI schema, and maps errors to Octavia's bodies."""

from __future__ import annotations

import importlib
import logging
import time
from typing import Any

from fastapi import APIRouter, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse

from statera.api.certificates import certificates_router
from statera.api.deps import Services
from statera.api.errors import fault, install_handlers, too_large
from statera.api.neutron import neutron_router
from statera.api.policy import identity
from statera.db.engine import API_REQUEST, is_statement_timeout
from statera.logs import printable

LOG = logging.getLogger(__name__)
ACCESS = logging.getLogger("statera.access")
API_VERSION = "v2.30"
VERSIONS_UPDATED = "2024-10-01T00:00:00Z"
LBAAS_RESOURCES = [
    "loadbalancers", "listeners", "pools", "members", "healthmonitors", "l7policies",
    "l7rules", "flavors", "flavorprofiles", "availability_zones",
    "availability_zone_profiles", "quotas", "providers",
]
OCTAVIA_RESOURCES = ["amphorae"]


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


JSON_ACCEPTS = ("application/json", "*/*", "application/*")
NEUTRON_ON_V2 = tuple(f"/v2/{r}" for r in ("networks", "subnets", "ports", "qos/",
                                          "security-groups"))


class BodyTooLarge(HTTPException):
    """A chunked body that grew past the limit while it was being read (a 413). FastAPI's
    own HTTPException, because FastAPI turns any other error raised while it reads a body
    into a 400. (Starlette's RequestBodyLimitMiddleware answers in its own body shape, not
    Octavia's, hence this small counter.)"""

    def __init__(self, limit: int) -> None:
        super().__init__(413, too_large_message(limit))


def too_large_message(limit: int) -> str:
    return f"Request body too large: the limit is {limit} bytes."


class EdgeMiddleware:
    """Plain ASGI middleware (no per-request task or body copy, unlike BaseHTTPMiddleware):

    - Octavia speaks JSON only: an incompatible Accept is a 406 in the API-WG error shape;
    - a ``.json`` suffix on a path is accepted and ignored;
    - the shared version document lets keystoneauth pick /v2 for the network service too, so
      Neutron paths under /v2 are served as /v2.0;
    - a NUL character in the path or the query string is a 400 (no id, name or filter can
      hold one, and PostgreSQL refuses it in any comparison: a 500 otherwise);
    - a body larger than ``max_body`` is a 413 before any of it is read: a Content-Length
      over the limit is refused at once, a chunked body is counted as it arrives;
    - the request's database transactions run under the API statement timeout;
    - an exception no handler took becomes a 500 (503 for a statement timeout), logged
      with its traceback and its real status;
    - one access-log line per request: method, path, query, status and duration, with
      control characters escaped so that no URL can forge a log line.
    """

    def __init__(self, app: Any, max_body: int = 1048576) -> None:
        self.app = app
        self.max_body = max_body

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refusal = self._refusal(scope)
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        scope = _rewrite_path(scope)
        started = time.perf_counter()
        status = [0]

        async def send_wrapper(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        token = API_REQUEST.set(True)
        try:
            await self.app(scope, self._counting(receive), send_wrapper)
        except Exception as exc:  # noqa: BLE001 (the last place that can answer the client)
            await self._server_error(scope, exc, status, send_wrapper)
        finally:
            API_REQUEST.reset(token)
            self._log_access(scope, status[0], time.perf_counter() - started)

    def _refusal(self, scope: dict[str, Any]) -> JSONResponse | None:
        """The answer to a request refused before it reaches a handler, if it is one."""
        accept = _header(scope, b"accept")
        if accept and not any(a in accept for a in JSON_ACCEPTS):
            return JSONResponse(status_code=406, content={"errors": [{
                "status": 406, "title": "Not Acceptable",
                "detail": f"Only application/json is supported, not '{accept}'",
                "request_id": None}]})
        if "\x00" in scope["path"] or b"%00" in scope.get("query_string", b""):
            return fault(400, "Invalid input: the request URL must not contain NUL "
                              "characters.")
        length = _header(scope, b"content-length")
        if length is not None:
            if not length.strip().isdigit() or len(length) > 20:
                return fault(400, "Invalid input: bad Content-Length header.")
            if int(length) > self.max_body:
                return too_large(too_large_message(self.max_body))
        return None

    def _counting(self, receive: Any) -> Any:
        """``receive`` that refuses a (chunked) body once it passes the limit."""
        received = [0]
        limit = self.max_body

        async def counting_receive() -> dict[str, Any]:
            message: dict[str, Any] = await receive()
            if message["type"] == "http.request":
                received[0] += len(message.get("body", b""))
                if received[0] > limit:
                    raise BodyTooLarge(limit)
            return message

        return counting_receive

    async def _server_error(self, scope: dict[str, Any], exc: Exception, status: list[int],
                            send: Any) -> None:
        """Log an unhandled exception with its traceback and answer 500 (or 503 when the
        database cancelled a statement that ran past the API statement timeout)."""
        code = 503 if is_statement_timeout(exc) else 500
        LOG.error("%s %s failed with %s (%s):", printable(scope["method"]),
                  printable(scope["path"]), status[0] or code, type(exc).__name__,
                  exc_info=exc)
        if status[0]:
            return  # the response had started: nothing else can be sent
        if code == 503:
            message = ("The database did not answer within the API statement timeout; "
                       "retry, or narrow the query.")
        else:
            message = "An unexpected error occurred; see the server log."
        await fault(code, message)(scope, _no_body, send)

    @staticmethod
    def _log_access(scope: dict[str, Any], status: int, seconds: float) -> None:
        query = scope.get("query_string", b"").decode("latin-1")
        target = scope["path"] + (f"?{query}" if query else "")
        ACCESS.log(logging.WARNING if status >= 500 else logging.INFO,
                   "%s %s -> %s (%.1f ms)", printable(scope["method"]), printable(target),
                   status, seconds * 1000)


async def _no_body() -> dict[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}


def _rewrite_path(scope: dict[str, Any]) -> dict[str, Any]:
    """Drop a ``.json`` suffix; serve Neutron paths under /v2 as /v2.0."""
    path = scope["path"]
    if path.endswith(".json") and path != "/openapi.json":
        path = path[: -len(".json")]
    if path.startswith(NEUTRON_ON_V2):
        path = "/v2.0" + path[len("/v2"):]
    if path != scope["path"]:
        scope = {**scope, "path": path, "raw_path": path.encode()}
    return scope


def _header(scope: dict[str, Any], name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return str(value.decode("latin-1"))
    return None


def create_app(services: Services) -> FastAPI:
    app = FastAPI(title="Statera", version=API_VERSION, docs_url=None, redoc_url=None,
                  openapi_url="/openapi.json")
    app.state.services = services
    install_handlers(app)
    app.add_middleware(EdgeMiddleware, max_body=services.settings.api.max_body_size)

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
    @app.get("/v3/projects/{project_id}", include_in_schema=False)
    def keystone_project(project_id: str) -> dict[str, Any]:
        """Without Keystone, `openstack ... --project P` still looks P up here; any id
        exists (projects are just strings in noauth mode)."""
        return {"project": {"id": project_id, "name": project_id, "domain_id": "default",
                            "enabled": True, "description": "", "is_domain": False,
                            "parent_id": "default", "tags": []}}

    _mount_extras(app, services)
    return app


def _mount_extras(app: FastAPI, services: Services) -> None:
    """The Neutron subset and the certificate upload API (router factories), when the
    services they serve were built."""
    if services.network is not None:
        app.include_router(neutron_router(lambda: services.network, services.db.session))
    if services.certs is not None:

        def project(request: Request) -> str | None:
            return identity(request, services.settings).project_id

        app.include_router(
            certificates_router(lambda: services.certs, services.db.session, project)
        )
