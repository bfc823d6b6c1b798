"""What this driver agent's get socket served: load balancer id -> the desired generation of
the last whole graph it answered.

The status socket asks it so that a provider's ACTIVE report completes only the changes that
provider could have read. It is kept in the driver agent's memory rather than in the database
so that the get socket only reads: a read never takes a row lock or a write turn, so agents'
resyncs and the API never wait on each other.

Memory is enough because a provider agent reads and reports through the sockets of its own
host's driver agent, one process that owns both sockets and this book. Each host keeps its
own: in ACTIVE_STANDBY each instance's report completes what its own host served, never what
the peer read. A restarted driver agent starts empty; the status socket then treats a report
it cannot tie to a read as completing nothing new (``statera.agent.status``), and the provider
reads again on the hint that follows (and in its start-up resync, which reads before it
reports).
"""

from __future__ import annotations

import threading


class ServedGenerations:
    """Thread-safe map lb_id -> generation served (every socket request runs in its own
    thread)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._served: dict[str, int] = {}

    def record(self, lb_id: str, generation: int) -> None:
        """``generation`` of ``lb_id`` was just served whole. The last read wins, as a
        provider converges to what it read last; of two overlapping reads the older may land
        last, which only makes a report complete less (the next hint completes the rest)."""
        with self._lock:
            self._served[lb_id] = generation

    def get(self, lb_id: str) -> int | None:
        """The generation last served for ``lb_id`` by this process, None when none was."""
        with self._lock:
            return self._served.get(lb_id)

    def forget(self, lb_id: str) -> None:
        """``lb_id`` is no longer served here (deleted, or placed on another host)."""
        with self._lock:
            self._served.pop(lb_id, None)

    def __len__(self) -> int:
        with self._lock:
            return len(self._served)
