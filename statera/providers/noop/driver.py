"""API side of the noop provider: accepts every request; the core sends the convergence hint."""

from __future__ import annotations

from typing import Any

from octavia_lib.api.drivers import provider_base


class NoopProviderDriver(provider_base.ProviderDriver):  # type: ignore[misc]
    def __init__(self) -> None:
        super().__init__()

    def create_vip_port(self, loadbalancer_id: str, project_id: str, vip_dictionary: dict[str, Any],
                        additional_vip_dicts: list[dict[str, Any]]) -> Any:
        # Let the core's network driver allocate the VIP.
        raise NotImplementedError()

    def get_supported_flavor_metadata(self) -> dict[str, str]:
        return {"noop_option": "Any value; the noop provider ignores it."}

    def get_supported_availability_zone_metadata(self) -> dict[str, str]:
        return {"noop_zone": "Any value; the noop provider ignores it."}

    def validate_flavor(self, flavor_metadata: dict[str, Any]) -> None:
        return None

    def validate_availability_zone(self, availability_zone_metadata: dict[str, Any]) -> None:
        return None


def _accept(self: NoopProviderDriver, *args: Any, **kwargs: Any) -> None:
    return None


for _method in (
    "loadbalancer_create loadbalancer_delete loadbalancer_failover loadbalancer_update "
    "listener_create listener_delete listener_update pool_create pool_delete pool_update "
    "member_create member_delete member_update member_batch_update health_monitor_create "
    "health_monitor_delete health_monitor_update l7policy_create l7policy_delete "
    "l7policy_update l7rule_create l7rule_delete l7rule_update"
).split():
    setattr(NoopProviderDriver, _method, _accept)
