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

import json
import subprocess
from collections.abc import Callable
from typing import Any

import pytest

from tests.e2e.conftest import Server
from tests.e2e.haproxy_support import Backend
from tests.e2e.test_haproxy_churn import (
    MEMBER_CHANGES,
    RELOADS,
    churn_under_wrk,
    serving_lb,
)
from tests.e2e.test_nginx_e2e import backends as backends  # noqa: F401 - fixture
from tests.e2e.test_nginx_e2e import nginx_dir
from tests.e2e.test_nginx_e2e import nginx_server as nginx_server  # noqa: F401 - fixture
from tests.e2e.test_nginx_e2e import sdk as sdk  # noqa: F401 - fixture

pytestmark = [pytest.mark.nginx, pytest.mark.e2e,
              pytest.mark.skipif(subprocess.run(["which", "wrk"], capture_output=True,
                                                check=False).returncode != 0,
                                 reason="wrk is not installed")]


def reload_count(server: Server, lb_id: str) -> int:
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
    lb_id, before, c = serving_lb(sdk, backends, lambda lb_id: reload_count(server, lb_id))
    result, took = churn_under_wrk(sdk, lb_id, c)
    reloads = reload_count(server, lb_id) - before

    assert result.requests > 1000, result.output
    assert result.failed == 0, result.output
    assert c.requests > 0  # the churned member did take traffic
    assert reloads == MEMBER_CHANGES + RELOADS, reloads
    print(f"nginx churn: {MEMBER_CHANGES} member changes + {RELOADS} listener/pool updates "
          f"= {reloads} reloads in {took:.1f} s, {result.requests} requests, 0 failed")
