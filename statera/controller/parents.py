"""What a change to a child flags on its parents: the listeners that send traffic to a pool,
and the pool and listeners a member or monitor change marks ``PENDING_UPDATE``.

It sits below ``pools``, ``members`` and ``healthmonitors``: the pool builder builds members
and a monitor, and their operations flag the pool, so this cannot live in any of the three
without an import cycle.
"""

from __future__ import annotations

from statera.controller import changes
from statera.db import models as m


def pool_listeners(pool: m.Pool) -> list[m.Listener]:
    """Listeners that send traffic to ``pool`` (default pool or an L7 redirect), except those
    being deleted."""
    out = []
    for listener in pool.load_balancer.listeners:
        if listener.provisioning_status in changes.DELETING:
            continue
        if listener.default_pool_id == pool.id or any(
                p.redirect_pool_id == pool.id and p.provisioning_status not in changes.DELETING
                for p in listener.l7policies):
            out.append(listener)
    return out


def touch_pool(pool: m.Pool, lb: m.LoadBalancer) -> None:
    """A member or monitor changed: flag the pool and the listeners using it, as Octavia does."""
    changes.touch(pool, lb)
    for listener in pool_listeners(pool):
        changes.touch(listener, lb)
