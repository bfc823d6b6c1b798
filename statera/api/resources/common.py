"""Helpers shared by the resource routers: rendering, and the list and show bodies (the write
transaction and the lookups writes share are the controller's, ``statera.controller.writes``)."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from sqlalchemy import select
from sqlalchemy.orm import Session

from statera.api import views
from statera.api.deps import Services
from statera.api.errors import Forbidden
from statera.api.listing import ListSpec, fields_of, list_objects, prune
from statera.api.policy import Identity, authorize
from statera.controller import writes
from statera.db.models import load_owners


def render(session: Session, row: Any) -> dict[str, Any]:
    return views.RENDERERS[type(row)](row, writes.tags_for(session, [row.id])[row.id])


def render_one(session: Session, request: Request, row: Any) -> dict[str, Any]:
    return prune(render(session, row), fields_of(request))


def list_spec(model: type[Any], plural: str, *, tagged: bool = True) -> ListSpec:
    """Filterable columns: every column under its API name (see views.API_COLUMNS)."""
    columns: dict[str, Any] = {}
    reverse = {col: api for api, col in views.API_COLUMNS.items()}
    for col in model.__table__.columns:
        if col.name in ("generation", "desired_generation", "served_generation",
                        "applied_generation", "vip_octavia_owned", "pending_status",
                        "reported_status", "reported_generation"):
            continue
        attr = getattr(model, col.name)
        columns[reverse.get(col.name, col.name)] = attr
        if col.name == "project_id":  # filterable under both names, as in Octavia
            columns["project_id"] = columns["tenant_id"] = attr
        if col.name == "load_balancer_id":
            columns["loadbalancer_id"] = attr
    if "pending_status" in model.__table__.columns:  # derived (statera.db.models)
        columns["provisioning_status"] = model.provisioning_status
    columns.setdefault("admin_state_up", getattr(model, "enabled", None))
    columns = {k: v for k, v in columns.items() if v is not None}
    cache: dict[str, list[str]] = {}

    def render_row(row: Any) -> dict[str, Any]:
        return views.RENDERERS[model](row, cache.get(row.id, []))

    owners: list[Any] = []

    def prefetch(session: Session, rows: list[Any]) -> None:
        cache.clear()
        cache.update(writes.tags_for(session, [r.id for r in rows]))
        owners[:] = load_owners(session, rows)  # what their provisioning status reads

    return ListSpec(model=model, plural=plural, links_key=f"{plural}_links",
                    render=render_row, columns=columns, tagged=tagged, prefetch=prefetch)


def list_in_scope(svc: Services, request: Request, ident: Identity, obj_type: str,
                  spec: ListSpec) -> dict[str, Any]:
    """A GET collection scoped as Octavia's ``_auth_get_all`` scopes it (see
    :func:`list_scope`)."""
    project = list_scope(ident, obj_type)
    stmt = select(spec.model)
    if project is not None:
        stmt = stmt.where(spec.model.project_id == project)
    with svc.db.read_session() as session:
        return listed(session, request, svc, spec, stmt)


def list_scope(ident: Identity, obj_type: str) -> str | None:
    """Octavia's ``_auth_get_all``: None for callers who see every project, else the caller's
    own project (after checking they may list it)."""
    try:
        authorize(ident, obj_type, "get_all-global")
        return None
    except Forbidden:
        pass
    if ident.project_id is None:
        raise Forbidden()
    authorize(ident, obj_type, "get_all", ident.project_id)
    return ident.project_id


def listed(session: Session, request: Request, svc: Services, spec: ListSpec,
           stmt: Any) -> dict[str, Any]:
    """Octavia's list body for ``stmt``: the request's filters, sorting and page."""
    return list_objects(session, request, spec, stmt,
                        max_limit=svc.settings.api.pagination_max_limit,
                        base_uri=svc.settings.api.api_base_uri)


def list_visible(svc: Services, request: Request, ident: Identity, model: type[Any],
                 plural: str, *options: Any, where: tuple[Any, ...] = ()) -> dict[str, Any]:
    """A top-level GET collection: the rows of the caller's project (all for those who see
    every project, see :func:`list_scope`), with ``options`` to load what rendering them
    needs."""
    project = list_scope(ident, writes.POLICY_TYPE[model.__name__])
    spec = list_spec(model, plural)
    stmt = select(model).where(*where).options(*options)
    if project is not None:
        stmt = stmt.where(model.project_id == project)
    with svc.db.read_session() as session:
        return listed(session, request, svc, spec, stmt)


def show(svc: Services, request: Request, ident: Identity, model: type[Any], obj_id: str,
         key: str) -> dict[str, Any]:
    """A GET of one object: 404 if missing, 403 unless the caller may read it."""
    with svc.db.read_session() as session:
        row = writes.fetch_authorized(session, model, obj_id, ident, "get_one")
        return {key: render_one(session, request, row)}
