"""Octavia's error bodies and the exceptions that produce them.

Most errors use WSME's body ``{"faultcode", "faultstring", "debuginfo"}`` ("Client" for 4xx,
"Server" for 5xx); routing errors (unknown path, 405) and bad pagination use Pecan's
``{"code", "title", "description"}``.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from statera.controller.errors import (
    POLICY_DENIED,
    Conflict,
    ControllerError,
    Forbidden,
    Invalid,
    InvalidInput,
    NotFound,
    ProviderFailed,
    QuotaExceeded,
    Unsupported,
)
from statera.logs import printable

LOG = logging.getLogger(__name__)

__all__ = [
    "POLICY_DENIED", "ApiError", "Conflict", "ControllerError", "Forbidden", "Invalid",
    "InvalidInput", "NotFound", "PecanError", "QuotaExceeded", "fault",
    "install_handlers", "pecan", "utf8_safe",
]

#: The one place where the controller's errors become Octavia's HTTP statuses.
CONTROLLER_STATUS: dict[type[ControllerError], int] = {
    Invalid: 400,
    Forbidden: 403,
    NotFound: 404,
    Conflict: 409,
    QuotaExceeded: 403,
    Unsupported: 501,
    ProviderFailed: 500,
}


def controller_status(exc: ControllerError) -> int:
    """The HTTP status of a controller error (its nearest mapped class)."""
    for cls in type(exc).__mro__:
        if cls in CONTROLLER_STATUS:
            return CONTROLLER_STATUS[cls]
    return 400


class ApiError(Exception):
    status = 400

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status


class PecanError(Exception):
    """Errors Octavia answers in Pecan's shape (bad sort/limit, unknown path)."""

    def __init__(self, status: int, title: str, description: str) -> None:
        super().__init__(description)
        self.status, self.title, self.description = status, title, description


def fault(status: int, message: str) -> JSONResponse:
    return JSONResponse(
        status_code=status,
        content={
            "faultcode": "Client" if status < 500 else "Server",
            "faultstring": utf8_safe(message),
            "debuginfo": None,
        },
    )


def too_large(message: str) -> JSONResponse:
    """A 413 that closes the connection: otherwise the server would keep reading (and
    discarding) the rest of a body it has refused."""
    response = fault(413, message)
    response.headers["Connection"] = "close"
    return response


def utf8_safe(message: str) -> str:
    """``message`` as text UTF-8 can carry: a request's JSON may hold a lone UTF-16 surrogate
    (``"\\ud800"``), and an error that quotes it must not fail while being rendered (the
    client would get no answer at all); such characters are shown as ``\\udXXX`` escapes."""
    return message.encode("utf-8", "backslashreplace").decode("utf-8")


def pecan(status: int, title: str, description: str) -> JSONResponse:
    return JSONResponse(
        status_code=status,
        content={"code": status, "title": title, "description": utf8_safe(description)},
    )


_TITLES = {404: "Not Found", 405: "Method Not Allowed", 400: "Bad Request", 406: "Not Acceptable"}


def install_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_req: Request, exc: ApiError) -> JSONResponse:
        return fault(exc.status, exc.message)

    @app.exception_handler(ControllerError)
    async def _controller_error(_req: Request, exc: ControllerError) -> JSONResponse:
        return fault(controller_status(exc), exc.message)

    @app.exception_handler(PecanError)
    async def _pecan_error(_req: Request, exc: PecanError) -> JSONResponse:
        return pecan(exc.status, exc.title, exc.description)

    @app.exception_handler(RequestValidationError)
    async def _validation(_req: Request, exc: RequestValidationError) -> JSONResponse:
        return fault(400, "Invalid input: " + "; ".join(str(e.get("msg")) for e in exc.errors()))

    @app.exception_handler(StarletteHTTPException)
    async def _http(_req: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 413:  # the body limit: WSME's fault, as Octavia's other 4xx
            return too_large(str(exc.detail))
        title = _TITLES.get(exc.status_code, "Error")
        detail = exc.detail if isinstance(exc.detail, str) else title
        if exc.status_code == 404:
            detail = "The resource could not be found."
        return pecan(exc.status_code, title, detail)

    @app.exception_handler(Exception)
    async def _unexpected(_req: Request, exc: Exception) -> JSONResponse:
        # Only reached for errors raised outside the edge middleware (which answers and logs
        # everything raised inside it).
        LOG.error("unexpected error: %s", printable(str(exc)), exc_info=exc)
        return fault(500, "An unexpected error occurred; see the server log.")
