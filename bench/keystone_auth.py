"""What Keystone authentication costs per API call: ``auth_strategy = keystone`` (a real
Keystone 30 on loopback, keystonemiddleware's in-process token cache) beside ``noauth``.

For each strategy, against its own ``statera serve`` (SQLite, noop provider, no provider agent
converging in the same process so that only the API is measured), over one keep-alive
connection: create+get of a load balancer, then the list of 100 load balancers. Under keystone
every request carries a member's token; the first request validates it with Keystone (printed
apart), every later one is answered from the token cache. Keystone runs from
``.venv-openstack`` (``scripts/openstack-services install``).

Usage: .venv/bin/python -m bench.keystone_auth [--n 300]
"""

from __future__ import annotations

import argparse
import http.client
import json
import tempfile
import time
from pathlib import Path

from bench.common import fmt_ms, percentiles, statera_server
from tests.openstack import keystone as ks

SUBNET = "7b1c6e3a-1d5e-4f5e-9a57-3c1f00000002"
QUIET = {"STATERA_DRIVER_AGENT__ENABLED_PROVIDER_AGENTS": "[]"}


class Client:
    def __init__(self, url: str, token: str | None) -> None:
        host, port = url.removeprefix("http://").split(":")
        self.conn = http.client.HTTPConnection(host, int(port))
        self.headers = {"Content-Type": "application/json"}
        if token:
            self.headers["X-Auth-Token"] = token

    def call(self, method: str, path: str, body: dict[str, object] | None = None) -> dict:
        self.conn.request(method, path, json.dumps(body) if body else None, self.headers)
        resp = self.conn.getresponse()
        data = resp.read()
        if resp.status >= 300:
            raise RuntimeError(f"{method} {path}: {resp.status} {data[:300]!r}")
        return json.loads(data) if data else {}


def create_get(client: Client) -> float:
    t0 = time.perf_counter()
    lb = client.call("POST", "/v2/lbaas/loadbalancers",
                     {"loadbalancer": {"vip_subnet_id": SUBNET}})["loadbalancer"]
    client.call("GET", f"/v2/lbaas/loadbalancers/{lb['id']}")
    return time.perf_counter() - t0


def measure(url: str, token: str | None, n: int) -> dict[str, list[float]]:
    client = Client(url, token)
    t0 = time.perf_counter()
    client.call("GET", "/v2/lbaas/loadbalancers?limit=1")
    first = [time.perf_counter() - t0]
    for _ in range(10):  # warm-up
        create_get(client)
    samples = [create_get(client) for _ in range(n)]
    listed = len(client.call("GET", "/v2/lbaas/loadbalancers")["loadbalancers"])
    for _ in range(max(0, 100 - listed)):
        create_get(client)
    listing: list[float] = []
    for _ in range(n):
        t0 = time.perf_counter()
        got = client.call("GET", "/v2/lbaas/loadbalancers?limit=100")["loadbalancers"]
        listing.append(time.perf_counter() - t0)
    assert len(got) == 100
    return {"first call": first, "create+get LB": samples, "list 100 LBs": listing}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=300)
    args = parser.parse_args()
    state = Path(tempfile.mkdtemp(prefix="statera-bench-keystone-"))
    keystone = ks.start(state)
    try:
        member = keystone.user("bench-member", "bench", ["member"])
        token = keystone.token(member)
        env = {"STATERA_API__AUTH_STRATEGY": "keystone", **QUIET}
        env |= {f"STATERA_KEYSTONE_AUTHTOKEN__{k.upper()}": v
                for k, v in keystone.authtoken_options().items()}
        results: dict[str, dict[str, list[float]]] = {}
        with statera_server(**QUIET) as (url, _data):
            results["noauth"] = measure(url, None, args.n)
        with statera_server(**env) as (url, _data):
            results["keystone"] = measure(url, token, args.n)
    finally:
        keystone.stop()
    for what in ("create+get LB", "list 100 LBs"):
        for strategy in ("noauth", "keystone"):
            print(f"{what:14} {strategy:8} (n={args.n}): "
                  f"{fmt_ms(percentiles(results[strategy][what]))}")
        gap = (percentiles(results["keystone"][what])["p50"]
               - percentiles(results["noauth"][what])["p50"]) * 1000
        print(f"{what:14} keystone - noauth, p50: {gap:+.2f} ms")
    print(f"first call with a new token (validated by Keystone): "
          f"{results['keystone']['first call'][0] * 1000:.1f} ms "
          f"(noauth: {results['noauth']['first call'][0] * 1000:.1f} ms)")


if __name__ == "__main__":
    main()
