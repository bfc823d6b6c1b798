"""The API side every table-driven provider shares: an octavia-lib ``ProviderDriver`` that only
validates, through the provider's :class:`~statera.providers.kit.capabilities.Capabilities`.

Every create/update only validates; the core commits and publishes the convergence hint, and
the provider's agent does the work. For ``*_update(old, new)`` ``new`` carries only the changed
fields (the rest are ``Unset``). A provider subclasses :class:`TableDriver`, sets
``capabilities`` and overrides the ``check_*`` hooks it needs beyond the table.
"""

from __future__ import annotations

from typing import Any

from octavia_lib.api.drivers import data_models as dm
from octavia_lib.api.drivers import provider_base

from statera.providers.kit.capabilities import Capabilities, CapabilityChecks

#: The flavor key of Octavia's topology, for providers whose agents run ACTIVE_STANDBY pairs
#: (placement reads it to place two instances; ``kit/vips.py`` runs keepalived for them).
TOPOLOGY = "loadbalancer_topology"
TOPOLOGIES = ("SINGLE", "ACTIVE_STANDBY")
TOPOLOGY_METADATA = {TOPOLOGY: "SINGLE (default) or ACTIVE_STANDBY: two instances on two agent "
                               "hosts, the VIP moved between them by keepalived (VRRP)."}


def check_topology(value: Any, checks: CapabilityChecks) -> None:
    """Refuse a ``loadbalancer_topology`` other than Octavia's two."""
    if value not in TOPOLOGIES:
        raise checks.refuse(f"{TOPOLOGY}={value!r} (one of {', '.join(TOPOLOGIES)} is needed)")


class TableDriver(provider_base.ProviderDriver):  # type: ignore[misc]
    capabilities: Capabilities
    #: Flavor metadata keys the provider understands, with their descriptions.
    flavor_metadata: dict[str, str] = {}

    def __init__(self) -> None:
        super().__init__()

    @property
    def checks(self) -> CapabilityChecks:
        return CapabilityChecks(self.capabilities)

    # --- hooks ------------------------------------------------------------------------------
    def check_loadbalancer(self, lb: dm.LoadBalancer) -> None:
        self.checks.loadbalancer(lb)

    def check_listener(self, listener: dm.Listener) -> None:
        self.checks.listener(listener)

    def check_pool(self, pool: dm.Pool) -> None:
        self.checks.pool(pool)

    def check_member(self, member: dm.Member) -> None:
        self.checks.member(member)

    def check_monitor(self, monitor: dm.HealthMonitor) -> None:
        self.checks.monitor(monitor)

    def check_policy(self, policy: dm.L7Policy) -> None:
        if not self.capabilities.l7:
            self.checks.l7()

    def check_rule(self, rule: dm.L7Rule, old: dm.L7Rule | None = None) -> None:
        if not self.capabilities.l7:
            self.checks.l7()

    def validate_flavor(self, flavor_metadata: dict[str, Any]) -> None:
        unknown = sorted(set(flavor_metadata) - set(self.flavor_metadata))
        if unknown:
            raise self.checks.refuse(f"the flavor options {unknown}")
        if TOPOLOGY in flavor_metadata:
            check_topology(flavor_metadata[TOPOLOGY], self.checks)

    # --- octavia-lib's ProviderDriver -------------------------------------------------------
    def create_vip_port(self, loadbalancer_id: str, project_id: str,
                        vip_dictionary: dict[str, Any],
                        additional_vip_dicts: list[dict[str, Any]]) -> Any:
        # The core's network driver allocates VIPs (loopback addresses by default).
        raise NotImplementedError()

    def loadbalancer_create(self, loadbalancer: dm.LoadBalancer) -> None:
        self.check_loadbalancer(loadbalancer)

    def loadbalancer_update(self, old_loadbalancer: dm.LoadBalancer,
                            new_loadbalancer: dm.LoadBalancer) -> None:
        self.check_loadbalancer(new_loadbalancer)

    def loadbalancer_delete(self, loadbalancer: dm.LoadBalancer, cascade: bool = False) -> None:
        return None

    def loadbalancer_failover(self, loadbalancer_id: str) -> None:
        return None  # the agent replaces the instance on the failover hint

    def listener_create(self, listener: dm.Listener) -> None:
        self.check_listener(listener)

    def listener_update(self, old_listener: dm.Listener, new_listener: dm.Listener) -> None:
        self.check_listener(new_listener)

    def listener_delete(self, listener: dm.Listener) -> None:
        return None

    def pool_create(self, pool: dm.Pool) -> None:
        self.check_pool(pool)

    def pool_update(self, old_pool: dm.Pool, new_pool: dm.Pool) -> None:
        self.check_pool(new_pool)

    def pool_delete(self, pool: dm.Pool) -> None:
        return None

    def member_create(self, member: dm.Member) -> None:
        self.check_member(member)

    def member_update(self, old_member: dm.Member, new_member: dm.Member) -> None:
        self.check_member(new_member)

    def member_delete(self, member: dm.Member) -> None:
        return None

    def member_batch_update(self, pool_id: str, members: list[dm.Member]) -> None:
        for member in members:
            self.check_member(member)

    def health_monitor_create(self, healthmonitor: dm.HealthMonitor) -> None:
        self.check_monitor(healthmonitor)

    def health_monitor_update(self, old_healthmonitor: dm.HealthMonitor,
                              new_healthmonitor: dm.HealthMonitor) -> None:
        self.check_monitor(new_healthmonitor)

    def health_monitor_delete(self, healthmonitor: dm.HealthMonitor) -> None:
        return None

    def l7policy_create(self, l7policy: dm.L7Policy) -> None:
        self.check_policy(l7policy)

    def l7policy_update(self, old_l7policy: dm.L7Policy, new_l7policy: dm.L7Policy) -> None:
        self.check_policy(new_l7policy)

    def l7policy_delete(self, l7policy: dm.L7Policy) -> None:
        return None

    def l7rule_create(self, l7rule: dm.L7Rule) -> None:
        self.check_rule(l7rule)

    def l7rule_update(self, old_l7rule: dm.L7Rule, new_l7rule: dm.L7Rule) -> None:
        self.check_rule(new_l7rule, old_l7rule)

    def l7rule_delete(self, l7rule: dm.L7Rule) -> None:
        return None

    def get_supported_flavor_metadata(self) -> dict[str, str]:
        return dict(self.flavor_metadata)

    def get_supported_availability_zone_metadata(self) -> dict[str, str]:
        return {}

    def validate_availability_zone(self, availability_zone_metadata: dict[str, Any]) -> None:
        if availability_zone_metadata:
            raise self.checks.refuse(
                f"availability zone options {sorted(availability_zone_metadata)}")
