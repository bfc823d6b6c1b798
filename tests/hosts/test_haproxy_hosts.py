"""Host loss and fencing with real HAProxy data planes and traffic: three ``statera agent``
hosts on PostgreSQL (VIPs on loopback, which every host of this machine shares), six load
balancers. ``kill -9`` of one host's agent leaves its HAProxy processes running, as a data
plane that outlives its agent does; its load balancers are placed on the other hosts and serve
from there; when the agent comes back it stops every HAProxy it no longer owns before serving
anything, and every VIP still answers."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.dbs import temp_database
from tests.e2e.conftest import pids_naming, wait_for
from tests.e2e.haproxy_support import Backend, haproxy_env, requires_haproxy, serving
from tests.hosts.cluster import Cluster, http, served_elsewhere
from tests.hosts.test_placement import HOSTS, MOVE_TIMEOUT, cluster_env

pytestmark = requires_haproxy
PORT = 8080


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    with temp_database("postgresql", str(tmp_path)) as url:
        c = Cluster(tmp_path, {**haproxy_env(), **cluster_env(url, "haproxy")})
        try:
            c.start_api()
            for name in HOSTS:
                c.start_agent(name)
            yield c
        finally:
            c.stop()


def build(cluster: Cluster, name: str, backend: Backend) -> tuple[str, str]:
    """A load balancer with an HTTP listener on PORT and one member; (id, VIP)."""
    lb = http(f"{cluster.url}/v2/lbaas/loadbalancers", "POST", {"loadbalancer": {
        "name": name, "vip_subnet_id": "7b1c6e3a-1d5e-4f5e-9a57-3c1f00000002",
        "listeners": [{"name": name, "protocol": "HTTP", "protocol_port": PORT,
                       "default_pool": {"name": name, "protocol": "HTTP",
                                        "lb_algorithm": "ROUND_ROBIN",
                                        "members": [{"address": "127.0.0.1",
                                                     "protocol_port": backend.port}]}}]}})
    return lb["loadbalancer"]["id"], lb["loadbalancer"]["vip_address"]


def haproxy_pids(cluster: Cluster, host: str) -> list[int]:
    return pids_naming(cluster.agents[host].data_dir / "providers" / "haproxy")


def test_host_loss_moves_traffic_and_a_returning_host_fences(cluster: Cluster) -> None:
    backend = Backend("b")
    try:
        lbs = dict(build(cluster, f"lb{i}", backend) for i in range(6))
        cluster.wait_all_active(list(lbs), timeout=60)
        for vip in lbs.values():
            wait_for(lambda v=vip: serving(v, PORT), what=f"traffic through {vip}")
        placed = cluster.placement()
        moved = [lb for lb, on in placed.items() if on == ["h1"]]
        assert len(moved) == 2, placed
        stale = haproxy_pids(cluster, "h1")
        assert stale

        cluster.kill_agent("h1")
        assert all(_alive(pid) for pid in stale)  # the data plane outlived its agent
        wait_for(lambda: served_elsewhere(cluster, moved, "h1"), timeout=MOVE_TIMEOUT,
                 what="h1's load balancers served by h2 and h3")
        for lb in moved:
            host = cluster.placement()[lb][0]
            wait_for(lambda h=host, i=lb: pids_naming(
                cluster.agents[h].data_dir / "providers" / "haproxy" / i),
                what=f"HAProxy of {lb} on {host}")

        # h1 comes back: its first act is to stop what it no longer owns.
        cluster.start_agent("h1")
        wait_for(lambda: not haproxy_pids(cluster, "h1"), timeout=30,
                 what="h1's HAProxy processes stopped")
        assert not any(_alive(pid) for pid in stale)
        for vip in lbs.values():
            assert serving(vip, PORT), vip  # served by h2 and h3 alone now
        assert cluster.hosts()["h1"]["instances"] == 0
    finally:
        backend.stop()


def test_a_paused_host_that_lost_its_lease_fences_itself(cluster: Cluster) -> None:
    """An agent that stops renewing without dying (SIGSTOP: a paused VM, a long GC, a
    partition) loses its load balancers to the others; when it runs again, it notices the lost
    lease and stops their HAProxy processes before its next renewal."""
    backend = Backend("b")
    try:
        lbs = dict(build(cluster, f"lb{i}", backend) for i in range(3))
        cluster.wait_all_active(list(lbs), timeout=60)
        placed = cluster.placement()
        (mine,) = [lb for lb, on in placed.items() if on == ["h1"]]
        agent = cluster.agents["h1"].proc
        assert agent is not None
        stale = wait_for(lambda: haproxy_pids(cluster, "h1"), what="h1's HAProxy")
        os.kill(agent.pid, signal.SIGSTOP)
        try:
            wait_for(lambda: served_elsewhere(cluster, [mine], "h1"), timeout=MOVE_TIMEOUT,
                     what="h1's load balancer served by another host")
        finally:
            os.kill(agent.pid, signal.SIGCONT)
        wait_for(lambda: not any(_alive(pid) for pid in stale), timeout=30,
                 what="h1 stopped the HAProxy it no longer owns")
        assert "lost its lease" in cluster.agents["h1"].log.read_text()
        assert cluster.hosts()["h1"]["status"] == "UP"
        for vip in lbs.values():
            assert serving(vip, PORT), vip
    finally:
        backend.stop()


def _alive(pid: int) -> bool:
    """Running (a zombie that no one has reaped yet is not)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False
