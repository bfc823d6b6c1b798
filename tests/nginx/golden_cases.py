"""Representative load balancers for the NGINX golden files, as the get socket serves them.

Every listener and pool protocol, algorithm, persistence type, L7 action, rule type and
comparison, and TLS option the NGINX provider carries appears in at least one case (health
monitors are Statera's prober's, not NGINX's: they show in the text only as the prober's
verdicts, ``HEALTH``). ``tests/nginx/test_golden.py`` renders each case and compares the text
byte for byte with ``tests/nginx/golden/<case>.conf``; after an intended change, regenerate
every file with one command and review the diff:

    .venv/bin/python -m tests.nginx.golden_cases
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from octavia_lib.api.drivers import data_models as dm

from statera.agent.client import model_from_dict
from statera.providers.nginx import render, view
from tests import golden_graphs as g

GOLDEN = Path(__file__).with_name("golden")
#: Where the rendered text places the load balancer's directory; the test that runs
#: ``nginx -t`` on a golden file swaps it for a real directory.
STATE_DIR = "/var/lib/statera/nginx"
#: Fixed inputs so the text depends on the graph alone (the stream module path is the default).
OPTIONS = view.Options(state_dir=STATE_DIR)


#: L7 policies on the client certificate (TERMINATED_HTTPS only): one per SSL rule type.
SSL_POLICIES = [
    g.policy(50, 1, "REJECT", [g.rule(60, "SSL_CONN_HAS_CERT", "EQUAL_TO", "True", invert=True)]),
    g.policy(51, 2, "REJECT", [g.rule(61, "SSL_VERIFY_RESULT", "EQUAL_TO", "0", invert=True)]),
    g.policy(52, 3, "REDIRECT_TO_POOL", [g.rule(62, "SSL_DN_FIELD", "EQUAL_TO", "ops", key="OU")],
             redirect_pool_id=g.gid(21)),
]

CASES: dict[str, dict[str, Any]] = {
    # HTTP: round robin, weights, drain (weight 0), backup, a disabled member, a member the
    # prober found down, forwarded headers, timeouts, a connection limit, allowed CIDRs.
    "http_round_robin": g.lb(
        [g.http_listener()],
        [g.pool(20, "HTTP", "ROUND_ROBIN", g.http_members(),
                healthmonitor=g.http_monitor())],
        name="web", description="golden"),
    # TCP: least connections made a consistent hash by source-IP persistence; a backup member
    # (down while a primary is usable: hashing upstreams refuse ``backup``); a TCP monitor.
    "tcp_least_conn": g.lb(
        [g.listener(10, "TCP", 5432, g.gid(20), connection_limit=100)],
        [g.pool(20, "TCP", "LEAST_CONNECTIONS",
                [g.member(30, 5432), g.member(31, 5433, backup=True)],
                session_persistence={"type": "SOURCE_IP", "persistence_timeout": 600},
                healthmonitor=g.monitor(40, "TCP"))]),
    # HTTPS pass-through by source IP (TLS-HELLO monitor), UDP by source IP and port
    # (UDP-CONNECT monitor), an allowed CIDR on a stream listener, a second VIP.
    "https_passthrough_udp": g.lb(
        [g.listener(10, "HTTPS", 443, g.gid(20), allowed_cidrs=["198.51.100.0/24"]),
         g.listener(11, "UDP", 53, g.gid(21))],
        [g.pool(20, "HTTPS", "SOURCE_IP", [g.member(30, 443), g.member(31, 444)],
                healthmonitor=g.monitor(40, "TLS-HELLO")),
         g.pool(21, "UDP", "SOURCE_IP_PORT", [g.member(32, 5353)],
                healthmonitor=g.monitor(41, "UDP-CONNECT"))],
        additional_vips=[{"ip_address": "2001:db8::5", "subnet_id": g.gid(90)}]),
    # HTTP with every L7 action, rule type, comparison and invert; a policy whose pool has no
    # members (503) and a disabled policy (absent).
    "http_l7": g.lb(
        [g.listener(10, "HTTP", 8080, g.gid(20), l7policies=[
            *g.l7_policies(),
            g.policy(54, 5, "REDIRECT_TO_POOL", [g.rule(67, "PATH", "STARTS_WITH", "/empty")],
                     redirect_pool_id=g.gid(22)),
            g.policy(55, 6, "REJECT", [g.rule(68, "PATH", "STARTS_WITH", "/off")],
                     admin_state_up=False)])],
        [*g.l7_pools(cookies=False), g.pool(22, "HTTP", "ROUND_ROBIN", [])]),
    # TERMINATED_HTTPS: default and SNI certificates, client authentication with a CA and a
    # CRL, TLS versions, ciphers, ALPN h2, HSTS, client-certificate headers and L7 rules;
    # re-encryption to members with a client certificate (HTTPS monitor).
    "terminated_https": g.lb(
        [g.tls_listener(**g.tls_options(),
                        insert_headers={"X-Forwarded-For": "true", "X-SSL-Client-Verify": "true",
                                        "X-SSL-Client-DN": "true", "X-SSL-Client-CN": "true"},
                        l7policies=SSL_POLICIES)],
        [g.pool(20, "HTTP", "ROUND_ROBIN", [g.member(30, 8443)], tls_enabled=True,
                tls_container_data=g.bundle("member-client"), tls_versions=["TLSv1.2"],
                tls_ciphers="ECDHE-ECDSA-AES128-GCM-SHA256",
                healthmonitor=g.monitor(40, "HTTPS", url_path="/healthz")),
         g.pool(21, "HTTP", "ROUND_ROBIN", [g.member(31, 9443)], tls_enabled=True)]),
    # Listeners without anything to forward to (503, an empty stream answer) and a disabled
    # listener (not rendered).
    "nothing_to_serve": g.lb(
        [g.listener(10, "HTTP", 80, None), g.listener(11, "TCP", 9000, g.gid(20)),
         g.listener(12, "HTTP", 81, g.gid(20), admin_state_up=False)],
        [g.pool(20, "TCP", "ROUND_ROBIN", [], healthmonitor=g.monitor(40, "PING"))]),
}
#: The prober's verdicts per case: member id -> healthy.
HEALTH: dict[str, dict[str, bool | None]] = {
    "http_round_robin": {g.gid(30): True, g.gid(34): False},
}


def rendered_view(case: str) -> view.LBView:
    lb_model = model_from_dict(dm.LoadBalancer, CASES[case])
    return view.build_view(lb_model, OPTIONS, HEALTH.get(case))


def rendered(case: str) -> str:
    """The nginx.conf of ``case``, rendered exactly as the provider renders it."""
    return render.render_config(rendered_view(case))


if __name__ == "__main__":
    g.regenerate(GOLDEN, ".conf", CASES, rendered)
