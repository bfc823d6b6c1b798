"""Walking and pruning the load-balancer object graph in the database.

The status and get sockets both need "which load balancer owns this row" (generations live on
the load balancer) and "every object of this load balancer". Removing a row is also shared:
the status socket removes rows when a provider reports DELETED and when an ACTIVE report
finalises a PENDING_DELETE, and both must leave no dangling reference behind.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any, cast

from octavia_lib.common import constants as lib_consts
from sqlalchemy import Select, delete, select, update
from sqlalchemy.orm import Session, selectinload

from statera.db.models import (
    HealthMonitor,
    L7Policy,
    L7Rule,
    Listener,
    ListenerStatistics,
    LoadBalancer,
    Member,
    Pool,
    Tag,
)

GraphRow = LoadBalancer | Listener | Pool | Member | HealthMonitor | L7Policy | L7Rule
ChildRow = Listener | Pool | Member | HealthMonitor | L7Policy | L7Rule

#: Object kinds as named on the wire (status and get sockets) and their tables.
MODELS: dict[str, type[GraphRow]] = {
    lib_consts.LOADBALANCERS: LoadBalancer,
    lib_consts.LISTENERS: Listener,
    lib_consts.POOLS: Pool,
    lib_consts.MEMBERS: Member,
    lib_consts.HEALTHMONITORS: HealthMonitor,
    lib_consts.L7POLICIES: L7Policy,
    lib_consts.L7RULES: L7Rule,
}


def get_row(session: Session, kind: str, obj_id: str) -> GraphRow | None:
    """The row of wire kind ``kind`` (one of ``MODELS``) with id ``obj_id``, if any."""
    return cast(GraphRow | None, session.get(MODELS[kind], obj_id))


def owning_lb_ids(session: Session, kind: str, ids: list[str]) -> set[str]:
    """The load balancers that rows of wire kind ``kind`` belong to, in one query.

    Read without locks: a row never moves to another load balancer.
    """
    if not ids:
        return set()
    query: Select[Any]
    if kind == lib_consts.LOADBALANCERS:
        query = select(LoadBalancer.id).where(LoadBalancer.id.in_(ids))
    elif kind in (lib_consts.LISTENERS, lib_consts.POOLS):
        model = Listener if kind == lib_consts.LISTENERS else Pool
        query = select(model.load_balancer_id).where(model.id.in_(ids))
    elif kind in (lib_consts.MEMBERS, lib_consts.HEALTHMONITORS):
        child = Member if kind == lib_consts.MEMBERS else HealthMonitor
        query = (select(Pool.load_balancer_id).join(child, child.pool_id == Pool.id)
                 .where(child.id.in_(ids)))
    elif kind == lib_consts.L7POLICIES:
        query = (select(Listener.load_balancer_id)
                 .join(L7Policy, L7Policy.listener_id == Listener.id).where(L7Policy.id.in_(ids)))
    else:
        query = (select(Listener.load_balancer_id)
                 .join(L7Policy, L7Policy.listener_id == Listener.id)
                 .join(L7Rule, L7Rule.l7policy_id == L7Policy.id).where(L7Rule.id.in_(ids)))
    return set(session.scalars(query))


def load_graphs(session: Session, lb_ids: set[str]) -> list[LoadBalancer]:
    """Load whole load-balancer graphs into the session in a handful of queries.

    Walking a graph row by row costs one lazy load per relationship (some 50 queries for a
    small load balancer); after this, ``get_row`` and the relationships of every object of
    these load balancers are answered from the session. The session's identity map holds rows
    weakly: keep the returned load balancers referenced while the graph is in use.
    """
    if not lb_ids:
        return []
    return list(session.scalars(
        select(LoadBalancer).where(LoadBalancer.id.in_(sorted(lb_ids))).options(
            selectinload(LoadBalancer.listeners)
            .selectinload(Listener.l7policies).selectinload(L7Policy.rules),
            selectinload(LoadBalancer.pools).selectinload(Pool.members),
            selectinload(LoadBalancer.pools).selectinload(Pool.health_monitor),
        )
    ))


def lock_load_balancers(session: Session, lb_ids: set[str]) -> None:
    """Row-lock the load balancers in id order, then forget every row read before the lock.

    Every writer of a load balancer's state takes this lock first (the API in
    ``statera.controller.changes``), so what is read after it is the latest committed state and
    stays so until the commit. Id order keeps two lockers of overlapping sets from deadlocking.
    SQLite ignores FOR UPDATE; its BEGIN IMMEDIATE serialises writers instead.
    """
    if lb_ids:
        session.execute(
            select(LoadBalancer.id)
            .where(LoadBalancer.id.in_(sorted(lb_ids)))
            .order_by(LoadBalancer.id)
            .with_for_update()
        ).all()
    session.expire_all()


def owning_load_balancer(row: GraphRow) -> LoadBalancer:
    """The load balancer a row belongs to (where its generation is compared)."""
    if isinstance(row, LoadBalancer):
        return row
    if isinstance(row, Listener | Pool):
        return row.load_balancer
    if isinstance(row, Member | HealthMonitor):
        return row.pool.load_balancer
    if isinstance(row, L7Policy):
        return row.listener.load_balancer
    return row.l7policy.listener.load_balancer


def ancestors(row: GraphRow) -> list[GraphRow]:
    """The row's parents up to (and including) its load balancer, nearest first."""
    chain: list[GraphRow] = []
    current: GraphRow = row
    while not isinstance(current, LoadBalancer):
        parent: GraphRow
        if isinstance(current, Listener | Pool):
            parent = current.load_balancer
        elif isinstance(current, Member | HealthMonitor):
            parent = current.pool
        elif isinstance(current, L7Policy):
            parent = current.listener
        else:
            parent = current.l7policy
        chain.append(parent)
        current = parent
    return chain


