"""API side of the HAProxy provider: accept what HAProxy can carry, refuse the rest with 501.

Every create/update only validates; the core commits and publishes the convergence hint, and
the agent does the work. Validation is about capability (UDP and SCTP need LVS, not HAProxy),
not syntax: the API edge validates values, and the renderer quotes them again regardless.
For ``*_update(old, new)`` ``new`` carries only the changed fields (the rest are ``Unset``), so
each check looks at whichever object says something.
"""

from __future__ import annotations

from typing import Any

from octavia_lib.api.drivers import data_models as dm
from octavia_lib.api.drivers import exceptions, provider_base

from statera.providers.haproxy.view import ALGORITHMS, LISTENER_MODES, val

POOL_PROTOCOLS = {"HTTP", "HTTPS", "TCP", "PROXY", "PROXYV2"}
MONITOR_TYPES = {"HTTP", "HTTPS", "TCP", "TLS-HELLO", "PING"}
FLAVOR_METADATA = {
    "nbthread": "HAProxy threads of the load balancer's process (integer 1-64, default 1).",
    "maxconn": "Upper bound of the process's global maxconn (integer >= 1; also capped by the "
               "host's file-descriptor limit).",
}


def unsupported(what: str) -> exceptions.UnsupportedOptionError:
    return exceptions.UnsupportedOptionError(
        user_fault_string=f"The haproxy provider does not support {what}.",
        operator_fault_string=f"haproxy provider: unsupported option: {what}",
    )


def check_listener(listener: Any) -> None:
    protocol = val(getattr(listener, "protocol", None))
    if protocol is not None and protocol not in LISTENER_MODES:
        raise unsupported(f"{protocol} listeners")


def check_pool(pool: Any) -> None:
    protocol = val(getattr(pool, "protocol", None))
    if protocol is not None and protocol not in POOL_PROTOCOLS:
        raise unsupported(f"{protocol} pools")
    algorithm = val(getattr(pool, "lb_algorithm", None))
    if algorithm is not None and algorithm not in ALGORITHMS:
        raise unsupported(f"the {algorithm} algorithm")
    monitor = val(getattr(pool, "healthmonitor", None))
    if monitor is not None:
        check_monitor(monitor)
    persistence = val(getattr(pool, "session_persistence", None))
    if persistence:
        kind = persistence.get("type") if isinstance(persistence, dict) else None
        if kind not in ("SOURCE_IP", "HTTP_COOKIE", "APP_COOKIE"):
            raise unsupported(f"session persistence {kind!r}")


def check_monitor(monitor: Any) -> None:
    kind = val(getattr(monitor, "type", None))
    if kind is not None and kind not in MONITOR_TYPES:
        raise unsupported(f"{kind} health monitors")


def check_loadbalancer(lb: Any) -> None:
    for listener in val(getattr(lb, "listeners", None), []) or []:
        check_listener(listener)
    for pool in val(getattr(lb, "pools", None), []) or []:
        check_pool(pool)
    flavor = val(getattr(lb, "flavor", None))
    if flavor:
        HAProxyProviderDriver.validate_flavor_metadata(flavor)


class HAProxyProviderDriver(provider_base.ProviderDriver):  # type: ignore[misc]
    def __init__(self) -> None:
        super().__init__()

    def create_vip_port(self, loadbalancer_id: str, project_id: str,
                        vip_dictionary: dict[str, Any],
                        additional_vip_dicts: list[dict[str, Any]]) -> Any:
        # The core's network driver allocates VIPs (loopback addresses by default).
        raise NotImplementedError()

    # load balancers
    def loadbalancer_create(self, loadbalancer: dm.LoadBalancer) -> None:
        check_loadbalancer(loadbalancer)

    def loadbalancer_update(self, old_loadbalancer: dm.LoadBalancer,
                            new_loadbalancer: dm.LoadBalancer) -> None:
        check_loadbalancer(new_loadbalancer)

    def loadbalancer_delete(self, loadbalancer: dm.LoadBalancer, cascade: bool = False) -> None:
        return None

    def loadbalancer_failover(self, loadbalancer_id: str) -> None:
        return None  # the agent restarts dead processes itself; a failover is a resync

    # listeners
    def listener_create(self, listener: dm.Listener) -> None:
        check_listener(listener)

    def listener_update(self, old_listener: dm.Listener, new_listener: dm.Listener) -> None:
        check_listener(new_listener)

    def listener_delete(self, listener: dm.Listener) -> None:
        return None

    # pools
    def pool_create(self, pool: dm.Pool) -> None:
        check_pool(pool)

    def pool_update(self, old_pool: dm.Pool, new_pool: dm.Pool) -> None:
        check_pool(new_pool)

    def pool_delete(self, pool: dm.Pool) -> None:
        return None

    # members
    def member_create(self, member: dm.Member) -> None:
        return None

    def member_update(self, old_member: dm.Member, new_member: dm.Member) -> None:
        return None

    def member_delete(self, member: dm.Member) -> None:
        return None

    def member_batch_update(self, pool_id: str, members: list[dm.Member]) -> None:
        return None

    # health monitors
    def health_monitor_create(self, healthmonitor: dm.HealthMonitor) -> None:
        check_monitor(healthmonitor)

    def health_monitor_update(self, old_healthmonitor: dm.HealthMonitor,
                              new_healthmonitor: dm.HealthMonitor) -> None:
        check_monitor(new_healthmonitor)

    def health_monitor_delete(self, healthmonitor: dm.HealthMonitor) -> None:
        return None

    # L7
    def l7policy_create(self, l7policy: dm.L7Policy) -> None:
        return None

    def l7policy_update(self, old_l7policy: dm.L7Policy, new_l7policy: dm.L7Policy) -> None:
        return None

    def l7policy_delete(self, l7policy: dm.L7Policy) -> None:
        return None

    def l7rule_create(self, l7rule: dm.L7Rule) -> None:
        return None

    def l7rule_update(self, old_l7rule: dm.L7Rule, new_l7rule: dm.L7Rule) -> None:
        return None

    def l7rule_delete(self, l7rule: dm.L7Rule) -> None:
        return None

    # flavors and availability zones
    def get_supported_flavor_metadata(self) -> dict[str, str]:
        return dict(FLAVOR_METADATA)

    def validate_flavor(self, flavor_metadata: dict[str, Any]) -> None:
        self.validate_flavor_metadata(flavor_metadata)

    @staticmethod
    def validate_flavor_metadata(flavor_metadata: dict[str, Any]) -> None:
        for key, value in flavor_metadata.items():
            if key not in FLAVOR_METADATA:
                raise unsupported(f"the flavor option {key!r}")
            limit = 64 if key == "nbthread" else 1_000_000
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= limit:
                raise unsupported(f"{key}={value!r} (an integer from 1 to {limit} is needed)")

    def get_supported_availability_zone_metadata(self) -> dict[str, str]:
        return {}

    def validate_availability_zone(self, availability_zone_metadata: dict[str, Any]) -> None:
        if availability_zone_metadata:
            raise unsupported(
                f"availability zone options {sorted(availability_zone_metadata)}")
