"""Errors the controller raises when a request breaks one of its rules.

They name the rule that failed, not an HTTP status: the API maps each class to Octavia's status
and body in one table (``statera.api.errors``). Other front ends (the CLI, a future RPC) can map
them their own way, and the controller never imports the HTTP edge.
"""

from __future__ import annotations

from statera.network.base import NetworkError

#: Octavia's text for a request its policy refuses.
POLICY_DENIED = "Policy does not allow this request to be performed."


class ControllerError(Exception):
    """A request the controller refuses; ``message`` is shown to the user as it is."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Invalid(ControllerError):
    """The request is well-formed but asks for something the rules forbid."""


class InvalidInput(Invalid):
    """One field's value is unacceptable; worded as Octavia's WSME type errors."""

    def __init__(self, field: str, value: object, reason: str) -> None:
        super().__init__(f"Invalid input for field/attribute {field}. Value: '{value}'. {reason}")


class Forbidden(ControllerError):
    """The caller's role or project does not allow the request (Octavia's policy 403)."""

    def __init__(self, message: str = POLICY_DENIED) -> None:
        super().__init__(message)


class NotFound(ControllerError):
    """An object the request names does not exist (or is not the caller's to see)."""

    def __init__(self, resource: str, obj_id: str) -> None:
        super().__init__(f"{resource} {obj_id} not found.")


class Conflict(ControllerError):
    """The object's current state forbids the change (e.g. it is being deleted)."""


class QuotaExceeded(ControllerError):
    """The project's quota for a resource would be exceeded."""

    def __init__(self, resource: str) -> None:
        super().__init__(f"Quota has been met for resources: {resource}")


class Unsupported(ControllerError):
    """The provider cannot do what is asked (Octavia's 501)."""


class ProviderFailed(ControllerError):
    """The provider failed while handling the request."""


def network_error(exc: NetworkError) -> ControllerError:
    """The controller's error for a network driver's refusal, with its message: Conflict for
    an address in use (409), Invalid for the rest (a missing or unusable subnet or port)."""
    if exc.status_code == 409:
        return Conflict(exc.faultstring)
    return Invalid(exc.faultstring)