def descendants(row: GraphRow) -> Iterator[ChildRow]:
    """Every row below ``row``, children before their parents' siblings (depth first)."""
    if isinstance(row, LoadBalancer):
        for listener in list(row.listeners):
            yield listener
            yield from descendants(listener)
        for pool in list(row.pools):
            yield pool
            yield from descendants(pool)
    elif isinstance(row, Listener):
        for policy in list(row.l7policies):
            yield policy
            yield from descendants(policy)
    elif isinstance(row, L7Policy):
        yield from list(row.rules)
    elif isinstance(row, Pool):
        yield from list(row.members)
        if row.health_monitor is not None:
            yield row.health_monitor


def remove_row(session: Session, row: ChildRow) -> None:
    """Delete a non-load-balancer row, its children, and every reference to it.

    A pool may still be a listener's default pool or an L7 policy's redirect target; those
    references are cleared the way Octavia does it (the policy becomes REJECT), so the delete
    cannot fail on a foreign key and no policy is left redirecting to nothing.
    """
    ids = [row.id, *(child.id for child in descendants(row))]
    if isinstance(row, Pool):
        for listener in session.scalars(
            select(Listener).where(Listener.default_pool_id == row.id)
        ):
            listener.default_pool = None
        for policy in session.scalars(
            select(L7Policy).where(L7Policy.redirect_pool_id == row.id)
        ):
            policy.redirect_pool = None
            if policy.action == lib_consts.L7POLICY_ACTION_REDIRECT_TO_POOL:
                policy.action = lib_consts.L7POLICY_ACTION_REJECT
    if isinstance(row, Listener):
        session.execute(delete(ListenerStatistics).where(ListenerStatistics.listener_id == row.id))
    session.delete(row)
    session.execute(delete(Tag).where(Tag.resource_id.in_(ids)))
    session.flush()


def touch_rows(session: Session, rows: list[ChildRow], now: dt.datetime) -> None:
    """Set ``updated_at`` of ``rows`` in one UPDATE per table, however many rows there are
    (the session's copies are updated too)."""
    by_model: dict[type[ChildRow], list[str]] = {}
    for row in rows:
        by_model.setdefault(type(row), []).append(row.id)
    for model, ids in by_model.items():
        session.execute(update(model).where(model.id.in_(ids)).values(updated_at=now),
                        execution_options={"synchronize_session": "evaluate"})


def remove_children(session: Session, lb: LoadBalancer) -> None:
    """Delete every listener and pool (and what hangs off them) of a load balancer."""
    for listener in list(lb.listeners):
        remove_row(session, listener)
    for pool in list(lb.pools):
        remove_row(session, pool)
    session.expire(lb, ["listeners", "pools"])
