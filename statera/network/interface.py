"""VIP addresses on a host interface: add, remove, list and announce them.

This is what makes a VIP reachable from other machines: the host that serves a load balancer
puts the VIP on the interface (or bridge) that carries its subnet, as a host route (``/32``,
``/128``) so that removing one VIP never takes another with it (removing a primary address of
a prefix removes its secondaries unless ``promote_secondaries`` is set), then tells the
neighbours, since their caches may still point at the host that served it before: a
gratuitous ARP for IPv4, an unsolicited neighbour advertisement for IPv6. Replies to clients
leave through the host's own address (and connected route) on that interface.

Addresses go through ``ip`` (iproute2) rather than a netlink library: it is on every Linux
host Statera runs on, ``ip -json`` is a stable structured interface, there are three
operations, and they run only when a load balancer is converged, never per request; pyroute2
would add a large untyped dependency for them. Announcements are built here on raw sockets
(an ARP frame on an ``AF_PACKET`` socket, an ICMPv6 message whose checksum the kernel fills
in): two short packets do not justify ``arping``/``ndsend`` processes or scapy.

Needs ``CAP_NET_ADMIN`` and ``CAP_NET_RAW`` (root), like the data planes that bind VIPs.
Nothing here touches the database or knows about load balancers.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import socket
import struct
import subprocess

LOG = logging.getLogger(__name__)

IP = "ip"
ETH_P_ARP = 0x0806
ETH_P_IP = 0x0800
#: ICMPv6 neighbour advertisement flags: Override (this is the address's link-layer address now).
NA_OVERRIDE = 0x20000000


class InterfaceError(RuntimeError):
    """An address could not be listed, added or removed (the message says which and why)."""


def _ip(*args: str) -> str:
    try:
        result = subprocess.run([IP, *args], capture_output=True, text=True, timeout=10,
                                stdin=subprocess.DEVNULL, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise InterfaceError(f"ip {' '.join(args)}: {exc}") from exc
    if result.returncode != 0:
        raise InterfaceError(f"ip {' '.join(args)}: {result.stderr.strip() or 'failed'}")
    return result.stdout


def host_prefix(address: str) -> str:
    """``address`` as the host route it is added with (``/32`` or ``/128``)."""
    addr = ipaddress.ip_address(address)
    return f"{addr}/{addr.max_prefixlen}"


def addresses(interface: str) -> list[tuple[str, int]]:
    """(address, prefix length) of every address on ``interface``."""
    data = json.loads(_ip("-json", "address", "show", "dev", interface) or "[]")
    return [(str(info["local"]), int(info["prefixlen"]))
            for link in data for info in link.get("addr_info", []) if "local" in info]


def has_address(interface: str, address: str) -> bool:
    wanted = ipaddress.ip_address(address)
    return any(ipaddress.ip_address(a) == wanted for a, _ in addresses(interface))


def own_address(interface: str, cidr: str) -> str | None:
    """The host's own address on ``interface`` inside ``cidr`` (an address with the subnet's
    prefix, not a host-route VIP): the VRRP source address of an ACTIVE_STANDBY instance."""
    network = ipaddress.ip_network(cidr, strict=False)
    for address, prefix in addresses(interface):
        if ipaddress.ip_address(address) in network and prefix < network.max_prefixlen:
            return address
    return None


def add(interface: str, address: str) -> bool:
    """Put ``address`` on ``interface`` (idempotent); True when it was not there before.
    IPv6 addresses skip duplicate address detection, which would keep them unusable for a
    second or more (the address was allocated to this load balancer alone)."""
    if has_address(interface, address):
        return False
    extra = ["nodad"] if ipaddress.ip_address(address).version == 6 else []
    _ip("address", "replace", host_prefix(address), "dev", interface, *extra)
    LOG.info("added VIP %s to %s", address, interface)
    return True


def remove(interface: str, address: str) -> bool:
    """Take ``address`` off ``interface``; True when it was there. A missing interface counts
    as done (it took its addresses with it)."""
    try:
        if not has_address(interface, address):
            return False
    except InterfaceError:
        return False
    _ip("address", "del", host_prefix(address), "dev", interface)
    LOG.info("removed VIP %s from %s", address, interface)
    return True


def link_info(interface: str) -> tuple[int, bytes]:
    """(interface index, hardware address) of ``interface``."""
    data = json.loads(_ip("-json", "link", "show", "dev", interface) or "[]")
    if not data:
        raise InterfaceError(f"interface {interface} not found")
    mac = bytes.fromhex(str(data[0].get("address", "")).replace(":", ""))
    if len(mac) != 6:
        raise InterfaceError(f"interface {interface} has no Ethernet address")
    return int(data[0]["ifindex"]), mac


def garp_frame(mac: bytes, address: str) -> bytes:
    """A gratuitous ARP request (sender and target protocol address both ``address``),
    broadcast: every neighbour that knows the address updates its entry to ``mac``."""
    ip = socket.inet_aton(address)
    ether = b"\xff" * 6 + mac + struct.pack("!H", ETH_P_ARP)
    arp = struct.pack("!HHBBH", 1, ETH_P_IP, 6, 4, 1) + mac + ip + b"\x00" * 6 + ip
    return ether + arp


def unsolicited_na(mac: bytes, address: str) -> bytes:
    """An unsolicited neighbour advertisement for ``address`` (override set, target
    link-layer address option); the checksum is left 0 for the kernel to fill in."""
    target = ipaddress.IPv6Address(address).packed
    option = struct.pack("!BB", 2, 1) + mac
    return struct.pack("!BBHI", 136, 0, 0, NA_OVERRIDE) + target + option


def announce(interface: str, address: str, count: int = 2) -> None:
    """Tell the neighbours on ``interface`` that ``address`` lives here now. Failure is logged,
    not raised: the address works anyway once stale caches expire."""
    try:
        index, mac = link_info(interface)
        if ipaddress.ip_address(address).version == 4:
            with socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ARP)) as s:
                s.bind((interface, ETH_P_ARP))
                for _ in range(count):
                    s.send(garp_frame(mac, address))
        else:
            with socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6) as s:
                s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 255)
                s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, index)
                s.bind((address, 0, 0, index))
                for _ in range(count):
                    s.sendto(unsolicited_na(mac, address), ("ff02::1", 0, 0, index))
    except (OSError, InterfaceError) as exc:
        LOG.warning("could not announce VIP %s on %s: %s", address, interface, exc)
