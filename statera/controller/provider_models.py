"""ORM rows → octavia-lib provider data models (``octavia_lib.api.drivers.data_models``).

The API hands these models to provider drivers and the driver agent's get socket serves them to
provider agents, so both sides of the provider seam see the same objects. The conversion is a
table: each data model's constructor parameters are read from the ORM column of the same name
unless ``_SPECS`` renames it (``id`` → ``<type>_id``, ``enabled`` → ``admin_state_up``, ...);
only the fields that are not plain columns (child objects, certificate data, flavor and
availability-zone metadata) are computed, by the few ``_fill_*`` functions below.

Graphs describe the *desired* data plane: children in PENDING_DELETE are left out (the object
asked for is always converted, whatever its status). Pass ``include_pending_delete=True`` to
get the graph as stored, e.g. to describe what is being deleted.

Certificates are fetched through an injected ``cert_loader(ref, kind)``, ``kind`` being what
the field holding ``ref`` needs (``"bundle"``, ``"ca"`` or ``"crl"``, the values of
``statera.certs.RefKind``): a dict (``certificate``, ``private_key``, ``intermediates``,
``primary_cn``, ``passphrase``, ``id``) for server certificates, a PEM string (or a dict whose
``certificate`` is used) for CA and CRL references.
Without one, ``*_data`` fields stay Unset. A loader that raises makes the conversion raise:
serving a TLS listener without its certificate would break it. A loader that opens its own
database transaction must not run inside another one on SQLite (the second waits for the
first's write lock): build the models without it, then call ``fill_certificate_data`` after
the commit, as the get socket does.
"""

from __future__ import annotations

import copy
import inspect
import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from octavia_lib.api.drivers import data_models as dm
from octavia_lib.common import constants as lib_consts
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import Session, object_session

from statera.db import names
from statera.db.models import (
    AvailabilityZone,
    AvailabilityZoneProfile,
    Flavor,
    FlavorProfile,
    HealthMonitor,
    L7Policy,
    L7Rule,
    Listener,
    LoadBalancer,
    Member,
    Pool,
)

__all__ = [
    "CertLoader",
    "fill_certificate_data",
    "healthmonitor_model",
    "l7policy_model",
    "l7rule_model",
    "listener_model",
    "loadbalancer_model",
    "member_model",
    "pool_model",
]

#: ``cert_loader(ref, kind)``: certificate data for a reference held in a field that needs
#: ``kind`` ("bundle", "ca" or "crl"), or None if unknown.
CertLoader = Callable[[str, str], dict[str, Any] | str | None]


@dataclass(frozen=True)
class _Spec:
    model: type[Any]
    #: provider field -> ORM attribute, where the names differ.
    renames: Mapping[str, str]
    #: provider fields that are not columns; a ``_fill_*`` function sets them.
    computed: frozenset[str] = frozenset()


_COMMON = names.renamed("admin_state_up", "loadbalancer_id")

_SPECS: dict[type[Any], _Spec] = {
    LoadBalancer: _Spec(
        dm.LoadBalancer,
        {**_COMMON, "loadbalancer_id": "id"},
        frozenset({"listeners", "pools", "flavor", "availability_zone"}),
    ),
    Listener: _Spec(
        dm.Listener,
        {**_COMMON, "listener_id": "id"},
        frozenset({
            "default_pool", "default_pool_id", "l7policies", "default_tls_container_data",
            "sni_container_data", "client_ca_tls_container_data", "client_crl_container_data",
        }),
    ),
    Pool: _Spec(
        dm.Pool,
        {**_COMMON, "pool_id": "id"},
        frozenset({
            "healthmonitor", "members", "listener_id", "tls_container_data",
            "ca_tls_container_data", "crl_container_data",
        }),
    ),
    Member: _Spec(dm.Member, {**_COMMON, "member_id": "id"}),
    HealthMonitor: _Spec(
        dm.HealthMonitor,
        {
            **_COMMON,
            "healthmonitor_id": "id",
            **names.renamed("max_retries", "max_retries_down"),
        },
    ),
    L7Policy: _Spec(dm.L7Policy, {**_COMMON, "l7policy_id": "id"}, frozenset({"rules"})),
    L7Rule: _Spec(dm.L7Rule, {**_COMMON, "l7rule_id": "id"}),
}


_PLANS: dict[type[Any], tuple[tuple[str, str], ...]] = {}


