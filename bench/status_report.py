"""Cost of one provider status report in the driver agent's status handler.

A provider agent reports a whole load balancer after each converge: the load balancer, its
listener, its pools, members, monitor, L7 policy and rule (10 records), every one ACTIVE and
ONLINE. The handler is called directly (no socket) on a migrated SQLite file, as the get and
report of a real converge would leave it: the load balancer PENDING_UPDATE at a generation the
provider was served.

Usage: .venv/bin/python -m bench.status_report [--n 300]
Compare two trees by running it with ``PYTHONPATH=<other checkout>``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from sqlalchemy import event

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
    samples = []
    statements = [0]
    event.listen(db.engine, "before_cursor_execute", lambda *_a: statements.__setitem__(
        0, statements[0] + 1))
    for _ in range(args.n):
        with db.session() as s:  # a new generation is pending, as after an API write
            lb = s.get(m.LoadBalancer, graph.lb)
            assert lb is not None
            lb.desired_generation += 1
            lb.provisioning_status = "PENDING_UPDATE"
        get({"object": "loadbalancers", "id": graph.lb})
        before = statements[0]
        start = time.perf_counter()
        reply = status(report)
        samples.append(time.perf_counter() - start)
        per_report = statements[0] - before
        assert reply["status_code"] == 200, reply
    p = percentiles(samples)
    print(f"status report of {sum(len(v) for v in report.values())} records, n={args.n}, "
          f"{per_report} SQL statements each: "
          + "  ".join(f"{k}={v * 1000:.2f} ms" for k, v in p.items()))


if __name__ == "__main__":
    main()
