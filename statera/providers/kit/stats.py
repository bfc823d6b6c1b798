"""Listener statistics as absolute totals that survive reloads and restarts.

Data planes count from zero in every new process (HAProxy) or count in ways a provider folds
itself (NGINX logs). Per listener this book keeps, in a JSON file in the load balancer's state
directory, a baseline (everything counted by earlier processes) and the last raw counters seen
together with the source (a pid) that produced them. A different source, or a counter going
backwards, folds the last raw values into the baseline; the reported total is baseline + raw.
``active_connections`` is a gauge and is reported as is.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, NotRequired, TypedDict

from statera.providers.kit.procs import atomic_write

COUNTERS = ("bytes_in", "bytes_out", "request_errors", "total_connections")


class ListenerStatistics(TypedDict):
    """One listener's record of octavia-lib's ``update_listener_statistics`` report."""

    id: str
    active_connections: int
    bytes_in: int
    bytes_out: int
    request_errors: int
    total_connections: int
    #: Set when one of several instances (ACTIVE_STANDBY) reports: the API sums per amphora.
    amphora_id: NotRequired[str]


def as_int(value: Any) -> int:
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

    def fold(self, source: int | None, raw: dict[str, dict[str, int]],
             listener_ids: list[str]) -> list[ListenerStatistics]:
        """Fold ``raw`` (listener id -> counters, plus the ``active_connections`` gauge, as
        read from ``source``) in; return one octavia-lib statistics record per listener.
        A listener missing from ``raw`` counts nothing new."""
        data = self._load()
        new_process = source != data.get("pid")
        records: list[ListenerStatistics] = []
        listeners: dict[str, Any] = data.setdefault("listeners", {})
        for lid in listener_ids:
            entry = listeners.setdefault(lid, {"base": {}, "last": {}})
            base, last = entry["base"], entry["last"]
            row = raw.get(lid)
            totals: dict[str, int] = {}
            for name in COUNTERS:
                value = as_int(row.get(name)) if row else 0
                previous = as_int(last.get(name))
                if new_process or value < previous:
                    base[name] = as_int(base.get(name)) + previous
                last[name] = value
                totals[name] = as_int(base.get(name)) + value
            records.append(ListenerStatistics(
                id=lid, active_connections=as_int(row.get("active_connections")) if row else 0,
                bytes_in=totals["bytes_in"], bytes_out=totals["bytes_out"],
                request_errors=totals["request_errors"],
                total_connections=totals["total_connections"]))
        data["pid"] = source
        for lid in set(listeners) - set(listener_ids):
            del listeners[lid]
        atomic_write(self.path, json.dumps(data))
        return records
