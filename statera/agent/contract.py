"""What the driver agent hands to a provider agent.

Octavia calls a provider agent as ``agent(exit_event)``. Statera's own agents also accept a
keyword ``context`` (settings, bus, socket paths, a private state directory); the supervisor
passes it to any agent whose signature has that parameter, so third-party agents still work.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from statera.bus.base import Bus
from statera.config import Settings


@dataclass(frozen=True)
class Instance:
    """This host's instance of a load balancer, as placement recorded it (its amphora row):
    ``role`` STANDALONE/MASTER/BACKUP, the row's id, and the VRRP addresses its peers
    reported (none yet while a peer has not reported one)."""

    role: str
    amphora_id: str
    peers: tuple[str, ...] = ()


class InstanceBook:
    """Instances by load balancer, written by the reconcile loop's get-socket client as it
    reads each load balancer and read by the converger's placement function in the same
    converge (thread-safe: workers converge different load balancers at once)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._instances: dict[str, Instance] = {}

    def set(self, lb_id: str, instance: Instance | None) -> None:
        with self._lock:
            if instance is None:
                self._instances.pop(lb_id, None)
            else:
                self._instances[lb_id] = instance

    def get(self, lb_id: str) -> Instance | None:
        with self._lock:
            return self._instances.get(lb_id)


@dataclass(frozen=True)
class AgentContext:
    provider: str
    settings: Settings
    bus: Bus
    status_socket: str
    stats_socket: str
    get_socket: str
    state_dir: Path
    #: This host's placed instances, as last read from the get socket (see InstanceBook).
    instances: InstanceBook = field(default_factory=InstanceBook, compare=False)

    @classmethod
    def build(cls, provider: str, settings: Settings, bus: Bus) -> AgentContext:
        state_dir = settings.data_path / "providers" / provider
        state_dir.mkdir(parents=True, exist_ok=True)
        return cls(
            provider=provider,
            settings=settings,
            bus=bus,
            status_socket=settings.socket_path("status"),
            stats_socket=settings.socket_path("stats"),
            get_socket=settings.socket_path("get"),
            state_dir=state_dir,
        )



#: Attribute a provider agent callable carries when it runs one local data plane per load
#: balancer on the host it runs on (HAProxy, NGINX, ...): such load balancers are placed on
#: agent hosts (``statera.controller.placement``) and each host runs only its own. Agents of
#: remote devices (a BIG-IP serves every host's agent alike) do not carry it.
LOCAL_DATA_PLANE = "statera_local_data_plane"
AgentT = TypeVar("AgentT", bound=Callable[..., Any])


def local_data_plane(agent: AgentT) -> AgentT:
    """Declare that ``agent`` runs local data planes (see ``LOCAL_DATA_PLANE``)."""
    setattr(agent, LOCAL_DATA_PLANE, True)
    return agent


def runs_local_data_plane(agent: Callable[..., Any]) -> bool:
    return getattr(agent, LOCAL_DATA_PLANE, False) is True
