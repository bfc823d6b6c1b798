"""Who asks: the controller's view of the caller, so that it can check Octavia's policy on the
objects it loads without knowing how the API authenticated anyone.

The API's ``Identity`` (``statera.api.policy``) satisfies :class:`Requester`; its
``authorize`` raises :class:`statera.controller.errors.Forbidden`.
"""

from __future__ import annotations

from typing import Any, Protocol


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
