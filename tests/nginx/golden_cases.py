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
from tests.golden_graphs import gid, lb, listener, member, monitor, pki, policy, pool, rule
from tests.golden_graphs import regenerate as write_all

GOLDEN = Path(__file__).with_name("golden")
#: Where the rendered text places the load balancer's directory; the test that runs
#: ``nginx -t`` on a golden file swaps it for a real directory.
STATE_DIR = "/var/lib/statera/nginx"
#: Fixed inputs so the text depends on the graph alone (the stream module path is the default).
OPTIONS = view.Options(state_dir=STATE_DIR)


def _bundle(name: str) -> dict[str, str]:
    return {"certificate": pki(name), "private_key": pki(f"{name}-key")}


CASES: dict[str, dict[str, Any]] = {
    # HTTP: round robin, weights, drain (weight 0), backup, a disabled member, a member the
    # prober found down, forwarded headers, timeouts, a connection limit, allowed CIDRs.
    "http_round_robin": lb(
        [listener(10, "HTTP", 80, gid(20), connection_limit=5000, timeout_client_data=30000,
                  timeout_member_connect=4000, timeout_member_data=40000,
                  allowed_cidrs=["198.51.100.0/24", "10.0.0.0/8"],
                  insert_headers={"X-Forwarded-For": "true", "X-Forwarded-Port": "true",
                                  "X-Forwarded-Proto": "true"})],
        [pool(20, "HTTP", "ROUND_ROBIN", [
            member(30, 8001, weight=10), member(31, 8002, weight=0),
            member(32, 8003, backup=True), member(33, 8004, admin_state_up=False),
            member(34, 8005, monitor_address="192.0.2.99", monitor_port=9000)],
            healthmonitor=monitor(40, "HTTP", http_method="HEAD", url_path="/health",
                                  expected_codes="200-204"))],
        name="web", description="golden"),
    # TCP: least connections made a consistent hash by source-IP persistence; a backup member
    # (down while a primary is usable: hashing upstreams refuse ``backup``); a TCP monitor.
    "tcp_least_conn": lb(
        [listener(10, "TCP", 5432, gid(20), connection_limit=100)],
        [pool(20, "TCP", "LEAST_CONNECTIONS", [member(30, 5432), member(31, 5433, backup=True)],
              session_persistence={"type": "SOURCE_IP", "persistence_timeout": 600},
              healthmonitor=monitor(40, "TCP"))]),
    # HTTPS pass-through by source IP (TLS-HELLO monitor), UDP by source IP and port
    # (UDP-CONNECT monitor), an allowed CIDR on a stream listener, a second VIP.
    "https_passthrough_udp": lb(
        [listener(10, "HTTPS", 443, gid(20), allowed_cidrs=["198.51.100.0/24"]),
         listener(11, "UDP", 53, gid(21))],
        [pool(20, "HTTPS", "SOURCE_IP", [member(30, 443), member(31, 444)],
              healthmonitor=monitor(40, "TLS-HELLO")),
         pool(21, "UDP", "SOURCE_IP_PORT", [member(32, 5353)],
              healthmonitor=monitor(41, "UDP-CONNECT"))],
        additional_vips=[{"ip_address": "2001:db8::5", "subnet_id": gid(90)}]),
    # HTTP with every L7 action, rule type, comparison and invert; a policy whose pool has no
    # members (503) and a disabled policy (absent).
    "http_l7": lb(
        [listener(10, "HTTP", 8080, gid(20), l7policies=[
            policy(50, 1, "REDIRECT_TO_URL", [rule(60, "PATH", "STARTS_WITH", "/old")],
                   redirect_url="https://example.com/new", redirect_http_code=301),
            policy(51, 2, "REDIRECT_PREFIX", [rule(61, "HOST_NAME", "EQUAL_TO", "a.example")],
                   redirect_prefix="https://b.example/", redirect_http_code=308),
            policy(52, 3, "REDIRECT_TO_POOL", [
                rule(62, "HEADER", "REGEX", "^Mozilla", key="User-Agent"),
                rule(63, "COOKIE", "CONTAINS", "beta", key="group", invert=True),
                rule(64, "FILE_TYPE", "EQUAL_TO", "jpg"),
                rule(65, "PATH", "ENDS_WITH", ".png")], redirect_pool_id=gid(21)),
            policy(53, 4, "REJECT", [rule(66, "PATH", "EQUAL_TO", "/admin")]),
            policy(54, 5, "REDIRECT_TO_POOL", [rule(67, "PATH", "STARTS_WITH", "/empty")],
                   redirect_pool_id=gid(22)),
            policy(55, 6, "REJECT", [rule(68, "PATH", "STARTS_WITH", "/off")],
                   admin_state_up=False)])],
        [pool(20, "HTTP", "ROUND_ROBIN", [member(30, 8001), member(31, 8002)],
              healthmonitor=monitor(40, "HTTP", url_path="/", expected_codes="200")),
         pool(21, "HTTP", "LEAST_CONNECTIONS", [member(32, 9001)],
              healthmonitor=monitor(41, "PING")),
         pool(22, "HTTP", "ROUND_ROBIN", [])]),
    # TERMINATED_HTTPS: default and SNI certificates, client authentication with a CA and a
    # CRL, TLS versions, ciphers, ALPN h2, HSTS, client-certificate headers and L7 rules;
    # re-encryption to members with a client certificate (HTTPS monitor).
    "terminated_https": lb(
        [listener(10, "TERMINATED_HTTPS", 443, gid(20),
                  default_tls_container_data=_bundle("default"),
                  sni_container_data=[_bundle("sni")],
                  client_ca_tls_container_data=pki("client-ca"),
                  client_authentication="MANDATORY",
                  client_crl_container_data=pki("client-crl"),
                  tls_versions=["TLSv1.2", "TLSv1.3"],
                  tls_ciphers="ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384",
                  alpn_protocols=["h2", "http/1.1"], hsts_max_age=31536000,
                  hsts_include_subdomains=True, hsts_preload=True,
                  insert_headers={"X-Forwarded-For": "true", "X-SSL-Client-Verify": "true",
                                  "X-SSL-Client-DN": "true", "X-SSL-Client-CN": "true"},
                  l7policies=[
                      policy(50, 1, "REJECT", [
                          rule(60, "SSL_CONN_HAS_CERT", "EQUAL_TO", "True", invert=True)]),
                      policy(51, 2, "REJECT", [
                          rule(61, "SSL_VERIFY_RESULT", "EQUAL_TO", "0", invert=True)]),
                      policy(52, 3, "REDIRECT_TO_POOL", [
                          rule(62, "SSL_DN_FIELD", "EQUAL_TO", "ops", key="OU")],
                          redirect_pool_id=gid(21))])],
        [pool(20, "HTTP", "ROUND_ROBIN", [member(30, 8443)], tls_enabled=True,
              tls_container_data=_bundle("member-client"), tls_versions=["TLSv1.2"],
              tls_ciphers="ECDHE-ECDSA-AES128-GCM-SHA256",
              healthmonitor=monitor(40, "HTTPS", url_path="/healthz")),
         pool(21, "HTTP", "ROUND_ROBIN", [member(31, 9443)], tls_enabled=True)]),
    # Listeners without anything to forward to (503, an empty stream answer) and a disabled
    # listener (not rendered).
    "nothing_to_serve": lb(
        [listener(10, "HTTP", 80, None), listener(11, "TCP", 9000, gid(20)),
         listener(12, "HTTP", 81, gid(20), admin_state_up=False)],
        [pool(20, "TCP", "ROUND_ROBIN", [])]),
}
#: The prober's verdicts per case: member id -> healthy.
HEALTH: dict[str, dict[str, bool | None]] = {
    "http_round_robin": {gid(30): True, gid(34): False},
}


def rendered_view(case: str) -> view.LBView:
    lb_model = model_from_dict(dm.LoadBalancer, CASES[case])
    return view.build_view(lb_model, OPTIONS, HEALTH.get(case))


def rendered(case: str) -> str:
    """The nginx.conf of ``case``, rendered exactly as the provider renders it."""
    return render.render_config(rendered_view(case))


def regenerate() -> None:
    write_all(GOLDEN, ".conf", CASES, rendered)


if __name__ == "__main__":
    regenerate()
