"""Helpers shared by the resource routers: lookups with policy, tags, hints, rendering, the
list and show bodies, and :func:`change`, the write transaction every change to a load
balancer's desired state runs in."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from fastapi import Request
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from statera.api import rules, views
from statera.api.deps import Services
from statera.api.errors import Forbidden, NotFound
from statera.api.listing import ListSpec, fields_of, list_objects, prune
from statera.api.policy import Identity, authorize
from statera.bus.base import CONVERGE
from statera.controller import changes
from statera.controller.providers import call_provider
from statera.db.models import LoadBalancer, Tag, load_owners
from statera.db.statuses import ProvisioningStatus

POLICY_TYPE = {
    "LoadBalancer": "loadbalancer", "Listener": "listener", "Pool": "pool", "Member": "member",
    "HealthMonitor": "healthmonitor", "L7Policy": "l7policy", "L7Rule": "l7rule",
}
KIND = {
    "LoadBalancer": "Load Balancer", "Listener": "Listener", "Pool": "Pool", "Member": "Member",
    "HealthMonitor": "Health Monitor", "L7Policy": "L7 Policy", "L7Rule": "L7 Rule",
}


def fetch(session: Session, model: type[Any], obj_id: str, *, lock: bool = False) -> Any:
    """The object or 404 (a DELETED load balancer counts as missing)."""
    stmt = select(model).where(model.id == obj_id)
    if lock:
        stmt = stmt.with_for_update()
    row = session.scalars(stmt).first()
    if row is None or getattr(row, "provisioning_status", None) == ProvisioningStatus.DELETED:
        raise NotFound(KIND.get(model.__name__, model.__name__), obj_id)
    return row


def fetch_authorized(
    session: Session, model: type[Any], obj_id: str, ident: Identity, action: str
) -> Any:
    row = fetch(session, model, obj_id)
    authorize(ident, POLICY_TYPE[model.__name__], action, row.project_id)
    return row


def tags_for(session: Session, ids: Iterable[str]) -> dict[str, list[str]]:
    ids = list(ids)
    out: dict[str, list[str]] = {i: [] for i in ids}
    if not ids:
        return out
    for rid, tag in session.execute(
        select(Tag.resource_id, Tag.tag).where(Tag.resource_id.in_(ids)).order_by(Tag.tag)
    ):
        out[rid].append(tag)
    return out


def set_tags(session: Session, obj_id: str, tags: list[str] | None) -> None:
    if tags is None:
        return
    session.execute(delete(Tag).where(Tag.resource_id == obj_id))
    for tag in dict.fromkeys(tags):
        session.add(Tag(resource_id=obj_id, tag=tag))


def drop_tags(session: Session, obj_ids: Iterable[str]) -> None:
    ids = list(obj_ids)
    if ids:
        session.execute(delete(Tag).where(Tag.resource_id.in_(ids)))


def render(session: Session, row: Any) -> dict[str, Any]:
    return views.RENDERERS[type(row)](row, tags_for(session, [row.id])[row.id])


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
        cache.update(tags_for(session, [r.id for r in rows]))
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
    project = list_scope(ident, POLICY_TYPE[model.__name__])
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
        row = fetch_authorized(session, model, obj_id, ident, "get_one")
        return {key: render_one(session, request, row)}


def hint(svc: Services, provider: str | None, lb_id: str, action: str = CONVERGE) -> None:
    """After commit: tell the provider's agent to converge (or fail over) this load balancer."""
    svc.bus.publish(provider or svc.settings.api.default_provider_driver, lb_id, action)


class Change:
    """One write to a load balancer's desired state, inside the transaction :func:`change`
    opened: ``lb`` is row-locked and already at its new desired generation."""

    def __init__(self, svc: Services, session: Session, lb: LoadBalancer) -> None:
        self.svc = svc
        self.session = session
        self.lb = lb
        self._driver: Any = None

    def load_driver(self) -> Any:
        """The load balancer's provider driver: 400 if its provider is not enabled, 501 if it
        cannot be loaded. Handlers call it after their own 404/409 checks and before quota and
        validation, which is where these errors have always come."""
        if self._driver is None:
            self._driver = rules.driver_for(self.svc, self.lb)
        return self._driver

    def call(self, method: str, *args: Any) -> Any:
        """``driver.<method>(*args)``, its errors mapped to HTTP as Octavia maps them."""
        driver = self.load_driver()
        return call_provider(driver.name, getattr(driver, method), *args)


@contextmanager
def change(svc: Services, lb_id: str, action: str = CONVERGE) -> Iterator[Change]:
    """Open the write transaction for load balancer ``lb_id``, then hint its provider's agent.

    Locking the load balancer is the transaction's first statement, so that on every database
    the change reads what the previous writer committed. The hint goes out only after the
    commit: the agent must not converge before it can see the change, and a write that fails
    (rolled back) wakes no one.
    """
    with svc.db.session() as session:
        work = Change(svc, session, changes.lock_loadbalancer(session, lb_id))
        yield work
    hint(svc, work.lb.provider, work.lb.id, action)
