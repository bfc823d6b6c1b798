"""Listener statistics: Octavia's stats object, summed over the rows the driver agent keeps
per listener (and per amphora, for ACTIVE_STANDBY: each instance reports its own counters, so
a listener's figure is the sum over its hosts).

Shared by the listener and load-balancer ``/stats`` endpoints, which sum over one listener or
over every listener of a load balancer.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from statera.db import models as m

STAT_FIELDS = ("bytes_in", "bytes_out", "active_connections", "total_connections",
               "request_errors")


def listener_stats(session: Session, listener_ids: list[str]) -> dict[str, int]:
    """Octavia's stats object summed over the listeners' rows."""
    if not listener_ids:
        return dict.fromkeys(STAT_FIELDS, 0)
    cols = [func.coalesce(func.sum(getattr(m.ListenerStatistics, f)), 0) for f in STAT_FIELDS]
    row = session.execute(
        select(*cols).where(m.ListenerStatistics.listener_id.in_(listener_ids))
    ).one()
    return {f: int(v) for f, v in zip(STAT_FIELDS, row, strict=True)}
