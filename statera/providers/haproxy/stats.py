"""Listener statistics as absolute totals that survive HAProxy reloads and restarts.

HAProxy's counters start from zero in every new process. Per listener this module keeps, in
``stats.json``, a baseline (everything counted by earlier processes) and the last raw counters
seen together with the pid that produced them. A different pid, or a counter going backwards,
folds the last raw values into the baseline; the reported total is baseline + raw. Reading the
old process right before a reload (see the converger) keeps what it counted since the last poll.
``active_connections`` is a gauge and is reported as is.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from statera.providers.haproxy.process import atomic_write

COUNTERS = {"bytes_in": "bin", "bytes_out": "bout", "request_errors": "ereq",
            "total_connections": "stot"}


def _int(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


class StatsBook:
    """Baselines of one load balancer, persisted in its state directory."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _load(self) -> dict[str, Any]:
        try:
            data: dict[str, Any] = json.loads(self.path.read_text())
            return data
        except (OSError, ValueError):
            return {"pid": None, "listeners": {}}

    def update(self, pid: int | None, rows: list[dict[str, Any]],
               listener_ids: list[str]) -> list[dict[str, Any]]:
        """Fold ``rows`` (``show stat`` of process ``pid``) in; return one record per listener."""
        data = self._load()
        frontends = {r.get("pxname"): r for r in rows if r.get("svname") == "FRONTEND"}
        new_process = pid != data.get("pid")
        records = []
        listeners: dict[str, Any] = data.setdefault("listeners", {})
        for lid in listener_ids:
            entry = listeners.setdefault(lid, {"base": {}, "last": {}})
            base, last = entry["base"], entry["last"]
            row = frontends.get(lid)
            record: dict[str, Any] = {"id": lid, "active_connections":
                                      _int(row.get("scur")) if row else 0}
            for name, column in COUNTERS.items():
                raw = _int(row.get(column)) if row else 0
                previous = _int(last.get(name))
                if new_process or raw < previous:
                    base[name] = _int(base.get(name)) + previous
                    previous = 0
                last[name] = raw if row else 0
                record[name] = _int(base.get(name)) + last[name]
            records.append(record)
        data["pid"] = pid
        for lid in set(listeners) - set(listener_ids):
            del listeners[lid]
        atomic_write(self.path, json.dumps(data))
        return records
