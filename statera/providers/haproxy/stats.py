"""HAProxy's ``show stat`` FRONTEND rows as the kit's statistics-book input.

The book (``statera.providers.kit.stats``) keeps totals across reloads and restarts; reading
the old process right before a reload (see the converger) keeps what it counted since the last
poll.
"""

from __future__ import annotations

from typing import Any

from statera.providers.kit import stats as book

COLUMNS = {"bytes_in": "bin", "bytes_out": "bout", "request_errors": "ereq",
           "total_connections": "stot", "active_connections": "scur"}


class StatsBook(book.StatsBook):
    def update(self, pid: int | None, rows: list[dict[str, Any]],
               listener_ids: list[str]) -> list[book.ListenerStatistics]:
        """Fold ``rows`` (``show stat`` of process ``pid``) in; return one record per listener."""
        raw = {str(r.get("pxname")): {name: book.as_int(r.get(col))
                                      for name, col in COLUMNS.items()}
               for r in rows if r.get("svname") == "FRONTEND"}
        return self.fold(pid, raw, listener_ids)
