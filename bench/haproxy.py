"""HAProxy provider figures through the real API of a real ``statera serve``.

- create -> serving: one POST of a full load balancer (listener, pool, two members), then
  the time until it is ACTIVE *and* its VIP answers (p50/p99 over ``--samples``);
- member -> serving: POST a member with a new backend, time until a request through the VIP
  reaches that backend (p50/p99);
- churn: wrk against the VIP while members are added, drained, re-weighted and removed
  (``--churn`` changes) and the listener/pool updated (``--churn-reloads``): failed requests
  and the reload / runtime-update counts from counters.json;
- memory: RSS and PSS of every HAProxy with ``--lbs`` load balancers on this host;
- cold start: with their data planes stopped, time for ``statera serve`` to start again and
  serve all of them (a plain restart adopts running data planes: ``bench.restarts``).

Usage: .venv/bin/python -m bench.haproxy [--samples 50] [--lbs 200] [--skip-scale]

Never part of the test run. Backends are Python HTTP servers on 127.0.0.1; VIPs live in a
/16 loopback subnet.
"""

from __future__ import annotations

import argparse
import functools
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.common import BIG_SUBNET, fmt_ms, percentiles
from statera.providers.kit import dataplanes
from tests.e2e.haproxy_support import Backend, pids_under

VENV_BIN = Path(sys.executable).parent
SUBNET = "7b1c6e3a-1d5e-4f5e-9a57-3c1f00000002"


class Serve:
    """``statera serve`` on one data directory, restartable."""

    def __init__(self, data: Path, **env: str) -> None:
        self.data = data
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = int(s.getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "STATERA_API__DEFAULT_PROVIDER_DRIVER": "haproxy",
                    "STATERA_LOG_LEVEL": "WARNING", **env}
        (data / "statera.toml").write_text(BIG_SUBNET)
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> float:
        """Start and wait for the API; returns the seconds that took."""
        t0 = time.monotonic()
        self.proc = subprocess.Popen(
            [str(VENV_BIN / "statera"), "serve", "--config", str(self.data / "statera.toml"),
             "--port", str(self.port), "--data-dir", str(self.data)],
            env=self.env, stdout=open(self.data / "serve.log", "ab"), stderr=subprocess.STDOUT)
        while True:
            try:
                urllib.request.urlopen(self.url + "/", timeout=1).read()
                return time.monotonic() - t0
            except OSError:
                if self.proc.poll() is not None or time.monotonic() - t0 > 60:
                    raise RuntimeError((self.data / "serve.log").read_text()[-2000:]) from None
                time.sleep(0.02)

    def stop(self, sig: int = signal.SIGTERM) -> None:
        """Stop ``statera serve``; its data planes keep serving (see :meth:`close`)."""
        if self.proc is None:
            return
        self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def close(self) -> None:
        """Stop ``statera serve`` and every data plane of its data directory, as
        ``statera dataplanes stop`` does."""
        self.stop()
        dataplanes.stop(self.data / "providers")


