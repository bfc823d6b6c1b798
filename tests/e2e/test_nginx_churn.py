"""Member and configuration churn under continuous load on NGINX: not one request may fail.

wrk (a separate process, keep-alive connections, bounded duration) loads the VIP of a real
NGINX load balancer while the test, through the API only, adds, drains (weight 0), re-weights
and removes members 100 times and updates the listener and the pool 20 times. Open-source
NGINX has no API for its upstreams: every one of those 120 changes is a graceful reload, and
each reload's old worker closes its idle keep-alive connections and the ones whose request is
in flight right after answering it ("Connection: keep-alive" and all). Without the provider's
drain window (see ``statera/providers/nginx/drain.py``) wrk saw read errors on about 1 % of
its requests; with it, none. The reload count comes from the provider's counters.json.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from typing import Any

import pytest

from tests.e2e.conftest import Server, free_port, wait_for
from tests.e2e.haproxy_support import SUBNET_ID, Backend, serving, wait_active
from tests.e2e.test_haproxy_churn import MEMBER_CHANGES, RELOADS, Wrk, churn
from tests.e2e.test_nginx_e2e import backends as backends  # noqa: F401 - fixture
from tests.e2e.test_nginx_e2e import nginx_dir
from tests.e2e.test_nginx_e2e import nginx_server as nginx_server  # noqa: F401 - fixture
from tests.e2e.test_nginx_e2e import sdk as sdk  # noqa: F401 - fixture

pytestmark = [pytest.mark.nginx, pytest.mark.e2e,
              pytest.mark.skipif(subprocess.run(["which", "wrk"], capture_output=True,
                                                check=False).returncode != 0,
                                 reason="wrk is not installed")]


def reload_count(server: Server, lb_id: str) -> int:
    import json

    try:
        data = json.loads((nginx_dir(server) / lb_id / "counters.json").read_text())
    except (OSError, ValueError):
        return 0
    return int(data.get("reloads", 0))


def test_member_churn_and_reloads_under_load(nginx_server: Server, sdk: Any,  # noqa: F811
                                             backends: Callable[[str], Backend]  # noqa: F811
                                             ) -> None:
    """Keep-alive clients see no error (no socket error, no non-2xx) across 100 member changes
    and 20 listener/pool updates, all of them NGINX reloads."""
    server = nginx_server
    a, b, c = backends("alpha"), backends("beta"), backends("gamma")
    lbs = sdk.load_balancer
    port = free_port()
    lb = lbs.create_load_balancer(name="churn", vip_subnet_id=SUBNET_ID, provider="nginx")
    wait_active(sdk, lb.id)
    vip = lbs.get_load_balancer(lb.id).vip_address
    listener = lbs.create_listener(load_balancer_id=lb.id, protocol="HTTP", protocol_port=port)
    pool = lbs.create_pool(listener_id=listener.id, protocol="HTTP", lb_algorithm="ROUND_ROBIN")
    for backend in (a, b):
        lbs.create_member(pool, address="127.0.0.1", protocol_port=backend.port)
    wait_active(sdk, lb.id)
    wait_for(lambda: serving(vip, port), timeout=5, what="serving")
    before = reload_count(server, lb.id)

    started = time.monotonic()
    wrk = Wrk(f"http://{vip}:{port}/", duration=300)  # stopped when the churn ends
    try:
        time.sleep(0.5)
        churn(sdk, lb.id, pool.id, listener.id, [c])
        time.sleep(0.5)
    finally:
        result = wrk.stop()
    took = time.monotonic() - started
    reloads = reload_count(server, lb.id) - before

    assert result.requests > 1000, result.output
    assert result.failed == 0, result.output
    assert c.requests > 0  # the churned member did take traffic
    assert reloads == MEMBER_CHANGES + RELOADS, reloads
    print(f"nginx churn: {MEMBER_CHANGES} member changes + {RELOADS} listener/pool updates "
          f"= {reloads} reloads in {took:.1f} s, {result.requests} requests, 0 failed")
