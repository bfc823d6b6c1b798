"""Operating statuses, Octavia's roll-up and report diffing, for every provider.

Reference §2.4: a member that is down (ERROR) makes an ONLINE pool and load balancer DEGRADED;
a pool that is down makes the load balancer ERROR; a listener at its connection limit is
DEGRADED and so is its load balancer; disabled objects are OFFLINE; members of a pool without a
health monitor are NO_MONITOR and members with weight 0 DRAINING. Providers observe raw states
in their own way and use :func:`worst` and :func:`changes` to report them the same way.
"""

from __future__ import annotations

import uuid
from typing import Any

from octavia_lib.api.drivers import data_models as dm

from statera.agent.reconcile import StatusReport, active_report
from statera.providers.kit.graph import val
from statera.providers.kit.vips import AmphoraFields

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


def failed_report(lb: dm.LoadBalancer) -> StatusReport:
    """Every object ERROR: the desired configuration could not be applied (the previous one
    keeps running)."""
    report = active_report(lb)
    for records in report.values():
        for record in records:
            record["provisioning_status"] = "ERROR"
            record.pop("operating_status", None)
    return report


#: Namespace of the amphora ids: one stable id per load balancer, across restarts of anything.
AMPHORA_NAMESPACE = uuid.UUID("5d0f4c3e-6b1a-4f0e-9c59-8f3f2f6a7a01")


def amphora_id(lb_id: str) -> str:
    """The id under which the process of load balancer ``lb_id`` shows in the amphora API."""
    return str(uuid.uuid5(AMPHORA_NAMESPACE, lb_id))


def amphora_record(lb_id: str, lb: dm.LoadBalancer, pid: int | None, flavor: str,
                   record_id: str | None = None,
                   fields: AmphoraFields | None = None) -> dict[str, Any]:
    """Status-socket ``amphorae`` record of the process serving ``lb_id``: the pid as compute
    id, the VIP as its address; ERROR when the process is dead and could not be started
    again. ``fields`` adds what the host knows of the instance's place (``role``,
    ``vrrp_ip``, ``ha_ip``, ``vrrp_interface``, ``vrrp_id``, ``vrrp_priority``: see
    ``kit/vips.py``); ``record_id`` replaces the id derived from the load balancer (two
    instances of one load balancer need two). (A deleted load balancer's amphora row goes
    with it in the driver agent.)"""
    record = {"id": record_id or amphora_id(lb_id), "loadbalancer_id": lb_id,
              "status": "ALLOCATED" if pid is not None else "ERROR",
              "compute_id": str(pid) if pid is not None else flavor,
              "compute_flavor": flavor, "role": "STANDALONE",
              "lb_network_ip": val(lb.vip_address)}
    record.update(fields or {})
    return record


def pick(observed: Statuses, kind: str, obj: Any) -> str:
    """Operating status of ``obj`` for ``active_report``: what was observed, else Octavia's
    no-health default."""
    ids = {"loadbalancers": "loadbalancer_id", "listeners": "listener_id", "pools": "pool_id",
           "members": "member_id"}
    if kind in ids:
        status = observed.get((kind, str(getattr(obj, ids[kind]))))
        if status:
            return status
    if val(getattr(obj, "admin_state_up", None), True) is False:
        return OFFLINE
    return NO_MONITOR if kind == "members" else ONLINE
