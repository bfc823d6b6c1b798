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

GOLDEN = Path(__file__).with_name("golden")
#: Fixed inputs so the text depends on the graph alone.
OPTIONS = view.Options(state_dir="/var/lib/statera/haproxy", ping_script="/usr/lib/ping.sh")
PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
KEY = "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n"


def _id(n: int) -> str:
    return f"00000000-0000-4000-8000-{n:012d}"


def _member(n: int, port: int, **kw: Any) -> dict[str, Any]:
    return {"member_id": _id(n), "address": "192.0.2.10", "protocol_port": port, "weight": 1,
            "admin_state_up": True, "backup": False, **kw}


def _pool(n: int, protocol: str, algorithm: str, members: list[dict[str, Any]],
          **kw: Any) -> dict[str, Any]:
    return {"pool_id": _id(n), "protocol": protocol, "lb_algorithm": algorithm,
            "admin_state_up": True, "members": members, **kw}


def _monitor(n: int, kind: str, **kw: Any) -> dict[str, Any]:
    return {"healthmonitor_id": _id(n), "type": kind, "delay": 5, "timeout": 3,
            "max_retries": 3, "max_retries_down": 2, "admin_state_up": True, **kw}


def _listener(n: int, protocol: str, port: int, default_pool: str | None,
              **kw: Any) -> dict[str, Any]:
    return {"listener_id": _id(n), "protocol": protocol, "protocol_port": port,
            "admin_state_up": True, "default_pool_id": default_pool, "connection_limit": -1,
            **kw}


def _lb(listeners: list[dict[str, Any]], pools: list[dict[str, Any]],
        **kw: Any) -> dict[str, Any]:
    return {"loadbalancer_id": _id(1), "vip_address": "203.0.113.5", "admin_state_up": True,
            "listeners": listeners, "pools": pools, **kw}


def _rule(n: int, kind: str, compare: str, value: str, key: str | None = None,
          invert: bool = False) -> dict[str, Any]:
    return {"l7rule_id": _id(n), "type": kind, "compare_type": compare, "value": value,
            "key": key, "invert": invert, "admin_state_up": True}


def _policy(n: int, position: int, action: str, rules: list[dict[str, Any]],
            **kw: Any) -> dict[str, Any]:
    return {"l7policy_id": _id(n), "position": position, "action": action,
            "admin_state_up": True, "rules": rules, **kw}


