"""What every controller operation works with: settings, the database, the bus, the network
driver and the certificate manager, built once at start-up.

The API's handlers receive this object and hand it to the controller unchanged; the controller
never reaches back to the HTTP edge for anything.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from statera.bus.base import Bus
from statera.config import Settings
from statera.db.engine import Database


@dataclass
class Services:
    settings: Settings
    db: Database
    bus: Bus
    network: Any = None  # statera.network NetworkDriver
    certs: Any = None  # statera.certs CertManager
    extra: dict[str, Any] = field(default_factory=dict)
