"""The NGINX provider end to end: a real ``statera serve``, the real ``openstack`` CLI and
openstacksdk, real NGINX processes and real backends on loopback.

The README's walk-through on ``--provider nginx``: traffic through the VIP reaches every
member; a stopped backend turns its member ERROR and the pool and load balancer DEGRADED within
the monitor's timing; statistics count the traffic and survive a restart of Statera (which
adopts the running NGINX); a UDP listener carries datagrams to UDP members and a UDP-CONNECT
monitor marks a dead one ERROR;
what NGINX cannot do is refused with 501; failover replaces the NGINX master; the amphora API
lists one instance per load balancer.
"""

from __future__ import annotations

import json
import socket
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from statera.providers.kit.procs import processes_in, resolve_binary
from tests.e2e import haproxy_support as support
from tests.e2e.conftest import Server, free_port, wait_for
from tests.e2e.haproxy_support import (
    SUBNET_ID,
    Backend,
    get,
    openstack_cli,
    serving,
    stats,
    wait_active,
)

backends = support.backends
pytestmark = [pytest.mark.nginx, pytest.mark.e2e, pytest.mark.skipif(
    not Path(resolve_binary("nginx")).exists(), reason="nginx is not installed")]

DELAY, TIMEOUT, RETRIES, RETRIES_DOWN = 1, 1, 2, 2
HEALTH_POLL = 0.5


def nginx_dir(server: Server) -> Path:
    return server.data_dir / "providers" / "nginx"


