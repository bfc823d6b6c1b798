"""Desired-state bookkeeping for every API write.

Octavia locks a load balancer with ``PENDING_UPDATE`` and answers 409 to any other write
until the provider reports back. Statera instead bumps the load balancer's desired generation
and stamps the touched objects with it, so writes under a pending load balancer are accepted and
coalesced into the next convergence; objects read ACTIVE only once the provider applied the
generation that stamped them (see ``statera.db.models``).

This module is the one writer of what the API requests: ``pending_status`` and ``generation``
of every object, and the load balancer's ``desired_generation``. It reads the derived
``provisioning_status`` (which folds in what providers reported) but never writes a provider's
side: a new generation is all it takes for a request to supersede an older report.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from statera.controller.errors import Conflict, NotFound
from statera.db.models import LoadBalancer, utcnow
from statera.db.statuses import DELETING, ProvisioningStatus


def lock_loadbalancer(session: Session, lb_id: str) -> LoadBalancer:
    """Row-lock the load balancer and open a new desired generation (409 if it is going away)."""
    lb = session.scalars(
        select(LoadBalancer).where(LoadBalancer.id == lb_id).with_for_update()
    ).first()
    if lb is None:
        raise NotFound("Load Balancer", lb_id)
    if lb.provisioning_status in DELETING:
        raise Conflict(f"Invalid state {lb.provisioning_status} of loadbalancer resource {lb_id}")
    if lb.provisioning_status != ProvisioningStatus.PENDING_CREATE:
        lb.pending_status = ProvisioningStatus.PENDING_UPDATE.value
    lb.desired_generation += 1
    lb.updated_at = utcnow()
    return lb


def ensure_mutable(obj: Any, kind: str) -> None:
    """A parent that is being deleted cannot take changes (Octavia's 'immutable' 409)."""
    if obj.provisioning_status in DELETING:
        raise Conflict(f"{kind} {obj.id} is immutable and cannot be updated.")


def mark(obj: Any, lb: LoadBalancer, status: ProvisioningStatus) -> None:
    """Stamp ``obj`` with the LB's new generation and a PENDING_* status.

    An object still waiting for its creation stays PENDING_CREATE when it is updated again.
    """
    if not (status == ProvisioningStatus.PENDING_UPDATE
            and obj.provisioning_status == ProvisioningStatus.PENDING_CREATE):
        obj.pending_status = status.value
    obj.generation = lb.desired_generation
    if status != ProvisioningStatus.PENDING_CREATE:
        obj.updated_at = utcnow()


def touch(obj: Any, lb: LoadBalancer) -> None:
    """Flag a parent PENDING_UPDATE in this generation (one being deleted stays so)."""
    if obj.provisioning_status not in DELETING:
        mark(obj, lb, ProvisioningStatus.PENDING_UPDATE)


__all__ = ["DELETING", "ensure_mutable", "lock_loadbalancer", "mark", "touch"]
