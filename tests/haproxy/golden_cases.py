"""Representative load balancers for the HAProxy golden files, as the get socket serves them.

Every protocol, algorithm, persistence, health monitor, L7 and TLS feature the HAProxy provider
renders appears in at least one case. ``tests/haproxy/test_golden.py`` renders each case and
compares the text byte for byte with ``tests/haproxy/golden/<case>.cfg``; after an intended
change, regenerate every file with one command and review the diff:

    .venv/bin/python -m tests.haproxy.golden_cases
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from octavia_lib.api.drivers import data_models as dm

from statera.agent.client import model_from_dict
from statera.providers.haproxy import render, view
from tests import golden_graphs as g

GOLDEN = Path(__file__).with_name("golden")
#: Fixed inputs so the text depends on the graph alone.
#: Where the rendered text places the load balancer's directory; the test that runs
#: ``haproxy -c`` on a golden file swaps it for a real directory.
STATE_DIR = "/var/lib/statera/haproxy"
OPTIONS = view.Options(state_dir=STATE_DIR, ping_script="/usr/lib/ping.sh")


CASES: dict[str, dict[str, Any]] = {
    # HTTP: round robin, weights, drain (weight 0), backup, a disabled member, monitor port
    # and address, HTTP monitor details, inserted headers, timeouts, limits, allowed CIDRs.
    "http_round_robin": g.lb(
        [g.http_listener(timeout_tcp_inspect=100)],
        [g.pool(20, "HTTP", "ROUND_ROBIN", g.http_members(),
                healthmonitor=g.http_monitor())],
        name="web", description="golden"),
    # TCP: least connections, source-IP persistence, TCP monitor, PROXY protocol to members.
    "tcp_least_conn": g.lb(
        [g.listener(10, "TCP", 5432, g.gid(20))],
        [g.pool(20, "PROXY", "LEAST_CONNECTIONS", [g.member(30, 5432), g.member(31, 5433)],
                session_persistence={"type": "SOURCE_IP", "persistence_timeout": 600,
                                     "persistence_granularity": "255.255.255.255"},
                healthmonitor=g.monitor(40, "TCP"))]),
    # HTTPS pass-through: source-IP balancing, TLS-HELLO monitor; PROXY v2 on a second listener.
    "https_passthrough": g.lb(
        [g.listener(10, "HTTPS", 443, g.gid(20)), g.listener(11, "TCP", 8443, g.gid(21))],
        [g.pool(20, "HTTPS", "SOURCE_IP", [g.member(30, 443), g.member(31, 444)],
                healthmonitor=g.monitor(40, "TLS-HELLO")),
         g.pool(21, "PROXYV2", "SOURCE_IP_PORT", [g.member(32, 8443)],
                healthmonitor=g.monitor(41, "PING"))]),
    # HTTP with cookie persistence and every L7 action, rule type, compare type and invert.
    "http_l7": g.lb([g.listener(10, "HTTP", 8080, g.gid(20), l7policies=g.l7_policies())],
                    g.l7_pools(cookies=True)),
    # TERMINATED_HTTPS: default and SNI certificates, client auth with CA and CRL, TLS
    # versions, ciphers, ALPN, HSTS; re-encryption to members with client certificate and CA.
    "terminated_https": g.lb(
        [g.tls_listener(**g.tls_options(),
                        insert_headers={"X-Forwarded-For": "true",
                                        "X-SSL-Client-Verify": "true",
                                        "X-SSL-Client-DN": "true"})],
        [g.pool(20, "HTTP", "ROUND_ROBIN", [g.member(30, 8443)], tls_enabled=True,
                tls_container_data=g.bundle("member-client"),
                ca_tls_container_data=g.pki("member-ca"),
                crl_container_data=g.pki("client-crl"),
                tls_versions=["TLSv1.3"], alpn_protocols=["http/1.1"],
                healthmonitor=g.monitor(40, "HTTPS", url_path="/healthz"))]),
    # A PROMETHEUS listener and a disabled listener (not rendered).
    "prometheus": g.lb(
        [g.listener(10, "PROMETHEUS", 9100, None),
         g.listener(11, "HTTP", 81, g.gid(20), admin_state_up=False)],
        [g.pool(20, "HTTP", "ROUND_ROBIN", [g.member(30, 8001)])]),
}


def rendered_view(case: str) -> view.LBView:
    return view.build_view(model_from_dict(dm.LoadBalancer, CASES[case]), OPTIONS)


def rendered(case: str) -> str:
    """The haproxy.cfg of ``case``, rendered exactly as the provider renders it."""
    return render.render_config(rendered_view(case))


if __name__ == "__main__":
    g.regenerate(GOLDEN, ".cfg", CASES, rendered)
