"""Where a load balancer's VIPs live on this host, for every local data plane.

Three modes, chosen per address by the subnet it belongs to (``[networking]`` subnets) and the
role this host plays for the load balancer (its :class:`Placement`):

- **loopback** (the subnet names no ``interface``, the default): nothing to plumb; Linux
  treats all of 127.0.0.0/8 as local, and only this host reaches the VIP.
- **interface** (the subnet names one, role STANDALONE): the VIP goes on that interface as a
  host route before the data plane binds it, is announced to the neighbours
  (``statera.network.interface``), and comes off when this host stops serving the load
  balancer (deleted, or its instance stopped). Which addresses were added is recorded in
  ``vips.json`` in the load balancer's state directory, so a restarted agent still removes
  exactly those.
- **VRRP** (role MASTER or BACKUP): keepalived owns the VIP (``kit/vrrp.py``); the data plane
  binds it whether or not this host holds it now (a "foreign" socket: HAProxy's
  ``transparent``; NGINX, lacking one, only where ``ip_nonlocal_bind`` is set).

Who plays which role is not the data plane's knowledge: a converger is given a placement
function (the agent-host layer answers it from its placement records); without one every load
balancer is STANDALONE on this host.
"""

from __future__ import annotations

import ipaddress
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol, TypedDict

from octavia_lib.api.drivers import data_models as dm

from statera.config import KeepalivedVrrpSettings, NetworkingSettings, Settings
from statera.network import interface as iface
from statera.providers.kit.graph import ConfigError, val
from statera.providers.kit.procs import atomic_write
from statera.providers.kit.vrrp import (
    BACKUP,
    MASTER,
    PRIORITIES,
    STANDALONE,
    Keepalived,
    VrrpError,
    vrrp_id,
)

__all__ = ["BACKUP", "MASTER", "STANDALONE", "Placement", "PlacementFn", "VipPlan", "Vips",
           "VrrpError", "nonlocal_bind"]

LOG = logging.getLogger(__name__)
RECORD = "vips.json"


@dataclass(frozen=True)
class Placement:
    """This host's part in a load balancer.

    ``role``: STANDALONE, MASTER or BACKUP. ``peers``: the other instances' VRRP addresses
    (unicast advertisements; none means multicast). ``vrrp_ip``: this host's own address on
    the VIP's interface, found on the interface when not given. ``amphora_id``: the id its
    amphora record is reported under (default: one derived from the load balancer).
    """

    role: str = STANDALONE
    peers: tuple[str, ...] = ()
    vrrp_ip: str | None = None
    amphora_id: str | None = None


PlacementFn = Callable[[str, dm.LoadBalancer], Placement]


def standalone(_lb_id: str, _lb: dm.LoadBalancer) -> Placement:
    return Placement()


@dataclass(frozen=True)
class _Subnet:
    cidr: str
    interface: str


class AmphoraFields(TypedDict, total=False):
    """What this host adds to an amphora record (see :meth:`Vips.amphora_fields`)."""

    role: str
    ha_ip: str
    vrrp_ip: str | None
    vrrp_interface: str
    vrrp_id: int
    vrrp_priority: int


@dataclass(frozen=True)
class VipPlan:
    """How one load balancer's VIPs are plumbed on this host."""

    lb_id: str
    placement: Placement
    primary: str  # the VIP address (no brackets)
    on_interfaces: tuple[tuple[str, str], ...] = ()  # (address, interface)
    cidr: str = ""  # the primary VIP's subnet, when it lives on an interface
    interface: str = ""  # the primary VIP's interface ("" on loopback)
    vrrp_ip: str | None = None

    @property
    def vrrp(self) -> bool:
        return self.placement.role in PRIORITIES

    @property
    def freebind(self) -> bool:
        """Whether the data plane must bind addresses this host may not hold (the BACKUP's,
        or the MASTER's during a failover)."""
        return self.vrrp


class Supervised(Protocol):
    """What the VRRP check needs of a data-plane instance: its pid file and configuration."""

    dir: Path
    pidfile: Path
    cfg: Path


