"""Operating status of a load balancer from HAProxy's ``show stat``, with Octavia's roll-up.

Reference §2.4: listeners follow their frontend (OPEN → ONLINE, FULL → DEGRADED and the LB
DEGRADED, missing while enabled → ERROR); a pool follows its backend (UP → ONLINE, DOWN → ERROR
and the LB ERROR); members follow their server (UP → ONLINE, DOWN → ERROR, which makes an ONLINE
pool and LB DEGRADED; DRAIN → DRAINING; MAINT → OFFLINE; "no check" → NO_MONITOR). Pools that
no listener uses are OFFLINE, their members OFFLINE (NO_MONITOR without a health monitor).
A pool shared by several listeners appears once per listener; the first backend counts.

HAProxy 2.x no longer reports a frontend at its ``maxconn`` as ``FULL`` (its status stays
``OPEN`` while it stops accepting), so a frontend counts as FULL when its current sessions
(``scur``) reach its limit (``slim``) too.

A server whose health check has not completed yet (``check_status`` ``INI``: a member just added
at run time, or any server of a freshly started process) shows as ``UP`` although nobody has
observed it. Such a member keeps the status reported before, or, if none was, Octavia's initial
value for a member of a monitored pool, ``OFFLINE``; a pool that is ``UP`` only through such
servers is treated the same way. No ONLINE until a check has passed.
"""

from __future__ import annotations

from typing import Any

from octavia_lib.api.drivers import data_models as dm

from statera.providers.kit.graph import enabled, val
from statera.providers.kit.status import (
    DEGRADED,
    DRAINING,
    ERROR,
    NO_MONITOR,
    OFFLINE,
    ONLINE,
    Statuses,
    changes,
)

__all__ = ["Statuses", "changes", "member_status", "observe"]


def member_status(server_status: str, weight: int) -> str | None:
    text = server_status.strip()
    if text.startswith("MAINT"):
        return OFFLINE
    if text.startswith("DRAIN") or text.startswith("NOLB"):
        return DRAINING
    if text.startswith("DOWN"):
        return ERROR
    if text.startswith("UP"):
        return DRAINING if weight == 0 else ONLINE
    if text == "no check":
        return DRAINING if weight == 0 else NO_MONITOR
    return None  # transitional states: keep what was reported before


def unchecked(row: dict[str, Any]) -> bool:
    """Whether a server row is UP only because its first health check has not completed."""
    check = str(row.get("check_status") or "").lstrip("* ")
    return check.startswith("INI") and str(row.get("status", "")).startswith("UP")


def frontend_full(row: dict[str, Any]) -> bool:
    """Whether a FRONTEND row of ``show stat`` is at its connection limit."""
    if str(row.get("status")) == "FULL":
        return True
    try:
        return 0 < int(row.get("slim") or 0) <= int(row.get("scur") or 0)
    except (TypeError, ValueError):
        return False


def observe(lb: dm.LoadBalancer, rows: list[dict[str, Any]],
            previous: Statuses | None = None) -> Statuses:
    """Operating status of every LB, listener, pool and member of ``lb``; ``previous`` is what
    was reported last (kept for what has not been observed yet)."""
    out: Statuses = {}
    before = previous or {}
    lb_id = str(lb.loadbalancer_id)
    lb_status = ONLINE if enabled(lb) else OFFLINE
    frontends = {r.get("pxname"): r for r in rows if r.get("svname") == "FRONTEND"}
    backends = [r for r in rows if r.get("svname") == "BACKEND"]
    servers = {(r.get("pxname"), r.get("svname")): r for r in rows
               if r.get("svname") not in ("FRONTEND", "BACKEND")}

    for listener in val(lb.listeners, []) or []:
        lid = str(listener.listener_id)
        row = frontends.get(lid)
        if not enabled(lb) or not enabled(listener):
            status = OFFLINE
        elif row is None:
            status = ERROR
        elif str(row.get("status")) in ("OPEN", "FULL") and frontend_full(row):
            status = DEGRADED
            if lb_status == ONLINE:
                lb_status = DEGRADED
        elif str(row.get("status")) == "OPEN":
            status = ONLINE
        else:
            status = OFFLINE
        out[("listeners", lid)] = status

    pools = {str(p.pool_id): p for p in val(lb.pools, []) or []}
    seen: set[str] = set()
    for row in backends:
        pool_id = str(row.get("pxname", "")).split(":", 1)[0]
        pool = pools.get(pool_id)
        if pool is None or pool_id in seen:
            continue
        seen.add(pool_id)
        pool_status = ONLINE if str(row.get("status")) == "UP" else ERROR
        ups = [r for (px, _), r in servers.items()
               if px == row.get("pxname") and str(r.get("status", "")).startswith("UP")]
        if pool_status == ONLINE and ups and all(unchecked(r) for r in ups):
            pool_status = before.get(("pools", pool_id), OFFLINE)
        if pool_status == ERROR:
            lb_status = ERROR
        for member in val(pool.members, []) or []:
            mid = str(member.member_id)
            srv = servers.get((row.get("pxname"), mid))
            if srv and unchecked(srv):
                observed: str | None = before.get(("members", mid), OFFLINE)
            else:
                observed = (member_status(str(srv.get("status", "")),
                                          int(val(member.weight, 1))) if srv else OFFLINE)
            if observed is None:
                continue
            if observed == ERROR:
                if pool_status == ONLINE:
                    pool_status = DEGRADED
                if lb_status == ONLINE:
                    lb_status = DEGRADED
            out[("members", mid)] = observed
        out[("pools", pool_id)] = pool_status if enabled(pool) else OFFLINE

    for pool_id, pool in pools.items():
        if pool_id in seen:
            continue
        out[("pools", pool_id)] = OFFLINE
        has_hm = val(pool.healthmonitor) is not None
        for member in val(pool.members, []) or []:
            out[("members", str(member.member_id))] = (
                NO_MONITOR if enabled(member) and not has_hm else OFFLINE)
    out[("loadbalancers", lb_id)] = lb_status
    return out
