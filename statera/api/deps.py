"""What every handler needs, built once by ``create_app`` and found on ``app.state``."""

from __future__ import annotations

from fastapi import Request

from statera.api.policy import Identity, identity
from statera.controller.access import project_for_create
from statera.controller.services import Services

__all__ = ["Services", "caller", "caller_token", "project_for_create", "services"]


async def services(request: Request) -> Services:
    """The app's services. ``async``, though it awaits nothing: FastAPI runs a plain ``def``
    dependency in the thread pool, a thread hand-off per request for one attribute read."""
    svc: Services = request.app.state.services
    return svc


def caller(request: Request) -> Identity:
    svc: Services = request.app.state.services
    return identity(request, svc.settings)


def caller_token(request: Request) -> str | None:
    """The caller's Keystone token, for a certificate manager that acts with it (Barbican
    checks that the caller may read a secret, and lets it grant Statera's service user access).

    Read from ``X-Auth-Token``. Under ``auth_strategy = keystone`` the token was validated
    before the request got here; under the other strategies it is passed on unchecked, which
    is safe because Barbican validates it itself and decides what it may do.
    """
    return request.headers.get("X-Auth-Token") or None
