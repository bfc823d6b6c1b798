"""Who may do what to which project's objects: Octavia's default roles and rule names.

Rule names are ``os_load-balancer_api:<type>:<action>``. Identities come from the auth
strategy: ``noauth`` makes every caller admin (as Octavia does); ``testing`` reads
``X-Project-Id`` and ``X-Roles`` headers so that tests can act as any role; ``keystone`` is not
implemented yet (the seam is :func:`identity`).
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from statera.api.errors import ApiError, Forbidden
from statera.config import Settings

READ_ACTIONS = {"get_one", "get_all", "get_stats", "get_status", "get_defaults"}
ADMIN_ROLES = {"admin"}
GLOBAL_READERS = {"load-balancer_global_observer"}
MEMBER_ROLES = {"member", "load-balancer_member"}
READER_ROLES = {"reader", "load-balancer_observer"} | MEMBER_ROLES
QUOTA_ADMINS = {"load-balancer_quota_admin"}
ADMIN_ONLY_TYPES = {"flavor-profile", "availability-zone-profile", "amphora", "agent-host"}
WRITE_ADMIN_TYPES = {"flavor", "availability-zone"}


@dataclass(frozen=True)
class Identity:
    project_id: str | None
    roles: frozenset[str]
    header_project: bool = False

    @property
    def is_admin(self) -> bool:
        return bool(self.roles & ADMIN_ROLES)

    def sees_all(self) -> bool:
        return self.is_admin or bool(self.roles & GLOBAL_READERS)

    @property
    def authenticated(self) -> bool:
        """False for a caller that names neither a project nor a role (under ``testing``: no
        ``X-Project-Id`` and no ``X-Roles``), the analogue of a request without a token."""
        return self.project_id is not None or bool(self.roles)

    def may_read(self) -> bool:
        """Holds a role that reads something (its own project's objects, or every project's)."""
        return self.sees_all() or bool(self.roles & READER_ROLES)

    def may_write(self) -> bool:
        """Holds a role that changes its own project's objects."""
        return self.is_admin or bool(self.roles & MEMBER_ROLES)

    def sees_project(self, project_id: str | None) -> bool:
        """May read the objects of ``project_id`` (Neutron's and Octavia's reader rule)."""
        if self.sees_all():
            return True
        return bool(self.roles & READER_ROLES) and project_id == self.project_id


PROJECT_ID_MAX = 36  # the width of every project_id column


def _header_project(request: Request) -> str | None:
    """``X-Project-Id`` when it can be a project id: at most 36 printable characters (the
    column's width; a longer one used to reach the database and fail there as a 500)."""
    value = request.headers.get("X-Project-Id")
    if value is None:
        return None
    if not value or len(value) > PROJECT_ID_MAX or not value.isprintable():
        raise ApiError(f"Invalid X-Project-Id header: a project id is 1 to {PROJECT_ID_MAX} "
                       "printable characters.")
    return value


def identity(request: Request, settings: Settings) -> Identity:
    header_project = _header_project(request)
    if settings.api.auth_strategy == "testing":
        roles = frozenset(
            r.strip() for r in request.headers.get("X-Roles", "").split(",") if r.strip()
        )
        return Identity(header_project, roles, header_project is not None)
    return Identity(
        header_project or settings.api.default_project_id,
        frozenset({"admin"}),
        header_project is not None,
    )


def authorize(ident: Identity, obj_type: str, action: str, project_id: str | None = None) -> None:
    """Raise Forbidden unless ``ident`` may do ``action`` on ``obj_type`` of ``project_id``."""
    if ident.is_admin:
        return
    read = action in READ_ACTIONS or action == "get_all-global"
    if obj_type == "quota":
        if ident.roles & QUOTA_ADMINS:
            return
        if read and ident.roles & GLOBAL_READERS:  # Octavia's read-quota(-global)
            return
        if read and project_id == ident.project_id and ident.roles & READER_ROLES:
            return
        raise Forbidden()
    if obj_type in ADMIN_ONLY_TYPES:
        raise Forbidden()
    if obj_type in WRITE_ADMIN_TYPES or obj_type == "provider":
        if read and ident.roles & (READER_ROLES | GLOBAL_READERS):
            return
        raise Forbidden()
    if read and ident.roles & GLOBAL_READERS:
        return
    if action == "get_all-global":
        raise Forbidden()
    allowed = READER_ROLES if read else MEMBER_ROLES
    if not ident.roles & allowed:
        raise Forbidden()
    if project_id is not None and project_id != ident.project_id:
        raise Forbidden()
