"""Operating statuses, Octavia's roll-up and report diffing, for every provider.

Reference §2.4: a member that is down (ERROR) makes an ONLINE pool and load balancer DEGRADED;
a pool that is down makes the load balancer ERROR; a listener at its connection limit is
DEGRADED and so is its load balancer; disabled objects are OFFLINE; members of a pool without a
health monitor are NO_MONITOR and members with weight 0 DRAINING. Providers observe raw states
in their own way and use :func:`worst` and :func:`changes` to report them the same way.
"""

from __future__ import annotations

ONLINE, OFFLINE, DEGRADED, ERROR = "ONLINE", "OFFLINE", "DEGRADED", "ERROR"
DRAINING, NO_MONITOR = "DRAINING", "NO_MONITOR"
Statuses = dict[tuple[str, str], str]  # (kind, id) -> operating status

ORDER = ("members", "pools", "listeners", "loadbalancers")


def degrade(parent: str, child: str) -> str:
    """The parent's status after a child reported ``child``: an ERROR child makes an ONLINE
    parent DEGRADED (never better, never ERROR: a pool with one dead member still serves)."""
    if child == ERROR and parent == ONLINE:
        return DEGRADED
    return parent


def changes(current: Statuses, reported: Statuses) -> dict[str, list[dict[str, str]]]:
    """Status-socket payload for what differs from ``reported`` (the LB written last)."""
    report: dict[str, list[dict[str, str]]] = {}
    for kind in ORDER:
        for (k, obj_id), status in sorted(current.items()):
            if k == kind and reported.get((k, obj_id), "").upper() != status:
                report.setdefault(kind, []).append({"id": obj_id, "operating_status": status})
    return report
