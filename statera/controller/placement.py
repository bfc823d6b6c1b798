"""Placement: which agent host runs each instance of a load balancer.

Only load balancers of providers that some agent host declares as local data planes (the
host records' ``providers``) are placed; the core never names a provider. Each such load
balancer gets one instance (``STANDALONE``), or two on distinct hosts (``MASTER`` and
``BACKUP``) when its flavor profile says ``{"loadbalancer_topology": "ACTIVE_STANDBY"}``. An
instance is an amphora row whose ``compute_id`` names its host; it goes to a live host that
serves the provider and the load balancer's availability zone, has room (``capacity``), and
runs the fewest instances (then by name, so a pass is deterministic).

``schedule`` places what is unplaced and moves instances off hosts that are down. It runs when
a load balancer is created (``place_new``), in every agent host's heartbeat (which also places
what was created while no host could run it), and in the API's failover; never in the get
socket, which only reads placement (``owns``). Concurrent runs serialise on the host rows'
locks (taken in name order; on SQLite, ``BEGIN IMMEDIATE`` already serialises writers), and
each decides on what it reads under them, so two schedulers never place one instance twice.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from statera.db.models import AgentHost, Amphora, Flavor, FlavorProfile, LoadBalancer, utcnow
from statera.db.statuses import ProvisioningStatus

LOG = logging.getLogger(__name__)

STANDALONE, MASTER, BACKUP = "STANDALONE", "MASTER", "BACKUP"
ACTIVE_STANDBY = "ACTIVE_STANDBY"
#: Status of an instance placed but not yet reported by its host's provider agent.
BOOTING = "BOOTING"


def is_live(host: AgentHost, now: float | None = None) -> bool:
    """Whether ``host`` renewed its lease within its ``down_after``."""
    return (time.time() if now is None else now) <= host.renewed_at + host.down_after


def placed_providers(session: Session) -> set[str]:
    """Providers whose load balancers are placed: those some host runs as local data planes."""
    found: set[str] = set()
    for providers in session.scalars(select(AgentHost.providers)):
        found.update(str(p) for p in providers or [])
    return found


def instances_wanted(session: Session, lb: LoadBalancer) -> int:
    """2 for an ACTIVE_STANDBY flavor, else 1."""
    if not lb.flavor_id:
        return 1
    data = session.scalar(select(FlavorProfile.flavor_data).join(
        Flavor, Flavor.flavor_profile_id == FlavorProfile.id).where(Flavor.id == lb.flavor_id))
    try:
        profile = json.loads(data or "{}")
    except ValueError:
        return 1
    topology = profile.get("loadbalancer_topology") if isinstance(profile, dict) else None
    return 2 if topology == ACTIVE_STANDBY else 1


@dataclass
class Pass:
    """What one scheduling pass changed: load balancers to hint, by provider."""

    changed: list[tuple[str, str]] = field(default_factory=list)
    unplaceable: list[str] = field(default_factory=list)


def schedule(session: Session, lb_ids: Iterable[str] | None = None,
             *, now: float | None = None, move: dict[str, str] | None = None) -> Pass:
    """Place the load balancers ``lb_ids`` (all placed ones when None) as the module says.

    ``move``: amphora id -> host it must leave (failover); the instance goes to another live
    host when there is one, and stays (to be rebuilt in place) when there is none.
    Takes the host rows' locks; the caller commits."""
    now = time.time() if now is None else now
    hosts = list(session.scalars(select(AgentHost).order_by(AgentHost.name).with_for_update()))
    local = {str(p) for h in hosts for p in h.providers or []}
    if not local:
        return Pass()
    live = {h.name: h for h in hosts if is_live(h, now)}
    query = select(LoadBalancer).where(LoadBalancer.provider.in_(sorted(local)),
                                       LoadBalancer.provisioning_status
                                       != ProvisioningStatus.DELETED)
    if lb_ids is not None:
        ids = sorted(set(lb_ids))
        if not ids:
            return Pass()
        query = query.where(LoadBalancer.id.in_(ids))
    lbs = list(session.scalars(query.order_by(LoadBalancer.id)))
    if not lbs:
        return Pass()
    load: Counter[str] = Counter({str(host): int(count) for host, count in session.execute(
        select(Amphora.compute_id, func.count()).where(Amphora.compute_id.is_not(None))
        .group_by(Amphora.compute_id))})
    amphorae: dict[str, list[Amphora]] = {}
    for amp in session.scalars(select(Amphora).where(
            Amphora.load_balancer_id.in_([lb.id for lb in lbs])).order_by(Amphora.created_at,
                                                                          Amphora.id)):
        amphorae.setdefault(str(amp.load_balancer_id), []).append(amp)
    result = Pass()
    for lb in lbs:
        placed = _place_one(session, lb, amphorae.get(lb.id, []), live, load, move or {})
        if placed is None:
            result.unplaceable.append(lb.id)
        elif placed:
            result.changed.append((str(lb.provider), lb.id))
    return result


