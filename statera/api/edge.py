"""The API's edge: what every HTTP request goes through before and after its handler.

Plain ASGI middleware (no per-request task or body copy, unlike BaseHTTPMiddleware):

- Octavia speaks JSON only: an incompatible Accept is a 406 in the API-WG error shape;
- a ``.json`` suffix on a path is accepted and ignored;
- the shared version document lets keystoneauth pick /v2 for the network service too, so
  Neutron paths under /v2 are served as /v2.0;
- a NUL character in the path or the query string is a 400 (no id, name or filter can hold
  one, and PostgreSQL refuses it in any comparison: a 500 otherwise);
- a body larger than ``max_body`` is a 413 before any of it is read: a Content-Length over
  the limit is refused at once, a chunked body is counted as it arrives;
- the request's database transactions run under the API statement timeout, and a client
  that disconnects has its running statements cancelled (statera.db.cancel);
- an exception no handler took becomes a 500 (503 for a statement timeout), logged with its
  traceback and its real status;
- one access-log line per request: method, path, query, status and duration, with control
  characters escaped so that no URL can forge a log line;
- the request counted and timed for ``/metrics`` by route template (``/v2/lbaas/
  loadbalancers/{loadbalancer_id}``, never the raw path, so ids add no series), method and
  status class.
- every response carries ``x-openstack-request-id: req-<uuid>`` (as Octavia's oslo
  middleware sends it), and every log line written while serving the request names that id.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from typing import Any

from fastapi import HTTPException
from fastapi.responses import JSONResponse

from statera.api.errors import fault, too_large
from statera.db.cancel import API_REQUEST, RequestStatements, StatementTracker
from statera.db.engine import is_statement_timeout
from statera.logs import REQUEST_ID, printable
from statera.metrics.instruments import (
    API_LATENCY,
    API_REQUESTS,
    UNMATCHED,
    method_label,
    status_class,
)

LOG = logging.getLogger(__name__)
ACCESS = logging.getLogger("statera.access")
JSON_ACCEPTS = ("application/json", "*/*", "application/*")
NEUTRON_ON_V2 = tuple(f"/v2/{r}" for r in ("networks", "subnets", "ports", "qos/",
                                          "security-groups", "security-group-rules",
                                          "floatingips", "extensions"))
CLIENT_GONE = 499  # nginx's status for "client closed the request", in the access log only


class BodyTooLarge(HTTPException):
    """A chunked body that grew past the limit while it was being read (a 413). FastAPI's
    own HTTPException, because FastAPI turns any other error raised while it reads a body
    into a 400. (Starlette's RequestBodyLimitMiddleware answers in its own body shape, not
    Octavia's, hence the small counter here.)"""

    def __init__(self, limit: int) -> None:
        super().__init__(413, too_large_message(limit))


def too_large_message(limit: int) -> str:
    return f"Request body too large: the limit is {limit} bytes."


class Inbox:
    """Reads the request's messages ahead of the handler, so that a disconnect is seen while
    the handler is still working (a handler blocked in a query never reads it itself).

    The body is counted on the way in and the reading stops once it passes the limit; the
    handler then gets a 413 from :meth:`receive`."""

    def __init__(self, receive: Any, limit: int) -> None:
        self._receive = receive
        self._limit = limit
        self._queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        self.disconnected = asyncio.Event()

    async def pump(self) -> None:
        received = 0
        while True:
            message: dict[str, Any] = await self._receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self._limit:
                    self._queue.put_nowait(None)
                    return  # read no further: the server stops reading the socket
                self._queue.put_nowait(message)
                continue
            self._queue.put_nowait(message)
            self.disconnected.set()
            return

    async def receive(self) -> dict[str, Any]:
        message = await self._queue.get()
        if message is None:
            self._queue.put_nowait(None)  # every later call is refused too
            raise BodyTooLarge(self._limit)
        if message["type"] != "http.request":
            self._queue.put_nowait(message)  # a disconnect is final
        return message


class EdgeMiddleware:
    """See the module's docstring."""

    def __init__(self, app: Any, max_body: int = 1048576,
                 statements: StatementTracker | None = None) -> None:
        self.app = app
        self.max_body = max_body
        self.statements = statements

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = f"req-{uuid.uuid4()}"
        id_token = REQUEST_ID.set(request_id)
        try:
            await self._serve(scope, receive, _with_request_id(send, request_id))
        finally:
            REQUEST_ID.reset(id_token)

    async def _serve(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        refusal = self._refusal(scope)
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        scope = _rewrite_path(scope)
        started = time.perf_counter()
        status = [0]
        answered = asyncio.Event()

        async def send_wrapper(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            elif not message.get("more_body"):
                answered.set()
            await send(message)

        request = RequestStatements()
        inbox = Inbox(receive, self.max_body)
        pump = asyncio.create_task(inbox.pump())
        watch = asyncio.create_task(self._cancel_when_gone(inbox, answered, request))
        token = API_REQUEST.set(request)
        try:
            await self.app(scope, inbox.receive, send_wrapper)
        except Exception as exc:  # noqa: BLE001 (the last place that can answer the client)
            if request.cancelled:
                status[0] = status[0] or CLIENT_GONE
            else:
                await self._server_error(scope, exc, status, send_wrapper)
        finally:
            API_REQUEST.reset(token)
            for task in (pump, watch):
                task.cancel()
            if request.cancelled:
                status[0] = CLIENT_GONE
            seconds = time.perf_counter() - started
            self._log_access(scope, status[0], seconds)
            _observe(scope, status[0], seconds)

    async def _cancel_when_gone(self, inbox: Inbox, answered: asyncio.Event,
                                request: RequestStatements) -> None:
        """Once the client has gone before its answer, interrupt the statements its request
        is running."""
        await inbox.disconnected.wait()
        if self.statements is None or answered.is_set():
            return
        cancelled = await asyncio.to_thread(self.statements.cancel, request)
        if cancelled:
            LOG.info("client went away: cancelled the statements of its request on %d "
                     "connection(s)", cancelled)

    def _refusal(self, scope: dict[str, Any]) -> JSONResponse | None:
        """The answer to a request refused before it reaches a handler, if it is one."""
        accept = _header(scope, b"accept")
        if accept and not any(a in accept for a in JSON_ACCEPTS):
            return JSONResponse(status_code=406, content={"errors": [{
                "status": 406, "title": "Not Acceptable",
                "detail": f"Only application/json is supported, not '{accept}'",
                "request_id": REQUEST_ID.get()}]})
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
        status[0] = code
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


def _observe(scope: dict[str, Any], status: int, seconds: float) -> None:
    """Count and time one answered request for ``/metrics``."""
    route, method = route_template(scope), method_label(scope["method"])
    API_REQUESTS.labels(route, method, status_class(status)).inc()
    API_LATENCY.labels(route, method).observe(seconds)


def route_template(scope: dict[str, Any]) -> str:
    """The template of the route that served the request (``/v2/lbaas/pools/{pool_id}``), or
    ``unmatched``.

    FastAPI leaves the matched route in the scope with its path relative to the router it was
    declared on; the prefix it was included under is the part of the request's path before
    the relative template matches (prefixes hold no parameters). Only ever a route's path
    and one of the app's own prefixes: the label takes a bounded set of values."""
    route = scope.get("route")
    template = getattr(route, "path", None)
    if not isinstance(template, str):
        return UNMATCHED
    regex = getattr(route, "path_regex", None)
    path: str = scope["path"]
    if regex is None or regex.match(path):
        return template
    for cut, char in enumerate(path):
        if char == "/" and cut and regex.match(path[cut:]):
            return path[:cut] + template
    return template


def _with_request_id(send: Any, request_id: str) -> Any:
    """``send`` that adds the request's id header to the response's start."""
    header = (b"x-openstack-request-id", request_id.encode())

    async def sending(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", []), header]}
        await send(message)

    return sending


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