CASES: dict[str, dict[str, Any]] = {
    # HTTP: round robin, weights, drain (weight 0), backup, a disabled member, monitor port
    # and address, HTTP monitor details, inserted headers, timeouts, limits, allowed CIDRs.
    "http_round_robin": _lb(
        [_listener(10, "HTTP", 80, _id(20), connection_limit=5000, timeout_client_data=30000,
                   timeout_member_connect=4000, timeout_member_data=40000,
                   timeout_tcp_inspect=100, allowed_cidrs=["198.51.100.0/24", "10.0.0.0/8"],
                   insert_headers={"X-Forwarded-For": "true", "X-Forwarded-Port": "true",
                                   "X-Forwarded-Proto": "true"})],
        [_pool(20, "HTTP", "ROUND_ROBIN", [
            _member(30, 8001, weight=10), _member(31, 8002, weight=0),
            _member(32, 8003, backup=True), _member(33, 8004, admin_state_up=False),
            _member(34, 8005, monitor_address="192.0.2.99", monitor_port=9000)],
            healthmonitor=_monitor(40, "HTTP", http_method="HEAD", url_path="/health",
                                   expected_codes="200-204,301", http_version=1.1,
                                   domain_name="app.example.com"))],
        name="web", description="golden"),
    # TCP: least connections, source-IP persistence, TCP monitor, PROXY protocol to members.
    "tcp_least_conn": _lb(
        [_listener(10, "TCP", 5432, _id(20))],
        [_pool(20, "PROXY", "LEAST_CONNECTIONS", [_member(30, 5432), _member(31, 5433)],
               session_persistence={"type": "SOURCE_IP", "persistence_timeout": 600,
                                    "persistence_granularity": "255.255.255.255"},
               healthmonitor=_monitor(40, "TCP"))]),
    # HTTPS pass-through: source-IP balancing, TLS-HELLO monitor; PROXY v2 on a second listener.
    "https_passthrough": _lb(
        [_listener(10, "HTTPS", 443, _id(20)), _listener(11, "TCP", 8443, _id(21))],
        [_pool(20, "HTTPS", "SOURCE_IP", [_member(30, 443), _member(31, 444)],
               healthmonitor=_monitor(40, "TLS-HELLO")),
         _pool(21, "PROXYV2", "SOURCE_IP_PORT", [_member(32, 8443)],
               healthmonitor=_monitor(41, "PING"))]),
    # HTTP with cookie persistence and every L7 action, rule type, compare type and invert.
    "http_l7": _lb(
        [_listener(10, "HTTP", 8080, _id(20), l7policies=[
            _policy(50, 1, "REDIRECT_TO_URL", [_rule(60, "PATH", "STARTS_WITH", "/old")],
                    redirect_url="https://example.com/new", redirect_http_code=301),
            _policy(51, 2, "REDIRECT_PREFIX", [_rule(61, "HOST_NAME", "EQUAL_TO", "a.example")],
                    redirect_prefix="https://b.example", redirect_http_code=308),
            _policy(52, 3, "REDIRECT_TO_POOL", [
                _rule(62, "HEADER", "REGEX", "^Mozilla", key="User-Agent"),
                _rule(63, "COOKIE", "CONTAINS", "beta", key="group", invert=True),
                _rule(64, "FILE_TYPE", "EQUAL_TO", "jpg"),
                _rule(65, "PATH", "ENDS_WITH", ".png")], redirect_pool_id=_id(21)),
            _policy(53, 4, "REJECT", [_rule(66, "PATH", "EQUAL_TO", "/admin")])])],
        [_pool(20, "HTTP", "ROUND_ROBIN", [_member(30, 8001), _member(31, 8002)],
               session_persistence={"type": "APP_COOKIE", "cookie_name": "JSESSIONID"},
               healthmonitor=_monitor(40, "HTTP", url_path="/", expected_codes="200")),
         _pool(21, "HTTP", "LEAST_CONNECTIONS", [_member(32, 9001)],
               session_persistence={"type": "HTTP_COOKIE"})]),
    # TERMINATED_HTTPS: default and SNI certificates, client auth with CA and CRL, TLS
    # versions, ciphers, ALPN, HSTS; re-encryption to members with client certificate and CA.
    "terminated_https": _lb(
        [_listener(10, "TERMINATED_HTTPS", 443, _id(20),
                   default_tls_container_data={"certificate": PEM, "private_key": KEY},
                   sni_container_data=[{"certificate": PEM, "private_key": KEY}],
                   client_ca_tls_container_data=PEM, client_authentication="MANDATORY",
                   client_crl_container_data=PEM, tls_versions=["TLSv1.2", "TLSv1.3"],
                   tls_ciphers="ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384",
                   alpn_protocols=["h2", "http/1.1"], hsts_max_age=31536000,
                   hsts_include_subdomains=True, hsts_preload=True,
                   insert_headers={"X-Forwarded-For": "true", "X-SSL-Client-Verify": "true",
                                   "X-SSL-Client-DN": "true"})],
        [_pool(20, "HTTP", "ROUND_ROBIN", [_member(30, 8443)], tls_enabled=True,
               tls_container_data={"certificate": PEM, "private_key": KEY},
               ca_tls_container_data=PEM, crl_container_data=PEM,
               tls_versions=["TLSv1.3"], alpn_protocols=["http/1.1"],
               healthmonitor=_monitor(40, "HTTPS", url_path="/healthz"))]),
    # A PROMETHEUS listener and a disabled listener (not rendered).
    "prometheus": _lb(
        [_listener(10, "PROMETHEUS", 9100, None),
         _listener(11, "HTTP", 81, _id(20), admin_state_up=False)],
        [_pool(20, "HTTP", "ROUND_ROBIN", [_member(30, 8001)])]),
}


def rendered(case: str) -> str:
    """The haproxy.cfg of ``case``, rendered exactly as the provider renders it."""
    lb = model_from_dict(dm.LoadBalancer, CASES[case])
    return render.render_config(view.build_view(lb, OPTIONS))


def regenerate() -> None:
    GOLDEN.mkdir(exist_ok=True)
    for stale in GOLDEN.glob("*.cfg"):
        if stale.stem not in CASES:
            stale.unlink()
    for case in CASES:
        (GOLDEN / f"{case}.cfg").write_text(rendered(case))
        print(f"wrote {GOLDEN / case}.cfg")


if __name__ == "__main__":
    regenerate()
