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
from tests.golden_graphs import gid, lb, listener, member, monitor, policy, pool, rule
from tests.golden_graphs import regenerate as write_all

GOLDEN = Path(__file__).with_name("golden")
#: Fixed inputs so the text depends on the graph alone.
OPTIONS = view.Options(state_dir="/var/lib/statera/haproxy", ping_script="/usr/lib/ping.sh")
PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
KEY = "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n"


CASES: dict[str, dict[str, Any]] = {
    # HTTP: round robin, weights, drain (weight 0), backup, a disabled member, monitor port
    # and address, HTTP monitor details, inserted headers, timeouts, limits, allowed CIDRs.
    "http_round_robin": lb(
        [listener(10, "HTTP", 80, gid(20), connection_limit=5000, timeout_client_data=30000,
                   timeout_member_connect=4000, timeout_member_data=40000,
                   timeout_tcp_inspect=100, allowed_cidrs=["198.51.100.0/24", "10.0.0.0/8"],
                   insert_headers={"X-Forwarded-For": "true", "X-Forwarded-Port": "true",
                                   "X-Forwarded-Proto": "true"})],
        [pool(20, "HTTP", "ROUND_ROBIN", [
            member(30, 8001, weight=10), member(31, 8002, weight=0),
            member(32, 8003, backup=True), member(33, 8004, admin_state_up=False),
            member(34, 8005, monitor_address="192.0.2.99", monitor_port=9000)],
            healthmonitor=monitor(40, "HTTP", http_method="HEAD", url_path="/health",
                                   expected_codes="200-204,301", http_version=1.1,
                                   domain_name="app.example.com"))],
        name="web", description="golden"),
    # TCP: least connections, source-IP persistence, TCP monitor, PROXY protocol to members.
    "tcp_least_conn": lb(
        [listener(10, "TCP", 5432, gid(20))],
        [pool(20, "PROXY", "LEAST_CONNECTIONS", [member(30, 5432), member(31, 5433)],
               session_persistence={"type": "SOURCE_IP", "persistence_timeout": 600,
                                    "persistence_granularity": "255.255.255.255"},
               healthmonitor=monitor(40, "TCP"))]),
    # HTTPS pass-through: source-IP balancing, TLS-HELLO monitor; PROXY v2 on a second listener.
    "https_passthrough": lb(
        [listener(10, "HTTPS", 443, gid(20)), listener(11, "TCP", 8443, gid(21))],
        [pool(20, "HTTPS", "SOURCE_IP", [member(30, 443), member(31, 444)],
               healthmonitor=monitor(40, "TLS-HELLO")),
         pool(21, "PROXYV2", "SOURCE_IP_PORT", [member(32, 8443)],
               healthmonitor=monitor(41, "PING"))]),
    # HTTP with cookie persistence and every L7 action, rule type, compare type and invert.
    "http_l7": lb(
        [listener(10, "HTTP", 8080, gid(20), l7policies=[
            policy(50, 1, "REDIRECT_TO_URL", [rule(60, "PATH", "STARTS_WITH", "/old")],
                    redirect_url="https://example.com/new", redirect_http_code=301),
            policy(51, 2, "REDIRECT_PREFIX", [rule(61, "HOST_NAME", "EQUAL_TO", "a.example")],
                    redirect_prefix="https://b.example", redirect_http_code=308),
            policy(52, 3, "REDIRECT_TO_POOL", [
                rule(62, "HEADER", "REGEX", "^Mozilla", key="User-Agent"),
                rule(63, "COOKIE", "CONTAINS", "beta", key="group", invert=True),
                rule(64, "FILE_TYPE", "EQUAL_TO", "jpg"),
                rule(65, "PATH", "ENDS_WITH", ".png")], redirect_pool_id=gid(21)),
            policy(53, 4, "REJECT", [rule(66, "PATH", "EQUAL_TO", "/admin")])])],
        [pool(20, "HTTP", "ROUND_ROBIN", [member(30, 8001), member(31, 8002)],
               session_persistence={"type": "APP_COOKIE", "cookie_name": "JSESSIONID"},
               healthmonitor=monitor(40, "HTTP", url_path="/", expected_codes="200")),
         pool(21, "HTTP", "LEAST_CONNECTIONS", [member(32, 9001)],
               session_persistence={"type": "HTTP_COOKIE"})]),
    # TERMINATED_HTTPS: default and SNI certificates, client auth with CA and CRL, TLS
    # versions, ciphers, ALPN, HSTS; re-encryption to members with client certificate and CA.
    "terminated_https": lb(
        [listener(10, "TERMINATED_HTTPS", 443, gid(20),
                   default_tls_container_data={"certificate": PEM, "private_key": KEY},
                   sni_container_data=[{"certificate": PEM, "private_key": KEY}],
                   client_ca_tls_container_data=PEM, client_authentication="MANDATORY",
                   client_crl_container_data=PEM, tls_versions=["TLSv1.2", "TLSv1.3"],
                   tls_ciphers="ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384",
                   alpn_protocols=["h2", "http/1.1"], hsts_max_age=31536000,
                   hsts_include_subdomains=True, hsts_preload=True,
                   insert_headers={"X-Forwarded-For": "true", "X-SSL-Client-Verify": "true",
                                   "X-SSL-Client-DN": "true"})],
        [pool(20, "HTTP", "ROUND_ROBIN", [member(30, 8443)], tls_enabled=True,
               tls_container_data={"certificate": PEM, "private_key": KEY},
               ca_tls_container_data=PEM, crl_container_data=PEM,
               tls_versions=["TLSv1.3"], alpn_protocols=["http/1.1"],
               healthmonitor=monitor(40, "HTTPS", url_path="/healthz"))]),
    # A PROMETHEUS listener and a disabled listener (not rendered).
    "prometheus": lb(
        [listener(10, "PROMETHEUS", 9100, None),
         listener(11, "HTTP", 81, gid(20), admin_state_up=False)],
        [pool(20, "HTTP", "ROUND_ROBIN", [member(30, 8001)])]),
}


def rendered(case: str) -> str:
    """The haproxy.cfg of ``case``, rendered exactly as the provider renders it."""
    lb = model_from_dict(dm.LoadBalancer, CASES[case])
    return render.render_config(view.build_view(lb, OPTIONS))


def regenerate() -> None:
    write_all(GOLDEN, ".cfg", CASES, rendered)


if __name__ == "__main__":
    regenerate()