def _plan(orm_class: type[Any]) -> tuple[tuple[str, str], ...]:
    """(provider field, ORM column) pairs copied verbatim for ``orm_class`` (memoised)."""
    plan = _PLANS.get(orm_class)
    if plan is None:
        plan = _PLANS[orm_class] = _make_plan(orm_class)
    return plan


def _make_plan(orm_class: type[Any]) -> tuple[tuple[str, str], ...]:
    spec = _SPECS[orm_class]
    columns = {attr.key for attr in sa_inspect(orm_class).column_attrs}
    fields = [name for name in inspect.signature(spec.model.__init__).parameters
              if name != "self"]
    plan = []
    for name in fields:
        if name in spec.computed:
            continue
        column = spec.renames.get(name, name)
        if column in columns:
            plan.append((name, column))
    return tuple(plan)


def _scalars(row: Any) -> dict[str, Any]:
    # Copies, so a driver that mutates a list or dict cannot alter the ORM's state.
    return {field: copy.deepcopy(getattr(row, column)) for field, column in _plan(type(row))}


@dataclass(frozen=True)
class _Options:
    include_pending_delete: bool

    def visible(self, row: Any) -> bool:
        return self.include_pending_delete or row.provisioning_status != lib_consts.PENDING_DELETE


# Public single-object functions ------------------------------------------------------------


def loadbalancer_model(
    row: LoadBalancer,
    graph: bool = True,
    *,
    cert_loader: CertLoader | None = None,
    include_pending_delete: bool = False,
) -> Any:
    """A ``LoadBalancer``; with ``graph``, its listeners and pools (each with their children)."""
    return _with_certificates(
        _loadbalancer(row, graph, _Options(include_pending_delete)), cert_loader
    )


def listener_model(
    row: Listener, *, cert_loader: CertLoader | None = None, include_pending_delete: bool = False
) -> Any:
    """A ``Listener`` with its default pool and L7 policies (with rules)."""
    return _with_certificates(_listener(row, _Options(include_pending_delete)), cert_loader)


def pool_model(
    row: Pool, *, cert_loader: CertLoader | None = None, include_pending_delete: bool = False
) -> Any:
    """A ``Pool`` with its members and health monitor."""
    return _with_certificates(_pool(row, _Options(include_pending_delete)), cert_loader)


def member_model(row: Member) -> Any:
    return dm.Member(**_scalars(row))


def healthmonitor_model(row: HealthMonitor) -> Any:
    return dm.HealthMonitor(**_scalars(row))


def l7policy_model(row: L7Policy, *, include_pending_delete: bool = False) -> Any:
    """An ``L7Policy`` with its rules."""
    return _l7policy(row, _Options(include_pending_delete))


def l7rule_model(row: L7Rule) -> Any:
    return dm.L7Rule(**_scalars(row))


# Builders ----------------------------------------------------------------------------------


def _loadbalancer(row: LoadBalancer, graph: bool, opts: _Options) -> Any:
    values = _scalars(row)
    session = object_session(row)
    if row.flavor_id and session is not None:
        values["flavor"] = _flavor_metadata(session, row.flavor_id)
    if row.availability_zone and session is not None:
        values["availability_zone"] = _az_metadata(session, row.availability_zone)
    if graph:
        values["listeners"] = [_listener(x, opts) for x in row.listeners if opts.visible(x)]
        values["pools"] = [_pool(x, opts) for x in row.pools if opts.visible(x)]
    return dm.LoadBalancer(**values)


def _listener(row: Listener, opts: _Options) -> Any:
    values = _scalars(row)
    pool = row.default_pool
    if pool is not None and opts.visible(pool):
        values["default_pool"] = _pool(pool, opts)
        values["default_pool_id"] = pool.id
    else:  # no pool, or one being deleted: the desired listener has no default pool
        values["default_pool"] = None
        values["default_pool_id"] = None
    values["l7policies"] = [_l7policy(x, opts) for x in row.l7policies if opts.visible(x)]
    return dm.Listener(**values)


def _pool(row: Pool, opts: _Options) -> Any:
    values = _scalars(row)
    values["members"] = [dm.Member(**_scalars(x)) for x in row.members if opts.visible(x)]
    hm = row.health_monitor
    values["healthmonitor"] = (
        dm.HealthMonitor(**_scalars(hm)) if hm is not None and opts.visible(hm) else None
    )
    # Octavia names the first listener using the pool as its default pool.
    values["listener_id"] = next(
        (x.id for x in row.load_balancer.listeners
         if x.default_pool_id == row.id and opts.visible(x)),
        None,
    )
    return dm.Pool(**values)


