"""octavia-lib's DriverLibrary plus Statera's one extension of the get socket.

The extension ``{"object": "loadbalancer_ids", "provider": P}`` answers
``{"loadbalancer_ids": [...]}``: every load balancer of provider P that is not DELETED, so an
agent can converge all of them on start-up and on its periodic resync. Plain octavia-lib
clients never send it, so the wire stays compatible.
"""

from __future__ import annotations

from typing import Any

from octavia_lib.api.drivers import driver_lib


class StateraDriverLibrary(driver_lib.DriverLibrary):  # type: ignore[misc]
    def list_loadbalancer_ids(self, provider: str) -> list[str]:
        reply: dict[str, Any] = self._send(
            self.get_socket, {"object": "loadbalancer_ids", "provider": provider}
        )
        return list(reply.get("loadbalancer_ids", []))
