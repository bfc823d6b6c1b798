"""ACTIVE_STANDBY end to end: an API process and two ``statera agent`` hosts, each agent in
its own host namespace, one SQLite database file on the shared filesystem, no bus (agents
resync every 2 s and renew their leases every 0.5 s).

A load balancer created through the API with an ACTIVE_STANDBY flavor is placed on both
hosts; each host's agent learns its instance (role, peers' VRRP addresses) from the get
socket, runs HAProxy and keepalived with unicast peers, and records its VRRP address on its
amphora. A client namespace sends requests through the VIP while the active instance's HAProxy
is killed (answers continue: its agent restarts it, or the peer takes over) and then the link
of the host holding the VIP goes down (with nopreempt the instance up first holds it, MASTER
or not): the other host takes the VIP and answers within 3 s.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import VENV_BIN, Server
from tests.e2e.haproxy_support import requires_haproxy
from tests.hosts.cluster import Cluster, http
from tests.hosts.test_placement import cluster_env
from tests.netns.topology import CIDR, INTERFACE, SUBNET_ID, Load, Topology, summary, wait

pytestmark = requires_haproxy
PORT = 8080


def _start_agent_in(cluster: Cluster, ns: str) -> Server:
    """``statera agent`` inside ``ns`` named after it (``ip netns exec`` execs it)."""
    agent = Server(cluster.root / ns, {**cluster.env, "STATERA_AGENT__HOST": ns})
    agent.data_dir.mkdir(parents=True)
    cluster.agents[ns] = agent
    agent.proc = subprocess.Popen(
        ["ip", "netns", "exec", ns, str(VENV_BIN / "statera"), "agent", "--data-dir",
         str(agent.data_dir)], env=agent.env, stdout=open(agent.log, "ab"),
        stderr=subprocess.STDOUT)
    sock = agent.data_dir / "run" / "get.sock"
    assert wait(lambda: sock.exists() or agent.proc.poll() is not None, timeout=30)
    assert sock.exists(), agent.log.read_text()[-3000:]
    return agent


@pytest.fixture
def cluster(topology: Topology, tmp_path: Path) -> Iterator[Cluster]:
    url = f"sqlite:///{tmp_path}/statera.db"
    networks = [{"id": str(uuid.uuid4()), "name": "vips", "subnets": [
        {"id": SUBNET_ID, "name": "vips-v4", "cidr": CIDR, "interface": INTERFACE}]}]
    env = {**cluster_env(url, "haproxy"),
           "STATERA_NETWORKING__NETWORKS": json.dumps(networks),
           "STATERA_HAPROXY__HEALTH_POLL_INTERVAL": "0.5"}
    c = Cluster(tmp_path, env)
    try:
        c.start_api()
        for ns in topology.hosts:
            _start_agent_in(c, ns)
        yield c
    finally:
        c.stop()


def _create(cluster: Cluster, topology: Topology) -> str:
    profile = http(f"{cluster.url}/v2/lbaas/flavorprofiles", "POST", {"flavorprofile": {
        "name": "ha", "provider_name": "haproxy",
        "flavor_data": json.dumps({"loadbalancer_topology": "ACTIVE_STANDBY"})}})
    flavor = http(f"{cluster.url}/v2/lbaas/flavors", "POST", {"flavor": {
        "name": "ha", "flavor_profile_id": profile["flavorprofile"]["id"]}})
    lb = http(f"{cluster.url}/v2/lbaas/loadbalancers", "POST", {"loadbalancer": {
        "name": "ha", "vip_subnet_id": SUBNET_ID, "vip_address": topology.vip,
        "flavor_id": flavor["flavor"]["id"],
        "listeners": [{"name": "web", "protocol": "HTTP", "protocol_port": PORT,
                       "default_pool": {"name": "web", "protocol": "HTTP",
                                        "lb_algorithm": "ROUND_ROBIN",
                                        "members": [{"address": "127.0.0.1",
                                                     "protocol_port": 8001}]}}]}})
    return str(lb["loadbalancer"]["id"])


def _amphorae(cluster: Cluster, lb_id: str) -> dict[str, dict[str, Any]]:
    """The load balancer's amphorae by role."""
    return {a["role"]: a for a in cluster.amphorae() if a["loadbalancer_id"] == lb_id}


def _vrrp_files(cluster: Cluster, lb_id: str) -> str:
    """Each host's keepalived state, configuration and log (for a failure message)."""
    out = []
    for host, agent in cluster.agents.items():
        lb_dir = agent.data_dir / "providers" / "haproxy" / lb_id
        for name in ("vrrp.state", "keepalived.conf", "keepalived.log"):
            path = lb_dir / name
            out.append(f"--- {host} {name}\n"
                       f"{path.read_text()[-1500:] if path.exists() else '(none)'}")
    return "\n".join(out)


