"""The network-driver seam: what the API asks about VIP networks, and the errors it maps.

The API core validates ``vip_network_id`` / ``vip_subnet_id`` / ``vip_port_id`` and allocates the
VIP through a :class:`NetworkDriver` inside its own database transaction, so an allocation is
committed with the load balancer or rolled back with it. Every error here carries the HTTP
status and the exact Octavia-style message, so the API maps all of them with one ``except
NetworkError as e`` (``e.status_code``, ``e.faultstring``). For callers that only know the
two errors Octavia names, every 400 here is an :class:`InvalidSubresource` and every 409 a
:class:`VipInUse`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy.orm import Session

# Octavia's device_owner for the ports it creates, and its VIP port name prefix; Statera uses
# both so ports look the same to tools that know Octavia.
OCTAVIA_OWNER = "Octavia"
VIP_PORT_NAME_PREFIX = "octavia-lb-"


def vip_port_name(lb_id: str) -> str:
    """The name a driver gives a VIP port it creates (and by which it recognises it later)."""
    return f"{VIP_PORT_NAME_PREFIX}{lb_id}"


@dataclass(frozen=True)
class Vip:
    """A VIP as the load balancer row stores it (``vip_address``, ``vip_*_id``).

    ``octavia_owned`` is False when the user supplied the port: deleting the load balancer then
    leaves the port in place, as Octavia does.
    """

    ip_address: str
    network_id: str
    subnet_id: str
    port_id: str
    octavia_owned: bool


class NetworkError(Exception):
    """Base of every network error the API turns into a client error.

    ``faultstring`` is the complete message for the error body; ``status_code`` the HTTP status.
    """

    status_code = 400

    @property
    def faultstring(self) -> str:
        return str(self)


class InvalidSubresource(NetworkError):
    """A referenced network, subnet or port does not exist (Octavia's ``InvalidSubresource``)."""

    status_code = 400

    def __init__(self, kind: str, id: str) -> None:
        self.kind = kind
        self.id = id
        super().__init__(self._message())

    def _message(self) -> str:
        return f"{self.kind} {self.id} not found."


class PortInUse(InvalidSubresource):
    """A user-supplied VIP port already belongs to another device.

    A subclass of :class:`InvalidSubresource` (400) so callers that only know that one still
    answer correctly; the message is Octavia's port-in-use validation text.
    """

    def __init__(self, port_id: str, device_id: str) -> None:
        self.device_id = device_id
        super().__init__("Port", port_id)

    def _message(self) -> str:
        return f"Validation failure: Port {self.id} is already used by device {self.device_id}."


class VipValidationError(InvalidSubresource):
    """The VIP request is inconsistent (no reference given, address outside the subnet, ...).

    Octavia's ``ValidationException`` (400); an :class:`InvalidSubresource` only so that code
    catching that one still answers 400 with this message.
    """

    def __init__(self, detail: str) -> None:
        self.detail = detail
        super().__init__("VIP", "")

    def _message(self) -> str:
        return f"Validation failure: {self.detail}"


class VipInUse(NetworkError):
    """The requested VIP address is already allocated (Octavia answers 409).

    Like octavia-lib's ``Conflict``, ``str(error)`` is only the detail ("IP address X is already
    allocated in subnet Y."); ``faultstring`` adds Octavia's prefix "The VIP IP address is
    already in use: ".
    """

    status_code = 409

    def __init__(self, address: str, subnet_id: str | None = None) -> None:
        self.address = address
        self.subnet_id = subnet_id
        where = f" in subnet {subnet_id}" if subnet_id else ""
        super().__init__(f"IP address {address} is already allocated{where}.")

    @property
    def faultstring(self) -> str:
        return f"The VIP IP address is already in use: {self}"


class NoFreeAddress(VipInUse):
    """Every allocatable address of the subnet(s) is taken (Neutron's 409 wording).

    A :class:`VipInUse` (409) so that code catching that one still answers 409.
    """

    def __init__(self, what: str) -> None:
        self.what = what
        NetworkError.__init__(self, f"No more IP addresses available on {what}.")
        self.address = ""
        self.subnet_id = None

    @property
    def faultstring(self) -> str:
        return str(self)


def require_vip_reference(network_id: str | None, subnet_id: str | None,
                          port_id: str | None) -> None:
    """The one precondition of :meth:`NetworkDriver.allocate_vip` every driver shares: a VIP
    is placed by a network, a subnet or a port, so a request naming none of them is refused
    before a driver looks anything up."""
    if not (network_id or subnet_id or port_id):
        raise VipValidationError(
            "VIP must contain one of: vip_port_id, vip_network_id, vip_subnet_id."
        )


class NetworkDriver(Protocol):
    """Where VIPs live. Implementations: ``local`` (configured subnets) and ``noop``.

    The ``get_*`` methods raise :class:`InvalidSubresource` for an unknown id. Networks and
    subnets come from configuration, so they need no session; ports live in the database.
    All dicts are shaped like Neutron's API objects (see :mod:`statera.network.neutron_shapes`).
    """

    name: str

    def allocate_vip(
        self,
        session: Session,
        *,
        lb_id: str,
        project_id: str | None,
        network_id: str | None = None,
        subnet_id: str | None = None,
        port_id: str | None = None,
        ip_address: str | None = None,
    ) -> Vip:
        """Reserve a VIP for ``lb_id`` in ``session``'s transaction.

        At least one of network/subnet/port is required (:func:`require_vip_reference`). A
        subnet implies its network; a network alone picks its first subnet with a free address;
        an explicit ``ip_address`` must be allocatable in the subnet and free (else
        :class:`VipInUse`); a ``port_id`` must be an existing port attached to nothing.
        """
        ...

    def release_vip(self, session: Session, lb_id: str) -> None:
        """Free what :meth:`allocate_vip` reserved for ``lb_id`` (user-supplied ports are only
        detached, never deleted)."""
        ...

    def get_network(self, network_id: str) -> dict[str, Any]: ...

    def get_subnet(self, subnet_id: str) -> dict[str, Any]: ...

    def get_port(self, session: Session, port_id: str) -> dict[str, Any]: ...

    def list_networks(self) -> list[dict[str, Any]]: ...

    def list_subnets(self) -> list[dict[str, Any]]: ...

    def list_ports(self, session: Session) -> list[dict[str, Any]]: ...
