"""Operating status and statistics from the device's iControl statistics, Octavia's roll-up.

Members: ``status.enabledState`` disabled → OFFLINE; ``status.availabilityState`` available
→ ONLINE, offline → ERROR, unknown (no monitor) → NO_MONITOR; a member the device does not
list → OFFLINE. A pool is ERROR when all its members are ERROR, DEGRADED when some are; the
load balancer is ERROR/DEGRADED when a pool is. A listener is ERROR when its virtual server's
``status.availabilityState`` is offline (BIG-IP: nothing behind it can serve), else ONLINE.
Disabled objects are OFFLINE. Statistics are
the virtual server's absolute counters (bits become bytes).
"""

from __future__ import annotations

from typing import Any

from octavia_lib.api.drivers import data_models as dm

from statera.providers.f5.client import stat_value
from statera.providers.f5.declaration import val

ONLINE, OFFLINE, DEGRADED, ERROR, NO_MONITOR = (
    "ONLINE", "OFFLINE", "DEGRADED", "ERROR", "NO_MONITOR")
Statuses = dict[tuple[str, str], str]  # (kind, id) -> operating status
ORDER = ("members", "pools", "listeners", "loadbalancers")


def _enabled(obj: Any) -> bool:
    return bool(val(getattr(obj, "admin_state_up", True), True))


def _address(text: Any) -> str:
    """``10.0.0.1%0`` or ``/Common/10.0.0.1`` → ``10.0.0.1``."""
    return str(text or "").rsplit("/", 1)[-1].split("%", 1)[0]


def member_status(entries: dict[str, Any] | None) -> str:
    if entries is None:
        return OFFLINE
    if str(stat_value(entries, "status.enabledState") or "enabled") != "enabled":
        return OFFLINE
    availability = str(stat_value(entries, "status.availabilityState") or "unknown")
    return {"available": ONLINE, "offline": ERROR}.get(availability, NO_MONITOR)


def observe(lb: dm.LoadBalancer, members: dict[str, list[dict[str, Any]]],
            virtuals: dict[str, dict[str, Any]] | None = None) -> Statuses:
    """Operating status of every object of ``lb`` from its pools' member statistics and its
    virtual servers' statistics (listener id -> entries)."""
    out: Statuses = {}
    lb_status = ONLINE if _enabled(lb) else OFFLINE
    for pool in val(lb.pools, []):
        by_address = {(_address(stat_value(e, "addr")), int(stat_value(e, "port") or 0)): e
                      for e in members.get(str(pool.pool_id), [])}
        statuses = []
        for member in val(pool.members, []):
            entries = by_address.get((str(member.address), int(member.protocol_port)))
            status = member_status(entries) if _enabled(member) else OFFLINE
            out[("members", str(member.member_id))] = status
            statuses.append(status)
        errors = statuses.count(ERROR)
        if not _enabled(pool):
            pool_status = OFFLINE
        elif statuses and errors == len(statuses):
            pool_status = ERROR
        elif errors:
            pool_status = DEGRADED
        else:
            pool_status = ONLINE
        out[("pools", str(pool.pool_id))] = pool_status
        if lb_status != OFFLINE and pool_status in (ERROR, DEGRADED):
            lb_status = ERROR if pool_status == ERROR or lb_status == ERROR else DEGRADED
    for listener in val(lb.listeners, []):
        lid = str(listener.listener_id)
        availability = stat_value((virtuals or {}).get(lid) or {}, "status.availabilityState")
        if not (_enabled(lb) and _enabled(listener)):
            out[("listeners", lid)] = OFFLINE
        else:
            out[("listeners", lid)] = ERROR if availability == "offline" else ONLINE
    out[("loadbalancers", str(lb.loadbalancer_id))] = lb_status
    return out


def pick(observed: Statuses, kind: str, obj: Any) -> str:
    """Operating status for an ACTIVE report: the last observation, else Octavia's default."""
    ident = {"members": "member_id", "pools": "pool_id", "listeners": "listener_id",
             "loadbalancers": "loadbalancer_id", "healthmonitors": "healthmonitor_id",
             "l7policies": "l7policy_id", "l7rules": "l7rule_id"}[kind]
    known = observed.get((kind, str(getattr(obj, ident, ""))))
    if known is not None:
        return known
    if not _enabled(obj):
        return OFFLINE
    return NO_MONITOR if kind == "members" else ONLINE


def changes(current: Statuses, reported: Statuses) -> dict[str, list[dict[str, str]]]:
    """Status-socket payload for what differs from what was reported last."""
    report: dict[str, list[dict[str, str]]] = {}
    for kind in ORDER:
        for (k, obj_id), status in sorted(current.items()):
            if k == kind and reported.get((k, obj_id)) != status:
                report.setdefault(kind, []).append({"id": obj_id, "operating_status": status})
    return report


def listener_record(listener_id: str, entries: dict[str, Any]) -> dict[str, Any]:
    """One listener's statistics record (absolute totals) from its virtual server."""
    def number(key: str) -> int:
        try:
            return int(stat_value(entries, key) or 0)
        except (TypeError, ValueError):
            return 0

    return {
        "id": listener_id,
        "bytes_in": number("clientside.bitsIn") // 8,
        "bytes_out": number("clientside.bitsOut") // 8,
        "active_connections": number("clientside.curConns"),
        "total_connections": number("clientside.totConns"),
        "request_errors": 0,
    }
