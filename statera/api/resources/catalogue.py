"""What the four catalogue routers share: flavors, availability zones and their profiles.

These resources belong to no project and carry no tags; the policy lets readers list and show
them and only admins write. A profile names a provider and holds that provider's metadata as a
JSON *string*, which the provider's driver validates; flavor and availability-zone profiles
differ only in names (:class:`ProfileKind`), so one piece of code serves both.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from statera.api.deps import Services
from statera.api.errors import ApiError, Conflict, InvalidInput, NotFound
from statera.api.listing import ListSpec, fields_of, prune
from statera.api.policy import Identity, authorize
from statera.api.resources import common
from statera.config import Settings
from statera.controller.providers import call_provider, load_driver
from statera.db import models as m

NIL_UUID = "00000000-0000-0000-0000-000000000000"


@dataclass(frozen=True)
class Kind:
    """One catalogue resource: its rows, policy type, envelope key, name in messages, and how
    it is listed and rendered (``spec.render``)."""

    model: type[Any]
    policy: str
    single: str
    label: str
    spec: ListSpec


@dataclass(frozen=True)
class ProfileKind(Kind):
    """A profile resource: ``data`` is its metadata column, ``validate`` the driver method
    that checks it, ``a_label`` its label with an article ("A flavor profile"), ``used_by``
    the column through which other rows name a profile."""

    data: str
    validate: str
    a_label: str
    used_by: Any


def simple_spec(model: type[Any], plural: str, links_key: str,
                render: Callable[[Any], dict[str, Any]], columns: list[str],
                id_column: str = "id") -> ListSpec:
    """A ListSpec for an untagged, project-less admin resource."""
    return ListSpec(model=model, plural=plural, links_key=links_key, render=render,
                    columns={c: getattr(model, c) for c in columns}, tagged=False,
                    id_column=id_column)


def get_or_404(session: Session, model: type[Any], key: str, label: str) -> Any:
    """The row with primary key ``key``; 404 for a missing one and for Octavia's nil UUID."""
    row = None if key == NIL_UUID else session.get(model, key)
    if row is None:
        raise NotFound(label, key)
    return row


def require_values(given: dict[str, Any], fields: tuple[str, ...]) -> None:
    """PUT may not null a field that has no default."""
    for field in fields:
        if field in given and given[field] is None:
            raise InvalidInput(field, None, "Mandatory field missing.")


def flush_unique(session: Session, message: str) -> None:
    """Flush; a unique-key race lost to a concurrent request becomes a 409."""
    try:
        session.flush()
    except IntegrityError:
        raise Conflict(message) from None


def refuse_in_use(session: Session, label: str, key: str, column: Any, *extra: Any) -> None:
    """409 if any row names ``key`` in ``column`` (and matches ``extra``)."""
    stmt = select(func.count()).where(column == key, *extra)
    if session.scalar(stmt):
        raise Conflict(f"{label} {key} is in use and cannot be modified.")


def validate_metadata(settings: Settings, provider: str, data: str, method: str) -> None:
    """Run the provider driver's ``validate_flavor``/``validate_availability_zone``."""
    driver = load_driver(settings, provider)
    try:
        metadata = json.loads(data)
    except ValueError:
        raise ApiError(f"{data} is not a valid option for {method}") from None
    call_provider(driver.name, getattr(driver, method), metadata)


# Reads -------------------------------------------------------------------------------------


def list_all(kind: Kind, svc: Services, request: Request, ident: Identity) -> dict[str, Any]:
    authorize(ident, kind.policy, "get_all")
    with svc.db.read_session() as session:
        return common.listed(session, request, svc, kind.spec, select(kind.model))


def show_one(kind: Kind, svc: Services, request: Request, ident: Identity,
             key: str) -> dict[str, Any]:
    authorize(ident, kind.policy, "get_one")
    with svc.db.read_session() as session:
        row = get_or_404(session, kind.model, key, kind.label)
        return {kind.single: prune(kind.spec.render(row), fields_of(request))}


# Profile writes (the caller has authorised and parsed the request) -------------------------


def create_profile(kind: ProfileKind, svc: Services, body: Any) -> dict[str, Any]:
    """The provider must be enabled and accept the metadata; an id may be given (409 if
    taken, 400 for the nil UUID)."""
    if body.id == NIL_UUID:
        raise InvalidInput("id", body.id, "The nil UUID is reserved.")
    data = getattr(body, kind.data)
    validate_metadata(svc.settings, body.provider_name, data, kind.validate)
    with svc.db.session() as session:
        if body.id and session.get(kind.model, body.id) is not None:
            raise Conflict(f"{kind.a_label} of {body.id} already exists.")
        row = kind.model(id=body.id or m.new_id(), name=body.name,
                         provider_name=body.provider_name, **{kind.data: data})
        session.add(row)
        flush_unique(session, f"{kind.a_label} of {row.id} already exists.")
        return {kind.single: kind.spec.render(row)}


def update_profile(kind: ProfileKind, svc: Services, profile_id: str,
                   given: dict[str, Any]) -> dict[str, Any]:
    """A new provider or new metadata is validated again, and refused (409) while a flavor
    or availability zone uses the profile."""
    require_values(given, ("name", "provider_name", kind.data))
    with svc.db.session() as session:
        row = get_or_404(session, kind.model, profile_id, kind.label)
        if any(f in given and given[f] != getattr(row, f) for f in ("provider_name", kind.data)):
            refuse_in_use(session, kind.label, row.id, kind.used_by)
            validate_metadata(svc.settings, given.get("provider_name", row.provider_name),
                              given.get(kind.data, getattr(row, kind.data)), kind.validate)
        for field, value in given.items():
            setattr(row, field, value)
        session.flush()
        return {kind.single: kind.spec.render(row)}


def delete_profile(kind: ProfileKind, svc: Services, profile_id: str) -> None:
    with svc.db.session() as session:
        row = get_or_404(session, kind.model, profile_id, kind.label)
        refuse_in_use(session, kind.label, row.id, kind.used_by)
        session.delete(row)
