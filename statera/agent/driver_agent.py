"""The driver agent: the three sockets octavia-lib's DriverLibrary talks to, plus the provider
agents that talk to them.

Start order matters: the sockets come up first because provider agents connect to them as soon
as they start (DriverLibrary waits for the socket files); on stop, agents go first so that
their last reports still reach the database, then the sockets close.

The database object is shared by every request thread; each request opens its own session.
"""

from __future__ import annotations

import logging
import threading
from types import TracebackType

from statera.agent.contract import runs_local_data_plane
from statera.agent.get import GetHandler, HostScope
from statera.agent.hosts import HostLease
from statera.agent.served import ServedGenerations
from statera.agent.server import AgentSocketServer, empty_reply, failure_reply
from statera.agent.stats import StatsHandler
from statera.agent.status import ReleaseVip, StatusHandler
from statera.agent.supervisor import AgentLoader, Supervisor, entry_point_loader
from statera.bus.base import Bus
from statera.config import Settings
from statera.controller.provider_models import CertLoader
from statera.db.engine import Database

LOG = logging.getLogger(__name__)

#: Seconds a connection may take to deliver its request (Octavia's ``*_request_timeout``).
REQUEST_TIMEOUT = 5.0


class DriverAgent:
    """Owns the status, stats and get socket servers and the provider-agent supervisor."""

    def __init__(
        self,
        settings: Settings,
        database: Database,
        bus: Bus,
        release_vip: ReleaseVip | None = None,
        cert_loader: CertLoader | None = None,
        *,
        agent_loader: AgentLoader = entry_point_loader,
        request_timeout: float = REQUEST_TIMEOUT,
        host: str | None = None,
    ) -> None:
        self.settings = settings
        self.database = database
        self.bus = bus
        #: This agent host's lease and placement passes (None: no host record, no placement,
        #: every load balancer served here, as a lone driver agent in a test).
        self.lease: HostLease | None = None
        scope: HostScope | None = None
        if host is not None:
            local = _local_providers(settings.driver_agent.enabled_provider_agents,
                                     agent_loader)
            scope = HostScope(host, frozenset(local))
            self.lease = HostLease(settings, database, local, hint=bus.publish)
        self.scope = scope
        #: What the get socket served, which the status socket compares reports with: shared
        #: in memory, so the get socket only reads (see ``statera.agent.served``).
        self.served = ServedGenerations()
        self.status_handler = StatusHandler(database, release_vip=release_vip,
                                            rehint=bus.publish, scope=scope, served=self.served)
        self.stats_handler = StatsHandler(database)
        self.get_handler = GetHandler(database, cert_loader=cert_loader, scope=scope,
                                      served=self.served)
        self.servers = [
            AgentSocketServer("status", settings.socket_path("status"), self.status_handler,
                              on_error=failure_reply, request_timeout=request_timeout),
            AgentSocketServer("stats", settings.socket_path("stats"), self.stats_handler,
                              on_error=failure_reply, request_timeout=request_timeout),
            AgentSocketServer("get", settings.socket_path("get"), self.get_handler,
                              on_error=empty_reply, request_timeout=request_timeout),
        ]
        self.supervisor = Supervisor(settings, bus, loader=agent_loader)

    @property
    def socket_paths(self) -> dict[str, str]:
        return {server.name: server.path for server in self.servers}

    def start(self) -> None:
        try:
            if self.lease is not None:
                self.lease.register()
            for server in self.servers:
                server.start()
            self.supervisor.start()
            if self.lease is not None:
                self.lease.start()
        except BaseException:
            self.stop()
            raise
        LOG.info("driver agent started (provider agents: %s)",
                 ", ".join(self.supervisor.threads) or "none")

    def stop(self) -> None:
        if self.lease is not None:
            self.lease.stop()
        self.supervisor.stop()
        # In parallel: each server's stop waits for its accept loop's poll and its requests.
        stoppers = [threading.Thread(target=server.stop, name=f"stop-{server.name}-socket")
                    for server in self.servers]
        for thread in stoppers:
            thread.start()
        for thread in stoppers:
            thread.join()
        LOG.info("driver agent stopped")

    def __enter__(self) -> DriverAgent:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _local_providers(names: list[str], loader: AgentLoader) -> list[str]:
    """The enabled provider agents that declare local data planes (placed on hosts)."""
    local: list[str] = []
    for name in names:
        try:
            agent = loader(name)
        except Exception:  # the supervisor reports it when it tries to start it
            continue
        if runs_local_data_plane(agent):
            local.append(name)
    return local
