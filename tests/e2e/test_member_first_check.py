"""A member never reads ONLINE before a health check has passed.

HAProxy shows a server it has not checked yet as ``UP`` (check status ``INI``): a member added
at run time stays so for up to one health-monitor delay. Statera used to report that as ONLINE,
so a new member whose backend was down read ONLINE for seconds before its first check turned it
ERROR. Octavia's value before the first result is ``OFFLINE`` (a member of a monitored pool).
Driven with the ``openstack`` CLI as a user would, against a real HAProxy.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from tests.e2e import haproxy_support as support
from tests.e2e.conftest import Server, free_port
from tests.e2e.haproxy_support import Backend, openstack_cli, requires_haproxy

haproxy_server = support.haproxy_server
backends = support.backends

pytestmark = [requires_haproxy]
# Seconds between checks: a member added at run time waits about this long for its first
# check, which leaves a loaded machine's CLI ample time to read it before.
DELAY = 10


def _status(server: Server, pool: str, member: str) -> str:
    out = openstack_cli(server, "loadbalancer", "member", "show", pool, member)
    return str(out["operating_status"])


def test_new_member_reads_offline_until_its_first_check(
        haproxy_server: Server, backends: Callable[[str], Backend]) -> None:
    srv = haproxy_server
    live = backends("live")
    cli = lambda *a: openstack_cli(srv, "loadbalancer", *a)  # noqa: E731
    cli("create", "--name", "fc", "--vip-subnet-id", "loopback-v4", "--wait")
    cli("listener", "create", "--name", "fc-l", "--protocol", "HTTP", "--protocol-port",
        str(free_port()), "fc", "--wait")
    pool = cli("pool", "create", "--name", "fc-p", "--listener", "fc-l", "--protocol", "HTTP",
               "--lb-algorithm", "ROUND_ROBIN", "--wait")["id"]
    first = cli("member", "create", "--address", "127.0.0.1", "--protocol-port",
                str(live.port), "fc-p", "--wait")["id"]
    # The monitor comes second: HAProxy restarts with it and checks the live server at once.
    cli("healthmonitor", "create", "--delay", str(DELAY), "--timeout", "2", "--max-retries",
        "1", "--type", "HTTP", "fc-p", "--wait")
    deadline = time.monotonic() + 2 * DELAY
    while _status(srv, pool, first) != "ONLINE":
        assert time.monotonic() < deadline, "the live member never turned ONLINE"
        time.sleep(0.5)

    # A member whose backend is down, added at run time to a backend that is UP.
    dead = cli("member", "create", "--address", "127.0.0.1", "--protocol-port",
               str(free_port()), "fc-p", "--wait")["id"]
    seen: list[str] = []
    deadline = time.monotonic() + 3 * DELAY
    while not seen or seen[-1] != "ERROR":
        assert time.monotonic() < deadline, f"never ERROR: {seen}"
        seen.append(_status(srv, pool, dead))
    assert "ONLINE" not in seen, seen
    assert seen[0] == "OFFLINE", seen  # what Octavia says before the first result
    assert _status(srv, pool, first) == "ONLINE"
