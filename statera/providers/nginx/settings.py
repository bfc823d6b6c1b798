"""The ``[nginx]`` settings section (registered in ``statera.provider_settings``)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class NginxSettings(BaseModel):
    """NGINX load balancers run by Statera (TCP and UDP and HTTP)"""

    binary: str = Field("nginx", description="NGINX executable.")
    stream_module: str = Field(
        "/usr/lib/nginx/modules/ngx_stream_module.so",
        description="NGINX's dynamic stream module (Debian: libnginx-mod-stream), loaded by "
                    "load balancers with TCP, UDP or HTTPS listeners.")
    health_poll_interval: float = Field(
        1.0, description="Seconds between operating-status reports (health changes found by "
                         "the prober are acted on at once).")
    stats_interval: float = Field(5.0, description="Seconds between statistics reports.")
