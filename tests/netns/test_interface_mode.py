"""Interface mode: a STANDALONE load balancer's VIP on a host interface, reached from another
machine (the client namespace) across a bridge, announced, and gone when the host stops
serving it."""

from __future__ import annotations

import sys
import uuid
from pathlib import Path

import pytest

from tests.netns.topology import INTERFACE, Topology, lb_spec, wait


@pytest.mark.parametrize("provider", ["haproxy", "nginx"])
def test_standalone_vip_on_the_bridge_serves_other_machines(topology: Topology, tmp_path: Path,
                                                            provider: str) -> None:
    """Both local providers get interface mode from the kit, with no code of their own."""
    host = topology.hosts[0]
    topology.backend(host, "served-by-h1", 8001)
    lb_id = str(uuid.uuid4())
    # The client believes the VIP lives elsewhere (a stale entry, as after a move): the
    # host's announcement must correct it, or the client would talk to the wrong machine.
    assert topology.run(topology.client, "ip", "neigh", "replace", topology.vip, "lladdr",
                        "02:00:00:00:00:99", "dev", INTERFACE, "nud", "stale").returncode == 0

    result = topology.converge(host, lb_spec(topology, host, tmp_path, lb_id, provider=provider))

    lb_record = result["report"]["loadbalancers"][0]
    assert lb_record["provisioning_status"] == "ACTIVE", result["log"]
    amphora = result["report"]["amphorae"][0]
    assert amphora["role"] == "STANDALONE"
    assert (amphora["ha_ip"], amphora["vrrp_ip"], amphora["vrrp_interface"]) == (
        topology.vip, topology.addresses[host], INTERFACE)
    assert topology.holds(host, topology.vip)
    assert not topology.holds(topology.hosts[1], topology.vip)
    assert topology.neighbour(topology.client, topology.vip) == topology.mac(host)
    answer = topology.run(topology.client, "curl", "-sS", "-m", "5",
                          f"http://{topology.vip}:8080/")
    assert answer.stdout == "served-by-h1", answer.stderr

    # The agent stops (its instances with it): the VIP comes off the interface.
    topology.converge(host, lb_spec(topology, host, tmp_path, lb_id, action="shutdown",
                                              provider=provider))
    assert not topology.holds(host, topology.vip)
    refused = topology.run(topology.client, "curl", "-sS", "-m", "2",
                           f"http://{topology.vip}:8080/")
    assert refused.returncode != 0

    # It starts again and converges: the VIP is back; then the load balancer is deleted.
    again = topology.converge(host, lb_spec(topology, host, tmp_path, lb_id, provider=provider))
    assert again["report"]["loadbalancers"][0]["provisioning_status"] == "ACTIVE"
    assert topology.holds(host, topology.vip)
    assert topology.run(topology.client, "curl", "-sS", "-m", "5",
                        f"http://{topology.vip}:8080/").stdout == "served-by-h1"
    deleted = topology.converge(host, lb_spec(topology, host, tmp_path, lb_id,
                                              action="delete", provider=provider))
    assert deleted["report"]["loadbalancers"][0]["provisioning_status"] == "DELETED"
    assert not topology.holds(host, topology.vip)
    assert not (tmp_path / host / provider / lb_id).exists()
    # Nothing of the load balancer runs in the host any more: only the backend is left.
    assert wait(lambda: len(topology.pids(host)) == 1, timeout=5), topology.pids(host)


def test_an_ipv6_vip_is_added_announced_and_removed(topology: Topology) -> None:
    """IPv6 has no gratuitous ARP: an unsolicited neighbour advertisement (override set)
    corrects what the neighbours cached, and the VIP is usable at once (no DAD wait)."""
    host, client = topology.hosts[0], topology.client
    for ns, address in ((host, "fd77::11"), (client, "fd77::100")):
        assert topology.run(ns, "ip", "address", "add", f"{address}/64", "dev", INTERFACE,
                            "nodad").returncode == 0
    assert topology.run(client, "ip", "-6", "neigh", "replace", "fd77::50", "lladdr",
                        "02:00:00:00:00:99", "dev", INTERFACE, "nud", "stale").returncode == 0
    code = ("from statera.network import interface as i\n"
            "assert i.add('vip0', 'fd77::50')\n"
            "i.announce('vip0', 'fd77::50')\n"
            "print(i.own_address('vip0', 'fd77::/64'))\n")
    added = topology.run(host, sys.executable, "-c", code)
    assert added.returncode == 0, added.stderr
    assert added.stdout.strip() == "fd77::11"  # the host's own address, not the /128 VIP
    assert topology.holds(host, "fd77::50")
    assert wait(lambda: topology.neighbour(client, "fd77::50") == topology.mac(host), timeout=3)
    removed = topology.run(host, sys.executable, "-c", "from statera.network import interface"
                           " as i\nassert i.remove('vip0', 'fd77::50')\n"
                           "assert not i.remove('vip0', 'fd77::50')\n")
    assert removed.returncode == 0, removed.stderr
    assert not topology.holds(host, "fd77::50")
