"""Agent hosts, placement and rescheduling with real processes on PostgreSQL: an API host
(``statera serve`` running no agents) and three ``statera agent`` hosts with distinct
``[agent] host`` names, no bus between them (each agent follows its placement from the
database). 30 load balancers spread over the three; ``kill -9`` of one agent moves its load
balancers to the others once its lease is down; back, it owns nothing until new ones come."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.dbs import temp_database
from tests.e2e.conftest import wait_for
from tests.hosts.cluster import Cluster, http, served_elsewhere

DOWN_AFTER = 3.0
HOSTS = ["h1", "h2", "h3"]
#: How long a test waits for a move (how fast it is, bench/host_loss.py measures): generous,
#: so a loaded machine does not fail it.
MOVE_TIMEOUT = 60.0


def cluster_env(url: str, provider: str = "noop") -> dict[str, str]:
    return {
        "STATERA_DATABASE__CONNECTION": url,
        "STATERA_API__DEFAULT_PROVIDER_DRIVER": provider,
        "STATERA_DRIVER_AGENT__ENABLED_PROVIDER_AGENTS": f'["{provider}"]',
        "STATERA_DRIVER_AGENT__RESYNC_INTERVAL": "2",
        "STATERA_AGENT__HEARTBEAT_INTERVAL": "0.5",
        "STATERA_AGENT__DOWN_AFTER": str(DOWN_AFTER),
        "STATERA_METRICS__PORT": "0",  # many processes on one machine: no /metrics ports
        "STATERA_METRICS__AGENT_PORT": "0",
    }


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    with temp_database("postgresql", str(tmp_path)) as url:
        c = Cluster(tmp_path, cluster_env(url))
        try:
            c.start_api()
            for name in HOSTS:
                c.start_agent(name)
            yield c
        finally:
            c.stop()


def test_thirty_load_balancers_spread_and_move_when_a_host_dies(cluster: Cluster) -> None:
    ids = [cluster.create_lb(f"lb{i}") for i in range(30)]
    cluster.wait_all_active(ids)
    placed = wait_for(lambda: (p := cluster.placement()) and len(p) == 30 and p,
                      what="30 placed load balancers")
    spread = Counter(hosts[0] for hosts in placed.values())
    assert set(spread) == set(HOSTS) and max(spread.values()) - min(spread.values()) <= 1, spread
    assert all(len(hosts) == 1 for hosts in placed.values())
    amphorae = cluster.amphorae()
    assert {a["role"] for a in amphorae} == {"STANDALONE"}
    wait_for(lambda: {a["status"] for a in cluster.amphorae()} == {"ALLOCATED"},
             what="every instance reported serving")
    hosts = cluster.hosts()
    assert {n: (h["status"], h["instances"]) for n, h in hosts.items()} == {
        n: ("UP", spread[n]) for n in HOSTS}
    assert hosts["h1"]["providers"] == ["noop"]
    assert http(f"{cluster.url}/v2/statera/hosts/h2")["host"]["name"] == "h2"

    # kill -9 of h1's agent: once its lease is down its load balancers serve from h2 and h3.
    moved = [lb for lb, on in placed.items() if on == ["h1"]]
    cluster.kill_agent("h1")
    wait_for(lambda: cluster.hosts()["h1"]["status"] == "DOWN", timeout=MOVE_TIMEOUT,
             what="h1 down")
    wait_for(lambda: served_elsewhere(cluster, moved, "h1"), timeout=MOVE_TIMEOUT,
             what="h1's load balancers served by h2 and h3")
    after = cluster.placement()
    assert Counter(on[0] for on in after.values()) == {"h2": 15, "h3": 15}
    # They converge there: a change to one of them goes ACTIVE through its new host.
    http(f"{cluster.url}/v2/lbaas/loadbalancers/{moved[0]}", "PUT",
         {"loadbalancer": {"description": "moved"}})
    cluster.wait_all_active([moved[0]], timeout=60)
    assert all(lb["provisioning_status"] == "ACTIVE" for lb in cluster.lbs().values())

    # h1 comes back: it owns nothing, and new load balancers go to it (the least loaded).
    cluster.start_agent("h1")
    wait_for(lambda: cluster.hosts()["h1"]["status"] == "UP", what="h1 up again")
    assert cluster.hosts()["h1"]["instances"] == 0
    assert cluster.hosts()["h1"]["incarnation"] == 2
    fresh = [cluster.create_lb(f"new{i}") for i in range(3)]
    cluster.wait_all_active(fresh, timeout=60)
    assert {on[0] for lb, on in cluster.placement().items() if lb in fresh} == {"h1"}


def test_failover_moves_an_instance_to_another_live_host(cluster: Cluster) -> None:
    lb = cluster.create_lb("one")
    cluster.wait_all_active([lb])
    (amp,) = wait_for(lambda: [a for a in cluster.amphorae() if a["status"] == "ALLOCATED"],
                      what="an instance")
    first = amp["compute_id"]
    http(f"{cluster.url}/v2/octavia/amphorae/{amp['id']}/failover", "PUT")
    moved = wait_for(lambda: (a := cluster.amphorae()) and a[0]["compute_id"] != first
                     and a[0]["status"] == "ALLOCATED" and a[0], what="instance moved")
    assert moved["id"] == amp["id"] and moved["compute_id"] in HOSTS
    cluster.wait_all_active([lb])
    # Load balancer failover moves it again.
    http(f"{cluster.url}/v2/lbaas/loadbalancers/{lb}/failover", "PUT")
    wait_for(lambda: (a := cluster.amphorae()) and a[0]["compute_id"] != moved["compute_id"],
             what="instance moved by the load balancer failover")
    cluster.wait_all_active([lb])


def test_active_standby_runs_on_two_hosts(cluster: Cluster) -> None:
    profile = http(f"{cluster.url}/v2/lbaas/flavorprofiles", "POST", {"flavorprofile": {
        "name": "as", "provider_name": "noop",
        "flavor_data": '{"loadbalancer_topology": "ACTIVE_STANDBY"}'}})["flavorprofile"]
    flavor = http(f"{cluster.url}/v2/lbaas/flavors", "POST", {"flavor": {
        "name": "as", "flavor_profile_id": profile["id"]}})["flavor"]
    lb = cluster.create_lb("pair", flavor_id=flavor["id"])
    cluster.wait_all_active([lb])
    pair = wait_for(lambda: (a := cluster.amphorae()) and len(a) == 2
                    and {x["status"] for x in a} == {"ALLOCATED"} and a, what="two instances")
    roles = {a["role"]: a["compute_id"] for a in pair}
    assert set(roles) == {"MASTER", "BACKUP"} and roles["MASTER"] != roles["BACKUP"]
    assert {a["ha_ip"] for a in pair} == {cluster.lbs()[lb]["vip_address"]}
    # The MASTER's host dies: the BACKUP is promoted and a new BACKUP placed on the third.
    cluster.kill_agent(roles["MASTER"])
    after = wait_for(lambda: (a := cluster.amphorae()) and len(a) == 2 and roles["MASTER"]
                     not in {x["compute_id"] for x in a} and a, timeout=MOVE_TIMEOUT,
                     what="pair re-placed")
    now = {a["role"]: a["compute_id"] for a in after}
    assert now["MASTER"] == roles["BACKUP"]
    assert now["BACKUP"] not in (roles["MASTER"], roles["BACKUP"])
