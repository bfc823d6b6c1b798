"""Who asks: the controller's view of the caller, so that it can check Octavia's policy on the
objects it loads without knowing how the API authenticated anyone.

The API's ``Identity`` (``statera.api.policy``) satisfies :class:`Requester`; its
``authorize`` raises :class:`statera.controller.errors.Forbidden`.
"""

from __future__ import annotations

from typing import Any, Protocol

from statera.controller.errors import Forbidden, Invalid


class Requester(Protocol):
    """The caller of one request."""

    @property
    def project_id(self) -> str | None:
        """The caller's project (None for a caller without one)."""

    @property
    def is_admin(self) -> bool:
        """Octavia's ``context_is_admin``."""

    @property
    def token_auth(self) -> Any:
        """The caller's Keystone auth plugin, for calls made on their behalf (Barbican)."""

    def authorize(self, obj_type: str, action: str, project_id: str | None = None) -> None:
        """Raise ``Forbidden`` unless rule ``<obj_type>:<action>`` allows the caller on an
        object of ``project_id`` (None: the caller's own project)."""


def project_for_create(who: Requester, body_project: str | None) -> str:
    """The project a new object belongs to, as Octavia decides it: the body's ``project_id``,
    else the caller's (their token's; here also the header or the configured default).

    Only an admin may create in another project than their own (Forbidden); a caller with no
    project who names none is refused, since every object belongs to one (Invalid)."""
    if body_project and not who.is_admin and body_project != who.project_id:
        raise Forbidden()
    project = body_project or who.project_id
    if not project:
        raise Invalid("Missing project ID in request where one is required.")
    return project
