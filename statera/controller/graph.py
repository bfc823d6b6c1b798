"""The load-balancer create graph: listeners, pools, members, monitors, L7 policies and rules
nested in one ``POST /loadbalancers`` body.

Pools nested as a listener's default pool or a policy's redirect pool need a name; a name-only
pool (``PoolRef``) refers to a pool defined elsewhere in the same request.
"""

from __future__ import annotations

from statera.controller import schemas


def counts(body: schemas.LoadBalancerPost) -> dict[str, int]:
    """How many objects of each quota kind the create graph adds (for the quota check)."""
    out = {"load_balancer": 1, "listener": 0, "pool": 0, "member": 0, "health_monitor": 0,
           "l7policy": 0, "l7rule": 0}
    pools: list[schemas.PoolPost | schemas.PoolRef] = list(body.pools or [])
    for lst in body.listeners or []:
        out["listener"] += 1
        if lst.default_pool is not None:
            pools.append(lst.default_pool)
        for pol in lst.l7policies or []:
            out["l7policy"] += 1
            out["l7rule"] += len(pol.rules or [])
            if pol.redirect_pool is not None:
                pools.append(pol.redirect_pool)
    for pool in pools:
        if isinstance(pool, schemas.PoolRef):
            continue
        out["pool"] += 1
        out["member"] += len(pool.members or [])
        out["health_monitor"] += 1 if pool.healthmonitor else 0
    return out
