"""The bus seam."""

from __future__ import annotations

from typing import Protocol


class Subscription(Protocol):
    def get(self, timeout: float) -> str | None:
        """Next load-balancer id, or None after ``timeout`` seconds without one."""

    def close(self) -> None: ...


class Bus(Protocol):
    def publish(self, topic: str, lb_id: str) -> None:
        """Hint every subscriber of ``topic`` (a provider name) to converge ``lb_id``."""

    def subscribe(self, topic: str) -> Subscription: ...
