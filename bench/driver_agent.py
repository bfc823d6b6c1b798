"""Driver-agent throughput through octavia-lib's own DriverLibrary against a real
``statera serve``: status updates, statistics updates and gets per second, serially and from
64 concurrent clients, and how many calls were refused or failed.

Usage: .venv/bin/python -m bench.driver_agent [--seconds 5] [--clients 64]
"""

from __future__ import annotations

import argparse
import json
import threading
import time
import urllib.request
from collections.abc import Callable
from typing import Any

from octavia_lib.api.drivers import driver_lib

from bench.common import statera_server
from statera.agent.client import StateraDriverLibrary

SUBNET = "7b1c6e3a-1d5e-4f5e-9a57-3c1f00000002"


def _post(url: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
    req = urllib.request.Request(url + path, data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    return json.loads(urllib.request.urlopen(req).read())


def run(fn: Callable[[], Any], seconds: float, clients: int) -> tuple[float, int, int]:
    """Calls per second, refused connections, other failures."""
    done = [0] * clients
    refused = [0] * clients
    failed = [0] * clients
    stop = time.monotonic() + seconds

    def worker(i: int) -> None:
        while time.monotonic() < stop:
            try:
                fn()
                done[i] += 1
            except (ConnectionRefusedError, BlockingIOError):
                refused[i] += 1
            except Exception:
                failed[i] += 1

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(done) / (time.monotonic() - t0), sum(refused), sum(failed)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--clients", type=int, default=64)
    args = parser.parse_args()
    # No provider agents: the bench is the only client of the sockets.
    with statera_server(STATERA_DRIVER_AGENT__ENABLED_PROVIDER_AGENTS="[]") as (url, data):
        lb = _post(url, "/v2/lbaas/loadbalancers", {"loadbalancer": {
            "vip_subnet_id": SUBNET, "listeners": [{"protocol": "HTTP", "protocol_port": 80}]}})
        lb_id = lb["loadbalancer"]["id"]
        listener_id = lb["loadbalancer"]["listeners"][0]["id"]
        run_dir = data / "run"
        sockets = {"status_socket": str(run_dir / "status.sock"),
                   "stats_socket": str(run_dir / "stats.sock"),
                   "get_socket": str(run_dir / "get.sock")}
        for label, lib in (("octavia-lib DriverLibrary", driver_lib.DriverLibrary(**sockets)),
                           ("StateraDriverLibrary", StateraDriverLibrary(**sockets))):
            print(f"-- client: {label}")
            measure(lib, lb_id, listener_id, args.seconds, args.clients)


def measure(lib: Any, lb_id: str, listener_id: str, seconds: float, clients: int) -> None:
    if True:
        counter = iter(range(10**9))
        calls: dict[str, Callable[[], Any]] = {
            "status update": lambda: lib.update_loadbalancer_status({"loadbalancers": [
                {"id": lb_id, "operating_status": "ONLINE"}]}),
            "stats update": lambda: lib.update_listener_statistics({"listeners": [
                {"id": listener_id, "bytes_in": next(counter), "bytes_out": 1,
                 "active_connections": 0, "total_connections": 1, "request_errors": 0}]}),
            "get loadbalancer": lambda: lib.get_loadbalancer(lb_id),
        }
        for name, fn in calls.items():
            serial, ref1, fail1 = run(fn, seconds, 1)
            conc, ref2, fail2 = run(fn, seconds, clients)
            print(f"{name:18s} serial {serial:8.0f}/s (refused {ref1}, failed {fail1})   "
                  f"{clients} clients {conc:8.0f}/s (refused {ref2}, failed {fail2})")


if __name__ == "__main__":
    main()
