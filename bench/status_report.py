"""Cost of one provider status report in the driver agent's status handler.

A provider agent reports a whole load balancer after each converge: the load balancer, its
listener, its pools, members, monitor, L7 policy and rule (10 records), every one ACTIVE and
ONLINE. The handler is called directly (no socket) on a migrated SQLite file, as the get and
report of a real converge would leave it: the load balancer PENDING_UPDATE at a generation the
provider was served.

``--members K`` adds K members to the first pool (reported too, as a provider reports every
object); ``--touch-members`` marks every member PENDING_UPDATE in each new generation, as a
batch member update does, so each report completes them all.

Usage: .venv/bin/python -m bench.status_report [--n 300] [--members K] [--touch-members]
Compare two trees by running it with ``PYTHONPATH=<other checkout>`` (the script works on the
schema before and after provisioning status became derived).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from sqlalchemy import event, select

from bench.common import percentiles
from statera.agent.get import GetHandler
from statera.agent.status import StatusHandler
from statera.db import models as m
from statera.db.engine import Database
from statera.db.migrate import upgrade
from tests.agent.conftest import build_graph

KINDS = {"loadbalancers": "lb", "listeners": "listener", "pools": "pool", "members": "member",
         "healthmonitors": "hm", "l7policies": "l7policy", "l7rules": "l7rule"}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=300)
    parser.add_argument("--members", type=int, default=0)
    parser.add_argument("--touch-members", action="store_true")
    args = parser.parse_args()
    path = Path(tempfile.mkdtemp()) / "statera.db"
    upgrade(f"sqlite:///{path}")
    db = Database(f"sqlite:///{path}")
    get = GetHandler(db)
    status = StatusHandler(db, served=get.served)  # as the driver agent shares them
    graph = build_graph(db, status="PENDING_UPDATE")
    ids = graph.ids()
    report: dict[str, list[dict[str, str]]] = {
        kind: [{"id": ids[attr], "provisioning_status": "ACTIVE", "operating_status": "ONLINE"}]
        for kind, attr in KINDS.items()}
    report["members"] += [{"id": ids[k], "provisioning_status": "ACTIVE",
                           "operating_status": "ONLINE"} for k in ("member2", "member3")]
    report["pools"].append({"id": ids["pool2"], "provisioning_status": "ACTIVE",
                            "operating_status": "ONLINE"})
    with db.session() as s:  # PENDING_CREATE in generation 1: the first report completes them
        extra = [m.Member(name=f"x{i}", address=f"127.1.{i // 250}.{i % 250 + 1}",
                          protocol_port=80, pool_id=ids["pool"], project_id="p1", generation=1,
                          provisioning_status="PENDING_CREATE") for i in range(args.members)]
        s.add_all(extra)
        s.flush()
        report["members"] += [{"id": x.id, "provisioning_status": "ACTIVE",
                               "operating_status": "ONLINE"} for x in extra]
    samples, cpu = [], []
    statements = [0]
    event.listen(db.engine, "before_cursor_execute", lambda *_a: statements.__setitem__(
        0, statements[0] + 1))
    for _ in range(args.n):
        with db.session() as s:  # a new generation is pending, as after an API write
            lb = s.get(m.LoadBalancer, graph.lb)
            assert lb is not None
            lb.desired_generation += 1
            lb.provisioning_status = "PENDING_UPDATE"
            if args.touch_members:
                for member in s.scalars(select(m.Member)):
                    member.provisioning_status = "PENDING_UPDATE"
                    member.generation = lb.desired_generation
        get({"object": "loadbalancers", "id": graph.lb})
        before = statements[0]
        start, start_cpu = time.perf_counter(), time.process_time()
        reply = status(report)
        samples.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
        per_report = statements[0] - before
        assert reply["status_code"] == 200, reply
    p = percentiles(samples)
    print(f"status report of {sum(len(v) for v in report.values())} records, n={args.n}, "
          f"{per_report} SQL statements each: "
          + "  ".join(f"{k}={v * 1000:.2f} ms" for k, v in p.items())
          # CPU time is what a busy machine's wall clock hides (SQLite runs in-process).
          + f"  cpu p50={percentiles(cpu)['p50'] * 1000:.2f} ms")


if __name__ == "__main__":
    main()