def test_agents_run_an_active_standby_pair_that_survives_the_master(
        cluster: Cluster, topology: Topology) -> None:
    for host in topology.hosts:
        topology.backend(host, host, 8001)  # each host's member answers with its name
    lb_id = _create(cluster, topology)
    cluster.wait_all_active([lb_id], timeout=60)

    def paired() -> dict[str, dict[str, Any]] | None:
        amps = _amphorae(cluster, lb_id)
        if set(amps) == {"MASTER", "BACKUP"} and all(a["vrrp_ip"] for a in amps.values()):
            return amps
        return None

    amps = wait(paired, timeout=30, interval=0.5)
    assert amps, cluster.amphorae()
    master, backup = amps["MASTER"]["compute_id"], amps["BACKUP"]["compute_id"]
    assert {master, backup} == set(topology.hosts)
    for amp in amps.values():
        assert amp["vrrp_ip"] == topology.addresses[amp["compute_id"]]
        assert amp["ha_ip"] == topology.vip

    # Each keepalived advertises to the other host (learnt once the peer recorded its vrrp_ip).
    for host, peer in ((master, backup), (backup, master)):
        conf = cluster.agents[host].data_dir / "providers" / "haproxy" / lb_id
        assert wait(lambda c=conf, p=peer: topology.addresses[p] in
                    (c / "keepalived.conf").read_text(), timeout=15), host
    # Exactly one host holds the VIP. Which one is keepalived's to decide: with nopreempt (as
    # Octavia configures it) the instance that came up first keeps it, whatever its priority.
    def holder() -> str | None:
        held = [h for h in topology.hosts if topology.holds(h, topology.vip)]
        return held[0] if len(held) == 1 else None

    active = wait(holder, timeout=15)
    assert active, _vrrp_files(cluster, lb_id)
    time.sleep(1.5)  # advertisements settle: still one holder
    assert holder() == active, _vrrp_files(cluster, lb_id)
    standby = backup if active == master else master

    holder_now = active
    load = Load(topology, PORT)
    try:
        assert wait(lambda: topology.run(topology.client, "curl", "-s", "-m", "2",
                                         f"http://{topology.vip}:{PORT}/").stdout == active)
        time.sleep(0.5)
        # 1. The active instance's HAProxy dies: its agent starts it again within a tick, or
        #    keepalived's check hands the VIP to the peer; whichever wins, answers continue.
        killed = time.time()
        lb_dir = cluster.agents[active].data_dir / "providers" / "haproxy" / lb_id
        os.kill(int((lb_dir / "haproxy.pid").read_text().split()[0]), signal.SIGKILL)
        time.sleep(4.0)
        # 2. The host holding the VIP loses its link: the peer stops hearing it and takes over.
        holder_now = holder() or active
        other = standby if holder_now == active else active
        cut = time.time()
        topology.link(holder_now, False)
        assert wait(lambda: topology.holds(other, topology.vip), timeout=15), _vrrp_files(
            cluster, lb_id)
        time.sleep(2.0)
    finally:
        results = load.stop()
        topology.link(holder_now, True)
    failed, gap = summary(results, killed, cut)
    print(f"\nactive HAProxy killed: {failed} failed requests, longest gap {gap:.2f}s")
    assert gap < 3.0
    failed, gap = summary(results, cut)
    print(f"VIP holder's link down: {failed} failed requests, longest gap {gap:.2f}s")
    assert gap < 3.0
    after = {body for stamp, ok, body in results if ok and stamp >= cut + gap}
    assert after == {other}
    # The VIP's statistics are the sum over both instances: each host reports its own
    # counters under its amphora (Octavia's /amphorae/{id}/stats), the second reporter adds to
    # the first instead of replacing it. (A killed HAProxy loses what it counted since the
    # last poll, so the totals are compared with the amphorae, not with the requests sent.)
    answered = Counter(body for _, ok, body in results if ok)
    assert len(answered) == 2, answered  # both instances served

    def per_amphora() -> dict[str, int]:
        return {amp["compute_id"]: sum(
            s["total_connections"] for s in http(
                f"{cluster.url}/v2/octavia/amphorae/{amp['id']}/stats")["amphora_stats"])
            for amp in cluster.amphorae() if amp["loadbalancer_id"] == lb_id}

    assert wait(lambda: all(per_amphora().get(host, 0) > 0 for host in answered), timeout=30)
    counted = per_amphora()
    total = http(f"{cluster.url}/v2/lbaas/loadbalancers/{lb_id}/stats")["stats"]
    assert total["total_connections"] >= sum(counted.values()), (counted, total)
    assert total["total_connections"] > max(answered.values()), (answered, total)