class Vips:
    """VIP plumbing for one converger (see the module docstring)."""

    def __init__(self, networking: NetworkingSettings, vrrp: KeepalivedVrrpSettings,
                 placement: PlacementFn | None = None) -> None:
        self.subnets = {s.id: _Subnet(s.cidr, s.interface)
                        for n in networking.networks for s in n.subnets}
        self.vrrp_settings = vrrp
        self.placement = placement or standalone

    @classmethod
    def from_settings(cls, settings: Settings, placement: PlacementFn | None = None) -> Vips:
        return cls(settings.networking, settings.keepalived_vrrp, placement)

    # --- planning ---------------------------------------------------------------------------
    def plan(self, lb_id: str, lb: dm.LoadBalancer) -> VipPlan:
        """The plan for ``lb`` on this host; ConfigError when it cannot be carried out."""
        placement = self.placement(lb_id, lb)
        if placement.role not in (STANDALONE, *PRIORITIES):
            raise ConfigError(f"unknown instance role {placement.role!r}")
        primary = str(ipaddress.ip_address(str(val(lb.vip_address, ""))))
        pairs: list[tuple[str, str | None]] = [(primary, val(lb.vip_subnet_id))]
        for extra in val(lb.additional_vips, []) or []:
            get = extra.get if isinstance(extra, dict) else (
                lambda k, e=extra: getattr(e, k, None))
            if get("ip_address"):
                pairs.append((str(ipaddress.ip_address(str(get("ip_address")))),
                               get("subnet_id")))
        on_interfaces = []
        for address, subnet_id in pairs:
            subnet = self.subnets.get(str(subnet_id)) if subnet_id else None
            if subnet is not None and subnet.interface:
                on_interfaces.append((address, subnet.interface))
        main = self.subnets.get(str(val(lb.vip_subnet_id, "")))
        interface = main.interface if main else ""
        plan = VipPlan(lb_id=lb_id, placement=placement, primary=primary,
                       on_interfaces=tuple(on_interfaces), cidr=main.cidr if main else "",
                       interface=interface)
        if not interface:
            if plan.vrrp:
                raise ConfigError(f"{placement.role} instance: the VIP's subnet names no "
                                  "interface, so no other host can take it over")
            return plan
        vrrp_ip = placement.vrrp_ip
        if vrrp_ip is None:
            try:
                vrrp_ip = iface.own_address(interface, plan.cidr)
            except iface.InterfaceError as exc:
                raise ConfigError(str(exc)) from exc
        if plan.vrrp and vrrp_ip is None:
            raise ConfigError(f"this host has no address of subnet {plan.cidr} on {interface};"
                              " VRRP needs one to advertise from")
        return replace(plan, vrrp_ip=vrrp_ip)

    # --- changes ----------------------------------------------------------------------------
    def prepare(self, lb_dir: Path, plan: VipPlan) -> None:
        """Before the data plane (re)binds: in interface mode put the VIPs on their interfaces
        (and announce the new ones); take off what this host added before and the plan no
        longer wants (a VIP now owned by keepalived, a subnet moved back to loopback)."""
        wanted = set() if plan.vrrp else set(plan.on_interfaces)
        recorded = _load(lb_dir)
        for address, dev in sorted(recorded - wanted):
            self._remove(address, dev)
        try:
            for address, dev in sorted(wanted):
                if iface.add(dev, address):
                    iface.announce(dev, address)
        except iface.InterfaceError as exc:
            _save(lb_dir, recorded | wanted)  # removing an absent address is a no-op
            raise ConfigError(f"VIP not plumbed: {exc}") from exc
        if wanted or recorded:
            _save(lb_dir, wanted)

    def settle(self, lb_dir: Path, plan: VipPlan, instance: Supervised) -> None:
        """After the data plane runs: keepalived for a VRRP role (started, reloaded or left
        alone), none otherwise."""
        keepalived = Keepalived(lb_dir, self.vrrp_settings.binary)
        if not plan.vrrp:
            keepalived.stop()
            return
        assert plan.vrrp_ip is not None  # plan() refuses a VRRP role without one
        view = keepalived.view(self.vrrp_settings, role=plan.placement.role,
                               interface=plan.interface, source=plan.vrrp_ip,
                               peers=plan.placement.peers, addresses=plan.on_interfaces)
        keepalived.apply(keepalived.render(view, instance.pidfile, instance.cfg))

    def watch(self, lb_dir: Path, plan: VipPlan) -> None:
        """Periodic: start keepalived again if it died (the VIP has no owner here meanwhile;
        the peer holds it)."""
        if not plan.vrrp:
            return
        keepalived = Keepalived(lb_dir, self.vrrp_settings.binary)
        if keepalived.cfg.exists() and not keepalived.alive():
            try:
                keepalived.start("process found dead")
            except VrrpError as exc:
                LOG.error("keepalived %s: %s", plan.lb_id, exc)

    def release(self, lb_dir: Path) -> None:
        """This host stops serving the load balancer: keepalived stops (giving the VIP to the
        peer at once) and every address it added comes off."""
        Keepalived(lb_dir, self.vrrp_settings.binary).stop()
        remove_recorded_vips(lb_dir)

    @staticmethod
    def _remove(address: str, dev: str) -> None:
        try:
            iface.remove(dev, address)
        except iface.InterfaceError as exc:
            LOG.error("could not remove VIP %s from %s: %s", address, dev, exc)

    # --- reporting --------------------------------------------------------------------------
    def amphora_fields(self, lb_dir: Path, plan: VipPlan) -> AmphoraFields:
        """The amphora record's ``role`` and ``vrrp_*`` / ``ha_ip`` columns as this host knows
        them (Octavia's meaning: ``vrrp_ip`` the instance's own address on the VIP network,
        ``ha_ip`` the VIP, ``vrrp_id``/``vrrp_priority`` only with VRRP)."""
        fields = AmphoraFields(role=plan.placement.role, ha_ip=plan.primary)
        if plan.interface:
            fields["vrrp_ip"], fields["vrrp_interface"] = plan.vrrp_ip, plan.interface
        if plan.vrrp:
            fields["vrrp_id"] = vrrp_id(plan.lb_id)
            fields["vrrp_priority"] = PRIORITIES[plan.placement.role]
        return fields

    def vrrp_state(self, lb_dir: Path) -> str | None:
        """MASTER, BACKUP, FAULT (or None without keepalived): whether this host holds the
        VIP right now."""
        return Keepalived(lb_dir, self.vrrp_settings.binary).state()