def _l7policy(row: L7Policy, opts: _Options) -> Any:
    values = _scalars(row)
    values["rules"] = [dm.L7Rule(**_scalars(x)) for x in row.rules if opts.visible(x)]
    return dm.L7Policy(**values)


# Certificates ------------------------------------------------------------------------------

#: Per model: (reference field, data field, kind). A "bundle" is a server certificate dict, a
#: "ca" or "crl" a PEM string; a list of references gives a list of bundles.
_CERT_FIELDS: dict[type[Any], tuple[tuple[str, str, str], ...]] = {
    dm.Listener: (
        ("default_tls_container_ref", "default_tls_container_data", "bundle"),
        ("sni_container_refs", "sni_container_data", "bundle"),
        ("client_ca_tls_container_ref", "client_ca_tls_container_data", "ca"),
        ("client_crl_container_ref", "client_crl_container_data", "crl"),
    ),
    dm.Pool: (
        ("tls_container_ref", "tls_container_data", "bundle"),
        ("ca_tls_container_ref", "ca_tls_container_data", "ca"),
        ("crl_container_ref", "crl_container_data", "crl"),
    ),
}


def fill_certificate_data(model: Any, cert_loader: CertLoader) -> Any:
    """Fill every ``*_data`` certificate field of ``model`` and its graph from its ``*_ref``.

    Works on built models, so it can run after the database transaction that built them: a
    loader that opens its own transaction (the local certificate store does) would otherwise
    wait on the lock SQLite gives the first one. Each reference is loaded once. Returns
    ``model``.
    """
    cache: dict[tuple[str, str], Any] = {}

    def load(ref: str, kind: str) -> Any:
        if (ref, kind) not in cache:
            cache[(ref, kind)] = cert_loader(ref, kind)
        return cache[(ref, kind)]

    for obj in _walk(model):
        for ref_field, data_field, kind in _CERT_FIELDS.get(type(obj), ()):
            refs = getattr(obj, ref_field)
            if not refs:
                continue
            if isinstance(refs, list):
                bundles = [_bundle(load(ref, kind), ref) for ref in refs]
                setattr(obj, data_field, [b for b in bundles if b is not dm.Unset])
            elif kind == "bundle":
                setattr(obj, data_field, _bundle(load(refs, kind), refs))
            else:
                setattr(obj, data_field, _pem(load(refs, kind)))
    return model


def _with_certificates(model: Any, cert_loader: CertLoader | None) -> Any:
    return model if cert_loader is None else fill_certificate_data(model, cert_loader)


def _walk(model: Any) -> Iterator[Any]:
    """Every model in a graph (a pool reachable twice is visited twice: two objects)."""
    yield model
    for child_field in ("listeners", "pools", "default_pool", "l7policies"):
        value = getattr(model, child_field, None)
        if isinstance(value, list):
            for item in value:
                yield from _walk(item)
        elif isinstance(value, dm.BaseDataModel):
            yield from _walk(value)


def _bundle(data: Any, ref: str) -> Any:
    """A server-certificate dict; a bare PEM from the loader becomes ``{"certificate": ...}``."""
    if data is None:
        return dm.Unset
    if isinstance(data, str):
        return {"certificate": data, "id": ref}
    return dict(data)


def _pem(data: Any) -> Any:
    """A CA or CRL PEM string; from a dict loader result, its ``certificate``."""
    if data is None:
        return dm.Unset
    if isinstance(data, dict):
        pem = data.get("certificate")
        return pem if isinstance(pem, str) else dm.Unset
    return data


def _flavor_metadata(session: Session, flavor_id: str) -> dict[str, Any]:
    flavor = session.get(Flavor, flavor_id)
    profile = session.get(FlavorProfile, flavor.flavor_profile_id) if flavor else None
    return _metadata(profile.flavor_data if profile else None, f"flavor {flavor_id}")


def _az_metadata(session: Session, name: str) -> dict[str, Any]:
    zone = session.get(AvailabilityZone, name)
    profile = (
        session.get(AvailabilityZoneProfile, zone.availability_zone_profile_id) if zone else None
    )
    return _metadata(
        profile.availability_zone_data if profile else None, f"availability zone {name}"
    )


def _metadata(text: str | None, what: str) -> dict[str, Any]:
    if not text:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"the profile of {what} does not hold JSON metadata: {exc}") from exc
    if not isinstance(value, dict):
        raise ValueError(f"the profile of {what} holds {type(value).__name__}, not an object")
    return value
