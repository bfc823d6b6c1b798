"""Drive a provider's converger once, in the network namespace this runs in.

``ip netns exec <host> python -m tests.netns.driver < spec.json`` stands for one agent host:
it builds the load balancer of the spec as an octavia-lib graph, converges it (or removes it:
``"action": "delete"``) with the host's role and peers, prints the status report as JSON and
exits. HAProxy and keepalived run detached, so they keep serving after it exits, as the data
plane of an agent does; the test stops them through another ``delete`` and by pid.

Spec: ``data_dir``, ``state_dir``, ``subnet`` ({id, cidr, interface}), ``lb`` ({id, vip,
port, members: [[address, port], ...]}), ``role``, ``peers``, ``advert_int`` and ``action``:
``converge`` (default), ``delete`` or ``shutdown`` (what the agent does when it stops);
``provider``: ``haproxy`` (default) or ``nginx``.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Any

from octavia_lib.api.drivers import data_models as dm

from statera.config import settings_class
from statera.providers.haproxy.converger import HAProxyConverger
from statera.providers.kit.vips import Placement
from statera.providers.nginx.converger import NginxConverger


def graph(spec: dict[str, Any], subnet_id: str) -> dm.LoadBalancer:
    lb_id = spec["id"]
    members = [dm.Member(member_id=f"{lb_id[:8]}-m{i}", address=address, protocol_port=port,
                         weight=1, admin_state_up=True, backup=False,
                         pool_id=f"{lb_id[:8]}-pool")
               for i, (address, port) in enumerate(spec["members"])]
    pool = dm.Pool(pool_id=f"{lb_id[:8]}-pool", protocol="HTTP", lb_algorithm="ROUND_ROBIN",
                   admin_state_up=True, members=members)
    listener = dm.Listener(listener_id=f"{lb_id[:8]}-listener", protocol="HTTP",
                           protocol_port=spec["port"], admin_state_up=True,
                           connection_limit=-1, l7policies=[], default_pool_id=pool.pool_id)
    return dm.LoadBalancer(loadbalancer_id=lb_id, vip_address=spec["vip"],
                           vip_subnet_id=subnet_id, admin_state_up=True,
                           listeners=[listener], pools=[pool])


def main() -> None:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    spec = json.load(sys.stdin)
    subnet = spec["subnet"]
    settings = settings_class()(
        data_dir=spec["data_dir"],
        networking={"networks": [{"id": f"net-{subnet['id']}", "subnets": [subnet]}]},
        keepalived_vrrp={"vrrp_advert_int": spec.get("advert_int", 1.0)})
    placement = Placement(role=spec.get("role", "STANDALONE"), peers=tuple(spec.get("peers", ())))
    make = NginxConverger if spec.get("provider") == "nginx" else HAProxyConverger
    converger = make(settings, Path(spec["state_dir"]), placement=lambda _lb_id, _lb: placement)
    if isinstance(converger, NginxConverger):
        converger.prober.stop()  # no member is monitored; NGINX itself keeps running
    lb_id = spec["lb"]["id"]
    if spec.get("action") == "shutdown":  # the agent stops: its instances stop with it
        converger.shutdown()
        print(json.dumps({"report": {}}))
        return
    lb = None if spec.get("action") == "delete" else graph(spec["lb"], subnet["id"])
    report = converger.converge(lb_id, lb)
    print(json.dumps({"report": report, "vrrp_state": converger.vrrp_state(lb_id)}))


if __name__ == "__main__":
    main()
