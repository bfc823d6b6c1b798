"""HAProxy and NGINX side by side, through the real API of a real ``statera serve`` each.

For each provider: create -> ACTIVE and serving (p50/p99), member create -> traffic reaches
it (p50/p99), churn under wrk (failed requests, reloads), memory per load balancer (PSS of
all its processes: HAProxy's one daemon; NGINX's master and worker) with ``--lbs`` load
balancers, and the time until every load balancer serves again after ``statera serve`` is
stopped (SIGTERM) and started again (with how many data-plane processes outlived the stop:
none while the agent stops them, all once it adopts them). The measurements are
bench.haproxy's, run once per provider in one invocation so the two columns share the host's
conditions.

Usage: .venv/bin/python -m bench.providers [--samples 30] [--lbs 20] [--churn 40]
       [--providers haproxy,nginx]

Never part of the test run.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from bench.common import fmt_ms, percentiles
from bench.haproxy import (
    Api,
    Serve,
    answer,
    bench_churn,
    bench_create,
    bench_member,
    full_lb,
    wait,
)
from statera.providers.kit.procs import processes_in, terminate
from tests.e2e.haproxy_support import Backend, pids_under


def pss_per_lb(state_dir: Path, provider: str) -> tuple[int, float]:
    """(processes, PSS MiB per load balancer) of every data-plane process under state_dir."""
    lb_dirs = [d for d in state_dir.iterdir() if d.is_dir()]
    pids = data_plane_pids(state_dir, provider)
    pss = 0
    for pid in pids:
        try:
            text = Path(f"/proc/{pid}/smaps_rollup").read_text()
        except OSError:
            continue
        pss += sum(int(line.split()[1]) for line in text.splitlines()
                   if line.startswith("Pss:"))
    return len(pids), pss / 1024 / max(1, len(lb_dirs))


def data_plane_pids(state_dir: Path, provider: str) -> list[int]:
    if provider == "haproxy":
        return pids_under(state_dir)
    return [p for d in state_dir.iterdir() if d.is_dir() for p in processes_in(d, "nginx")]


def bench_restart(serve: Serve, api: Api, provider: str) -> str:
    """Stop ``statera serve``, start it again; seconds until the API answers and until every
    load balancer's VIP serves (each answered once, polled in turn)."""
    rows = api.call("GET", "/v2/lbaas/loadbalancers?limit=1000")["loadbalancers"]
    targets = []
    for row in rows:
        for ref in row.get("listeners") or []:
            listener = api.call("GET", f"/v2/lbaas/listeners/{ref['id']}")["listener"]
            targets.append((row["vip_address"], int(listener["protocol_port"])))
    serve.stop()
    survivors = len(data_plane_pids(serve.data / "providers" / provider, provider))
    t0 = time.monotonic()
    api_up = serve.start()
    pending = set(targets)
    while pending and time.monotonic() - t0 < 300:
        pending = {t for t in pending if not answer(*t, 0.2)}
    took = time.monotonic() - t0
    return (f"restart with {len(rows)} load balancers ({survivors} data-plane processes "
            f"outlived the stop): API answering {api_up:.2f} s after start, every VIP "
            f"serving {took:.2f} s after start"
            + (f" ({len(pending)} NOT serving)" if pending else ""))


def run(provider: str, args: argparse.Namespace, backends: list[Backend]) -> list[str]:
    data = Path(tempfile.mkdtemp(prefix=f"statera-bench-{provider}-"))
    serve = Serve(data, STATERA_DRIVER_AGENT__RESYNC_INTERVAL="30",
                  STATERA_API__DEFAULT_PROVIDER_DRIVER=provider)
    serve.start()
    lines = []
    try:
        api = Api(serve.url)
        times = bench_create(api, backends, args.samples)
        lines.append(f"create -> ACTIVE and serving ({args.samples}): "
                     f"{fmt_ms(percentiles(times['serving']))}")
        mtimes, lb_id, port, vip, pool_id = bench_member(api, args.samples)
        lines.append(f"member create -> traffic reaches it ({args.samples}): "
                     f"{fmt_ms(percentiles(mtimes))}")
        lines.append("churn under wrk: " + bench_churn(
            api, data, lb_id, vip, port, pool_id, args.churn, args.churn_reloads, provider))
        t0 = time.monotonic()
        vips = []
        for i in range(args.lbs):
            lb = api.call("POST", "/v2/lbaas/loadbalancers",
                          full_lb(f"s{i}", 9000, backends))["loadbalancer"]
            vips.append(lb["vip_address"])
        wait(lambda: all(answer(v, 9000, 0.2) for v in vips), timeout=300, interval=0.2)
        lines.append(f"{args.lbs} more load balancers serving in {time.monotonic() - t0:.1f} s")
        procs, pss = pss_per_lb(data / "providers" / provider, provider)
        lines.append(f"memory: {procs} processes, PSS {pss:.1f} MiB per load balancer")
        lines.append(bench_restart(serve, api, provider))
    finally:
        serve.close()
        # Whatever a slow stop left behind (each pid checked by close's own walk first).
        terminate(data_plane_pids(data / "providers" / provider, provider))
    return lines


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=30)
    parser.add_argument("--lbs", type=int, default=20)
    parser.add_argument("--churn", type=int, default=40)
    parser.add_argument("--churn-reloads", type=int, default=8)
    parser.add_argument("--providers", default="haproxy,nginx")
    args = parser.parse_args()
    backends = [Backend("a"), Backend("b")]
    try:
        for provider in args.providers.split(","):
            print(f"== {provider}", flush=True)
            for line in run(provider, args, backends):
                print("  " + line, flush=True)
    finally:
        for b in backends:
            b.stop()


if __name__ == "__main__":
    main()
