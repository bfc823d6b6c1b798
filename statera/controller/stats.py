"""Statistics: Octavia's counters, summed from the ``listener_statistics`` rows that the
providers' instances report (one row per listener and instance; the stats socket writes them,
nothing else does)."""

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
