"""Per-listener counters from NGINX itself: its access logs, and the kernel's socket table.

Open-source NGINX's only counter page (``stub_status``) is global to the process, and its
per-upstream counters are NGINX Plus. What it does offer per ``server`` is an access log with
variables, so each listener logs one short line per HTTP request
(``$request_length $bytes_sent $status $connection_requests``) or per TCP/UDP session
(``$bytes_received $bytes_sent $status``) into ``<listener_id>.log``. This module sums those
lines incrementally (the offset read so far and the sums persist in ``log-offsets.json``, so
the totals are absolute and survive reloads and restarts: the log is appended to by every
process). A line is counted once complete (ends with a newline).

- bytes_in / bytes_out: request length (line, headers, body) / bytes sent, per request; bytes
  received from / sent to the client, per session;
- total_connections: HTTP requests that were the first on their connection; TCP/UDP sessions;
- request_errors: HTTP requests NGINX itself rejected as malformed or too large (400, 408,
  413, 414, 431, 494) and those refused by allowed_cidrs or connection_limit (403, 503 without
  a member); TCP/UDP sessions that ended with a status other than 200;
- active_connections: established TCP connections on the listener's VIP port, read from
  ``/proc/net/tcp``/``tcp6`` (NGINX has no per-server gauge); UDP has no connections: 0.

Logs are rotated when they pass ``ROTATE_BYTES``: renamed to ``.old``, NGINX told to reopen
(SIGUSR1), and the rest of the old file read on the next poll before it is deleted.
"""

from __future__ import annotations

import collections
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from statera.providers.kit.procs import atomic_write

ROTATE_BYTES = 8 * 1024 * 1024
HTTP_ERRORS = frozenset({400, 403, 408, 413, 414, 431, 494})
SUMS = ("bytes_in", "bytes_out", "total_connections", "request_errors")


def parse_line(line: bytes, context: str) -> dict[str, int]:
    fields = line.split()
    try:
        numbers = [int(f) for f in fields]
    except ValueError:
        return {}
    if context == "http" and len(numbers) == 4:
        length, sent, status, nth = numbers
        return {"bytes_in": length, "bytes_out": sent, "total_connections": int(nth == 1),
                "request_errors": int(status in HTTP_ERRORS)}
    if context == "stream" and len(numbers) == 3:
        received, sent, status = numbers
        return {"bytes_in": received, "bytes_out": sent, "total_connections": 1,
                "request_errors": int(status != 200)}
    return {}


def _read_from(path: Path, offset: int, context: str, sums: dict[str, int]) -> int:
    """Add the complete lines of ``path`` after ``offset`` to ``sums``; the new offset."""
    try:
        with open(path, "rb") as fh:
            fh.seek(offset)
            data = fh.read()
    except OSError:
        return offset
    end = data.rfind(b"\n") + 1
    for line in data[:end].splitlines():
        for name, value in parse_line(line, context).items():
            sums[name] = sums.get(name, 0) + value
    return offset + end


class LogCounters:
    """The running sums of every listener of one load balancer."""

    def __init__(self, lb_dir: Path, reopen: Callable[[], None]) -> None:
        self.dir = lb_dir
        self.file = lb_dir / "log-offsets.json"
        self.reopen = reopen

    def _load(self) -> dict[str, Any]:
        try:
            data: dict[str, Any] = json.loads(self.file.read_text())
            return data
        except (OSError, ValueError):
            return {}

    def read(self, listeners: dict[str, str]) -> dict[str, dict[str, int]]:
        """Totals per listener id; ``listeners`` maps ids to their context (http/stream)."""
        data = self._load()
        out: dict[str, dict[str, int]] = {}
        for lid, context in listeners.items():
            entry = data.setdefault(lid, {"offset": 0, "old_offset": None, "sums": {}})
            sums = entry["sums"]
            log = self.dir / f"{lid}.log"
            old = self.dir / f"{lid}.log.old"
            if entry.get("old_offset") is not None:
                _read_from(old, entry["old_offset"], context, sums)
                old.unlink(missing_ok=True)
                entry["old_offset"] = None
            entry["offset"] = _read_from(log, entry["offset"], context, sums)
            if entry["offset"] >= ROTATE_BYTES:
                os.replace(log, old)
                entry["old_offset"], entry["offset"] = entry["offset"], 0
                self.reopen()
            out[lid] = {name: int(sums.get(name, 0)) for name in SUMS}
        for lid in set(data) - set(listeners):
            del data[lid]
        atomic_write(self.file, json.dumps(data))
        return out


def established_table() -> collections.Counter[str]:
    """Established TCP connections per local ``address:port`` (as /proc/net/tcp writes it),
    read once per poll for every load balancer."""
    count: collections.Counter[str] = collections.Counter()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as fh:
                next(fh, None)
                for row in fh:
                    parts = row.split(None, 4)
                    if len(parts) > 3 and parts[3] == "01":
                        count[parts[1]] += 1
        except OSError:
            continue
    return count


def established(addresses: list[str], port: int,
                table: collections.Counter[str] | None = None) -> int:
    """Established TCP connections whose local end is one of ``addresses`` (IP literals,
    IPv6 in brackets) on ``port``, from the kernel's socket tables."""
    table = established_table() if table is None else table
    return sum(table[_proc_address(a.strip("[]"), port)] for a in addresses)


def _proc_address(address: str, port: int) -> str:
    """``address:port`` as /proc/net/tcp writes it (little-endian 32-bit words in hex)."""
    import ipaddress

    packed = ipaddress.ip_address(address).packed
    words = [packed[i:i + 4][::-1].hex().upper() for i in range(0, len(packed), 4)]
    return "".join(words) + f":{port:04X}"