def remove_recorded_vips(lb_dir: Path) -> None:
    """Take off every address this host added for the load balancer of ``lb_dir``."""
    recorded = _load(lb_dir)
    for address, dev in sorted(recorded):
        Vips._remove(address, dev)
    if recorded:
        _save(lb_dir, set())


def nonlocal_bind(address: str) -> bool:
    """Whether this host (network namespace) lets any process bind ``address`` without
    holding it (``net.ipv4.ip_nonlocal_bind`` / ``net.ipv6.ip_nonlocal_bind``)."""
    family = "ipv4" if ipaddress.ip_address(address).version == 4 else "ipv6"
    try:
        return Path(f"/proc/sys/net/{family}/ip_nonlocal_bind").read_text().strip() == "1"
    except OSError:
        return False


def _load(lb_dir: Path) -> set[tuple[str, str]]:
    try:
        data = json.loads((lb_dir / RECORD).read_text())
        return {(str(a), str(d)) for a, d in data.get("added", [])}
    except (OSError, ValueError, TypeError, AttributeError):
        return set()


def _save(lb_dir: Path, added: set[tuple[str, str]]) -> None:
    lb_dir.mkdir(parents=True, exist_ok=True)
    atomic_write(lb_dir / RECORD, json.dumps({"added": sorted(added)}))
