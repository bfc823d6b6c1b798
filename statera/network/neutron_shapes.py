"""Neutron-shaped dicts for networks, subnets and ports.

The openstack CLI and openstacksdk look VIP networks up through the Neutron API, so the
drivers describe what they have with Neutron's field names and types. The key sets are fixed
here (and exported) so the Neutron router can reject filters on attributes that do not exist,
as Neutron does, even when a list is empty.
"""

from __future__ import annotations

import hashlib
from typing import Any

from statera.network.base import OCTAVIA_OWNER


def network_dict(
    *, id: str, name: str, subnet_ids: list[str], project_id: str = "", shared: bool = True
) -> dict[str, Any]:
    return {
        "id": id,
        "name": name,
        "description": "",
        "subnets": list(subnet_ids),
        "status": "ACTIVE",
        "admin_state_up": True,
        "shared": shared,
        "router:external": False,
        "port_security_enabled": True,
        "mtu": 1500,
        "availability_zone_hints": [],
        "availability_zones": [],
        "ipv4_address_scope": None,
        "ipv6_address_scope": None,
        "qos_policy_id": None,
        "is_default": False,
        "project_id": project_id,
        "tenant_id": project_id,
        "tags": [],
        "revision_number": 0,
        "created_at": None,
        "updated_at": None,
    }


def subnet_dict(
    *,
    id: str,
    name: str,
    network_id: str,
    cidr: str,
    ip_version: int,
    gateway_ip: str | None,
    allocation_pools: list[dict[str, str]],
    project_id: str = "",
) -> dict[str, Any]:
    return {
        "id": id,
        "name": name,
        "description": "",
        "network_id": network_id,
        "cidr": cidr,
        "ip_version": ip_version,
        "gateway_ip": gateway_ip,
        "allocation_pools": [dict(pool) for pool in allocation_pools],
        "enable_dhcp": False,
        "dns_nameservers": [],
        "host_routes": [],
        "ipv6_address_mode": None,
        "ipv6_ra_mode": None,
        "segment_id": None,
        "subnetpool_id": None,
        "service_types": [],
        "project_id": project_id,
        "tenant_id": project_id,
        "tags": [],
        "revision_number": 0,
        "created_at": None,
        "updated_at": None,
    }


def port_dict(
    *,
    id: str,
    name: str,
    network_id: str,
    fixed_ips: list[dict[str, str]],
    device_id: str | None,
    project_id: str | None,
) -> dict[str, Any]:
    attached = bool(device_id)
    return {
        "id": id,
        "name": name,
        "description": "",
        "network_id": network_id,
        "fixed_ips": [dict(ip) for ip in fixed_ips],
        "mac_address": mac_address(id),
        "device_id": device_id or "",
        "device_owner": OCTAVIA_OWNER if attached else "",
        "status": "ACTIVE" if attached else "DOWN",
        "admin_state_up": True,
        "allowed_address_pairs": [],
        "extra_dhcp_opts": [],
        "security_groups": [],
        "port_security_enabled": True,
        "binding:vnic_type": "normal",
        "qos_policy_id": None,
        "dns_name": "",
        "dns_assignment": [],
        "project_id": project_id or "",
        "tenant_id": project_id or "",
        "tags": [],
        "revision_number": 0,
        "created_at": None,
        "updated_at": None,
    }


def mac_address(port_id: str) -> str:
    """A stable locally administered MAC in Neutron's default ``fa:16:3e`` range."""
    digest = hashlib.sha256(port_id.encode()).digest()
    return "fa:16:3e:" + ":".join(f"{b:02x}" for b in digest[:3])


NETWORK_FIELDS = frozenset(network_dict(id="", name="", subnet_ids=[]))
SUBNET_FIELDS = frozenset(
    subnet_dict(
        id="", name="", network_id="", cidr="", ip_version=4, gateway_ip=None, allocation_pools=[]
    )
)
PORT_FIELDS = frozenset(
    port_dict(id="", name="", network_id="", fixed_ips=[], device_id=None, project_id=None)
)
