"""The read-only subset of Neutron's API that the openstack CLI and openstacksdk call.

``openstack loadbalancer create --vip-subnet-id X`` resolves X through the network endpoint
(``GET /v2.0/subnets?id=X``, or ``?name=X`` for a non-UUID) before it talks to the
load-balancer API; with ``network_endpoint_override`` pointing at Statera, these routes answer
from the configured network driver. Only reads exist: networks and subnets are configuration,
ports are created by VIP allocation. ``GET /`` (version discovery) is served by the API core,
which answers for both services with one document.

Query semantics follow Neutron: every non-reserved query key is an exact-match filter on a
top-level attribute (repeat a key to accept any of several values; an unknown attribute is a
400), ``fields`` (repeated or comma-separated) selects attributes, ``sort_key``/``sort_dir``
sort, ``limit``/``marker`` page with a ``<collection>_links`` next link. A ``?id=`` filter is
answered through the driver's look-up by id, so the noop driver, which lists nothing, still
resolves any id.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from statera.network.base import InvalidSubresource, NetworkDriver
from statera.network.neutron_shapes import NETWORK_FIELDS, PORT_FIELDS, SUBNET_FIELDS

SessionFactory = Callable[[], AbstractContextManager[Session]]

# Query keys that are not attribute filters.
_RESERVED = frozenset({"fields", "limit", "marker", "sort_key", "sort_dir", "page_reverse"})
_TAG_FILTERS = frozenset({"tags", "tags-any", "not-tags", "not-tags-any"})

# resource -> (Neutron NotFound type, message template)
_NOT_FOUND = {
    "network": ("NetworkNotFound", "Network {id} could not be found."),
    "subnet": ("SubnetNotFound", "Subnet {id} could not be found."),
    "port": ("PortNotFound", "Port {id} could not be found."),
    "policy": ("QosPolicyNotFound", "QoS policy {id} could not be found."),
    "security_group": ("SecurityGroupNotFound", "Security group {id} does not exist"),
    "security_group_rule": ("SecurityGroupRuleNotFound",
                            "Security group rule {id} does not exist"),
    "floatingip": ("FloatingIPNotFound", "Floating IP {id} could not be found"),
}

# Neutron resources Statera has none of, answered with Neutron's empty shapes: the CLI,
# Ansible's openstack.cloud and Terraform look them up around a load balancer (its VIP's
# floating IP, the security groups of its port, a QoS policy). Each: path, collection key,
# single key, the attributes a filter may name.
_COMMON = ("id", "tenant_id", "project_id", "description", "created_at", "updated_at",
           "revision_number", "tags")
_EMPTY = (
    ("/v2.0/floatingips", "floatingips", "floatingip", frozenset((
        *_COMMON, "floating_ip_address", "floating_network_id", "router_id", "port_id",
        "fixed_ip_address", "status", "dns_domain", "dns_name", "port_details",
        "qos_policy_id", "port_forwardings"))),
    ("/v2.0/security-groups", "security_groups", "security_group", frozenset((
        *_COMMON, "name", "security_group_rules", "stateful", "shared"))),
    ("/v2.0/security-group-rules", "security_group_rules", "security_group_rule", frozenset((
        *_COMMON, "security_group_id", "remote_group_id", "direction", "remote_ip_prefix",
        "protocol", "ethertype", "port_range_max", "port_range_min",
        "remote_address_group_id", "normalized_cidr", "belongs_to_default_sg"))),
    ("/v2.0/qos/policies", "policies", "policy", frozenset((
        *_COMMON, "name", "shared", "rules", "is_default"))),
)


class _QueryError(Exception):
    pass


def neutron_error(status: int, type_: str, message: str) -> JSONResponse:
    """Neutron's error body: ``{"NeutronError": {"type", "message", "detail"}}``."""
    return JSONResponse(
        {"NeutronError": {"type": type_, "message": message, "detail": ""}}, status_code=status
    )


