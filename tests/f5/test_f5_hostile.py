"""Hostile strings into every field that reaches an AS3 declaration, through a real
``statera serve`` with the f5 provider and the BIG-IP emulator.

The corpus is the haproxy suite's (``tests/e2e/test_hostile_inputs.CORPUS``) plus what AS3 and
BIG-IP's Tcl would act on: backquote escapes (AS3 expands them in monitor ``send``/
``receive``), Tcl command and variable substitution (BIG-IP evaluates ``tcl:`` redirect
locations). Each answer is either a 4xx that changed nothing on the device, or (2xx) the load
balancer goes ACTIVE and the tenant on the device is schema-valid (the emulator checks it
against the AS3 schema) with the string present only as data: verbatim inside a condition's
``values``/``name``, or percent-encoded inside ``send``/``location``. Never a 5xx but
Octavia's 501 for an option the driver refuses (a cookie name outside AS3's pattern).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from statera.providers.f5 import declaration as decl
from tests.e2e.conftest import LOOPBACK_SUBNET, Server, kill_leftovers, wait_for
from tests.e2e.test_hostile_inputs import CORPUS
from tests.f5.bigip_emulator import BigIPEmulator

pytestmark = pytest.mark.e2e
PROJECT = "hostile-project"
TENANT = decl.tenant_name("Project_", PROJECT)
AS3_CORPUS = {
    "backquote-tenant": "`T`",
    "backquote-star": "a`*`b",
    "backquote-open": "a`b",
    "tcl-command": "[exec rm -rf /]",
    "tcl-variable": "$::env(HOME)",
    "tcl-prefix": "tcl:[HTTP::host]",
    "brace": "}{",
    "pointer": "/Common/http",
}
VALUES = sorted({**CORPUS, **AS3_CORPUS}.items())


class Env:
    def __init__(self, server: Server, bigip: BigIPEmulator) -> None:
        self.server, self.bigip = server, bigip
        self.api = httpx.Client(base_url=server.url, headers={"X-Project-Id": PROJECT},
                                timeout=30)
        self.lb = self.created("/v2/lbaas/loadbalancers", "loadbalancer", {
            "vip_subnet_id": LOOPBACK_SUBNET, "provider": "f5"})
        self.listener = self.created("/v2/lbaas/listeners", "listener", {
            "loadbalancer_id": self.lb["id"], "protocol": "HTTP", "protocol_port": 80})
        self.pool = self.created("/v2/lbaas/pools", "pool", {
            "listener_id": self.listener["id"], "protocol": "HTTP",
            "lb_algorithm": "ROUND_ROBIN"})
        self.monitor = self.created("/v2/lbaas/healthmonitors", "healthmonitor", {
            "pool_id": self.pool["id"], "type": "HTTP", "delay": 5, "timeout": 3,
            "max_retries": 3})
        self.active()

    def created(self, path: str, key: str, body: dict[str, Any]) -> dict[str, Any]:
        self.wait_settled()
        resp = self.api.post(path, json={key: body})
        assert resp.status_code == 201, resp.text
        data: dict[str, Any] = resp.json()[key]
        return data

    def status(self) -> str:
        return str(self.api.get(f"/v2/lbaas/loadbalancers/{self.lb['id']}").json()
                   ["loadbalancer"]["provisioning_status"])

    def wait_settled(self) -> None:
        if hasattr(self, "lb"):
            wait_for(lambda: not self.status().startswith("PENDING"), timeout=30,
                     what="load balancer settled")

    def active(self) -> None:
        wait_for(lambda: self.status() in ("ACTIVE", "ERROR"), timeout=30, what="settled")
        assert self.status() == "ACTIVE", self.server.log.read_text()[-3000:]

    def app(self) -> dict[str, Any]:
        tenant = self.bigip.tenant(TENANT) or {}
        app: dict[str, Any] = tenant.get(decl.Names.app(self.lb["id"]), {})
        return app

    def send(self, method: str, path: str, body: dict[str, Any]) -> httpx.Response:
        self.wait_settled()
        before = self.app()
        resp = self.api.request(method, path, content=json.dumps(body),  # \ud800 as escape
                                headers={"Content-Type": "application/json"})
        code = resp.status_code
        assert code < 500 or code == 501, f"{method} {path} {body!r}: {code} {resp.text}"
        if code >= 400:
            assert resp.json().get("faultcode") in ("Client", "Server"), resp.text
            assert self.status() != "ERROR"
            assert self.app() == before  # nothing reached the device
        else:
            self.active()
        return resp


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    bigip = BigIPEmulator(declare_delay=0.0).start()
    data = tmp_path_factory.mktemp("f5-hostile") / "data"
    data.mkdir()
    server = Server(data, {
        "STATERA_F5__URL": bigip.url, "STATERA_F5__USERNAME": "admin",
        "STATERA_F5__PASSWORD": "f5-secret", "STATERA_F5__POLL_INTERVAL": "5"})
    server.start()
    try:
        yield Env(server, bigip)
    finally:
        server.stop()
        kill_leftovers(data)
        bigip.stop()


def strings_in(value: Any) -> Iterator[tuple[str, str]]:
    """(key, string) for every string in a declaration, with the key that holds it."""
    if isinstance(value, dict):
        for key, sub in value.items():
            if isinstance(sub, str):
                yield key, sub
            else:
                for inner_key, inner in strings_in(sub):
                    yield (key if inner_key == "" else inner_key), inner
    elif isinstance(value, list):
        for sub in value:
            if isinstance(sub, str):
                yield "", sub
            else:
                yield from strings_in(sub)


def assert_only_data(app: dict[str, Any], value: str) -> None:
    """``value`` appears verbatim only where AS3 takes strings literally."""
    if not value:
        return
    for key, text in strings_in(app):
        if key in ("send", "receive", "location"):
            assert "`" not in text, (key, text)
            assert "\\r\\n" not in text.replace("\\r\\n", "") and "\r" not in text
            if key == "location":
                assert text.replace("[HTTP::uri]", "").count("[") == 0, text
                assert "$" not in text, text
        elif value in text:
            assert key in ("values", "name", "cookieName"), (key, text)


def test_monitor_fields(env: Env) -> None:
    path = f"/v2/lbaas/healthmonitors/{env.monitor['id']}"
    for _, value in VALUES:
        for field, sent in (("url_path", "/" + value), ("domain_name", value),
                            ("expected_codes", value), ("http_method", value)):
            resp = env.send("PUT", path, {"healthmonitor": {field: sent}})
            if resp.status_code < 300:
                assert_only_data(env.app(), value)


def test_l7_rule_fields(env: Env) -> None:
    accepted: set[str] = set()
    for label, value in VALUES:
        policy = env.created("/v2/lbaas/l7policies", "l7policy", {
            "listener_id": env.listener["id"], "action": "REJECT", "name": label[:60]})
        env.active()
        path = f"/v2/lbaas/l7policies/{policy['id']}/rules"
        for kind, key in (("PATH", None), ("HOST_NAME", None), ("FILE_TYPE", None),
                          ("HEADER", "X-Test"), ("COOKIE", "session"), ("HEADER", value)):
            rule: dict[str, Any] = {"type": kind, "compare_type": "EQUAL_TO",
                                    "value": value if key != value else "v"}
            if key is not None:
                rule["key"] = key
            resp = env.send("POST", path, {"rule": rule})
            if resp.status_code < 300:
                accepted.add(label)
                assert_only_data(env.app(), value)
    assert {"backquote-tenant", "backquote-star", "tcl-variable", "dquote"} <= accepted


def test_redirects(env: Env) -> None:
    accepted: set[str] = set()
    for label, value in VALUES:
        for field, prefix in (("redirect_url", "https://example.com/"),
                              ("redirect_prefix", "https://example.com/"),
                              ("redirect_url", "")):
            resp = env.send("POST", "/v2/lbaas/l7policies", {"l7policy": {
                "listener_id": env.listener["id"], "name": label[:60],
                "action": "REDIRECT_TO_URL" if field == "redirect_url" else "REDIRECT_PREFIX",
                field: prefix + value,
                "rules": [{"type": "PATH", "compare_type": "STARTS_WITH", "value": "/r"}]}})
            if resp.status_code < 300:
                accepted.add(f"{field}:{label}")
                assert_only_data(env.app(), value)
    assert {"redirect_prefix:tcl-variable", "redirect_prefix:tcl-prefix",
            "redirect_url:tcl-variable", "redirect_url:tcl-prefix"} <= accepted


def test_cookie_names_and_plain_strings(env: Env) -> None:
    path = f"/v2/lbaas/pools/{env.pool['id']}"
    for _, value in VALUES:
        resp = env.send("PUT", path, {"pool": {"session_persistence": {
            "type": "APP_COOKIE", "cookie_name": value}}})
        if resp.status_code < 300:
            assert_only_data(env.app(), value)
        for obj, ident in (("loadbalancer", env.lb["id"]), ("listener", env.listener["id"]),
                           ("pool", env.pool["id"])):
            env.send("PUT", f"/v2/lbaas/{obj}s/{ident}",
                     {obj: {"name": "NM" + value, "description": "DS" + value}})
        texts = [text for _, text in strings_in(env.app())]
        assert not any("NM" + value in t or "DS" + value in t for t in texts)  # never sent
