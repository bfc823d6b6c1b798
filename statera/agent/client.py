"""octavia-lib's DriverLibrary plus Statera's one extension of the get socket.

The extension ``{"object": "loadbalancer_ids", "provider": P}`` answers
``{"loadbalancer_ids": [...]}``: every load balancer of provider P that is not DELETED, so an
agent can converge all of them on start-up and on its periodic resync. Plain octavia-lib
clients never send it, so the wire stays compatible.

octavia-lib's ``get_*`` helpers build only the top-level model (``Model.from_dict`` is
shallow): a load balancer's listeners and pools, a listener's default pool and L7 policies, a
pool's members and health monitor, a policy's rules all stay dicts. The getters here rebuild
the whole graph as data models, so providers walk it one way (``pool.members[0].address``).
"""

from __future__ import annotations

import json
import socket
import time
from typing import Any

from octavia_lib.api.drivers import data_models as dm
from octavia_lib.api.drivers import driver_lib
from octavia_lib.api.drivers import exceptions as lib_exc
from octavia_lib.common import constants as lib_consts

from statera.agent.contract import Instance, InstanceBook

#: The get-socket flag (and reply key) for this host's instance of a load balancer.
INSTANCE = "statera_instance"

#: For each model, the fields that hold child models (a list of them or a single one).
_CHILDREN: dict[type[Any], dict[str, type[Any]]] = {
    dm.LoadBalancer: {"listeners": dm.Listener, "pools": dm.Pool},
    dm.Listener: {"default_pool": dm.Pool, "l7policies": dm.L7Policy},
    dm.Pool: {"members": dm.Member, "healthmonitor": dm.HealthMonitor},
    dm.L7Policy: {"rules": dm.L7Rule},
}


def model_from_dict(model: type[Any], data: dict[str, Any]) -> Any:
    """Build ``model`` and, recursively, every child model from a get-socket dict."""
    values = dict(data)
    for field, child in _CHILDREN.get(model, {}).items():
        value = values.get(field)
        if isinstance(value, list):
            values[field] = [
                model_from_dict(child, item) if isinstance(item, dict) else item for item in value
            ]
        elif isinstance(value, dict):
            values[field] = model_from_dict(child, value)
    return model(**values)


class StateraDriverLibrary(driver_lib.DriverLibrary):  # type: ignore[misc]
    """DriverLibrary for Statera's own agents: same wire, faster reader, full-graph getters.

    With an ``instances`` book, each load-balancer get also asks for this host's instance of
    it (``statera_instance``, see ``statera.agent.get``) and records it there, so the
    converger that receives the model knows its role and VRRP peers."""

    def __init__(self, *args: Any, instances: InstanceBook | None = None,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.instances = instances

    def _recv(self, sock: socket.socket) -> Any:
        """Read one reply frame with blocking reads.

        octavia-lib's reader sleeps 10 ms after every byte of the length line and after every
        chunk of the body, which caps one client at about 30 calls per second whatever the
        agent does; the frame format is unchanged.
        """
        deadline = time.monotonic() + driver_lib.DRIVER_AGENT_TIMEOUT
        buf = bytearray()
        while b"\n" not in buf:
            buf += self._chunk(sock, deadline)
        head, _, body = bytes(buf).partition(b"\n")
        size = int(head)
        data = bytearray(body)
        while len(data) < size:
            data += self._chunk(sock, deadline)
        return json.loads(bytes(data[:size]))

    @staticmethod
    def _chunk(sock: socket.socket, deadline: float) -> bytes:
        while True:
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                chunk = None
            if chunk:
                return chunk
            if chunk == b"" or time.monotonic() > deadline:
                raise lib_exc.DriverAgentTimeout(
                    fault_string="The driver agent closed the connection or did not answer.")

    def list_loadbalancer_ids(self, provider: str) -> list[str]:
        reply: dict[str, Any] = self._send(
            self.get_socket, {"object": "loadbalancer_ids", "provider": provider}
        )
        return list(reply.get("loadbalancer_ids", []))

    def _get_model(self, kind: str, model: type[Any], obj_id: str) -> Any:
        return self._model(model, self._get_resource(kind, obj_id))

    @staticmethod
    def _model(model: type[Any], data: Any) -> Any:
        if not data:
            return None
        if lib_consts.STATUS_CODE in data:  # the agent could not read it (not: it is absent)
            message = str(data.get(lib_consts.FAULT_STRING) or "the driver agent failed")
            raise lib_exc.DriverError(user_fault_string=message, operator_fault_string=message)
        return model_from_dict(model, data)

    def get_loadbalancer(self, loadbalancer_id: str) -> Any:
        if self.instances is None:
            return self._get_model(lib_consts.LOADBALANCERS, dm.LoadBalancer, loadbalancer_id)
        data = self._send(self.get_socket, {lib_consts.OBJECT: lib_consts.LOADBALANCERS,
                                            lib_consts.ID: loadbalancer_id, INSTANCE: True})
        if isinstance(data, dict) and lib_consts.STATUS_CODE not in data:
            self.instances.set(loadbalancer_id, _instance(data.pop(INSTANCE, None)))
        return self._model(dm.LoadBalancer, data)

    def get_listener(self, listener_id: str) -> Any:
        return self._get_model(lib_consts.LISTENERS, dm.Listener, listener_id)

    def get_pool(self, pool_id: str) -> Any:
        return self._get_model(lib_consts.POOLS, dm.Pool, pool_id)

    def get_member(self, member_id: str) -> Any:
        return self._get_model(lib_consts.MEMBERS, dm.Member, member_id)

    def get_healthmonitor(self, healthmonitor_id: str) -> Any:
        return self._get_model(lib_consts.HEALTHMONITORS, dm.HealthMonitor, healthmonitor_id)

    def get_l7policy(self, l7policy_id: str) -> Any:
        return self._get_model(lib_consts.L7POLICIES, dm.L7Policy, l7policy_id)

    def get_l7rule(self, l7rule_id: str) -> Any:
        return self._get_model(lib_consts.L7RULES, dm.L7Rule, l7rule_id)


def _instance(data: Any) -> Instance | None:
    """The get socket's ``statera_instance`` as an Instance (None: not placed here)."""
    if not isinstance(data, dict) or not data.get("amphora_id"):
        return None
    return Instance(role=str(data.get("role") or "STANDALONE"),
                    amphora_id=str(data["amphora_id"]),
                    peers=tuple(str(p) for p in data.get("peers") or []))
