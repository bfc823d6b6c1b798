"""In-process bus: a queue per subscriber, for the single-process ``statera serve``."""

from __future__ import annotations

import queue
import threading

from statera.bus.base import CONVERGE, Hint


class InProcessSubscription:
    def __init__(self, bus: InProcessBus, topic: str) -> None:
        self._bus = bus
        self.topic = topic
        self.queue: queue.SimpleQueue[Hint] = queue.SimpleQueue()

    def get(self, timeout: float) -> Hint | None:
        try:
            return self.queue.get(timeout=timeout)
        except queue.Empty:
            return None

    def close(self) -> None:
        self._bus._remove(self)


class InProcessBus:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subs: dict[str, list[InProcessSubscription]] = {}

    def publish(self, topic: str, lb_id: str, action: str = CONVERGE) -> None:
        hint = Hint(lb_id, action)
        with self._lock:
            subs = list(self._subs.get(topic, ()))
        for sub in subs:
            sub.queue.put(hint)

    def subscribe(self, topic: str) -> InProcessSubscription:
        sub = InProcessSubscription(self, topic)
        with self._lock:
            self._subs.setdefault(topic, []).append(sub)
        return sub

    def _remove(self, sub: InProcessSubscription) -> None:
        with self._lock:
            subs = self._subs.get(sub.topic, [])
            if sub in subs:
                subs.remove(sub)
