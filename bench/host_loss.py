"""Host loss → every load balancer of that host serving from another host.

Three ``statera agent`` hosts and an API host (no agents) on PostgreSQL, no bus between them,
``[agent] down_after = 5`` and ``heartbeat_interval = 0.5``; N load balancers with the haproxy
provider, each an HTTP listener in front of one backend. Each round "loses" one host the way a
machine dies: ``kill -9`` of its agent and of every HAProxy it ran. For each of that host's load
balancers, the time from the kill until its VIP answers again (served by the HAProxy another
host started) is one sample. The lost host then comes back (it owns nothing any more) and the
next round loses the next host.

Usage: .venv/bin/python -m bench.host_loss [--lbs 30] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import signal
import tempfile
import time
from pathlib import Path

from bench.common import percentiles
from tests.dbs import temp_database
from tests.e2e.conftest import pids_naming
from tests.e2e.haproxy_support import Backend, haproxy_env, serving
from tests.hosts.cluster import Cluster
from tests.hosts.test_haproxy_hosts import PORT, build
from tests.hosts.test_placement import HOSTS, cluster_env

DOWN_AFTER = 5.0


def lose_host(cluster: Cluster, host: str) -> float:
    """``kill -9`` of the host's agent and data planes; returns the time of the kill."""
    planes = pids_naming(cluster.agents[host].data_dir / "providers" / "haproxy")
    cluster.kill_agent(host)
    for pid in planes:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return time.monotonic()


def recovery_times(vips: dict[str, str], since: float, timeout: float = 60) -> list[float]:
    """Seconds from ``since`` until each VIP answers (polled every 50 ms)."""
    pending, times = dict(vips), []
    deadline = since + timeout
    while pending and time.monotonic() < deadline:
        for lb_id, vip in list(pending.items()):
            if serving(vip, PORT):
                times.append(time.monotonic() - since)
                del pending[lb_id]
        time.sleep(0.05)
    if pending:
        raise RuntimeError(f"{len(pending)} load balancers never served again")
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lbs", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="statera-bench-hosts-"))
    backend = Backend("b")
    with temp_database("postgresql", str(root)) as url:
        env = {**haproxy_env(), **cluster_env(url, "haproxy"),
               "STATERA_AGENT__DOWN_AFTER": str(DOWN_AFTER), "STATERA_LOG_LEVEL": "WARNING"}
        cluster = Cluster(root, env)
        try:
            cluster.start_api()
            for name in HOSTS:
                cluster.start_agent(name)
            vips = dict(build(cluster, f"lb{i}", backend) for i in range(args.lbs))
            cluster.wait_all_active(list(vips), timeout=180)
            samples: list[float] = []
            for round_no in range(args.rounds):
                host = HOSTS[round_no % len(HOSTS)]
                placed = cluster.placement()
                lost = {lb: vips[lb] for lb, on in placed.items() if on == [host]}
                for vip in lost.values():
                    if not serving(vip, PORT):
                        raise RuntimeError(f"{vip} not serving before the round")
                since = lose_host(cluster, host)
                times = recovery_times(lost, since)
                samples += times
                print(f"round {round_no + 1}: lost {host} with {len(lost)} load balancers; "
                      f"all serving elsewhere after {max(times):.2f} s")
                cluster.start_agent(host)
                time.sleep(2)
            stats = percentiles(samples)
            print(f"host loss -> serving elsewhere ({len(samples)} load balancers, down_after "
                  f"{DOWN_AFTER:.0f} s): " + "  ".join(f"{k}={v:.2f} s" for k, v in stats.items()))
        finally:
            cluster.stop()
            backend.stop()


if __name__ == "__main__":
    main()
