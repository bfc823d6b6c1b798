"""Representative load balancers for the F5 golden files: each one's AS3 declaration.

Every listener and pool protocol, algorithm, persistence and monitor type, L7 action, rule
type and comparison, and TLS option the F5 provider declares appears in at least one case.
``tests/f5/test_golden.py`` builds each case's declaration (one tenant holding the load
balancer's application, as the converger sends it) and compares the JSON byte for byte with
``tests/f5/golden/<case>.json``; it also validates each golden file against F5's AS3 3.56
schema. After an intended change, regenerate every file with one command and review the diff:

    .venv/bin/python -m tests.f5.golden_cases
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from octavia_lib.api.drivers import data_models as dm

from statera.agent.client import model_from_dict
from statera.providers.f5 import declaration as decl
from tests import golden_graphs as g

GOLDEN = Path(__file__).with_name("golden")
#: The tenant of the golden project, with the default ``tenant_prefix``.
TENANT = decl.tenant_name("Project_", g.gid(99))


CASES: dict[str, dict[str, Any]] = {
    # HTTP: ratios from weights, a drained (weight 0), a backup (priority groups) and a
    # disabled member; X-Forwarded-For, a connection limit, the allow-all CIDR; an HTTP/1.1
    # monitor with a Host and a range of expected codes.
    "http_round_robin": g.lb(
        [g.listener(10, "HTTP", 80, g.gid(20), connection_limit=5000,
                    allowed_cidrs=["0.0.0.0/0"], insert_headers={"X-Forwarded-For": "true"})],
        [g.pool(20, "HTTP", "ROUND_ROBIN", g.http_members(monitor_port=False),
                healthmonitor=g.http_monitor())],
        name="web", description="golden"),
    # TCP: least connections with weights above BIG-IP's ratio range (scaled), source-IP
    # persistence, a TCP monitor.
    "tcp_least_conn": g.lb(
        [g.listener(10, "TCP", 5432, g.gid(20))],
        [g.pool(20, "TCP", "LEAST_CONNECTIONS", [g.member(30, 5432, weight=256),
                                                 g.member(31, 5433, weight=64)],
                session_persistence={"type": "SOURCE_IP", "persistence_timeout": 600},
                healthmonitor=g.monitor(40, "TCP"))]),
    # HTTPS pass-through (Service_L4) by source IP with a PING monitor; UDP with a
    # UDP-CONNECT monitor behind a disabled listener; a disabled pool (members disabled).
    "https_passthrough_udp": g.lb(
        [g.listener(10, "HTTPS", 443, g.gid(20)),
         g.listener(11, "UDP", 53, g.gid(21), admin_state_up=False)],
        [g.pool(20, "HTTPS", "SOURCE_IP", [g.member(30, 443), g.member(31, 444)],
                healthmonitor=g.monitor(40, "PING")),
         g.pool(21, "UDP", "ROUND_ROBIN", [g.member(32, 5353)], admin_state_up=False,
                healthmonitor=g.monitor(41, "UDP-CONNECT"))]),
    # HTTP with every L7 action, rule type, comparison and invert, a policy without enabled
    # rules and a disabled policy (both absent); cookie persistence of both kinds.
    "http_l7": g.lb(
        [g.listener(10, "HTTP", 8080, g.gid(20), l7policies=[
            *g.l7_policies(g.rule(62, "HEADER", "STARTS_WITH", "Mozilla", key="User-Agent"),
                           redirect_url="https://example.com/new?a=1&b=[2]"),
            g.policy(54, 5, "REJECT", [{**g.rule(67, "PATH", "EQUAL_TO", "/x"),
                                        "admin_state_up": False}]),
            g.policy(55, 6, "REJECT", [g.rule(68, "PATH", "EQUAL_TO", "/off")],
                     admin_state_up=False)])],
        g.l7_pools(cookies=True)),
    # TERMINATED_HTTPS: default and SNI certificates, mandatory client authentication with a
    # CA; re-encryption to members verified by a CA, with a client certificate, and an HTTPS
    # monitor.
    "terminated_https": g.lb(
        [g.tls_listener(insert_headers={"X-Forwarded-For": "true"})],
        [g.pool(20, "HTTP", "ROUND_ROBIN", [g.member(30, 8443)], tls_enabled=True,
                tls_container_data=g.bundle("member-client"),
                ca_tls_container_data=g.pki("member-ca"),
                healthmonitor=g.monitor(40, "HTTPS", url_path="/healthz"))]),
    # A disabled load balancer whose listener has no default pool.
    "disabled": g.lb([g.listener(10, "HTTP", 80, None)], [], admin_state_up=False),
}


def declaration(case: str) -> dict[str, Any]:
    """The AS3 request body the converger sends for ``case``'s project."""
    lb_model = model_from_dict(dm.LoadBalancer, CASES[case])
    return decl.declaration(TENANT, {decl.Names.app(lb_model.loadbalancer_id):
                                     decl.application(lb_model)})


def rendered(case: str) -> str:
    """``case``'s declaration as the golden file holds it: indented JSON, keys in the order
    the builder writes them."""
    return json.dumps(declaration(case), indent=2) + "\n"


if __name__ == "__main__":
    g.regenerate(GOLDEN, ".json", CASES, rendered)
