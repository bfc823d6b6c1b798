"""The default network driver: VIPs come from subnets listed in ``[networking] networks``.

Networks and subnets are configuration; an allocated VIP is a ``VipPort`` row. The table's
``(subnet_id, ip_address)`` unique constraint is what makes allocation safe when several API
workers or hosts allocate at once: each candidate address is inserted inside a SAVEPOINT, and
a unique violation only means "someone else got it first, try the next one". A stale read
can therefore cost a retry but never produce a duplicate.

Retries alone are not enough under contention, though. SQLite needs none of this (the engine's
``BEGIN IMMEDIATE`` serialises writers), but on the server databases an insert of an address
that another open transaction has just inserted waits for that whole transaction (the load
balancer's create, provider call included), and InnoDB's duplicate-key locks can deadlock. So
on PostgreSQL and MariaDB an allocation first takes a non-blocking, per-address *claim*
(``pg_try_advisory_xact_lock`` / ``GET_LOCK(name, 0)``), held until its transaction ends, and
skips addresses another open transaction has claimed. Concurrent creates in one subnet then take
different addresses at once instead of queueing behind one lock (p50 of a create under 32
clients on PostgreSQL went from 2.2 s to tens of milliseconds; see BENCHMARKS.md). Older
databases may still hold a per-subnet lock row (``ip_address`` ``allocation-lock``) from the
queueing design; it is never listed, shown, attached or released.

Addresses handed out: inside the CIDR, never the network address, the gateway (the first host,
``.1``) or, for IPv4, the broadcast address; automatic allocation starts at
``allocation_start`` (default: the address after the gateway). An explicit address may sit
anywhere allocatable in the CIDR, as Neutron allows fixed IPs outside its allocation pools.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from statera.config import NetworkingSettings
from statera.db.engine import hold_user_locks_until_checkin
from statera.db.models import VipPort
from statera.network import neutron_shapes
from statera.network.base import (
    InvalidSubresource,
    NoFreeAddress,
    PortInUse,
    Vip,
    VipInUse,
    VipValidationError,
    require_vip_reference,
    vip_port_name,
)

LOG = logging.getLogger(__name__)

# The per-subnet lock row older versions created (see the module docstring).
LOCK_ADDRESS = "allocation-lock"

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class _Subnet:
    id: str
    name: str
    network_id: str
    cidr: IPNetwork
    gateway: IPAddress
    start: IPAddress
    end: IPAddress

    def allocatable(self, address: IPAddress) -> bool:
        """True for any address of the CIDR a VIP may use (allocation pool or not)."""
        if address not in self.cidr:
            return False
        if address in (self.cidr.network_address, self.gateway):
            return False
        return not (self.cidr.version == 4 and address == self.cidr.broadcast_address)

    def candidates(self) -> Iterator[IPAddress]:
        """Addresses for automatic allocation, lowest first."""
        current = int(self.start)
        last = int(self.end)
        while current <= last:
            address = ipaddress.ip_address(current)
            if self.allocatable(address):
                yield address
            current += 1

    def to_neutron(self) -> dict[str, Any]:
        pools = [{"start": str(self.start), "end": str(self.end)}]
        return neutron_shapes.subnet_dict(
            id=self.id,
            name=self.name,
            network_id=self.network_id,
            cidr=str(self.cidr),
            ip_version=self.cidr.version,
            gateway_ip=str(self.gateway),
            allocation_pools=pools if int(self.start) <= int(self.end) else [],
        )


@dataclass(frozen=True)
class _Network:
    id: str
    name: str
    subnets: tuple[_Subnet, ...]

    def to_neutron(self) -> dict[str, Any]:
        return neutron_shapes.network_dict(
            id=self.id, name=self.name, subnet_ids=[s.id for s in self.subnets]
        )


def _build_subnet(network_id: str, sid: str, name: str, cidr_text: str, start_text: str) -> _Subnet:
    try:
        cidr = ipaddress.ip_network(cidr_text, strict=False)
    except ValueError as exc:
        raise ValueError(f"networking: subnet {sid} has an invalid cidr {cidr_text!r}") from exc
    if cidr.num_addresses < 4:
        raise ValueError(f"networking: subnet {sid} ({cidr}) is too small for VIPs")
    gateway = cidr.network_address + 1
    last = cidr.broadcast_address - 1 if cidr.version == 4 else cidr.broadcast_address
    if start_text:
        try:
            start = ipaddress.ip_address(start_text)
        except ValueError as exc:
            raise ValueError(
                f"networking: subnet {sid} has an invalid allocation_start {start_text!r}"
            ) from exc
        if start not in cidr or int(start) <= int(gateway) or int(start) > int(last):
            raise ValueError(
                f"networking: allocation_start {start} is not allocatable in subnet {sid} ({cidr})"
            )
    else:
        start = gateway + 1
    return _Subnet(
        id=sid, name=name, network_id=network_id, cidr=cidr, gateway=gateway, start=start, end=last
    )


class LocalNetworkDriver:
    """VIPs from configured subnets, ports in the ``vip_port`` table."""

    name = "local"

    def __init__(self, settings: NetworkingSettings) -> None:
        networks: list[_Network] = []
        subnets: dict[str, _Subnet] = {}
        for net in settings.networks:
            built = []
            for sub in net.subnets:
                if sub.id in subnets:
                    raise ValueError(f"networking: subnet id {sub.id} is configured twice")
                subnet = _build_subnet(net.id, sub.id, sub.name, sub.cidr, sub.allocation_start)
                subnets[sub.id] = subnet
                built.append(subnet)
            networks.append(_Network(id=net.id, name=net.name, subnets=tuple(built)))
        if len({n.id for n in networks}) != len(networks):
            raise ValueError("networking: a network id is configured twice")
        self._networks = {n.id: n for n in networks}
        self._subnets = subnets

    # Look-ups ------------------------------------------------------------------------------
    def get_network(self, network_id: str) -> dict[str, Any]:
        return self._network(network_id).to_neutron()

    def get_subnet(self, subnet_id: str) -> dict[str, Any]:
        return self._subnet(subnet_id).to_neutron()

    def get_port(self, session: Session, port_id: str) -> dict[str, Any]:
        row = session.get(VipPort, port_id)
        if row is None or row.ip_address == LOCK_ADDRESS:
            raise InvalidSubresource("Port", port_id)
        return _port_to_neutron(row)

    def list_networks(self) -> list[dict[str, Any]]:
        return [n.to_neutron() for n in self._networks.values()]

    def list_subnets(self) -> list[dict[str, Any]]:
        return [s.to_neutron() for s in self._subnets.values()]

    def list_ports(self, session: Session) -> list[dict[str, Any]]:
        rows = session.scalars(
            select(VipPort).where(VipPort.ip_address != LOCK_ADDRESS).order_by(VipPort.id)
        )
        return [_port_to_neutron(row) for row in rows]

    # Allocation ----------------------------------------------------------------------------
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
        address = _parse_address(ip_address) if ip_address else None
        if port_id:
            return self._attach_port(
                session, lb_id, port_id, network_id=network_id, subnet_id=subnet_id,
                address=address,
            )
        if network_id:
            network = self._network(network_id)
            if subnet_id and subnet_id not in {s.id for s in network.subnets}:
                raise InvalidSubresource("Subnet", subnet_id)
        if subnet_id:
            subnets: tuple[_Subnet, ...] = (self._subnet(subnet_id),)
        else:
            assert network_id is not None  # one of the three is set and port_id is not
            subnets = self._network(network_id).subnets
            if not subnets:
                raise NoFreeAddress(f"network {network_id}")
        if address is not None:
            owner = next((s for s in subnets if address in s.cidr), None)
            if owner is None:
                where = f"subnet {subnet_id}" if subnet_id else f"network {network_id}"
                raise VipValidationError(f"IP address {address} is not in {where}.")
            return self._allocate_explicit(session, owner, address, lb_id, project_id)
        for subnet in subnets:
            vip = self._allocate_next(session, subnet, lb_id, project_id)
            if vip is not None:
                return vip
        raise NoFreeAddress(f"subnet {subnet_id}" if subnet_id else f"network {network_id}")

    def release_vip(self, session: Session, lb_id: str) -> None:
        owned_name = vip_port_name(lb_id)
        rows = session.scalars(
            select(VipPort).where(VipPort.device_id == lb_id, VipPort.ip_address != LOCK_ADDRESS)
        ).all()
        for row in rows:
            if row.name == owned_name:
                session.delete(row)
            else:
                # A port the user brought: give it back, as Octavia leaves such ports in Neutron.
                row.device_id = None
        session.flush()
        LOG.info("released VIP of load balancer %s", lb_id)

    # Internals -----------------------------------------------------------------------------
    def _network(self, network_id: str) -> _Network:
        network = self._networks.get(network_id)
        if network is None:
            raise InvalidSubresource("Network", network_id)
        return network

    def _subnet(self, subnet_id: str) -> _Subnet:
        subnet = self._subnets.get(subnet_id)
        if subnet is None:
            raise InvalidSubresource("Subnet", subnet_id)
        return subnet

    def _attach_port(
        self,
        session: Session,
        lb_id: str,
        port_id: str,
        *,
        network_id: str | None,
        subnet_id: str | None,
        address: IPAddress | None,
    ) -> Vip:
        row = session.get(VipPort, port_id)
        if row is None or row.ip_address == LOCK_ADDRESS:
            raise InvalidSubresource("Port", port_id)
        if row.device_id:
            raise PortInUse(port_id, row.device_id)
        if network_id and network_id != row.network_id:
            raise VipValidationError(f"Port {port_id} is not on network {network_id}.")
        if subnet_id and subnet_id != row.subnet_id:
            raise VipValidationError(f"Port {port_id} has no address on subnet {subnet_id}.")
        if address is not None and str(address) != row.ip_address:
            raise VipValidationError(f"Port {port_id} does not have IP address {address}.")
        # Compare-and-set so two load balancers cannot both take the same free port.
        claimed = session.execute(
            update(VipPort)
            .where(VipPort.id == port_id, VipPort.device_id.is_(None))
            .values(device_id=lb_id)
            .execution_options(synchronize_session=False)
        )
        if getattr(claimed, "rowcount", 0) != 1:
            session.refresh(row)
            raise PortInUse(port_id, row.device_id or "unknown")
        session.refresh(row)
        LOG.info("attached port %s (%s) to load balancer %s", port_id, row.ip_address, lb_id)
        return _vip_of(row, octavia_owned=False)

    def _allocate_explicit(
        self,
        session: Session,
        subnet: _Subnet,
        address: IPAddress,
        lb_id: str,
        project_id: str | None,
    ) -> Vip:
        if not subnet.allocatable(address):
            raise VipValidationError(
                f"IP address {address} is reserved in subnet {subnet.id} "
                "(network, gateway or broadcast address)."
            )
        vip = self._take(session, subnet, address, lb_id, project_id)
        if vip is None:
            raise VipInUse(str(address), subnet.id)
        return vip

    def _allocate_next(
        self, session: Session, subnet: _Subnet, lb_id: str, project_id: str | None
    ) -> Vip | None:
        used = self._used_addresses(session, subnet.id)
        for address in subnet.candidates():
            if str(address) in used:
                continue
            vip = self._take(session, subnet, address, lb_id, project_id)
            if vip is not None:
                return vip
            # Taken by a transaction still open, or committed after we read ``used``.
            LOG.debug("address %s in subnet %s was taken concurrently", address, subnet.id)
        return None

    @staticmethod
    def _used_addresses(session: Session, subnet_id: str) -> set[str]:
        query = select(VipPort.ip_address).where(VipPort.subnet_id == subnet_id)
        return set(session.scalars(query))  # includes this transaction's own allocations

    def _take(
        self,
        session: Session,
        subnet: _Subnet,
        address: IPAddress,
        lb_id: str,
        project_id: str | None,
    ) -> Vip | None:
        """The one way an address becomes a VIP, explicit or automatic: claim it (None when
        another open transaction holds the claim), then insert its row inside a SAVEPOINT
        (None when another transaction's row is already there)."""
        if not _claim(session, subnet, address):
            return None
        row = VipPort(
            network_id=subnet.network_id,
            subnet_id=subnet.id,
            ip_address=str(address),
            device_id=lb_id,
            project_id=project_id,
            name=vip_port_name(lb_id),
        )
        try:
            with session.begin_nested():
                session.add(row)
                session.flush()
        except IntegrityError:
            return None
        LOG.info("allocated VIP %s in subnet %s for load balancer %s", address, subnet.id, lb_id)
        return _vip_of(row, octavia_owned=True)


def _claim(session: Session, subnet: _Subnet, address: IPAddress) -> bool:
    """Claim the right to insert ``address`` until this transaction ends, without waiting.

    False when another open transaction holds the claim. Hash collisions between two addresses
    only make one allocation skip an address, never give one address twice (the unique
    constraint does that).
    """
    dialect = session.get_bind().dialect.name
    key = f"statera-vip:{subnet.id}:{address}"
    if dialect == "postgresql":
        return bool(session.scalar(
            text("SELECT pg_try_advisory_xact_lock(hashtextextended(:key, 0))"), {"key": key}))
    if dialect in ("mysql", "mariadb"):
        name = "statera-vip-" + hashlib.sha1(key.encode()).hexdigest()  # 52 of 64 allowed chars
        claimed = bool(session.scalar(text("SELECT GET_LOCK(:name, 0)"), {"name": name}) == 1)
        if claimed:
            hold_user_locks_until_checkin(session.connection())
        return claimed
    return True  # SQLite: BEGIN IMMEDIATE already serialises writers


def _vip_of(row: VipPort, *, octavia_owned: bool) -> Vip:
    """The VIP a port row holds, as the load balancer stores it."""
    return Vip(ip_address=row.ip_address, network_id=row.network_id, subnet_id=row.subnet_id,
               port_id=row.id, octavia_owned=octavia_owned)


def _parse_address(text: str) -> IPAddress:
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        raise VipValidationError(f"{text!r} is not a valid IP address.") from None


def _port_to_neutron(row: VipPort) -> dict[str, Any]:
    return neutron_shapes.port_dict(
        id=row.id,
        name=row.name or "",
        network_id=row.network_id,
        fixed_ips=[{"subnet_id": row.subnet_id, "ip_address": row.ip_address}],
        device_id=row.device_id,
        project_id=row.project_id,
    )
