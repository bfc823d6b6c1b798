"""The ``[haproxy]`` settings section (registered in ``statera.provider_settings``)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class HAProxySettings(BaseModel):
    """HAProxy load balancers run by Statera"""

    binary: str = Field("haproxy", description="HAProxy executable.")
    health_poll_interval: float = Field(
        1.0, description="Seconds between reads of server states for health reports.")
    stats_interval: float = Field(5.0, description="Seconds between statistics reports.")