def neutron_router(
    get_driver: Callable[[], NetworkDriver],
    get_session: SessionFactory,
    sees_project: Callable[[Request, str | None], bool] | None = None,
) -> APIRouter:
    """Routes for ``/v2.0/{networks,subnets,ports}[/{id}]``, the empty ``floatingips``,
    ``security-groups``, ``security-group-rules`` and ``qos/policies``, and ``extensions``.

    ``get_driver`` returns the network driver (called per request, so a test can swap it);
    ``get_session`` opens a session in a transaction, as ``Database.session`` does;
    ``sees_project(request, project_id)`` says whether the caller may see a port of that
    project (Neutron's rule: admins every port, others their own project's; another project's
    port is a 404, as if missing; None: every caller sees every port). Networks and subnets are
    shared configuration, visible to all. None of these is a FastAPI dependency, so the router
    works in any app the core builds.
    """
    router = APIRouter(tags=["neutron"])

    def network_lister(ids: list[str] | None) -> list[dict[str, Any]]:
        driver = get_driver()
        if ids is not None:
            return _by_ids(driver.get_network, ids)
        return driver.list_networks()

    def subnet_lister(ids: list[str] | None) -> list[dict[str, Any]]:
        driver = get_driver()
        if ids is not None:
            return _by_ids(driver.get_subnet, ids)
        return driver.list_subnets()

    def visible(request: Request, port: dict[str, Any]) -> bool:
        return sees_project is None or sees_project(request, port.get("project_id") or None)

    def port_lister(request: Request) -> Callable[[list[str] | None], list[dict[str, Any]]]:
        def lister(ids: list[str] | None) -> list[dict[str, Any]]:
            driver = get_driver()
            with get_session() as session:
                if ids is not None:
                    ports = _by_ids(lambda port_id: driver.get_port(session, port_id), ids)
                else:
                    ports = driver.list_ports(session)
            return [port for port in ports if visible(request, port)]

        return lister

    @router.get("/v2.0/networks")
    def list_networks(request: Request) -> JSONResponse:
        return _collection(request, "networks", NETWORK_FIELDS, network_lister)

    @router.get("/v2.0/networks/{network_id}")
    def show_network(network_id: str, request: Request) -> JSONResponse:
        return _single(request, "network", lambda: get_driver().get_network(network_id))

    @router.get("/v2.0/subnets")
    def list_subnets(request: Request) -> JSONResponse:
        return _collection(request, "subnets", SUBNET_FIELDS, subnet_lister)

    @router.get("/v2.0/subnets/{subnet_id}")
    def show_subnet(subnet_id: str, request: Request) -> JSONResponse:
        return _single(request, "subnet", lambda: get_driver().get_subnet(subnet_id))

    @router.get("/v2.0/ports")
    def list_ports(request: Request) -> JSONResponse:
        return _collection(request, "ports", PORT_FIELDS, port_lister(request))

    @router.get("/v2.0/ports/{port_id}")
    def show_port(port_id: str, request: Request) -> JSONResponse:
        def fetch() -> dict[str, Any]:
            with get_session() as session:
                port = get_driver().get_port(session, port_id)
            if not visible(request, port):
                raise InvalidSubresource("Port", port_id)
            return port

        return _single(request, "port", fetch)

    # Statera has no QoS policies or security groups; the CLI only looks them up, and an empty
    # answer makes it report "No QosPolicy found for X" before the load-balancer call.
    def nothing(_ids: list[str] | None) -> list[dict[str, Any]]:
        return []

    for path, collection, single, known in _EMPTY:
        _add_empty(router, path, collection, single, known, nothing)

    @router.get("/v2.0/extensions")
    def list_extensions() -> JSONResponse:
        """No Neutron extension: tools that probe for one (floating IPs, QoS) find none."""
        return JSONResponse({"extensions": []})

    return router


def _add_empty(router: APIRouter, path: str, collection: str, single: str,
               known: frozenset[str],
               nothing: Callable[[list[str] | None], list[dict[str, Any]]]) -> None:
    """List (Neutron's filters, fields, sorting: an unknown filter is still a 400) and show
    (404) routes for a Neutron resource of which Statera has none."""

    def list_all(request: Request) -> JSONResponse:
        return _collection(request, collection, known, nothing)

    def show(item_id: str) -> JSONResponse:
        return _not_found(single, item_id)

    # Route names (and the access rules keyed by them) from the path: list_qos_policies,
    # show_qos_policy, list_floatingips, ...
    plural = path.removeprefix("/v2.0/").replace("/", "_").replace("-", "_")
    list_all.__name__ = f"list_{plural}"
    show.__name__ = f"show_{_singular(plural)}"
    router.add_api_route(path, list_all, methods=["GET"])
    router.add_api_route(f"{path}/{{item_id}}", show, methods=["GET"])


def _singular(plural: str) -> str:
    return plural[:-3] + "y" if plural.endswith("ies") else plural.removesuffix("s")


