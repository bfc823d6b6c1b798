"""Where VIPs live: look-ups of networks, subnets and ports, and VIP allocation.

Belongs here: the :class:`NetworkDriver` seam, its implementations (``local``: subnets from
``[networking] networks`` with VIPs recorded in the ``vip_port`` table; ``noop``: accepts any id
and invents a VIP) and the Neutron-shaped views of what they hold. Does not belong here: HTTP
(the Neutron-compatible read API is ``statera.api.neutron``), and configuring addresses on a
host's interfaces, which a provider agent does when it binds a VIP.

The API core builds one driver at start-up with :func:`network_driver` and calls it inside the
request's database transaction.
"""

from __future__ import annotations

from statera.config import NetworkingSettings, Settings
from statera.network.base import (
    InvalidSubresource,
    NetworkDriver,
    NetworkError,
    NoFreeAddress,
    PortInUse,
    Vip,
    VipInUse,
    VipValidationError,
)

__all__ = [
    "InvalidSubresource",
    "NetworkDriver",
    "NetworkError",
    "NoFreeAddress",
    "PortInUse",
    "Vip",
    "VipInUse",
    "VipValidationError",
    "network_driver",
]


def network_driver(settings: Settings | NetworkingSettings) -> NetworkDriver:
    """The driver named by ``[networking] driver``; a bad network configuration fails here,
    at start-up, with a ValueError naming the offending option."""
    networking = settings.networking if isinstance(settings, Settings) else settings
    if networking.driver == "local":
        from statera.network.local import LocalNetworkDriver

        return LocalNetworkDriver(networking)
    if networking.driver == "noop":
        from statera.network.noop import NoopNetworkDriver

        return NoopNetworkDriver()
    raise ValueError(
        f"networking: unknown driver {networking.driver!r} (expected 'local' or 'noop')"
    )
