"""ACTIVE_STANDBY across two host namespaces: HAProxy on both, keepalived moving the VIP.

The converger of the HAProxy provider runs once per host (as that host's agent would) with
roles MASTER and BACKUP; a client namespace sends a request every 20 ms through the VIP while
the MASTER's HAProxy is killed, the old MASTER comes back (and, ``nopreempt``, stays BACKUP),
and then the new MASTER's link goes down. Failed requests and the longest gap of each phase
are printed (``-s``); the figures with percentiles are bench/vrrp.py's.
"""

from __future__ import annotations

import os
import signal
import time
import uuid
from pathlib import Path

from tests.netns.topology import INTERFACE, Load, Topology, lb_spec, summary, wait


def _haproxy_pid(base: Path, host: str, lb_id: str) -> int:
    return int((base / host / "haproxy" / lb_id / "haproxy.pid").read_text().split()[0])


def _state(base: Path, host: str, lb_id: str) -> str:
    try:
        return (base / host / "haproxy" / lb_id / "vrrp.state").read_text().strip()
    except OSError:
        return ""


def _served_by(results: list[tuple[float, bool, str]], since: float) -> set[str]:
    return {body for stamp, ok, body in results if ok and stamp >= since}


def test_vip_moves_to_the_backup_when_the_master_fails(topology: Topology,
                                                       tmp_path: Path) -> None:
    h1, h2 = topology.hosts
    for host in (h1, h2):
        topology.backend(host, host, 8001)
    lb_id = str(uuid.uuid4())
    roles = {h1: ("MASTER", topology.addresses[h2]), h2: ("BACKUP", topology.addresses[h1])}

    def converge(host: str) -> dict[str, object]:
        role, peer = roles[host]
        result = topology.converge(host, lb_spec(topology, host, tmp_path, lb_id, role=role,
                                                 peers=(peer,)))
        report = result["report"]
        assert isinstance(report, dict)
        assert report["loadbalancers"][0]["provisioning_status"] == "ACTIVE", result["log"]
        return report

    reports = {host: converge(host) for host in (h1, h2)}
    amphorae = {host: reports[host]["amphorae"][0] for host in (h1, h2)}  # type: ignore[index]
    assert [amphorae[h]["role"] for h in (h1, h2)] == ["MASTER", "BACKUP"]
    assert [amphorae[h]["vrrp_priority"] for h in (h1, h2)] == [100, 90]
    assert amphorae[h1]["vrrp_id"] == amphorae[h2]["vrrp_id"]
    for host in (h1, h2):
        assert amphorae[host]["vrrp_ip"] == topology.addresses[host]
        assert (amphorae[host]["ha_ip"], amphorae[host]["vrrp_interface"]) == (
            topology.vip, INTERFACE)

    # Both start as BACKUP (so that nopreempt holds); the higher priority takes the VIP.
    assert wait(lambda: topology.holds(h1, topology.vip), timeout=15)
    assert not topology.holds(h2, topology.vip)
    assert _state(tmp_path, h2, lb_id) == "BACKUP"

    load = Load(topology, 8080)
    try:
        assert wait(lambda: topology.run(topology.client, "curl", "-s", "-m", "2",
                                         f"http://{topology.vip}:8080/").stdout == h1)
        time.sleep(0.5)

        # 1. The MASTER's HAProxy dies: its check fails, the BACKUP takes the VIP.
        killed = time.time()
        os.kill(_haproxy_pid(tmp_path, h1, lb_id), signal.SIGKILL)
        assert wait(lambda: topology.holds(h2, topology.vip), timeout=15)
        assert wait(lambda: _state(tmp_path, h1, lb_id) == "FAULT", timeout=5)
        assert not topology.holds(h1, topology.vip)
        time.sleep(1.0)

        # 2. The old MASTER's agent converges again (HAProxy restarted): it comes back as
        #    BACKUP and does not take the VIP back (nopreempt), so nothing is cut again.
        returned = time.time()
        converge(h1)
        assert wait(lambda: _state(tmp_path, h1, lb_id) == "BACKUP", timeout=10)
        time.sleep(1.5)
        assert topology.holds(h2, topology.vip) and not topology.holds(h1, topology.vip)

        # 3. The new MASTER's link goes down: the BACKUP stops hearing it and takes over.
        link_down = time.time()
        topology.link(h2, False)
        assert wait(lambda: topology.holds(h1, topology.vip), timeout=15)
        time.sleep(1.0)
    finally:
        results = load.stop()
    ended = time.time()

    phases = {"MASTER's HAProxy killed": (killed, returned),
              "old MASTER back as BACKUP": (returned, link_down),
              "MASTER's link down": (link_down, ended)}
    for name, (start, end) in phases.items():
        failed, gap = summary(results, start, end)
        print(f"\n{name}: {failed} failed requests, longest gap {gap * 1000:.0f} ms")
    # Traffic continued through the same VIP from the other host after each failure.
    assert _served_by(results, killed) >= {h2}
    assert _served_by([r for r in results if returned <= r[0] < link_down], returned) == {h2}
    assert h1 in _served_by(results, link_down)
    assert results[-1][1] and results[-1][2] == h1

    # Deleting the load balancer on both hosts stops keepalived and HAProxy and leaves no VIP.
    topology.link(h2, True)
    for host in (h1, h2):
        role, peer = roles[host]
        topology.converge(host, lb_spec(topology, host, tmp_path, lb_id, role=role,
                                        peers=(peer,), action="delete"))
        assert not topology.holds(host, topology.vip)
        assert wait(lambda h=host: len(topology.pids(h)) == 1, timeout=5)  # the backend