def _by_ids(get: Callable[[str], dict[str, Any]], ids: list[str]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for item_id in dict.fromkeys(ids):
        try:
            found.append(get(item_id))
        except InvalidSubresource:
            continue
    return found


def _not_found(resource: str, item_id: str) -> JSONResponse:
    type_, template = _NOT_FOUND[resource]
    return neutron_error(404, type_, template.format(id=item_id))


def _single(request: Request, resource: str, fetch: Callable[[], dict[str, Any]]) -> JSONResponse:
    try:
        item = fetch()
    except InvalidSubresource as exc:
        return _not_found(resource, exc.id)
    fields = _fields(request)
    return JSONResponse({resource: _select(item, fields)})


def _collection(
    request: Request,
    collection: str,
    known: frozenset[str],
    lister: Callable[[list[str] | None], list[dict[str, Any]]],
) -> JSONResponse:
    query = _multi(request)
    try:
        filters = {k: v for k, v in query.items() if k not in _RESERVED and k not in _TAG_FILTERS}
        unknown = sorted(k for k in filters if k not in known)
        if unknown:
            raise _QueryError(f"{unknown} is invalid attribute for filtering")
        items = lister(filters.get("id"))
        items = [item for item in items if _matches(item, filters, query)]
        items = _sorted(items, query, known)
        items, links = _paginate(request, collection, items, query)
    except _QueryError as exc:
        return neutron_error(400, "HTTPBadRequest", str(exc))
    fields = _fields(request)
    body: dict[str, Any] = {collection: [_select(item, fields) for item in items]}
    if links:
        body[f"{collection}_links"] = links
    return JSONResponse(body)


def _multi(request: Request) -> dict[str, list[str]]:
    query: dict[str, list[str]] = {}
    for key, value in request.query_params.multi_items():
        query.setdefault(key, []).append(value)
    return query


def _fields(request: Request) -> list[str]:
    fields: list[str] = []
    for value in request.query_params.getlist("fields"):
        fields.extend(f.strip() for f in value.split(",") if f.strip())
    return fields


def _select(item: dict[str, Any], fields: list[str]) -> dict[str, Any]:
    if not fields:
        return item
    return {key: item[key] for key in fields if key in item}


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _matches(
    item: dict[str, Any], filters: dict[str, list[str]], query: dict[str, list[str]]
) -> bool:
    for key, wanted in filters.items():
        value = item.get(key)
        if key == "fixed_ips":
            if not _fixed_ips_match(value or [], wanted):
                return False
            continue
        if isinstance(value, list):
            if not {_text(v) for v in value} & set(wanted):
                return False
            continue
        if isinstance(value, bool):
            if _text(value) not in {w.lower() for w in wanted}:
                return False
            continue
        if _text(value) not in wanted:
            return False
    # Nothing here carries tags: "has these tags" matches nothing, "lacks them" everything.
    return not any(query.get(key) for key in ("tags", "tags-any"))


def _fixed_ips_match(fixed_ips: Iterable[dict[str, Any]], wanted: list[str]) -> bool:
    """``fixed_ips=ip_address=1.2.3.4`` / ``fixed_ips=subnet_id=X`` (all must match)."""
    for condition in wanted:
        key, sep, expected = condition.partition("=")
        if not sep or key not in ("ip_address", "subnet_id", "ip_address_substr"):
            raise _QueryError(f"Invalid fixed_ips filter {condition!r}")
        if key == "ip_address_substr":
            ok = any(expected in str(ip.get("ip_address", "")) for ip in fixed_ips)
        else:
            ok = any(str(ip.get(key, "")) == expected for ip in fixed_ips)
        if not ok:
            return False
    return True


def _sorted(
    items: list[dict[str, Any]], query: dict[str, list[str]], known: frozenset[str]
) -> list[dict[str, Any]]:
    keys = [k for value in query.get("sort_key", []) for k in value.split(",") if k]
    dirs = [d for value in query.get("sort_dir", []) for d in value.split(",") if d]
    for position in range(len(keys) - 1, -1, -1):  # last key first: sorts are stable
        key = keys[position]
        direction = dirs[position] if position < len(dirs) else "asc"
        if key not in known:
            raise _QueryError(f"{key} is invalid attribute for sort_keys")
        if direction not in ("asc", "desc"):
            raise _QueryError(f"{direction} is invalid value for sort_dirs")
        items = sorted(
            items,
            key=lambda item: (item.get(key) is not None, _text(item.get(key))),
            reverse=direction == "desc",
        )
    return items


def _paginate(
    request: Request, collection: str, items: list[dict[str, Any]], query: dict[str, list[str]]
) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    limit_text = (query.get("limit") or [""])[-1]
    marker = (query.get("marker") or [""])[-1]
    if marker:
        ids = [item.get("id") for item in items]
        if marker not in ids:
            raise _QueryError(f"Marker {marker} could not be found")
        items = items[ids.index(marker) + 1 :]
    if not limit_text:
        return items, []
    try:
        limit = int(limit_text)
    except ValueError:
        raise _QueryError(f"Invalid value for limit: {limit_text!r}") from None
    if limit <= 0:
        return items, []
    page = items[:limit]
    links: list[dict[str, str]] = []
    if len(items) > limit:
        params = [(k, v) for k, vs in query.items() if k != "marker" for v in vs]
        params.append(("marker", str(page[-1]["id"])))
        href = f"{str(request.url).split('?', 1)[0]}?{urlencode(params)}"
        links.append({"rel": "next", "href": href})
    return page, links
