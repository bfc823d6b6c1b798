"""Shared pieces of every provider's golden files: graph builders with fixed ids, fixed
certificates, and the write-them-all step behind each provider's regenerate command.

A golden case is a load balancer as the get socket serves it (a dict that
``statera.agent.client.model_from_dict`` turns into octavia-lib models). Every id is fixed
(``gid(n)``), every address documentation space, so the rendered text depends on the graph and
the renderer alone. ``tests/<provider>/golden_cases.py`` holds each provider's cases (what that
provider supports) and renders them; ``tests/<provider>/test_golden.py`` compares byte for byte.

The certificates in ``tests/golden_pki/`` are real (NGINX parses them for SNI names;
``nginx -t`` and ``haproxy -c`` load them) and fixed: they were made once with
``cryptography`` (EC P-256, valid 2026-2126) and checked in, because a fresh key or
signature would change every golden file. They protect nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest

PKI = Path(__file__).with_name("golden_pki")


def gid(n: int) -> str:
    """The fixed UUID number ``n`` of a golden graph."""
    return f"00000000-0000-4000-8000-{n:012d}"


def pki(name: str) -> str:
    """The text of ``tests/golden_pki/<name>.pem``."""
    return (PKI / f"{name}.pem").read_text()


def member(n: int, port: int, **kw: Any) -> dict[str, Any]:
    return {"member_id": gid(n), "address": "192.0.2.10", "protocol_port": port, "weight": 1,
            "admin_state_up": True, "backup": False, **kw}


def pool(n: int, protocol: str, algorithm: str, members: list[dict[str, Any]],
         **kw: Any) -> dict[str, Any]:
    return {"pool_id": gid(n), "protocol": protocol, "lb_algorithm": algorithm,
            "admin_state_up": True, "members": members, **kw}


def monitor(n: int, kind: str, **kw: Any) -> dict[str, Any]:
    return {"healthmonitor_id": gid(n), "type": kind, "delay": 5, "timeout": 3,
            "max_retries": 3, "max_retries_down": 2, "admin_state_up": True, **kw}


def listener(n: int, protocol: str, port: int, default_pool: str | None,
             **kw: Any) -> dict[str, Any]:
    return {"listener_id": gid(n), "protocol": protocol, "protocol_port": port,
            "admin_state_up": True, "default_pool_id": default_pool, "connection_limit": -1,
            **kw}


def lb(listeners: list[dict[str, Any]], pools: list[dict[str, Any]],
       **kw: Any) -> dict[str, Any]:
    return {"loadbalancer_id": gid(1), "vip_address": "203.0.113.5", "admin_state_up": True,
            "listeners": listeners, "pools": pools, **kw}


def rule(n: int, kind: str, compare: str, value: str, key: str | None = None,
         invert: bool = False) -> dict[str, Any]:
    return {"l7rule_id": gid(n), "type": kind, "compare_type": compare, "value": value,
            "key": key, "invert": invert, "admin_state_up": True}


def policy(n: int, position: int, action: str, rules: list[dict[str, Any]],
           **kw: Any) -> dict[str, Any]:
    return {"l7policy_id": gid(n), "position": position, "action": action,
            "admin_state_up": True, "rules": rules, **kw}


def golden_files(directory: Path, suffix: str, cases: Iterable[str]) -> dict[str, Path]:
    """The golden file of each case: ``<directory>/<case><suffix>``."""
    return {case: directory / f"{case}{suffix}" for case in cases}


def byte_for_byte_tests(directory: Path, suffix: str, cases: Iterable[str],
                        rendered: Callable[[str], str], module: str,
                        ) -> tuple[Callable[[str], None], Callable[[], None]]:
    """A provider's two golden-file tests, for its test module to bind to ``test_*`` names:
    each case renders exactly to its file, and every file in ``directory`` belongs to a case.
    ``module`` is the cases module whose ``python -m`` regenerates the files."""
    files = golden_files(directory, suffix, cases)
    command = f".venv/bin/python -m {module}"

    @pytest.mark.parametrize("case", sorted(files))
    def matches(case: str) -> None:
        assert rendered(case) == files[case].read_text(), (
            f"{case}: rendering changed; if intended, run {command} and review the diff")

    def no_strays() -> None:
        assert sorted(directory.glob(f"*{suffix}")) == sorted(files.values())

    return matches, no_strays


def regenerate(directory: Path, suffix: str, cases: Iterable[str],
               rendered: Callable[[str], str]) -> None:
    """Write every case's rendering and delete golden files no case produces any more."""
    files = golden_files(directory, suffix, cases)
    directory.mkdir(exist_ok=True)
    for stale in directory.glob(f"*{suffix}"):
        if stale not in files.values():
            stale.unlink()
    for case, path in files.items():
        path.write_text(rendered(case))
        print(f"wrote {path}")


def features(cases: Iterable[dict[str, Any]]) -> dict[str, set[str]]:
    """What the golden ``cases`` exercise, by kind: listener and pool protocols, algorithms,
    persistence and monitor types, L7 actions, rule types and comparisons. A provider's golden
    test checks that this covers everything the provider says it supports."""
    seen: dict[str, set[str]] = {k: set() for k in (
        "listener_protocols", "pool_protocols", "algorithms", "persistence", "monitors",
        "l7_actions", "l7_rules", "l7_compare")}
    for case in cases:
        for p in case["pools"]:
            seen["pool_protocols"].add(p["protocol"])
            seen["algorithms"].add(p["lb_algorithm"])
            if p.get("session_persistence"):
                seen["persistence"].add(p["session_persistence"]["type"])
            if p.get("healthmonitor"):
                seen["monitors"].add(p["healthmonitor"]["type"])
        for x in case["listeners"]:
            seen["listener_protocols"].add(x["protocol"])
            for pol in x.get("l7policies", []):
                seen["l7_actions"].add(pol["action"])
                for r in pol["rules"]:
                    seen["l7_rules"].add(r["type"])
                    seen["l7_compare"].add(r["compare_type"])
    return seen


