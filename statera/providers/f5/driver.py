"""API side of the f5 provider: accept what AS3 can declare, refuse the rest with 501.

Creates and updates only validate; the core commits and hints, and the agent declares. The
checks are the declaration builder's own (``declaration``), applied to whichever fields a
request carries (``*_update(old, new)``: ``new`` holds only the changed fields), so the API
refuses up front what the agent could never declare.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from octavia_lib.api.drivers import data_models as dm
from octavia_lib.api.drivers import exceptions, provider_base

from statera.providers.f5 import declaration as decl
from statera.providers.f5.declaration import val


def unsupported(what: str) -> exceptions.UnsupportedOptionError:
    return exceptions.UnsupportedOptionError(
        user_fault_string=f"The f5 provider does not support {what}.",
        operator_fault_string=f"f5 provider: unsupported option: {what}",
    )


def _checked(check: Callable[[], Any]) -> None:
    try:
        check()
    except decl.DeclarationError as exc:
        raise unsupported(str(exc)) from None


def check_listener(listener: Any) -> None:
    protocol = val(getattr(listener, "protocol", None))
    if protocol is not None and protocol not in decl.SERVICE_CLASSES:
        raise unsupported(f"{protocol} listeners")
    _checked(lambda: decl.check_allowed_cidrs(val(getattr(listener, "allowed_cidrs", None), [])
                                              or []))
    headers = val(getattr(listener, "insert_headers", None), {}) or {}
    _checked(lambda: decl.http_profile("x", headers, {}))
    if val(getattr(listener, "client_crl_container_ref", None)):
        raise unsupported("client certificate revocation lists")
    for policy in val(getattr(listener, "l7policies", None), []) or []:
        if protocol is not None and protocol not in decl.L7_CAPABLE:
            raise unsupported(f"L7 policies on {protocol} listeners")
        check_l7policy(policy)


def check_pool(pool: Any) -> None:
    protocol = val(getattr(pool, "protocol", None))
    if protocol is not None and protocol not in decl.POOL_PROTOCOLS:
        raise unsupported(f"{protocol} pools")
    algorithm = val(getattr(pool, "lb_algorithm", None))
    if algorithm is not None and algorithm not in decl.ALGORITHMS:
        raise unsupported(f"the {algorithm} algorithm")
    persistence = val(getattr(pool, "session_persistence", None))
    if persistence:
        probe = dm.Pool(pool_id="probe", session_persistence=persistence)
        _checked(lambda: (decl.persistence_methods(probe), decl.persist_objects(probe)))
    if val(getattr(pool, "crl_container_ref", None)):
        raise unsupported("member certificate revocation lists")
    monitor = val(getattr(pool, "healthmonitor", None))
    if monitor is not None:
        check_monitor(monitor)
    for member in val(getattr(pool, "members", None), []) or []:
        check_member(member)


def check_member(member: Any) -> None:
    if val(getattr(member, "monitor_address", None)) or val(getattr(member, "monitor_port",
                                                                    None)):
        raise unsupported("member monitor_address/monitor_port")


def check_monitor(monitor: Any) -> None:
    kind = val(getattr(monitor, "type", None))
    if kind is not None and kind not in decl.MONITOR_TYPES:
        raise unsupported(f"{kind} health monitors")
    version = val(getattr(monitor, "http_version", None))
    if version is not None and str(version) not in ("1.0", "1.1"):
        raise unsupported(f"HTTP/{version} health checks")


def check_l7policy(policy: Any) -> None:
    action = val(getattr(policy, "action", None))
    if action is not None and action not in decl.L7_ACTIONS:
        raise unsupported(f"the L7 action {action}")
    for rule in val(getattr(policy, "rules", None), []) or []:
        check_l7rule(rule)


def check_l7rule(rule: Any) -> None:
    kind = val(getattr(rule, "type", None))
    if kind is not None and kind not in decl.L7_RULE_TYPES:
        raise unsupported(f"{kind} L7 rules")
    compare = val(getattr(rule, "compare_type", None))
    if compare is not None and compare not in decl.COMPARE:
        raise unsupported(f"the {compare} comparison in L7 rules")


def check_loadbalancer(lb: Any) -> None:
    for listener in val(getattr(lb, "listeners", None), []) or []:
        check_listener(listener)
    for pool in val(getattr(lb, "pools", None), []) or []:
        check_pool(pool)
    if val(getattr(lb, "flavor", None)):
        raise unsupported("flavors")


class F5ProviderDriver(provider_base.ProviderDriver):  # type: ignore[misc]
    def __init__(self) -> None:
        super().__init__()

    def create_vip_port(self, loadbalancer_id: str, project_id: str,
                        vip_dictionary: dict[str, Any],
                        additional_vip_dicts: list[dict[str, Any]]) -> Any:
        raise NotImplementedError()  # the core's network driver allocates VIPs

    def loadbalancer_create(self, loadbalancer: dm.LoadBalancer) -> None:
        check_loadbalancer(loadbalancer)

    def loadbalancer_update(self, old_loadbalancer: dm.LoadBalancer,
                            new_loadbalancer: dm.LoadBalancer) -> None:
        check_loadbalancer(new_loadbalancer)

    def loadbalancer_delete(self, loadbalancer: dm.LoadBalancer, cascade: bool = False) -> None:
        return None

    def loadbalancer_failover(self, loadbalancer_id: str) -> None:
        return None  # the device is the data plane: a failover is a redeclaration

    def listener_create(self, listener: dm.Listener) -> None:
        check_listener(listener)

    def listener_update(self, old_listener: dm.Listener, new_listener: dm.Listener) -> None:
        check_listener(new_listener)

    def listener_delete(self, listener: dm.Listener) -> None:
        return None

    def pool_create(self, pool: dm.Pool) -> None:
        check_pool(pool)

    def pool_update(self, old_pool: dm.Pool, new_pool: dm.Pool) -> None:
        check_pool(new_pool)

    def pool_delete(self, pool: dm.Pool) -> None:
        return None

    def member_create(self, member: dm.Member) -> None:
        check_member(member)

    def member_update(self, old_member: dm.Member, new_member: dm.Member) -> None:
        check_member(new_member)

    def member_delete(self, member: dm.Member) -> None:
        return None

    def member_batch_update(self, pool_id: str, members: list[dm.Member]) -> None:
        for member in members:
            check_member(member)

    def health_monitor_create(self, healthmonitor: dm.HealthMonitor) -> None:
        check_monitor(healthmonitor)

    def health_monitor_update(self, old_healthmonitor: dm.HealthMonitor,
                              new_healthmonitor: dm.HealthMonitor) -> None:
        check_monitor(new_healthmonitor)

    def health_monitor_delete(self, healthmonitor: dm.HealthMonitor) -> None:
        return None

    def l7policy_create(self, l7policy: dm.L7Policy) -> None:
        check_l7policy(l7policy)

    def l7policy_update(self, old_l7policy: dm.L7Policy, new_l7policy: dm.L7Policy) -> None:
        check_l7policy(new_l7policy)

    def l7policy_delete(self, l7policy: dm.L7Policy) -> None:
        return None

    def l7rule_create(self, l7rule: dm.L7Rule) -> None:
        check_l7rule(l7rule)

    def l7rule_update(self, old_l7rule: dm.L7Rule, new_l7rule: dm.L7Rule) -> None:
        check_l7rule(new_l7rule)

    def l7rule_delete(self, l7rule: dm.L7Rule) -> None:
        return None

    def get_supported_flavor_metadata(self) -> dict[str, str]:
        return {}

    def validate_flavor(self, flavor_metadata: dict[str, Any]) -> None:
        if flavor_metadata:
            raise unsupported(f"flavor options {sorted(flavor_metadata)}")

    def get_supported_availability_zone_metadata(self) -> dict[str, str]:
        return {}

    def validate_availability_zone(self, availability_zone_metadata: dict[str, Any]) -> None:
        if availability_zone_metadata:
            raise unsupported(
                f"availability zone options {sorted(availability_zone_metadata)}")
