"""The bus a provider agent sees when it runs in its own process (``agent_processes``).

The parent's supervisor subscribes to the provider's topic on the real bus and forwards each
hint into a ``multiprocessing`` queue as ``(lb_id, action)``; in the child, ``QueueBus``
turns them back into ``Hint`` objects. The child has one reader of that queue, so every
subscription of the child shares it. Publishing from the child is not supported (no Statera
agent publishes; the driver agent's re-hints are published on the parent's bus, which forwards
them here): a published hint is dropped with a warning.
"""

from __future__ import annotations

import logging
import queue
import time
from typing import Any

from statera.bus.base import CONVERGE, Hint

LOG = logging.getLogger(__name__)


class QueueSubscription:
    def __init__(self, hints: Any) -> None:
        self._hints = hints

    def get(self, timeout: float) -> Hint | None:
        if self._hints is None:  # a topic this process does not receive
            time.sleep(timeout)
            return None
        try:
            lb_id, action = self._hints.get(timeout=timeout)
        except queue.Empty:
            return None
        except (EOFError, OSError, ValueError):  # the parent went away or closed the queue
            return None
        return Hint(str(lb_id), str(action))

    def close(self) -> None:
        return None


class QueueBus:
    """Hints for ``topic`` come from ``hints`` (a ``multiprocessing`` queue of pairs)."""

    def __init__(self, topic: str, hints: Any) -> None:
        self.topic = topic
        self._hints = hints

    def publish(self, topic: str, lb_id: str, action: str = CONVERGE) -> None:
        LOG.warning("bus: a provider agent process cannot publish; hint %s for %s dropped",
                    lb_id, topic)

    def subscribe(self, topic: str) -> QueueSubscription:
        if topic != self.topic:
            LOG.warning("bus: this process only receives hints for %s, not %s",
                        self.topic, topic)
            return QueueSubscription(None)
        return QueueSubscription(self._hints)