def l7_policies(header_rule: dict[str, Any] | None = None,
                redirect_url: str = "https://example.com/new") -> list[dict[str, Any]]:
    """Policies 50-53 of the ``http_l7`` cases: every action, the five classic rule types,
    the four plain comparisons and an inverted rule. REDIRECT_TO_POOL goes to pool 21
    (``l7_pools``); ``header_rule`` replaces its header rule (default: a REGEX one)."""
    header = header_rule or rule(62, "HEADER", "REGEX", "^Mozilla", key="User-Agent")
    return [
        policy(50, 1, "REDIRECT_TO_URL", [rule(60, "PATH", "STARTS_WITH", "/old")],
               redirect_url=redirect_url, redirect_http_code=301),
        policy(51, 2, "REDIRECT_PREFIX", [rule(61, "HOST_NAME", "EQUAL_TO", "a.example")],
               redirect_prefix="https://b.example", redirect_http_code=308),
        policy(52, 3, "REDIRECT_TO_POOL", [
            header,
            rule(63, "COOKIE", "CONTAINS", "beta", key="group", invert=True),
            rule(64, "FILE_TYPE", "EQUAL_TO", "jpg"),
            rule(65, "PATH", "ENDS_WITH", ".png")], redirect_pool_id=gid(21)),
        policy(53, 4, "REJECT", [rule(66, "PATH", "EQUAL_TO", "/admin")]),
    ]


def l7_pools(cookies: bool) -> list[dict[str, Any]]:
    """Pools 20 (default, HTTP monitor) and 21 (the REDIRECT_TO_POOL target) of the
    ``http_l7`` cases; with ``cookies``, APP_COOKIE and HTTP_COOKIE persistence."""
    first: dict[str, Any] = {}
    second: dict[str, Any] = {}
    if cookies:
        first = {"session_persistence": {"type": "APP_COOKIE", "cookie_name": "JSESSIONID"}}
        second = {"session_persistence": {"type": "HTTP_COOKIE"}}
    return [pool(20, "HTTP", "ROUND_ROBIN", [member(30, 8001), member(31, 8002)], **first,
                 healthmonitor=monitor(40, "HTTP", url_path="/", expected_codes="200")),
            pool(21, "HTTP", "LEAST_CONNECTIONS", [member(32, 9001)], **second)]


def http_members(monitor_port: bool = True) -> list[dict[str, Any]]:
    """Members 30-34 of the ``http_round_robin`` cases: a weight, a drained member (weight
    0), a backup, a disabled member and (with ``monitor_port``) one monitored elsewhere."""
    members = [member(30, 8001, weight=10), member(31, 8002, weight=0),
               member(32, 8003, backup=True), member(33, 8004, admin_state_up=False)]
    if monitor_port:
        members.append(member(34, 8005, monitor_address="192.0.2.99", monitor_port=9000))
    return members


def http_monitor() -> dict[str, Any]:
    """Monitor 40 of the ``http_round_robin`` cases: every HTTP monitor detail."""
    return monitor(40, "HTTP", http_method="HEAD", url_path="/health",
                   expected_codes="200-204,301", http_version=1.1,
                   domain_name="app.example.com")


def http_listener(**kw: Any) -> dict[str, Any]:
    """Listener 10 of the ``http_round_robin`` cases (HTTP :80 to pool 20) with a connection
    limit, timeouts, allowed CIDRs and the X-Forwarded-* headers; ``kw`` adds or overrides."""
    return listener(10, "HTTP", 80, gid(20), connection_limit=5000, timeout_client_data=30000,
                    timeout_member_connect=4000, timeout_member_data=40000,
                    allowed_cidrs=["198.51.100.0/24", "10.0.0.0/8"],
                    insert_headers={"X-Forwarded-For": "true", "X-Forwarded-Port": "true",
                                    "X-Forwarded-Proto": "true"}, **kw)


def bundle(name: str) -> dict[str, str]:
    """A certificate-store bundle of ``tests/golden_pki``: ``<name>.pem`` and its key."""
    return {"certificate": pki(name), "private_key": pki(f"{name}-key")}


def tls_listener(**kw: Any) -> dict[str, Any]:
    """Listener 10 of the ``terminated_https`` cases (:443 to pool 20): the default and an
    SNI certificate, mandatory client authentication against a CA; ``kw`` adds options."""
    return listener(10, "TERMINATED_HTTPS", 443, gid(20),
                    default_tls_container_data=bundle("default"),
                    sni_container_data=[bundle("sni")],
                    client_ca_tls_container_data=pki("client-ca"),
                    client_authentication="MANDATORY", **kw)


def tls_options() -> dict[str, Any]:
    """The listener TLS options of the ``terminated_https`` cases beyond ``tls_listener``'s:
    a client CRL, TLS versions, ciphers, ALPN and HSTS."""
    return {"client_crl_container_data": pki("client-crl"),
            "tls_versions": ["TLSv1.2", "TLSv1.3"],
            "tls_ciphers": "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384",
            "alpn_protocols": ["h2", "http/1.1"], "hsts_max_age": 31536000,
            "hsts_include_subdomains": True, "hsts_preload": True}
