"""A network driver that accepts every id and invents the rest, like Octavia's no-op driver.

For dry runs and tests that exercise the API without caring where a VIP lives. Nothing is
stored: the made-up values are derived from the load balancer id, so the same load balancer
always gets the same VIP, and lists are empty (a look-up by id still answers, so the openstack
CLI's ``--vip-subnet-id X`` resolves whatever X is).
"""

from __future__ import annotations

import ipaddress
import uuid
from typing import Any

from sqlalchemy.orm import Session

from statera.network import neutron_shapes
from statera.network.base import Vip, require_vip_reference

# TEST-NET-2 (RFC 5737): documentation addresses that route nowhere.
NOOP_CIDR = ipaddress.ip_network("198.51.100.0/24")
_NAMESPACE = uuid.UUID("4f0c9a4e-5b1e-4c55-9d3a-6e0b5e7a0001")


def _made_up(kind: str, seed: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, f"{kind}:{seed}"))


class NoopNetworkDriver:
    name = "noop"

    def allocate_vip(
        self,
        session: Session,
        *,
        lb_id: str,
        project_id: str | None,
        network_id: str | None = None,
        subnet_id: str | None = None,
        port_id: str | None = None,
        ip_address: str | None = None,
    ) -> Vip:
        require_vip_reference(network_id, subnet_id, port_id)
        if ip_address is None:
            # .2 to .254, stable per load balancer.
            host = 2 + uuid.UUID(_made_up("vip", lb_id)).int % 253
            ip_address = str(NOOP_CIDR.network_address + host)
        subnet_id = subnet_id or _made_up("subnet", network_id or port_id or lb_id)
        return Vip(
            ip_address=ip_address,
            network_id=network_id or _made_up("network", subnet_id),
            subnet_id=subnet_id,
            port_id=port_id or _made_up("port", lb_id),
            octavia_owned=port_id is None,
        )

    def release_vip(self, session: Session, lb_id: str) -> None:
        return None

    def get_network(self, network_id: str) -> dict[str, Any]:
        return neutron_shapes.network_dict(id=network_id, name="", subnet_ids=[])

    def get_subnet(self, subnet_id: str) -> dict[str, Any]:
        return neutron_shapes.subnet_dict(
            id=subnet_id,
            name="",
            network_id=_made_up("network", subnet_id),
            cidr=str(NOOP_CIDR),
            ip_version=4,
            gateway_ip=str(NOOP_CIDR.network_address + 1),
            allocation_pools=[
                {
                    "start": str(NOOP_CIDR.network_address + 2),
                    "end": str(NOOP_CIDR.broadcast_address - 1),
                }
            ],
        )

    def get_port(self, session: Session, port_id: str) -> dict[str, Any]:
        return neutron_shapes.port_dict(
            id=port_id,
            name="",
            network_id=_made_up("network", port_id),
            fixed_ips=[],
            device_id=None,
            project_id=None,
        )

    def list_networks(self) -> list[dict[str, Any]]:
        return []

    def list_subnets(self) -> list[dict[str, Any]]:
        return []

    def list_ports(self, session: Session) -> list[dict[str, Any]]:
        return []
