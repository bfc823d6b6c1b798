"""A de-duplicating work queue keyed by load-balancer id (controller-runtime style).

A key is never processed by two workers at once; a key added while it is being processed is
processed again afterwards (once, however many times it was added).
"""

from __future__ import annotations

import threading
from collections import deque


class WorkQueue:
    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._queue: deque[str] = deque()
        self._queued: set[str] = set()
        self._processing: set[str] = set()
        self._dirty: set[str] = set()
        self._closed = False

    def add(self, key: str) -> None:
        with self._cond:
            if key in self._processing:
                self._dirty.add(key)
                return
            if key not in self._queued:
                self._queued.add(key)
                self._queue.append(key)
                self._cond.notify()

    def get(self, timeout: float) -> str | None:
        """Take the next key (marking it in progress) or None after ``timeout``."""
        with self._cond:
            if not self._queue and not self._closed:
                self._cond.wait(timeout)
            if not self._queue or self._closed:
                return None
            key = self._queue.popleft()
            self._queued.discard(key)
            self._processing.add(key)
            return key

    def done(self, key: str) -> None:
        with self._cond:
            self._processing.discard(key)
            if key in self._dirty:
                self._dirty.discard(key)
                self._queued.add(key)
                self._queue.append(key)
                self._cond.notify()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def waiting(self) -> int:
        """Keys queued and not yet taken by a worker (the queue's depth)."""
        with self._cond:
            return len(self._queue)

    def __len__(self) -> int:
        with self._cond:
            return len(self._queue) + len(self._processing)
