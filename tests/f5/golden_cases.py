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
from tests.golden_graphs import gid, lb, listener, member, monitor, pki, policy, pool, rule
from tests.golden_graphs import regenerate as write_all

GOLDEN = Path(__file__).with_name("golden")
#: The tenant of the golden project, with the default ``tenant_prefix``.
TENANT = decl.tenant_name("Project_", gid(99))


def _bundle(name: str) -> dict[str, str]:
    return {"certificate": pki(name), "private_key": pki(f"{name}-key")}


CASES: dict[str, dict[str, Any]] = {
    # HTTP: ratios from weights, a drained (weight 0), a backup (priority groups) and a
    # disabled member; X-Forwarded-For, a connection limit, the allow-all CIDR; an HTTP/1.1
    # monitor with a Host and a range of expected codes.
    "http_round_robin": lb(
        [listener(10, "HTTP", 80, gid(20), connection_limit=5000,
                  allowed_cidrs=["0.0.0.0/0"], insert_headers={"X-Forwarded-For": "true"})],
        [pool(20, "HTTP", "ROUND_ROBIN", [
            member(30, 8001, weight=10), member(31, 8002, weight=0),
            member(32, 8003, backup=True), member(33, 8004, admin_state_up=False)],
            healthmonitor=monitor(40, "HTTP", http_method="HEAD", url_path="/health",
                                  expected_codes="200-204,301", http_version=1.1,
                                  domain_name="app.example.com"))],
        name="web", description="golden"),
    # TCP: least connections with weights above BIG-IP's ratio range (scaled), source-IP
    # persistence, a TCP monitor.
    "tcp_least_conn": lb(
        [listener(10, "TCP", 5432, gid(20))],
        [pool(20, "TCP", "LEAST_CONNECTIONS", [member(30, 5432, weight=256),
                                               member(31, 5433, weight=64)],
              session_persistence={"type": "SOURCE_IP", "persistence_timeout": 600},
              healthmonitor=monitor(40, "TCP"))]),
    # HTTPS pass-through (Service_L4) by source IP with a PING monitor; UDP with a
    # UDP-CONNECT monitor behind a disabled listener; a disabled pool (members disabled).
    "https_passthrough_udp": lb(
        [listener(10, "HTTPS", 443, gid(20)),
         listener(11, "UDP", 53, gid(21), admin_state_up=False)],
        [pool(20, "HTTPS", "SOURCE_IP", [member(30, 443), member(31, 444)],
              healthmonitor=monitor(40, "PING")),
         pool(21, "UDP", "ROUND_ROBIN", [member(32, 5353)], admin_state_up=False,
              healthmonitor=monitor(41, "UDP-CONNECT"))]),
    # HTTP with every L7 action, rule type, comparison and invert, a policy without enabled
    # rules and a disabled policy (both absent); cookie persistence of both kinds.
    "http_l7": lb(
        [listener(10, "HTTP", 8080, gid(20), l7policies=[
            policy(50, 1, "REDIRECT_TO_URL", [rule(60, "PATH", "STARTS_WITH", "/old")],
                   redirect_url="https://example.com/new?a=1&b=[2]", redirect_http_code=301),
            policy(51, 2, "REDIRECT_PREFIX", [rule(61, "HOST_NAME", "EQUAL_TO", "a.example")],
                   redirect_prefix="https://b.example", redirect_http_code=308),
            policy(52, 3, "REDIRECT_TO_POOL", [
                rule(62, "HEADER", "STARTS_WITH", "Mozilla", key="User-Agent"),
                rule(63, "COOKIE", "CONTAINS", "beta", key="group", invert=True),
                rule(64, "FILE_TYPE", "EQUAL_TO", "jpg"),
                rule(65, "PATH", "ENDS_WITH", ".png")], redirect_pool_id=gid(21)),
            policy(53, 4, "REJECT", [rule(66, "PATH", "EQUAL_TO", "/admin")]),
            policy(54, 5, "REJECT", [{**rule(67, "PATH", "EQUAL_TO", "/x"),
                                      "admin_state_up": False}]),
            policy(55, 6, "REJECT", [rule(68, "PATH", "EQUAL_TO", "/off")],
                   admin_state_up=False)])],
        [pool(20, "HTTP", "ROUND_ROBIN", [member(30, 8001), member(31, 8002)],
              session_persistence={"type": "APP_COOKIE", "cookie_name": "JSESSIONID"},
              healthmonitor=monitor(40, "HTTP", url_path="/", expected_codes="200")),
         pool(21, "HTTP", "LEAST_CONNECTIONS", [member(32, 9001)],
              session_persistence={"type": "HTTP_COOKIE"})]),
    # TERMINATED_HTTPS: default and SNI certificates, mandatory client authentication with a
    # CA; re-encryption to members verified by a CA, with a client certificate, and an HTTPS
    # monitor.
    "terminated_https": lb(
        [listener(10, "TERMINATED_HTTPS", 443, gid(20),
                  default_tls_container_data=_bundle("default"),
                  sni_container_data=[_bundle("sni")],
                  client_ca_tls_container_data=pki("client-ca"),
                  client_authentication="MANDATORY",
                  insert_headers={"X-Forwarded-For": "true"})],
        [pool(20, "HTTP", "ROUND_ROBIN", [member(30, 8443)], tls_enabled=True,
              tls_container_data=_bundle("member-client"),
              ca_tls_container_data=pki("member-ca"),
              healthmonitor=monitor(40, "HTTPS", url_path="/healthz"))]),
    # A disabled load balancer whose listener has no default pool.
    "disabled": lb([listener(10, "HTTP", 80, None)], [], admin_state_up=False),
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


def regenerate() -> None:
    write_all(GOLDEN, ".json", CASES, rendered)


if __name__ == "__main__":
    regenerate()