def nginx_master(server: Server, lb_id: str) -> int | None:
    """The pid in the NGINX master's pid file of ``lb_id``, while that process runs."""
    try:
        pid = int((nginx_dir(server) / lb_id / "nginx.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return pid if pid in processes_in(nginx_dir(server) / lb_id, "nginx") else None


def nginx_processes(server: Server) -> list[int]:
    root = nginx_dir(server)
    if not root.exists():
        return []
    return [pid for d in root.iterdir() for pid in processes_in(d, "nginx")]


@pytest.fixture
def nginx_server(tmp_path: Path) -> Iterator[Server]:
    """``statera serve`` with nginx as the default provider; every NGINX process (workers
    included) must be gone after it and its data planes are stopped."""
    srv = Server(tmp_path / "data", support.haproxy_env(**{
        "STATERA_API__DEFAULT_PROVIDER_DRIVER": "nginx",
        "STATERA_NGINX__HEALTH_POLL_INTERVAL": str(HEALTH_POLL),
        "STATERA_NGINX__STATS_INTERVAL": "1.0",
    }))
    srv.data_dir.mkdir()
    srv.start()
    try:
        yield srv
    finally:
        srv.close()
        left = wait_for(lambda: not nginx_processes(srv) or [], timeout=5,
                        what="no nginx left") if nginx_processes(srv) else True
        assert left, nginx_processes(srv)


@pytest.fixture
def sdk(nginx_server: Server) -> Any:
    import openstack

    return openstack.connection.Connection(
        auth_type="none", load_balancer_endpoint_override=nginx_server.url,
        network_endpoint_override=nginx_server.url)


class UdpEcho:
    """A UDP server answering each datagram with its name; counts the clients' datagrams
    (``query``; the health checks' probes are not counted)."""

    def __init__(self, name: str) -> None:
        self.name, self.datagrams = name, 0
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = int(self.sock.getsockname()[1])
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                data, peer = self.sock.recvfrom(65535)
                self.datagrams += data == b"query"
                self.sock.sendto(self.name.encode(), peer)
            except OSError:
                return

    def stop(self) -> None:
        self.sock.close()


def udp_ask(address: str, port: int) -> str:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(3)
        sock.sendto(b"query", (address, port))
        return sock.recv(100).decode()


def test_walkthrough_on_nginx(nginx_server: Server, sdk: Any,
                              backends: Callable[[str], Backend]) -> None:
    server, lbs = nginx_server, sdk.load_balancer
    a, b = backends("alpha"), backends("beta")
    port = free_port()
    lb = openstack_cli(server, "loadbalancer", "create", "--name", "web", "--provider",
                       "nginx", "--vip-subnet-id", SUBNET_ID, "--wait")
    assert lb["provisioning_status"] == "ACTIVE" and lb["provider"] == "nginx"
    vip = lb["vip_address"]
    listener = lbs.create_listener(name="http", load_balancer_id=lb["id"], protocol="HTTP",
                                   protocol_port=port)
    pool = lbs.create_pool(name="pool", listener_id=listener.id, protocol="HTTP",
                           lb_algorithm="ROUND_ROBIN")
    ma = lbs.create_member(pool, address="127.0.0.1", protocol_port=a.port, name="a")
    mb = lbs.create_member(pool, address="127.0.0.1", protocol_port=b.port, name="b")
    lbs.create_health_monitor(pool_id=pool.id, type="HTTP", delay=DELAY, timeout=TIMEOUT,
                              max_retries=RETRIES, max_retries_down=RETRIES_DOWN, url_path="/")
    wait_active(sdk, lb["id"])

    sent = 0
    seen: Counter[str] = Counter()
    for _ in range(10):
        status, body, _ = get(vip, port)
        assert status == 200
        seen[body] += 1
        sent += 1
    assert seen == {"alpha": 5, "beta": 5}

    def operating() -> tuple[str, str, str, str]:
        return (lbs.get_member(ma.id, pool).operating_status,
                lbs.get_member(mb.id, pool).operating_status,
                lbs.get_pool(pool.id).operating_status,
                lbs.get_load_balancer(lb["id"]).operating_status)

    wait_for(lambda: operating() == ("ONLINE", "ONLINE", "ONLINE", "ONLINE"), timeout=10,
             what="everything ONLINE")
    b.stop()
    wait_for(lambda: operating() == ("ONLINE", "ERROR", "DEGRADED", "DEGRADED"),
             timeout=DELAY * RETRIES_DOWN + HEALTH_POLL + 3, what="member b ERROR")
    for _ in range(4):
        assert get(vip, port)[1] == "alpha"
        sent += 1
    b.start()
    wait_for(lambda: operating() == ("ONLINE", "ONLINE", "ONLINE", "ONLINE"), timeout=10,
             what="b ONLINE again")

    # Statistics from NGINX's own logs: one connection per request sent, exact.
    wait_for(lambda: stats(sdk, lb["id"])["total_connections"] == sent, timeout=5,
             what=f"total_connections == {sent}")
    counted = stats(sdk, lb["id"])
    assert counted["bytes_in"] > 0 and counted["bytes_out"] > 0
    assert counted["request_errors"] == 0

    # L7: a REJECT policy on a path.
    reject = lbs.create_l7_policy(listener_id=listener.id, action="REJECT")
    lbs.create_l7_rule(reject, type="PATH", compare_type="STARTS_WITH", value="/private")
    wait_active(sdk, lb["id"])
    assert get(vip, port, "/private/x")[0] == 403
    assert get(vip, port, "/public")[0] == 200
    sent += 2

    # What open-source NGINX cannot do is refused with 501.
    from openstack import exceptions as sdk_exc

    with pytest.raises(sdk_exc.HttpException) as err:
        lbs.create_pool(name="cookie", listener_id=None, loadbalancer_id=lb["id"],
                        protocol="HTTP", lb_algorithm="ROUND_ROBIN",
                        session_persistence={"type": "HTTP_COOKIE"})
    assert err.value.status_code == 501
    wait_active(sdk, lb["id"])

    # UDP: a DNS-like echo service behind a UDP listener, checked with UDP-CONNECT.
    u1, u2 = UdpEcho("u1"), UdpEcho("u2")
    try:
        udp_port = free_port()
        udp = lbs.create_listener(name="dns", load_balancer_id=lb["id"], protocol="UDP",
                                  protocol_port=udp_port)
        wait_active(sdk, lb["id"])
        udp_pool = lbs.create_pool(name="dns", listener_id=udp.id, protocol="UDP",
                                   lb_algorithm="ROUND_ROBIN")
        wait_active(sdk, lb["id"])
        lbs.create_member(udp_pool, address="127.0.0.1", protocol_port=u1.port)
        wait_active(sdk, lb["id"])
        m2 = lbs.create_member(udp_pool, address="127.0.0.1", protocol_port=u2.port)
        wait_active(sdk, lb["id"])
        # Octavia wants delay > 3 s for UDP-CONNECT; one failed check marks the member down.
        lbs.create_health_monitor(pool_id=udp_pool.id, type="UDP-CONNECT", delay=4,
                                  timeout=TIMEOUT, max_retries=1, max_retries_down=1)
        wait_active(sdk, lb["id"])
        answers = Counter(udp_ask(vip, udp_port) for _ in range(10))
        assert answers == {"u1": 5, "u2": 5}
        assert (u1.datagrams, u2.datagrams) == (5, 5)
        u2.stop()
        wait_for(lambda: lbs.get_member(m2.id, udp_pool).operating_status == "ERROR",
                 timeout=10, what="UDP member ERROR")
        assert {udp_ask(vip, udp_port) for _ in range(6)} == {"u1"}
    finally:
        u1.stop()
        u2.stop()

    # One amphora per load balancer; failover replaces the NGINX master and keeps serving.
    amphorae = list(lbs.amphorae(loadbalancer_id=lb["id"]))
    assert len(amphorae) == 1 and amphorae[0].compute_id == socket.gethostname()
    before = nginx_master(server, lb["id"])
    lbs.failover_load_balancer(lb["id"])
    wait_active(sdk, lb["id"])
    wait_for(lambda: nginx_master(server, lb["id"]) not in (None, before),
             timeout=10, what="a new NGINX master")
    assert serving(vip, port)
    counters = json.loads((nginx_dir(server) / lb["id"] / "counters.json").read_text())
    assert counters["failovers"] == 1

    # A restart of Statera: NGINX keeps serving meanwhile and the new agent adopts the same
    # master without a reload; totals are kept.
    before_restart = stats(sdk, lb["id"])["total_connections"]
    master = int((nginx_dir(server) / lb["id"] / "nginx.pid").read_text())
    reloads = json.loads((nginx_dir(server) / lb["id"] / "counters.json").read_text())["reloads"]
    server.stop()
    assert serving(vip, port)
    server.start()

    def lb_counters() -> dict[str, int]:
        return dict(json.loads((nginx_dir(server) / lb["id"] / "counters.json").read_text()))

    wait_for(lambda: lb_counters().get("adoptions") == 1, timeout=10, what="NGINX adopted")
    assert int((nginx_dir(server) / lb["id"] / "nginx.pid").read_text()) == master
    assert lb_counters()["reloads"] == reloads
    wait_for(lambda: serving(vip, port), timeout=10, what="serving after restart")
    wait_for(lambda: stats(sdk, lb["id"])["total_connections"] > before_restart, timeout=5,
             what="statistics continue after the restart")

    openstack_cli(server, "loadbalancer", "delete", "--cascade", "--wait", lb["id"],
                  parse=False)
    wait_for(lambda: nginx_processes(server) == [], timeout=10, what="nginx gone")