def place_new(session: Session, lb: LoadBalancer) -> Pass:
    """Place ``lb``, just created, in its create transaction, so its host's agent finds it
    placed on its first read (the get socket only reads). Takes the host locks only when
    ``lb``'s provider is placed at all. With no live host able to run it, it stays unplaced
    until a heartbeat's pass finds one."""
    if lb.provider is None or lb.provider not in placed_providers(session):
        return Pass()
    return schedule(session, [lb.id])


def _place_one(session: Session, lb: LoadBalancer, amps: list[Amphora],
               live: dict[str, AgentHost], load: Counter[str],
               move: dict[str, str]) -> bool | None:
    """Bring ``lb``'s instances to what it wants: True when anything changed, None when it
    has no instance left (no live host can run it)."""
    wanted = instances_wanted(session, lb)
    changed = False
    keep: list[Amphora] = []
    for amp in amps:
        host = amp.compute_id
        leaving = move.get(amp.id)
        if host in {k.compute_id for k in keep}:  # two instances on one host: one too many
            if host:
                load[host] -= 1
            session.delete(amp)
            changed = True
            continue
        if host in live and host != leaving:
            keep.append(amp)
            continue
        # Its host is down (or it must leave it): re-place it under the same amphora id; it
        # starts as a new instance there, so a surviving instance is promoted before it.
        target = _pick(lb, live, load, exclude={k.compute_id for k in keep} | {host})
        if target is None and host in live:
            keep.append(amp)  # nowhere else to go: failover rebuilds it where it is
            continue
        if host:
            load[host] -= 1
        if target is None:
            LOG.warning("load balancer %s: instance %s lost host %s and no live host can take "
                        "it", lb.id, amp.id, host)
            session.delete(amp)
            changed = True
            continue
        LOG.info("load balancer %s: instance %s moves from %s to %s", lb.id, amp.id, host,
                 target)
        amp.compute_id, amp.status, amp.updated_at = target, BOOTING, utcnow()
        # The old host's addresses: its peer must not advertise to them once it is gone.
        amp.role = amp.vrrp_ip = amp.vrrp_interface = None
        load[target] += 1
        keep.append(amp)
        changed = True
    while len(keep) > wanted:  # topology shrank: drop the newest
        extra = keep.pop()
        if extra.compute_id:
            load[extra.compute_id] -= 1
        session.delete(extra)
        changed = True
    while len(keep) < wanted:
        target = _pick(lb, live, load, exclude={k.compute_id for k in keep})
        if target is None:
            break
        amp = Amphora(load_balancer_id=lb.id, compute_id=target, status=BOOTING,
                      cached_zone=lb.availability_zone, ha_ip=lb.vip_address,
                      lb_network_ip=lb.vip_address, compute_flavor=lb.provider,
                      created_at=utcnow())
        session.add(amp)
        load[target] += 1
        keep.append(amp)
        changed = True
    if _assign_roles(keep, wanted):
        changed = True
    if changed:
        session.flush()
    return changed if keep else None


def _assign_roles(amps: list[Amphora], wanted: int) -> bool:
    """STANDALONE alone; MASTER and BACKUP as a pair (a surviving MASTER stays MASTER, a
    surviving BACKUP is promoted)."""
    if wanted == 1:
        roles = [STANDALONE] * len(amps)
    else:
        ranked = sorted(amps, key=lambda a: {MASTER: 0, BACKUP: 1}.get(a.role or "", 2))
        first = ranked[0] if ranked else None
        roles = [MASTER if a is first else BACKUP for a in amps]
    changed = False
    for amp, role in zip(amps, roles, strict=True):
        if amp.role != role:
            amp.role = role
            amp.vrrp_priority = {MASTER: 100, BACKUP: 90}.get(role)
            changed = True
    return changed


