"""The hint bus: "converge load balancer X" messages from the API to provider agents.

A hint carries only an id; the database is the truth, so a lost hint only delays convergence
(agents also resync on start-up and on a timer). ``inprocess`` is the default; a RabbitMQ
implementation (``rabbitmq``) sits behind the same ``Bus`` protocol for many hosts.
"""

from __future__ import annotations

from statera.bus.base import Bus
from statera.config import Settings


def make_bus(settings: Settings) -> Bus:
    """The bus named by ``[bus] driver``."""
    if settings.bus.driver == "rabbitmq":
        from statera.bus.rabbitmq import RabbitMQBus

        return RabbitMQBus(settings.bus.url)
    if settings.bus.driver != "inprocess":
        raise ValueError(f"unknown bus driver {settings.bus.driver!r}")
    from statera.bus.inprocess import InProcessBus

    return InProcessBus()
