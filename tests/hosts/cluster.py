"""Many Statera hosts on one machine against one database: an API host (``statera serve``,
no provider agents) and agent hosts (``statera agent``, each with its own ``[agent] host``
name and data directory), as real processes. Used by the host, placement and README tests and
by bench/host_loss.py."""

from __future__ import annotations

import json
import signal
import urllib.request
from pathlib import Path
from typing import Any

from tests.e2e.conftest import Server, kill_leftovers, wait_for


def http(url: str, method: str = "GET", body: dict[str, Any] | None = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        text = resp.read()
    return json.loads(text) if text else None


class Cluster:
    """An API host and named agent hosts sharing ``env`` (database, bus, networks)."""

    def __init__(self, root: Path, env: dict[str, str]) -> None:
        self.root = root
        self.env = dict(env)
        self.api = Server(root / "api", {**self.env, "STATERA_API__RUN_AGENTS": "false"})
        self.api.data_dir.mkdir(parents=True)
        self.agents: dict[str, Server] = {}

    @property
    def url(self) -> str:
        return self.api.url

    def start_api(self) -> None:
        self.api.start()

    def start_agent(self, name: str, **extra: str) -> Server:
        agent = self.agents.get(name)
        if agent is None:
            agent = Server(self.root / name, {**self.env, "STATERA_AGENT__HOST": name, **extra})
            agent.data_dir.mkdir(parents=True)
            self.agents[name] = agent
        # A killed agent leaves its socket files; start_agent waits for a new one.
        (agent.data_dir / "run" / "get.sock").unlink(missing_ok=True)
        agent.start_agent()
        return agent

    def kill_agent(self, name: str) -> None:
        """``kill -9`` of the agent process alone (its data planes, if any, keep running)."""
        self.agents[name].stop(signal.SIGKILL)

    def stop(self) -> None:
        for agent in self.agents.values():
            agent.stop()
        self.api.stop()
        for agent in self.agents.values():
            kill_leftovers(agent.data_dir)
        kill_leftovers(self.api.data_dir)

    # The API --------------------------------------------------------------------------------
    def create_lb(self, name: str, **extra: Any) -> str:
        body = {"loadbalancer": {"name": name, "vip_subnet_id": SUBNET, **extra}}
        return str(http(f"{self.url}/v2/lbaas/loadbalancers", "POST", body)
                   ["loadbalancer"]["id"])

    def lbs(self) -> dict[str, dict[str, Any]]:
        return {lb["id"]: lb for lb in http(f"{self.url}/v2/lbaas/loadbalancers?limit=1000")
                ["loadbalancers"]}

    def amphorae(self) -> list[dict[str, Any]]:
        return list(http(f"{self.url}/v2/octavia/amphorae?limit=1000")["amphorae"])

    def placement(self) -> dict[str, list[str]]:
        """Load balancer id -> hosts of its instances."""
        out: dict[str, list[str]] = {}
        for amp in self.amphorae():
            out.setdefault(amp["loadbalancer_id"], []).append(amp["compute_id"])
        return out

    def hosts(self) -> dict[str, dict[str, Any]]:
        return {h["name"]: h for h in http(f"{self.url}/v2/statera/hosts")["hosts"]}

    def wait_all_active(self, ids: list[str], timeout: float = 60) -> None:
        wait_for(lambda: all(self.lbs().get(i, {}).get("provisioning_status") == "ACTIVE"
                             for i in ids), timeout=timeout, what="every load balancer ACTIVE")


SUBNET = "7b1c6e3a-1d5e-4f5e-9a57-3c1f00000002"


def served_elsewhere(cluster: Cluster, moved: list[str], dead: str) -> bool:
    """Every load balancer in ``moved`` has all its instances on live hosts other than
    ``dead``, each reported serving (ALLOCATED) by its new host."""
    amps = cluster.amphorae()
    for lb_id in moved:
        mine = [a for a in amps if a["loadbalancer_id"] == lb_id]
        if not mine or any(a["compute_id"] == dead or a["status"] != "ALLOCATED"
                           for a in mine):
            return False
    return True


