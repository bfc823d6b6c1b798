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

from statera.providers.kit import capabilities as kit
from statera.providers.kit.driver import TOPOLOGY, TOPOLOGY_METADATA, TableDriver, check_topology
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
    **TOPOLOGY_METADATA,
}


def check_listener(listener: dm.Listener) -> None:
    CHECKS.listener(listener)


def check_pool(pool: dm.Pool) -> None:
    CHECKS.pool(pool)


def check_monitor(monitor: dm.HealthMonitor) -> None:
    CHECKS.monitor(monitor)


def check_loadbalancer(lb: dm.LoadBalancer) -> None:
    CHECKS.loadbalancer(lb)
    flavor = val(getattr(lb, "flavor", None))
    if flavor:
        HAProxyProviderDriver.validate_flavor_metadata(flavor)


class HAProxyProviderDriver(TableDriver):
    capabilities = CAPABILITIES
    flavor_metadata = FLAVOR_METADATA

    def check_loadbalancer(self, lb: dm.LoadBalancer) -> None:
        check_loadbalancer(lb)

    def validate_flavor(self, flavor_metadata: dict[str, Any]) -> None:
        self.validate_flavor_metadata(flavor_metadata)

    @staticmethod
    def validate_flavor_metadata(flavor_metadata: dict[str, Any]) -> None:
        for key, value in flavor_metadata.items():
            if key not in FLAVOR_METADATA:
                raise CHECKS.refuse(f"the flavor option {key!r}")
            if key == TOPOLOGY:
                check_topology(value, CHECKS)
                continue
            limit = 64 if key == "nbthread" else 1_000_000
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= limit:
                raise CHECKS.refuse(f"{key}={value!r} (an integer from 1 to {limit} is needed)")
