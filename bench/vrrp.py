"""ACTIVE_STANDBY: how long after the MASTER is lost the VIP answers from the BACKUP.

Per run: two host namespaces and a client namespace on a bridge (tests/netns/topology.py),
the HAProxy converger run once per host with roles MASTER and BACKUP (keepalived moving the
VIP), and a client sending a request every 20 ms through the VIP on new connections. Measured,
from the moment of the failure to the first answer the BACKUP's HAProxy gives through the VIP:

- HAProxy lost: the MASTER's HAProxy is killed (SIGKILL); its vrrp_script fails, keepalived
  enters FAULT and hands the VIP over with a priority-0 advertisement;
- link lost: the MASTER's interface goes down; the BACKUP only notices the silence (3
  advertisement intervals plus its skew time).

Prints p50/p90/p99/max over ``--runs`` and the failed requests per run. Target: < 3 s.

Usage (root): .venv/bin/python -m bench.vrrp [--runs 10] [--advert-int 1]
Never part of the test run.
"""

from __future__ import annotations

import argparse
import os
import signal
import tempfile
import time
import uuid
from pathlib import Path

from bench.common import fmt_ms, percentiles
from statera.config import KeepalivedVrrpSettings
from tests.netns.topology import Load, Topology, lb_spec, summary, usable, wait


def first_answer(results: list[tuple[float, bool, str]], since: float, host: str) -> float:
    """Seconds from ``since`` to the first request sent after it that ``host`` answered."""
    for stamp, ok, body in results:
        if stamp >= since and ok and body == host:
            return stamp - since
    raise RuntimeError(f"{host} never answered after the failure")


def state(lb_dir: Path) -> str:
    try:
        return (lb_dir / "vrrp.state").read_text().strip()
    except OSError:
        return ""


def one_run(base: Path, advert_int: float) -> tuple[float, int, float, int]:
    """(HAProxy-lost seconds, its failed requests, link-lost seconds, its failed requests)."""
    topo = Topology(hosts=2)
    try:
        h1, h2 = topo.hosts
        for host in (h1, h2):
            topo.backend(host, host, 8001)
        lb_id = str(uuid.uuid4())
        peers = {h1: topo.addresses[h2], h2: topo.addresses[h1]}

        def converge(host: str, role: str) -> None:
            result = topo.converge(host, lb_spec(topo, host, base, lb_id, role=role,
                                                 peers=(peers[host],), advert_int=advert_int))
            status = result["report"]["loadbalancers"][0]["provisioning_status"]
            if status != "ACTIVE":
                raise RuntimeError(f"{host}: {status}: {result['log']}")

        converge(h1, "MASTER")
        converge(h2, "BACKUP")
        if not wait(lambda: topo.holds(h1, topo.vip), timeout=15):
            raise RuntimeError("the MASTER never took the VIP")
        load = Load(topo, 8080)
        try:
            time.sleep(1.0)
            pid = int((base / h1 / "haproxy" / lb_id / "haproxy.pid").read_text().split()[0])
            killed = time.time()
            os.kill(pid, signal.SIGKILL)
            wait(lambda: topo.holds(h2, topo.vip), timeout=15)
            time.sleep(1.0)
            converge(h1, "MASTER")  # HAProxy back; the host returns as BACKUP (nopreempt)
            wait(lambda: state(base / h1 / "haproxy" / lb_id) == "BACKUP", timeout=10)
            time.sleep(1.5)
            cut = time.time()
            topo.link(h2, False)
            wait(lambda: topo.holds(h1, topo.vip), timeout=15)
            time.sleep(1.0)
        finally:
            results = load.stop()
        haproxy_lost = first_answer(results, killed, h2)
        link_lost = first_answer(results, cut, h1)
        return (haproxy_lost, summary(results, killed, cut)[0],
                link_lost, summary(results, cut)[0])
    finally:
        topo.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--advert-int", type=float,
                        default=KeepalivedVrrpSettings().vrrp_advert_int,
                        help="[keepalived_vrrp] vrrp_advert_int (fractions use VRRPv3)")
    args = parser.parse_args()
    reason = usable()
    if reason:
        raise SystemExit(f"bench.vrrp: {reason}")
    lost: dict[str, list[float]] = {"HAProxy lost": [], "link lost": []}
    with tempfile.TemporaryDirectory(prefix="statera-vrrp-") as tmp:
        for run in range(args.runs):
            haproxy_s, haproxy_failed, link_s, link_failed = one_run(
                Path(tmp) / f"run{run}", args.advert_int)
            lost["HAProxy lost"].append(haproxy_s)
            lost["link lost"].append(link_s)
            print(f"run {run + 1}: HAProxy lost -> BACKUP answers in {haproxy_s * 1000:.0f} ms"
                  f" ({haproxy_failed} failed requests); link lost -> {link_s * 1000:.0f} ms"
                  f" ({link_failed} failed)", flush=True)
    print(f"\nMASTER loss -> VIP answering from the BACKUP, {args.runs} runs, "
          f"vrrp_advert_int {args.advert_int:g}:")
    for name, samples in lost.items():
        print(f"  {name:13s} {fmt_ms(percentiles(samples))}")


if __name__ == "__main__":
    main()
