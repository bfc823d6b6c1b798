"""The served OpenAPI document, with the request bodies the handlers really parse.

Handlers take their body as untyped JSON and validate it themselves with the models of
:mod:`statera.controller.schemas` (so bad input gets Octavia's error body, never FastAPI's
422); FastAPI therefore cannot see what a POST or PUT expects. :data:`BODIES` says it, per
endpoint (the keys of :mod:`statera.api.access`), and :func:`document` writes it into the
generated document: ``{"<key>": <Model>}`` with the model's JSON schema under
``components/schemas``. Every POST and PUT route must have an entry (``None`` for those that
take no body); :func:`check_bodies` refuses an app with one missing, as
``access.check_routes`` does for access rules.

The collections of the load-balancer graph also declare their query parameters (every
attribute as an exact-match filter, typed as its column, plus Octavia's paging, sorting, field
and tag parameters), so a fuzzer or a client sees them too.

The document changes nothing at run time: the handlers still parse and answer as before.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue, models_json_schema
from pydantic_core import core_schema
from sqlalchemy import BigInteger, Boolean, DateTime, Float, Integer, String

from statera.api import access
from statera.api.certificates import CertificateUpload
from statera.api.listing import INT32, INT64, column_of
from statera.api.resources.common import list_spec
from statera.controller import schemas
from statera.db import models as m

REF = "#/components/schemas/{model}"
WRITE_METHODS = frozenset({"POST", "PUT"})

# endpoint -> (the body's single top-level key, or None for a bare object; its model), or None
BODIES: dict[str, tuple[str | None, type[BaseModel]] | None] = {
    "loadbalancers.create_loadbalancer": ("loadbalancer", schemas.LoadBalancerPost),
    "loadbalancers.update_loadbalancer": ("loadbalancer", schemas.LoadBalancerPut),
    "loadbalancers.failover": None,
    "listeners.create_listener": ("listener", schemas.ListenerPost),
    "listeners.update_listener": ("listener", schemas.ListenerPut),
    "pools.create_pool": ("pool", schemas.PoolPost),
    "pools.update_pool": ("pool", schemas.PoolPut),
    "members.create_member": ("member", schemas.MemberPost),
    "members.update_member": ("member", schemas.MemberPut),
    "members.batch_update_members": (None, schemas.MembersBatch),
    "healthmonitors.create_healthmonitor": ("healthmonitor", schemas.HealthMonitorPost),
    "healthmonitors.update_healthmonitor": ("healthmonitor", schemas.HealthMonitorPut),
    "l7policies.create_l7policy": ("l7policy", schemas.L7PolicyPost),
    "l7policies.update_l7policy": ("l7policy", schemas.L7PolicyPut),
    "l7rules.create_l7rule": ("rule", schemas.L7RulePost),
    "l7rules.update_l7rule": ("rule", schemas.L7RulePut),
    "flavors.create_flavor": ("flavor", schemas.FlavorPost),
    "flavors.update_flavor": ("flavor", schemas.FlavorPut),
    "flavorprofiles.create_flavorprofile": ("flavorprofile", schemas.FlavorProfilePost),
    "flavorprofiles.update_flavorprofile": ("flavorprofile", schemas.FlavorProfilePut),
    "availability_zones.create_az": ("availability_zone", schemas.AZPost),
    "availability_zones.update_az": ("availability_zone", schemas.AZPut),
    "availability_zone_profiles.create_az_profile": ("availability_zone_profile",
                                                     schemas.AZProfilePost),
    "availability_zone_profiles.update_az_profile": ("availability_zone_profile",
                                                     schemas.AZProfilePut),
    "quotas.update_quota": ("quota", schemas.QuotaPut),
    "amphorae.failover_amphora": None,
    "amphorae.configure_amphora": None,
    "certificates.create_certificate": ("certificate", CertificateUpload),
}


# list endpoint -> the model whose columns are its filters (Octavia: any attribute, exact match)
LIST_FILTERS: dict[str, tuple[type[Any], str]] = {
    "loadbalancers.list_loadbalancers": (m.LoadBalancer, "loadbalancers"),
    "listeners.list_listeners": (m.Listener, "listeners"),
    "pools.list_pools": (m.Pool, "pools"),
    "members.list_members": (m.Member, "members"),
    "healthmonitors.list_healthmonitors": (m.HealthMonitor, "healthmonitors"),
    "l7policies.list_l7policies": (m.L7Policy, "l7policies"),
    "l7rules.list_l7rules": (m.L7Rule, "rules"),
}
# Octavia's paging, sorting, field selection and tag queries, on every collection above.
LIST_PARAMS: dict[str, dict[str, Any]] = {
    "limit": {"type": "integer"},
    "marker": {"type": "string"},
    "page_reverse": {"type": "boolean"},
    "sort": {"type": "string", "description": "key[:asc|desc],..."},
    "sort_key": {"type": "string"},
    "sort_dir": {"type": "string", "enum": ["asc", "desc"]},
    "fields": {"type": "string"},
    "tags": {"type": "string"},
    "tags-any": {"type": "string"},
    "not-tags": {"type": "string"},
    "not-tags-any": {"type": "string"},
}


def _filter_schema(column: Any) -> dict[str, Any]:
    """A filter's JSON schema from its column: the type, and the range or length the column
    holds (what the API accepts; anything else is a 400)."""
    col_type = column_of(column).type
    if isinstance(col_type, Boolean):
        return {"type": "boolean"}
    if isinstance(col_type, Integer):
        low, high = INT64 if isinstance(col_type, BigInteger) else INT32
        return {"type": "integer", "minimum": low, "maximum": high}
    if isinstance(col_type, Float):
        return {"type": "number"}
    if isinstance(col_type, DateTime):
        return {"type": "string", "format": "date-time"}
    if isinstance(col_type, String) and col_type.length is not None:
        return {"type": "string", "maxLength": col_type.length}
    return {"type": "string"}


def _list_parameters(key: str) -> list[dict[str, Any]]:
    model, plural = LIST_FILTERS[key]
    spec = list_spec(model, plural)
    params = {name: _filter_schema(column) for name, column in spec.columns.items()}
    params.update(LIST_PARAMS)
    return [{"name": name, "in": "query", "required": False, "schema": schema}
            for name, schema in sorted(params.items())]


class _Formats(GenerateJsonSchema):
    """Say what the validators of :mod:`statera.controller.schemas` accept: a UUID, an IP address
    (so generators and clients produce values that can pass)."""

    def function_after_schema(
        self, schema: core_schema.AfterValidatorFunctionSchema
    ) -> JsonSchemaValue:
        inner = super().function_after_schema(schema)
        function = schema["function"].get("function")
        if function is schemas._uuid:
            return {**inner, "format": "uuid"}
        if function is schemas._ip:
            return {"anyOf": [{**inner, "format": "ipv4"}, {**inner, "format": "ipv6"}]}
        return inner


def check_bodies(app: FastAPI) -> None:
    """Refuse an app with a POST or PUT route whose body is not declared in :data:`BODIES`."""
    missing = sorted({f"{path} ({access.endpoint_key(endpoint)})"
                      for path, methods, endpoint in access.served_routes(app)
                      if methods & WRITE_METHODS and access.endpoint_key(endpoint) not in BODIES})
    if missing:
        raise RuntimeError(f"write routes without a body in statera.api.openapi: {missing}")


def _body_schema(key: str | None, model: type[BaseModel]) -> dict[str, Any]:
    ref = {"$ref": REF.format(model=model.__name__)}
    if key is None:
        return ref
    return {"type": "object", "properties": {key: ref}, "required": [key],
            "additionalProperties": False}


def document(app: FastAPI) -> dict[str, Any]:
    """FastAPI's document for ``app``, plus the request bodies, minus the 422 answers that the
    API never gives (Octavia answers bad input with 400)."""
    doc = get_openapi(title=app.title, version=app.version, routes=app.routes)
    models = sorted({spec[1] for spec in BODIES.values() if spec is not None},
                    key=lambda model: model.__name__)
    _, defs = models_json_schema([(model, "validation") for model in models],
                                 ref_template=REF, schema_generator=_Formats)
    components = doc.setdefault("components", {}).setdefault("schemas", {})
    components.update(defs.get("$defs", {}))
    for path, methods, endpoint in access.served_routes(app):
        item = doc["paths"].get(path)
        if item is None:
            continue
        for method in methods:
            operation = item.get(method.lower())
            if operation is None:
                continue
            operation.get("responses", {}).pop("422", None)
            key = access.endpoint_key(endpoint)
            if method == "GET" and key in LIST_FILTERS:
                operation["parameters"] = [*operation.get("parameters", []),
                                           *_list_parameters(key)]
            spec = BODIES.get(key)
            if method in WRITE_METHODS and spec is not None:
                operation["requestBody"] = {"required": True, "content": {
                    "application/json": {"schema": _body_schema(*spec)}}}
            elif method in WRITE_METHODS:
                operation.pop("requestBody", None)
    for unused in ("HTTPValidationError", "ValidationError"):
        components.pop(unused, None)
    return doc


def install(app: FastAPI) -> None:
    """Serve :func:`document` (built once, on first request) at the app's ``openapi_url``."""
    check_bodies(app)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