class Api:
    """A keep-alive JSON client (the SDK's own overhead is not what is measured)."""

    def __init__(self, url: str) -> None:
        host, port = url.removeprefix("http://").split(":")
        self.conn = http.client.HTTPConnection(host, int(port), timeout=30)

    def call(self, method: str, path: str, body: Any = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        for attempt in (0, 1):
            try:
                self.conn.request(method, path, body=data,
                                  headers={"Content-Type": "application/json"})
                resp = self.conn.getresponse()
                raw = resp.read()
                break
            except (http.client.HTTPException, OSError):
                self.conn.close()
                if attempt:
                    raise
        if resp.status >= 400:
            raise RuntimeError(f"{method} {path}: {resp.status} {raw[:300]!r}")
        return json.loads(raw) if raw else None

    def lb(self, lb_id: str) -> dict[str, Any]:
        data: dict[str, Any] = self.call("GET", f"/v2/lbaas/loadbalancers/{lb_id}")
        return data["loadbalancer"]


def answer(vip: str, port: int, timeout: float = 1.0) -> str | None:
    """The body of one request through the VIP, or None."""
    try:
        conn = http.client.HTTPConnection(vip, port, timeout=timeout)
        conn.request("GET", "/", headers={"Connection": "close"})
        resp = conn.getresponse()
        body = resp.read().decode()
        conn.close()
        return body if resp.status == 200 else None
    except OSError:
        return None


def is_active(api: Api, lb_id: str) -> bool:
    return api.lb(lb_id)["provisioning_status"] == "ACTIVE"


def answered_by(vip: str, port: int, name: str) -> bool:
    return answer(vip, port, 0.2) == name


def wait(predicate: Callable[[], Any], timeout: float = 30, interval: float = 0.002) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError("condition not reached")
        time.sleep(interval)


def full_lb(name: str, port: int, backends: list[Backend]) -> dict[str, Any]:
    return {"loadbalancer": {
        "name": name, "vip_subnet_id": SUBNET,
        "listeners": [{"name": f"{name}-l", "protocol": "HTTP", "protocol_port": port,
                       "default_pool": {"name": f"{name}-p", "protocol": "HTTP",
                                        "lb_algorithm": "ROUND_ROBIN",
                                        "members": [{"address": "127.0.0.1",
                                                     "protocol_port": b.port}
                                                    for b in backends]}}]}}


def bench_create(api: Api, backends: list[Backend], samples: int) -> dict[str, list[float]]:
    """Per sample: the POST's own time, POST -> ACTIVE, and POST -> ACTIVE and serving."""
    out: dict[str, list[float]] = {"post": [], "active": [], "serving": []}
    for i in range(samples):
        port = 8000 + i
        t0 = time.monotonic()
        lb = api.call("POST", "/v2/lbaas/loadbalancers", full_lb(f"c{i}", port, backends))
        out["post"].append(time.monotonic() - t0)
        lb_id, vip = lb["loadbalancer"]["id"], lb["loadbalancer"]["vip_address"]
        wait(functools.partial(is_active, api, lb_id))
        out["active"].append(time.monotonic() - t0)
        wait(functools.partial(answer, vip, port, 0.2))
        out["serving"].append(time.monotonic() - t0)
    return out


def bench_member(api: Api, samples: int) -> tuple[list[float], str, int, str, str]:
    base = [Backend("base-a"), Backend("base-b")]
    port = 7000
    lb = api.call("POST", "/v2/lbaas/loadbalancers", full_lb("m", port, base))["loadbalancer"]
    lb_id, vip = lb["id"], lb["vip_address"]
    wait(lambda: api.lb(lb_id)["provisioning_status"] == "ACTIVE")
    wait(lambda: answer(vip, port))
    pool_id = lb["pools"][0]["id"] if lb.get("pools") else api.call(
        "GET", f"/v2/lbaas/pools?loadbalancer_id={lb_id}")["pools"][0]["id"]
    times = []
    for i in range(samples):
        new = Backend(f"new-{i}")
        t0 = time.monotonic()
        member = api.call("POST", f"/v2/lbaas/pools/{pool_id}/members",
                          {"member": {"address": "127.0.0.1", "protocol_port": new.port}})
        # Round robin over three servers: the new one answers within three requests.
        wait(functools.partial(answered_by, vip, port, new.name), interval=0)
        times.append(time.monotonic() - t0)
        api.call("DELETE", f"/v2/lbaas/pools/{pool_id}/members/{member['member']['id']}")
        wait(lambda: api.lb(lb_id)["provisioning_status"] == "ACTIVE")
        new.stop()
    return times, lb_id, port, vip, pool_id


def bench_churn(api: Api, data: Path, lb_id: str, vip: str, port: int, pool_id: str,
                changes: int, reloads: int, provider: str = "haproxy") -> str:
    listener_id = api.lb(lb_id)["listeners"][0]["id"]
    spare = Backend("spare")
    counters_file = data / "providers" / provider / lb_id / "counters.json"
    before = json.loads(counters_file.read_text())
    wrk = subprocess.Popen(["wrk", "-t", "2", "-c", "8", "-d", "300s", "--timeout", "5s",
                            f"http://{vip}:{port}/"], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)
    t0 = time.monotonic()
    every = max(1, changes // max(1, reloads))
    member_id = ""
    done_reloads = 0
    for i in range(changes):
        step = i % 4
        base = f"/v2/lbaas/pools/{pool_id}/members"
        if step == 0:
            member_id = api.call("POST", base, {"member": {
                "address": "127.0.0.1", "protocol_port": spare.port}})["member"]["id"]
        elif step in (1, 2):
            api.call("PUT", f"{base}/{member_id}", {"member": {"weight": 0 if step == 1 else 5}})
        else:
            api.call("DELETE", f"{base}/{member_id}")
        wait(lambda: api.lb(lb_id)["provisioning_status"] == "ACTIVE", interval=0.005)
        if (i + 1) % every == 0 and done_reloads < reloads:
            if done_reloads % 2:
                api.call("PUT", f"/v2/lbaas/listeners/{listener_id}",
                         {"listener": {"timeout_client_data": 30000 + done_reloads}})
            else:
                algorithm = ("LEAST_CONNECTIONS", "ROUND_ROBIN")[(done_reloads // 2) % 2]
                api.call("PUT", f"/v2/lbaas/pools/{pool_id}",
                         {"pool": {"lb_algorithm": algorithm}})
            done_reloads += 1
            wait(lambda: api.lb(lb_id)["provisioning_status"] == "ACTIVE", interval=0.005)
    took = time.monotonic() - t0
    wrk.send_signal(signal.SIGINT)
    out, _ = wrk.communicate(timeout=30)
    after = json.loads(counters_file.read_text())
    requests = re.search(r"(\d+) requests in", out)
    errors = re.search(r"Socket errors: (.*)", out)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    spare.stop()
    return (f"{changes} member changes + {done_reloads} listener/pool updates in {took:.1f} s; "
            f"wrk: {requests.group(1) if requests else '?'} requests, "
            f"socket errors: {errors.group(1) if errors else 'none'}, "
            f"non-2xx: {non_2xx.group(1) if non_2xx else 0}; "
            f"reloads +{after['reloads'] - before['reloads']}, "
            f"runtime updates +{after['runtime_updates'] - before['runtime_updates']}")


def memory(state_dir: Path) -> tuple[int, float, float]:
    """(processes, RSS MiB, PSS MiB) of every HAProxy under ``state_dir``."""
    rss = pss = 0
    pids = pids_under(state_dir)
    for pid in pids:
        try:
            text = Path(f"/proc/{pid}/smaps_rollup").read_text()
        except OSError:
            continue
        for line in text.splitlines():
            if line.startswith("Rss:"):
                rss += int(line.split()[1])
            elif line.startswith("Pss:"):
                pss += int(line.split()[1])
    return len(pids), rss / 1024, pss / 1024


def bench_scale(serve: Serve, api: Api, count: int, backends: list[Backend]) -> list[str]:
    lines = []
    t0 = time.monotonic()
    lbs = []
    for i in range(count):
        lb = api.call("POST", "/v2/lbaas/loadbalancers",
                      full_lb(f"s{i}", 9000, backends))["loadbalancer"]
        lbs.append((lb["id"], lb["vip_address"]))
    ids = {lb_id for lb_id, _ in lbs}

    def all_active() -> bool:
        rows = api.call("GET", "/v2/lbaas/loadbalancers?limit=1000")["loadbalancers"]
        return ids <= {r["id"] for r in rows if r["provisioning_status"] == "ACTIVE"}

    wait(all_active, timeout=600, interval=0.2)
    wait(lambda: all(answer(vip, 9000) for _, vip in lbs), timeout=120, interval=0.2)
    lines.append(f"{count} full load balancers created and serving in "
                 f"{time.monotonic() - t0:.1f} s")
    state_dir = serve.data / "providers" / "haproxy"
    procs, rss, pss = memory(state_dir)
    lines.append(f"memory: {procs} HAProxy processes (all load balancers on the host), "
                 f"RSS {rss:.0f} MiB ({rss / procs:.1f} MiB each), "
                 f"PSS {pss:.0f} MiB ({pss / procs:.1f} MiB each)")

    # A cold start: no data plane running (a restart adopts them instead: bench.restarts).
    serve.close()
    assert not pids_under(state_dir), "HAProxy processes survived statera dataplanes stop"
    t0 = time.monotonic()
    api_up = serve.start()
    pending = {vip for _, vip in lbs}
    while pending and time.monotonic() - t0 < 300:
        pending = {vip for vip in pending if not answer(vip, 9000, 0.2)}
    converged = time.monotonic() - t0
    lines.append(f"cold start (data planes stopped first): API answering {api_up:.2f} s after "
                 f"start, all {count} VIPs serving {converged:.2f} s after start" + (
                     f" ({len(pending)} NOT serving)" if pending else ""))
    return lines


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=50)
    parser.add_argument("--lbs", type=int, default=200)
    parser.add_argument("--churn", type=int, default=100)
    parser.add_argument("--churn-reloads", type=int, default=20)
    parser.add_argument("--skip-scale", action="store_true")
    args = parser.parse_args()
    data = Path(tempfile.mkdtemp(prefix="statera-bench-haproxy-"))
    serve = Serve(data, STATERA_DRIVER_AGENT__RESYNC_INTERVAL="30")
    serve.start()
    backends = [Backend("a"), Backend("b")]
    try:
        api = Api(serve.url)
        times = bench_create(api, backends, args.samples)
        print(f"create -> ACTIVE and serving ({args.samples}): "
              f"{fmt_ms(percentiles(times['serving']))}")
        print(f"  of which the POST itself: {fmt_ms(percentiles(times['post']))}")
        print(f"  POST -> ACTIVE:           {fmt_ms(percentiles(times['active']))}")
        mtimes, lb_id, port, vip, pool_id = bench_member(api, args.samples)
        print(f"member create -> traffic reaches it ({args.samples}): "
              f"{fmt_ms(percentiles(mtimes))}")
        print("churn under wrk: " + bench_churn(api, data, lb_id, vip, port, pool_id,
                                                args.churn, args.churn_reloads))
        if not args.skip_scale:
            # A fresh server so the figures are for exactly --lbs load balancers.
            serve.close()
            data2 = Path(tempfile.mkdtemp(prefix="statera-bench-haproxy-scale-"))
            serve = Serve(data2, STATERA_DRIVER_AGENT__RESYNC_INTERVAL="30")
            serve.start()
            for line in bench_scale(serve, Api(serve.url), args.lbs, backends):
                print(line)
    finally:
        serve.close()
        for b in backends:
            b.stop()


if __name__ == "__main__":
    main()
