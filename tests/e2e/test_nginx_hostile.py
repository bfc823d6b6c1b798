"""Hostile strings into every field that could reach an NGINX load balancer's configuration
(the corpus of test_hostile_inputs.py: CR/LF/NUL, quotes, ``;``, ``{ }``, ``$``, ``#``,
backslashes, 5,000 characters, non-ASCII), against a real ``statera serve`` on ``nginx``.

Each answer is a 4xx (or the provider's 501 for an option NGINX does not carry), or a 2xx after
which the load balancer converges ACTIVE (never ERROR), its nginx.conf passes ``nginx -t``, is
printable ASCII, no line starts with the hostile marker, and it still serves through its VIP.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from statera.providers.kit.procs import resolve_binary
from statera.providers.nginx import escape
from statera.providers.nginx.view import ConfigError
from tests.e2e import haproxy_support as support
from tests.e2e.conftest import Server, free_port, wait_for
from tests.e2e.haproxy_support import SUBNET_ID, Backend, serving
from tests.e2e.test_hostile_inputs import CORPUS, MARK

NGINX = resolve_binary("nginx")
pytestmark = [pytest.mark.nginx, pytest.mark.e2e, pytest.mark.skipif(
    not Path(NGINX).exists(), reason="nginx is not installed")]
V = "/v2/lbaas"
EXTRA = {"semicolon": "a; return 200 x;", "braces": "a } server { listen 1; }",
         "dollar": "$remote_addr", "dollar-brace": "${host}"}
VALUES = {**CORPUS, **EXTRA}


class Env:
    def __init__(self, server: Server, http: httpx.Client, backends: list[Backend]) -> None:
        self.server, self.http, self.backends = server, http, backends
        self.ids: dict[str, str] = {}
        self.vip, self.port = "", free_port()
        self.problems: list[str] = []
        self.accepted = 0

    def lb_dir(self) -> Path:
        return self.server.data_dir / "providers" / "nginx" / self.ids["lb"]

    def status(self) -> str:
        return str(self.http.get(f"{V}/loadbalancers/{self.ids['lb']}").json()[
            "loadbalancer"]["provisioning_status"])

    def settle(self) -> str:
        return str(wait_for(lambda: (s := self.status()) in ("ACTIVE", "ERROR") and s,
                            timeout=20, what="load balancer settled"))

    def send(self, label: str, method: str, path: str, body: dict[str, Any]) -> None:
        # json.dumps escapes to ASCII, so a lone surrogate travels as ``\ud800``.
        resp = self.http.request(method, path, content=json.dumps(body),
                                 headers={"Content-Type": "application/json"})
        if resp.status_code >= 500 and resp.status_code != 501:
            self.problems.append(f"{label}: {resp.status_code} {resp.text[:200]}")
            return
        if resp.status_code >= 300:
            return
        self.accepted += 1
        if self.settle() != "ACTIVE":
            self.problems.append(f"{label}: accepted but the load balancer went ERROR")
            return
        self.check_config(label)

    def check_config(self, label: str) -> None:
        cfg = self.lb_dir() / "nginx.conf"
        text = cfg.read_text()
        for line in text.splitlines():
            if any(not 0x20 <= ord(c) < 0x7F for c in line) or line.strip().startswith(MARK):
                self.problems.append(f"{label}: bad line {line!r}")
        done = subprocess.run([NGINX, "-t", "-q", "-p", f"{self.lb_dir()}/", "-c", str(cfg),
                               "-e", "/dev/null"], capture_output=True, text=True, check=False)
        if done.returncode != 0:
            self.problems.append(f"{label}: nginx -t failed: {done.stderr[-300:]}")
        if not serving(self.vip, self.port):
            self.problems.append(f"{label}: no longer serving")


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    data = tmp_path_factory.mktemp("nginx-hostile") / "data"
    data.mkdir()
    server = Server(data, support.haproxy_env(
        STATERA_API__DEFAULT_PROVIDER_DRIVER="nginx"))
    backends = [Backend("hostile-a"), Backend("hostile-b")]
    server.start()
    http = httpx.Client(base_url=server.url, headers={"X-Project-Id": "hostile"}, timeout=30)
    env = Env(server, http, backends)
    try:
        lb = http.post(f"{V}/loadbalancers", json={"loadbalancer": {
            "name": "h", "vip_subnet_id": SUBNET_ID, "provider": "nginx"}}).json()["loadbalancer"]
        env.ids["lb"], env.vip = lb["id"], lb["vip_address"]
        env.settle()
        listener = http.post(f"{V}/listeners", json={"listener": {
            "loadbalancer_id": lb["id"], "protocol": "HTTP", "protocol_port": env.port}}).json()
        env.ids["listener"] = listener["listener"]["id"]
        env.settle()
        pool = http.post(f"{V}/pools", json={"pool": {
            "listener_id": env.ids["listener"], "protocol": "HTTP",
            "lb_algorithm": "ROUND_ROBIN"}}).json()["pool"]
        env.ids["pool"] = pool["id"]
        env.settle()
        for backend in backends:
            member = http.post(f"{V}/pools/{pool['id']}/members", json={"member": {
                "address": "127.0.0.1", "protocol_port": backend.port}}).json()["member"]
            env.ids["member"] = member["id"]
            env.settle()
        hm = http.post(f"{V}/healthmonitors", json={"healthmonitor": {
            "pool_id": pool["id"], "type": "HTTP", "delay": 5, "timeout": 2,
            "max_retries": 1}}).json()["healthmonitor"]
        env.ids["hm"] = hm["id"]
        env.settle()
        policy = http.post(f"{V}/l7policies", json={"l7policy": {
            "listener_id": env.ids["listener"], "action": "REDIRECT_TO_URL",
            "redirect_url": "https://example.invalid/", "position": 1}}).json()["l7policy"]
        env.ids["policy"] = policy["id"]
        env.settle()
        rule = http.post(f"{V}/l7policies/{policy['id']}/rules", json={"rule": {
            "type": "HEADER", "key": "X-Hostile", "compare_type": "EQUAL_TO",
            "value": "never-sent"}}).json()["rule"]
        env.ids["rule"] = rule["id"]
        env.settle()
        wait_for(lambda: serving(env.vip, env.port), timeout=10, what="serving")
        yield env
    finally:
        http.close()
        server.close()  # statera serve and its NGINX (data planes outlive the server)
        for backend in backends:
            backend.stop()


def sweep(env: Env, path: str, key: str, fields: dict[str, Any]) -> None:
    for field, build in fields.items():
        for label, value in VALUES.items():
            env.send(f"{key}.{field}[{label}]", "PUT", path, {key: build(value)})


def test_every_field_that_could_reach_nginx_conf(env: Env) -> None:
    ids = env.ids
    sweep(env, f"{V}/loadbalancers/{ids['lb']}", "loadbalancer", {
        "name": lambda v: {"name": v}, "description": lambda v: {"description": v}})
    sweep(env, f"{V}/listeners/{ids['listener']}", "listener", {
        "name": lambda v: {"name": v},
        "allowed_cidrs": lambda v: {"allowed_cidrs": [v]},
        "allowed_cidrs+": lambda v: {"allowed_cidrs": ["127.0.0.0/8" + v]},
        "insert_headers-value": lambda v: {"insert_headers": {"X-Forwarded-For": v}},
        "insert_headers-key": lambda v: {"insert_headers": {v: "true"}},
        "timeout_client_data": lambda v: {"timeout_client_data": v},
    })
    # allowed_cidrs back to everyone, so the VIP serves the test again.
    env.send("reset", "PUT", f"{V}/listeners/{ids['listener']}",
             {"listener": {"allowed_cidrs": None, "insert_headers": {}}})
    sweep(env, f"{V}/pools/{ids['pool']}", "pool", {
        "name": lambda v: {"name": v},
        "session_persistence": lambda v: {"session_persistence": {
            "type": "APP_COOKIE", "cookie_name": v}},
    })
    sweep(env, f"{V}/pools/{ids['pool']}/members/{ids['member']}", "member", {
        "name": lambda v: {"name": v},
        "monitor_address": lambda v: {"monitor_address": v},
    })
    sweep(env, f"{V}/healthmonitors/{ids['hm']}", "healthmonitor", {
        "url_path": lambda v: {"url_path": "/" + v},
        "domain_name": lambda v: {"domain_name": v, "http_version": 1.1},
        "http_method": lambda v: {"http_method": v},
        "expected_codes": lambda v: {"expected_codes": v},
    })
    sweep(env, f"{V}/l7policies/{ids['policy']}", "l7policy", {
        "redirect_url": lambda v: {"redirect_url": "https://example.invalid/" + v},
        "name": lambda v: {"name": v},
    })
    env.send("reset", "PUT", f"{V}/l7policies/{ids['policy']}",
             {"l7policy": {"action": "REDIRECT_PREFIX", "redirect_prefix": "https://a.example"}})
    sweep(env, f"{V}/l7policies/{ids['policy']}", "l7policy", {
        "redirect_prefix": lambda v: {"redirect_prefix": "https://example.invalid/" + v}})
    rule_path = f"{V}/l7policies/{ids['policy']}/rules/{ids['rule']}"
    sweep(env, rule_path, "rule", {
        "value": lambda v: {"value": v},
        "key": lambda v: {"key": v},
        "regex": lambda v: {"compare_type": "REGEX", "value": v},
    })
    assert env.problems == [], "\n".join(env.problems)
    assert env.accepted > 0  # names and descriptions at least are accepted


@pytest.mark.parametrize("label", sorted(VALUES))
def test_the_quoting_function_round_trips_or_refuses(label: str, tmp_path: Path) -> None:
    """Any string either becomes one NGINX word that ``nginx -t`` reads back intact, or is
    refused (``$``, control characters, non-ASCII, over 4 KB: NGINX cannot carry them)."""
    value = VALUES[label]
    try:
        word = escape.quote(value)
    except ConfigError:
        assert "$" in value or len(value) > escape.MAX_WORD - 2 or any(
            not " " <= c <= "~" and c not in "\t\r\n" for c in value)
        return
    conf = tmp_path / "nginx.conf"
    conf.write_text(f'pid {tmp_path}/p;\nevents {{}}\nhttp {{ access_log off;\n'
                    f'  map $host $x {{ default {word}; }}\n}}\n')
    done = subprocess.run([NGINX, "-t", "-q", "-p", f"{tmp_path}/", "-c", str(conf),
                           "-e", "/dev/null"], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
