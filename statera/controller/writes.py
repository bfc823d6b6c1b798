"""The write transaction every change to a load balancer's desired state runs in, and the
lookups and tags that writes share.

A write locks its load balancer first, bumps its desired generation (``changes``), makes its
change, calls the provider driver's hook, commits, and only then hints the provider's agent to
converge: the agent must not converge before it can see the change, and a write that fails
(rolled back) wakes no one.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from statera.bus.base import CONVERGE
from statera.controller import changes, rules
from statera.controller.access import Requester
from statera.controller.errors import NotFound
from statera.controller.providers import call_provider
from statera.controller.services import Services
from statera.db.models import LoadBalancer, Tag
from statera.db.statuses import ProvisioningStatus

#: Octavia's policy object type of each model.
POLICY_TYPE = {
    "LoadBalancer": "loadbalancer", "Listener": "listener", "Pool": "pool", "Member": "member",
    "HealthMonitor": "healthmonitor", "L7Policy": "l7policy", "L7Rule": "l7rule",
}
#: How Octavia names each model in its "not found" messages.
KIND = {
    "LoadBalancer": "Load Balancer", "Listener": "Listener", "Pool": "Pool", "Member": "Member",
    "HealthMonitor": "Health Monitor", "L7Policy": "L7 Policy", "L7Rule": "L7 Rule",
}


def fetch(session: Session, model: type[Any], obj_id: str, *, lock: bool = False) -> Any:
    """The object or NotFound (a DELETED load balancer counts as missing)."""
    stmt = select(model).where(model.id == obj_id)
    if lock:
        stmt = stmt.with_for_update()
    row = session.scalars(stmt).first()
    if row is None or getattr(row, "provisioning_status", None) == ProvisioningStatus.DELETED:
        raise NotFound(KIND.get(model.__name__, model.__name__), obj_id)
    return row


def fetch_authorized(session: Session, model: type[Any], obj_id: str, who: Requester,
                     action: str) -> Any:
    """The object, if ``who`` may ``action`` it (NotFound first, then Forbidden, as Octavia)."""
    row = fetch(session, model, obj_id)
    who.authorize(POLICY_TYPE[model.__name__], action, row.project_id)
    return row


def tags_for(session: Session, ids: Iterable[str]) -> dict[str, list[str]]:
    """Each object's tags, sorted (an empty list for an untagged one)."""
    ids = list(ids)
    out: dict[str, list[str]] = {i: [] for i in ids}
    if not ids:
        return out
    for rid, tag in session.execute(
        select(Tag.resource_id, Tag.tag).where(Tag.resource_id.in_(ids)).order_by(Tag.tag)
    ):
        out[rid].append(tag)
    return out


def set_tags(session: Session, obj_id: str, tags: list[str] | None) -> None:
    """Replace an object's tags (None: leave them)."""
    if tags is None:
        return
    session.execute(delete(Tag).where(Tag.resource_id == obj_id))
    for tag in dict.fromkeys(tags):
        session.add(Tag(resource_id=obj_id, tag=tag))


def drop_tags(session: Session, obj_ids: Iterable[str]) -> None:
    """Forget the tags of objects that are going."""
    ids = list(obj_ids)
    if ids:
        session.execute(delete(Tag).where(Tag.resource_id.in_(ids)))


def hint(svc: Services, provider: str | None, lb_id: str, action: str = CONVERGE) -> None:
    """After commit: tell the provider's agent to converge (or fail over) this load balancer."""
    svc.bus.publish(provider or svc.settings.api.default_provider_driver, lb_id, action)


class Change:
    """One write to a load balancer's desired state, inside the transaction :func:`change`
    opened: ``lb`` is row-locked and already at its new desired generation."""

    def __init__(self, svc: Services, session: Session, lb: LoadBalancer) -> None:
        self.svc = svc
        self.session = session
        self.lb = lb
        self._driver: Any = None

    def load_driver(self) -> Any:
        """The load balancer's provider driver: Invalid if its provider is not enabled,
        Unsupported if it cannot be loaded. Operations call it after their own not-found and
        conflict checks and before quota and validation, which is where these errors have
        always come."""
        if self._driver is None:
            self._driver = rules.driver_for(self.svc, self.lb)
        return self._driver

    def call(self, method: str, *args: Any) -> Any:
        """``driver.<method>(*args)``, its errors turned into the controller's."""
        driver = self.load_driver()
        return call_provider(driver.name, getattr(driver, method), *args)


@contextmanager
def change(svc: Services, lb_id: str, action: str = CONVERGE) -> Iterator[Change]:
    """Open the write transaction for load balancer ``lb_id``, then hint its provider's agent.

    Locking the load balancer is the transaction's first statement, so that on every database
    the change reads what the previous writer committed.
    """
    with svc.db.session() as session:
        work = Change(svc, session, changes.lock_loadbalancer(session, lb_id))
        yield work
    hint(svc, work.lb.provider, work.lb.id, action)
