"""The bus seam."""

from __future__ import annotations

from typing import Protocol

CONVERGE = "converge"
FAILOVER = "failover"


class Hint(str):
    """A load-balancer id, plus what was asked: ``converge`` (the data plane should match the
    database) or ``failover`` (also replace the data-plane instance, as Octavia's failover
    does). It compares equal to the plain id."""

    action: str

    def __new__(cls, lb_id: str, action: str = CONVERGE) -> Hint:
        hint = super().__new__(cls, lb_id)
        hint.action = action
        return hint


class Subscription(Protocol):
    def get(self, timeout: float) -> Hint | None:
        """Next hint, or None after ``timeout`` seconds without one."""

    def close(self) -> None: ...


class Bus(Protocol):
    def publish(self, topic: str, lb_id: str, action: str = CONVERGE) -> None:
        """Hint every subscriber of ``topic`` (a provider name) to converge ``lb_id``."""

    def subscribe(self, topic: str) -> Subscription: ...
