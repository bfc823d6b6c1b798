"""What real clients and octavia-tempest-plugin compare with Octavia 19 itself: the version
document, the exact keys of every body (nested graph objects included), quota bodies, request
ids, pagination links, TLS defaults, and validation Octavia's types do.

The expected key sets are Octavia 19's response types (``octavia/api/v2/types/*.py``): a
WSME attribute left unset is omitted from the body, one set to None is ``null``. These are
shape checks, the same on every database: they run on SQLite only.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import pytest

from statera.config import ApiSettings
from statera.controller import rules
from statera.logs import RequestIdFilter, SafeFormatter
from tests.api.conftest import Api
from tests.api.helpers import assert_fault

V = "/v2/lbaas"
BASE = {"id", "name", "description", "admin_state_up", "project_id", "tenant_id",
        "provisioning_status", "operating_status", "created_at", "updated_at", "tags"}
LOADBALANCER = BASE | {
    "vip_address", "vip_port_id", "vip_subnet_id", "vip_network_id", "vip_qos_policy_id",
    "vip_sg_ids", "vip_vnic_type", "additional_vips", "listeners", "pools", "provider",
    "flavor_id", "availability_zone"}
LISTENER = BASE | {
    "protocol", "protocol_port", "connection_limit", "default_pool_id",
    "default_tls_container_ref", "sni_container_refs", "loadbalancers", "l7policies",
    "insert_headers", "timeout_client_data", "timeout_member_connect", "timeout_member_data",
    "timeout_tcp_inspect", "client_ca_tls_container_ref", "client_authentication",
    "client_crl_container_ref", "allowed_cidrs", "tls_ciphers", "tls_versions",
    "alpn_protocols", "hsts_max_age", "hsts_include_subdomains", "hsts_preload"}
POOL = BASE | {
    "protocol", "lb_algorithm", "session_persistence", "loadbalancers", "listeners",
    "members", "healthmonitor_id", "tls_container_ref", "ca_tls_container_ref",
    "crl_container_ref", "tls_enabled", "tls_ciphers", "tls_versions", "alpn_protocols"}
MEMBER = (BASE - {"description"}) | {
    "address", "protocol_port", "weight", "backup", "subnet_id", "monitor_address",
    "monitor_port", "vnic_type"}
HEALTHMONITOR = (BASE - {"description"}) | {
    "type", "delay", "timeout", "max_retries", "max_retries_down", "http_method", "url_path",
    "expected_codes", "pools", "http_version", "domain_name"}
L7POLICY = BASE | {
    "listener_id", "action", "redirect_pool_id", "redirect_url", "redirect_prefix",
    "redirect_http_code", "position", "rules"}
L7RULE = (BASE - {"name", "description"}) | {"type", "compare_type", "key", "value", "invert"}
QUOTA = {"project_id", "tenant_id", "loadbalancer", "load_balancer", "listener", "member",
         "pool", "healthmonitor", "health_monitor", "l7policy", "l7rule"}


@pytest.fixture
def backend() -> str:
    """Shapes do not depend on the database: SQLite only."""
    return "sqlite"


def test_version_document_lists_every_octavia_19_version(api: Api) -> None:
    versions = api.get("/").json()["versions"]
    assert [v["id"] for v in versions] == [f"v2.{n}" for n in range(31)]
    assert [v["id"] for v in versions if v["status"] == "CURRENT"] == ["v2.30"]
    assert {v["status"] for v in versions[:-1]} == {"SUPPORTED"}
    assert versions[0]["updated"] == "2016-12-11T00:00:00Z"
    assert versions[7]["updated"] == "2018-01-25T12:00:00Z"  # Octavia's own (odd) date
    assert versions[-1]["updated"] == "2025-02-26T00:00:00Z"
    assert {link["href"] for v in versions for link in v["links"]} == {"http://testserver/v2"}


def test_every_response_carries_a_request_id_that_the_log_lines_name(api: Api) -> None:
    lines: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(self.format(record))

    handler = Collect()
    handler.setFormatter(SafeFormatter("%(request_id)s %(message)s"))
    handler.addFilter(RequestIdFilter())
    access = logging.getLogger("statera.access")
    access.addHandler(handler)
    old_level = access.level
    access.setLevel(logging.INFO)
    try:
        answers = [api.get(f"{V}/loadbalancers"), api.get(f"{V}/pools/nope"),
                   api.get("/"), api.get(f"{V}/listeners", headers={"Accept": "text/html"})]
    finally:
        access.removeHandler(handler)
        access.setLevel(old_level)
    ids = [resp.headers["x-openstack-request-id"] for resp in answers]
    assert all(re.fullmatch(r"req-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}",
                            i) for i in ids), ids
    assert len(set(ids)) == len(ids)
    for request_id in ids[:3]:
        assert any(line.startswith(request_id + " ") for line in lines), (request_id, lines)
    assert answers[3].json()["errors"][0]["request_id"] == ids[3]  # the 406 names it too


def _graph(api: Api) -> dict[str, Any]:
    body = {"vip_subnet_id": "7b1c6e3a-1d5e-4f5e-9a57-3c1f00000002", "name": "g",
            "listeners": [{"protocol": "HTTP", "protocol_port": 80, "name": "l",
                           "default_pool": {"name": "p", "protocol": "HTTP",
                                            "lb_algorithm": "ROUND_ROBIN",
                                            "members": [{"address": "127.0.0.1",
                                                         "protocol_port": 8080}],
                                            "healthmonitor": {"type": "HTTP", "delay": 5,
                                                              "timeout": 3,
                                                              "max_retries": 2}},
                           "l7policies": [{"action": "REJECT", "rules": [
                               {"type": "PATH", "compare_type": "STARTS_WITH",
                                "value": "/x"}]}]}]}
    return api.create("loadbalancers", "loadbalancer", body)


def test_bodies_hold_exactly_octavias_keys(api: Api) -> None:
    graph = _graph(api)
    lb_id = graph["id"]
    lst = graph["listeners"][0]
    pool = graph["pools"][0]
    policy = lst["l7policies"][0]
    shown = {
        "loadbalancers": (lb_id, LOADBALANCER, "loadbalancer"),
        "listeners": (lst["id"], LISTENER, "listener"),
        "pools": (pool["id"], POOL, "pool"),
        f"pools/{pool['id']}/members": (pool["members"][0]["id"], MEMBER, "member"),
        "healthmonitors": (pool["healthmonitor"]["id"], HEALTHMONITOR, "healthmonitor"),
        "l7policies": (policy["id"], L7POLICY, "l7policy"),
        f"l7policies/{policy['id']}/rules": (policy["rules"][0]["id"], L7RULE, "rule"),
    }
    for path, (obj_id, keys, single) in shown.items():
        body = api.get(f"{V}/{path}/{obj_id}").json()[single]
        assert set(body) == keys, (path, set(body) ^ keys)
        listed = api.get(f"{V}/{path}").json()
        assert all(set(item) == keys for item in listed[f"{path.rsplit('/', 1)[-1]}"]), path
    # A pool without a health monitor has no healthmonitor_id key at all (WSME Unset).
    bare = api.pool(loadbalancer_id=lb_id)
    assert set(bare) == POOL - {"healthmonitor_id"}


def test_graph_create_nests_octavias_full_types(api: Api) -> None:
    graph = _graph(api)
    assert set(graph) == LOADBALANCER
    lst = graph["listeners"][0]
    assert set(lst) == LISTENER - {"loadbalancers"}
    policy = lst["l7policies"][0]
    assert set(policy) == L7POLICY
    assert set(policy["rules"][0]) == L7RULE
    pool = graph["pools"][0]
    assert set(pool) == (POOL - {"loadbalancers", "healthmonitor_id"}) | {"healthmonitor"}
    assert set(pool["members"][0]) == MEMBER
    assert set(pool["healthmonitor"]) == HEALTHMONITOR - {"pools"}


def test_quota_bodies_are_octavias(api: Api) -> None:
    assert set(api.get(f"{V}/quotas/p1").json()["quota"]) == QUOTA
    assert set(api.get(f"{V}/quotas/p1/default").json()["quota"]) == QUOTA
    put = api.put(f"{V}/quotas/p1", json={"quota": {"pool": 3}})
    assert put.status_code == 202 and set(put.json()["quota"]) == QUOTA
    listed = api.get(f"{V}/quotas").json()
    assert set(listed) == {"quotas", "quotas_links"} and set(listed["quotas"][0]) == QUOTA
    reset = api.delete(f"{V}/quotas/p1")
    assert reset.status_code == 202 and reset.content == b""


def test_pagination_links_as_octavia_writes_them(api: Api) -> None:
    first, second = api.lb(name="a"), api.lb(name="b")
    page = api.get(f"{V}/loadbalancers", params={"limit": "1", "sort_key": "name",
                                                 "sort_dir": "asc", "name": "a"}).json()
    # Octavia carries limit and sort_key, never sort_dir or filters, and does not re-encode.
    assert page["loadbalancers_links"] == [{
        "rel": "next", "href": "http://testserver/v2/lbaas/loadbalancers"
                               f"?limit=1&sort_key=name&marker={first['id']}"}]
    page = api.get(f"{V}/loadbalancers", params={"limit": "1", "marker": first["id"],
                                                 "sort": "name:asc"}).json()
    assert [lb["id"] for lb in page["loadbalancers"]] == [second["id"]]
    base = "http://testserver/v2/lbaas/loadbalancers?limit=1&sort=name:asc"
    assert page["loadbalancers_links"] == [
        {"rel": "previous", "href": f"{base}&marker={second['id']}&page_reverse=True"},
        {"rel": "next", "href": f"{base}&marker={second['id']}"}]
    # Unlimited ("infinite" or below 1, whatever the maximum): always a next link.
    for limit in ("infinite", "0", "-1"):
        page = api.get(f"{V}/loadbalancers", params={"limit": limit}).json()
        assert len(page["loadbalancers"]) == 2
        last = page["loadbalancers"][-1]["id"]
        assert page["loadbalancers_links"] == [{
            "rel": "next", "href": f"http://testserver/v2/lbaas/loadbalancers?limit=None&marker={last}"}]
    # A short page without a marker has no links.
    assert api.get(f"{V}/loadbalancers").json()["loadbalancers_links"] == []


def test_tls_defaults_are_octavias(api: Api) -> None:
    lb = api.lb()
    pool = api.pool(loadbalancer_id=lb["id"], protocol="HTTPS", tls_enabled=True)
    assert pool["tls_ciphers"] == (
        "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:"
        "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
        "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
        "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
        "DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305")
    assert pool["tls_versions"] == ["TLSv1.2", "TLSv1.3"]
    assert pool["alpn_protocols"] == ["h2", "http/1.1", "http/1.0"]
    assert rules.TLS_DEFAULTS["listener"] == rules.TLS_DEFAULTS["pool"]


@pytest.mark.parametrize("field, value", [
    ("domain_name", "example.com\n"),
    ("domain_name", "exa mple.com"),
    ("domain_name", "-example.com"),
    ("url_path", "/health\n"),
    ("expected_codes", "200\n"),
])
def test_health_monitor_strings_are_validated_whole(api: Api, field: str,
                                                     value: str) -> None:
    lb = api.lb()
    pool = api.pool(loadbalancer_id=lb["id"])
    body = {"pool_id": pool["id"], "type": "HTTP", "delay": 5, "timeout": 3,
            "max_retries": 2, "http_version": 1.1, field: value}
    assert_fault(api.post(f"{V}/healthmonitors", json={"healthmonitor": body}), 400, field)
    body[field] = {"domain_name": "example.com", "url_path": "/health",
                   "expected_codes": "200"}[field]
    assert api.post(f"{V}/healthmonitors", json={"healthmonitor": body}).status_code == 201


def test_provider_descriptions_hold_no_commas(api: Api) -> None:
    """Octavia's enabled_provider_drivers option (and tempest reading it) separates
    ``name:description`` pairs with commas."""
    for provider in api.get(f"{V}/providers").json()["providers"]:
        assert "," not in provider["description"], provider
    with pytest.raises(ValueError, match="comma"):
        ApiSettings(enabled_provider_drivers={"x": "fast, cheap"})