def _pick(lb: LoadBalancer, live: dict[str, AgentHost], load: Counter[str],
          exclude: set[str | None]) -> str | None:
    """The least loaded live host that can run ``lb``, or None."""
    zone = lb.availability_zone or None
    fits = [h for h in live.values()
            if h.name not in exclude and lb.provider in (h.providers or [])
            and (h.availability_zone or None) == zone
            and (h.capacity <= 0 or load[h.name] < h.capacity)]
    if not fits:
        return None
    return min(fits, key=lambda h: (load[h.name], h.name)).name


def hosts_of(session: Session, lb_id: str) -> list[str]:
    """Hosts that run instances of ``lb_id``."""
    return [str(h) for h in session.scalars(select(Amphora.compute_id).where(
        Amphora.load_balancer_id == lb_id, Amphora.compute_id.is_not(None)))]


def owns(session: Session, host: str, lb_id: str) -> bool:
    """Whether ``host`` runs an instance of ``lb_id``."""
    return session.scalars(select(Amphora.id).where(
        Amphora.load_balancer_id == lb_id, Amphora.compute_id == host)).first() is not None


def owned(session: Session, host: str) -> set[tuple[str, str]]:
    """``(provider, lb_id)`` of every load balancer with an instance on ``host``."""
    rows = session.execute(
        select(LoadBalancer.provider, LoadBalancer.id).join(
            Amphora, Amphora.load_balancer_id == LoadBalancer.id)
        .where(Amphora.compute_id == host,
               LoadBalancer.provisioning_status != ProvisioningStatus.DELETED))
    return {(str(p), str(i)) for p, i in rows}


#: A quick check that finds more load balancers than this to place leaves them to a full pass
#: (an ``IN`` list this long costs more than reading every load balancer).
MAX_TARGETED = 500


@dataclass(frozen=True)
class Pending:
    """What a quick check found for a placement pass.

    ``lb_ids``: the load balancers with work (None: too many, pass over all of them).
    ``hosts``: the hosts as placement sees them (name, live, providers, zone, capacity); when
    this changes, room may have appeared for instances the check does not see missing (an
    ACTIVE_STANDBY pair still waiting for its second host)."""

    lb_ids: list[str] | None
    hosts: tuple[tuple[str, bool, tuple[str, ...], str | None, int], ...]


def pending(session: Session, now: float | None = None) -> Pending:
    """The load balancers a placement pass has work for: those of a placed provider without
    an instance, and those with an instance on a host that is down. Reads only, takes no lock.

    A pass over just these decides what a pass over all would for them, and leaves every
    other load balancer as it is (its instances are on live hosts), at the cost of reading a
    few rows instead of every load balancer and instance under the hosts' locks."""
    now = time.time() if now is None else now
    rows = list(session.scalars(select(AgentHost).order_by(AgentHost.name)))
    hosts = tuple((h.name, is_live(h, now), tuple(sorted(str(p) for p in h.providers or [])),
                   h.availability_zone or None, h.capacity) for h in rows)
    local = sorted({p for h in hosts for p in h[2]})
    if not local:
        return Pending([], hosts)
    live = [h[0] for h in hosts if h[1]]
    lbs = select(LoadBalancer.id).where(
        LoadBalancer.provider.in_(local),
        LoadBalancer.provisioning_status != ProvisioningStatus.DELETED)
    unplaced = session.scalars(lbs.where(~LoadBalancer.id.in_(
        select(Amphora.load_balancer_id).where(Amphora.load_balancer_id.is_not(None))))
        .limit(MAX_TARGETED + 1)).all()
    stranded = session.scalars(select(Amphora.load_balancer_id).distinct().where(
        Amphora.load_balancer_id.in_(lbs), Amphora.compute_id.not_in(live))
        .limit(MAX_TARGETED + 1)).all()
    ids = sorted({str(i) for i in unplaced} | {str(i) for i in stranded if i is not None})
    return Pending(None if len(ids) > MAX_TARGETED else ids, hosts)


def instance_hosts(session: Session, lb_id: str) -> dict[str, str]:
    """Amphora id -> host of every placed instance of ``lb_id`` (for a failover's ``move``)."""
    return {str(a.id): str(a.compute_id) for a in session.scalars(select(Amphora).where(
        Amphora.load_balancer_id == lb_id, Amphora.compute_id.is_not(None)))}
