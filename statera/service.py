"""Composition root: builds every part of ``statera serve`` once from settings and wires them.

One process holds the API, the driver agent (sockets + provider-agent supervisor) and the
in-process bus. Nothing else builds these objects; everything else receives them.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI

from statera.api.app import create_app
from statera.api.deps import Services
from statera.bus import make_bus
from statera.certs import cert_manager, material_loader
from statera.config import Settings
from statera.db.engine import Database
from statera.db.migrate import upgrade
from statera.network import network_driver

LOG = logging.getLogger(__name__)


class Statera:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        settings.data_path.mkdir(parents=True, exist_ok=True)
        upgrade(settings.database_url)
        self.db = Database(settings.database_url,
                           api_statement_timeout=settings.database.api_statement_timeout)
        self.bus = make_bus(settings)
        self.network = network_driver(settings)
        self.certs = cert_manager(settings, self.db.session)
        self.services = Services(settings=settings, db=self.db, bus=self.bus,
                                 network=self.network, certs=self.certs)
        self.app: FastAPI = create_app(self.services)
        self.driver_agent: Any = None

    def start(self) -> None:
        from statera.agent.driver_agent import DriverAgent

        self.driver_agent = DriverAgent(
            self.settings, self.db, self.bus,
            release_vip=self._release_vip,
            cert_loader=material_loader(self.certs),
        )
        self.driver_agent.start()
        LOG.info("driver agent started (sockets in %s)",
                 self.settings.socket_path("status").rsplit("/", 1)[0])

    def stop(self) -> None:
        if self.driver_agent is not None:
            self.driver_agent.stop()
            self.driver_agent = None
        close = getattr(self.bus, "close", None)
        if close is not None:
            close()
        self.db.dispose()
        LOG.info("stopped")

    def _release_vip(self, session: Any, lb_row: Any) -> None:
        self.network.release_vip(session, lb_row.id)


