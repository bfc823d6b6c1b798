"""Who may call each route: one declared rule per endpoint, checked before the handler runs.

Every route the app serves has a :class:`Rule` in :data:`RULES`, keyed by its endpoint
(``module.function``, the same for every prefix a router is mounted under). ``create_app``
calls :func:`check_routes`, which refuses to build an app that serves a route without a rule,
so a new route cannot go out without a decision about who may call it; the route-walking tests
in tests/api/test_access.py read this table to know what each caller must get.

The kinds of rule:

- ``public``: anyone, even without an identity (version discovery ``GET /``, the OpenAPI
  document): what keystonemiddleware in front of Octavia and Neutron leaves open.
- ``authenticated``: any caller with an identity; what it returns belongs to no project (the
  configured networks and subnets, which are shared; the empty QoS and security-group lists).
- ``octavia``: an identity, then Octavia's rule ``policy``, which the handler checks against
  the object's project once it has found the object (so a missing object stays a 404, as in
  Octavia, and another project's is a 403).
- ``read`` / ``write``: Octavia's ``load-balancer:read`` (``write``: ``load-balancer:write``)
  on the caller's own project, checked here; the handler answers only the caller's own
  project's objects (another project's is a 404, as Neutron and Barbican answer).

Every decision is the policy's (:class:`statera.api.policy.Policy`, oslo.policy with Octavia's
rules and the operator's policy file); :func:`check_routes` also refuses a rule name the policy
does not define. A caller without an identity gets 401 with keystonemiddleware's body, what a
request without a token gets in front of both services (under ``keystone``, keystonemiddleware
itself answers it before the app). Under ``noauth`` every caller is admin, so nothing here
refuses anything.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

import fastapi.routing
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from statera.api.errors import Forbidden
from statera.api.policy import Policy, identity, unregistered

Kind = Literal["public", "authenticated", "octavia", "read", "write"]
READ_METHODS = frozenset({"GET", "HEAD"})


@dataclass(frozen=True)
class Rule:
    kind: Kind
    policy: str = ""  # Octavia's rule name, for kind "octavia"

    @property
    def reads(self) -> bool:
        """True for a rule that only reads (Octavia's ``get_*`` actions, ``read``)."""
        if self.kind == "octavia":
            return self.policy.rsplit(":", 1)[-1].startswith("get")
        return self.kind != "write"


PUBLIC = Rule("public")
AUTHENTICATED = Rule("authenticated")
READ = Rule("read")
WRITE = Rule("write")


def octavia(obj_type: str, action: str) -> Rule:
    return Rule("octavia", f"os_load-balancer_api:{obj_type}:{action}")


def _crud(module: str, obj_type: str, single: str, plural: str) -> dict[str, Rule]:
    return {
        f"{module}.list_{plural}": octavia(obj_type, "get_all"),
        f"{module}.show_{single}": octavia(obj_type, "get_one"),
        f"{module}.create_{single}": octavia(obj_type, "post"),
        f"{module}.update_{single}": octavia(obj_type, "put"),
        f"{module}.delete_{single}": octavia(obj_type, "delete"),
    }


RULES: dict[str, Rule] = {
    # Version discovery and the API description.
    "app.root": PUBLIC,
    "fastapi.applications.openapi": PUBLIC,
    "app.v2": AUTHENTICATED,
    # Octavia's load-balancer API.
    **_crud("loadbalancers", "loadbalancer", "loadbalancer", "loadbalancers"),
    "loadbalancers.status_tree": octavia("loadbalancer", "get_status"),
    "loadbalancers.lb_stats": octavia("loadbalancer", "get_stats"),
    "loadbalancers.failover": octavia("loadbalancer", "put_failover"),
    **_crud("listeners", "listener", "listener", "listeners"),
    "listeners.listener_stats": octavia("listener", "get_stats"),
    **_crud("pools", "pool", "pool", "pools"),
    **_crud("members", "member", "member", "members"),
    "members.batch_update_members": octavia("member", "put"),
    **_crud("healthmonitors", "healthmonitor", "healthmonitor", "healthmonitors"),
    **_crud("l7policies", "l7policy", "l7policy", "l7policies"),
    **_crud("l7rules", "l7rule", "l7rule", "l7rules"),
    **_crud("flavors", "flavor", "flavor", "flavors"),
    **_crud("flavorprofiles", "flavor-profile", "flavorprofile", "flavorprofiles"),
    **_crud("availability_zones", "availability-zone", "az", "azs"),
    **_crud("availability_zone_profiles", "availability-zone-profile", "az_profile",
            "az_profiles"),
    "quotas.list_quotas": octavia("quota", "get_all"),
    "quotas.show_global_defaults": octavia("quota", "get_defaults"),
    "quotas.show_quota": octavia("quota", "get_one"),
    "quotas.show_default_quota": octavia("quota", "get_defaults"),
    "quotas.update_quota": octavia("quota", "put"),
    "quotas.delete_quota": octavia("quota", "delete"),
    "providers.list_providers": octavia("provider", "get_all"),
    "providers.flavor_capabilities": octavia("provider-flavor", "get_all"),
    "providers.availability_zone_capabilities": octavia("provider-availability-zone",
                                                         "get_all"),
    # Octavia's admin API.
    "amphorae.list_amphorae": octavia("amphora", "get_all"),
    "amphorae.show_amphora": octavia("amphora", "get_one"),
    "amphorae.amphora_stats": octavia("amphora", "get_stats"),
    "amphorae.failover_amphora": octavia("amphora", "put_failover"),
    "amphorae.configure_amphora": octavia("amphora", "put_config"),
    "amphorae.delete_amphora": octavia("amphora", "delete"),
    # The Keystone look-up the CLI makes for --project.
    "app.keystone_project": AUTHENTICATED,
    # The Neutron read-only subset: networks and subnets are shared configuration; ports belong
    # to the project of their load balancer.
    "neutron.list_networks": AUTHENTICATED,
    "neutron.show_network": AUTHENTICATED,
    "neutron.list_subnets": AUTHENTICATED,
    "neutron.show_subnet": AUTHENTICATED,
    "neutron.list_ports": AUTHENTICATED,  # each port filtered by Identity.sees_project
    "neutron.show_port": AUTHENTICATED,
    "neutron.list_qos_policies": AUTHENTICATED,
    "neutron.show_qos_policy": AUTHENTICATED,
    "neutron.list_security_groups": AUTHENTICATED,
    "neutron.show_security_group": AUTHENTICATED,
    # Statera's agent hosts (admin only, as the amphorae).
    "hosts.list_hosts": octavia("agent-host", "get_all"),
    "hosts.show_host": octavia("agent-host", "get_one"),

    "neutron.list_security_group_rules": AUTHENTICATED,
    "neutron.show_security_group_rule": AUTHENTICATED,
    "neutron.list_floatingips": AUTHENTICATED,
    "neutron.show_floatingip": AUTHENTICATED,
    "neutron.list_extensions": AUTHENTICATED,
    # Statera's certificate store (the caller's own project only).
    "certificates.list_certificates": READ,
    "certificates.show_certificate": READ,
    "certificates.create_certificate": WRITE,
    "certificates.delete_certificate": WRITE,
}


def endpoint_key(endpoint: Callable[..., Any]) -> str:
    """``module.function`` of an endpoint, without the ``statera.api(.resources).`` prefix."""
    module = endpoint.__module__
    for prefix in ("statera.api.resources.", "statera.api."):
        module = module.removeprefix(prefix)
    return f"{module}.{endpoint.__name__}"


def served_routes(app: FastAPI) -> Iterator[tuple[str, frozenset[str], Callable[..., Any]]]:
    """(path, methods, endpoint) of every route the app serves, each prefix on its own: from
    the router's own table, so nothing served can be missed."""
    walk = getattr(fastapi.routing, "iter_route_contexts", None)
    routes: Any = walk(app.routes) if walk is not None else app.routes
    for route in routes:
        endpoint = getattr(route, "endpoint", None)
        if endpoint is None:
            continue
        yield str(route.path), frozenset(route.methods or ()), endpoint


def check_routes(app: FastAPI, policy: Policy | None = None) -> None:
    """Refuse an app that serves a route without a rule in :data:`RULES`, or whose rule
    names a policy rule that ``policy`` (default: Octavia's rules) does not define."""
    missing = sorted({f"{path} ({endpoint_key(endpoint)})"
                      for path, _methods, endpoint in served_routes(app)
                      if endpoint_key(endpoint) not in RULES})
    if missing:
        raise RuntimeError(f"routes without an access rule in statera.api.access: {missing}")
    undefined = unregistered({rule.policy for rule in RULES.values() if rule.policy},
                             policy or Policy())
    if undefined:
        raise RuntimeError(f"access rules name undefined policy rules: {undefined}")


def public_paths(app: FastAPI) -> frozenset[str]:
    """The paths of the routes anyone may call (no token needed in front of them)."""
    return frozenset(path for path, _methods, endpoint in served_routes(app)
                     if RULES.get(endpoint_key(endpoint)) == PUBLIC)


class Unauthenticated(Exception):
    """A request without an identity on a route that needs one."""


def unauthenticated_response(uri: str = "/v3") -> JSONResponse:
    """keystonemiddleware's answer to a request without a valid token."""
    return JSONResponse(
        {"error": {"code": 401, "title": "Unauthorized",
                   "message": "The request you have made requires authentication."}},
        status_code=401, headers={"WWW-Authenticate": f'Keystone uri="{uri}"'},
    )


def enforce(request: Request) -> None:
    """The app-wide dependency: the matched route's rule, before its handler runs."""
    route = request.scope.get("route")
    endpoint = getattr(route, "endpoint", None)
    rule = RULES.get(endpoint_key(endpoint)) if endpoint is not None else None
    if rule is None:  # check_routes makes this unreachable; refuse rather than serve
        raise Forbidden()
    if rule.kind == "public":
        return
    ident = identity(request, request.app.state.services.settings)
    if not ident.authenticated:
        raise Unauthenticated()
    if rule.kind == "read" and not ident.may_read():
        raise Forbidden()
    if rule.kind == "write" and not ident.may_write():
        raise Forbidden()


def install(app: FastAPI) -> None:
    """Answer :class:`Unauthenticated` as keystonemiddleware does."""

    @app.exception_handler(Unauthenticated)
    async def _unauthenticated(req: Request, _exc: Unauthenticated) -> JSONResponse:
        options = req.app.state.services.settings.keystone_authtoken
        return unauthenticated_response(str(options.get("www_authenticate_uri", "/v3")))
