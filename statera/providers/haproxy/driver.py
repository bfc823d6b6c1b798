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
from octavia_lib.api.drivers import provider_base

from statera.providers.kit import capabilities as kit
from statera.providers.kit.graph import val

#: What this provider supports; the checks below and the README's feature table read it.
CAPABILITIES = kit.Capabilities(
    provider="haproxy",
    listener_protocols=frozenset({"HTTP", "HTTPS", "TCP", "TERMINATED_HTTPS", "PROMETHEUS"}),
    pool_protocols=frozenset({"HTTP", "HTTPS", "TCP", "PROXY", "PROXYV2"}),
    algorithms=frozenset(kit.ALGORITHMS),
    persistence=frozenset(kit.PERSISTENCE),
    monitors=frozenset({"HTTP", "HTTPS", "TCP", "TLS-HELLO", "PING"}),
    l7=True,
    options=frozenset(name for _, _, name, _ in kit.OPTIONS),
)
CHECKS = kit.CapabilityChecks(CAPABILITIES)
FLAVOR_METADATA = {
    "nbthread": "HAProxy threads of the load balancer's process (integer 1-64, default 1).",
    "maxconn": "Upper bound of the process's global maxconn (integer >= 1; also capped by the "
               "host's file-descriptor limit).",
}


def unsupported(what: str) -> Exception:
    return kit.unsupported("haproxy", what)


def check_listener(listener: Any) -> None:
    CHECKS.listener(listener)


def check_pool(pool: Any) -> None:
    CHECKS.pool(pool)


def check_monitor(monitor: Any) -> None:
    CHECKS.monitor(monitor)


def check_loadbalancer(lb: Any) -> None:
    CHECKS.loadbalancer(lb)
    flavor = val(getattr(lb, "flavor", None))
    if flavor:
        HAProxyProviderDriver.validate_flavor_metadata(flavor)


class HAProxyProviderDriver(provider_base.ProviderDriver):  # type: ignore[misc]
    capabilities = CAPABILITIES

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
