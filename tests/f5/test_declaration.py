"""The AS3 declaration builder: every feature's declaration is valid against F5's AS3 3.56
schema and says what the Octavia object asked for; what AS3 cannot express is refused."""

from __future__ import annotations

from typing import Any

import pytest

from statera.providers.f5 import declaration as decl
from statera.providers.f5.schema import SchemaError, validate
from tests.certs.pki import build_pki, cert_pem
from tests.f5 import graphs as g


def declare(*lbs: Any) -> dict[str, Any]:
    """Build, validate against the schema, and return the tenant body."""
    tenant = decl.tenant_name("Project_", g.PROJECT)
    body = decl.declaration(tenant, {decl.Names.app(lb.loadbalancer_id): decl.application(lb)
                                     for lb in lbs})
    validate(body)
    tenant_body: dict[str, Any] = body["declaration"][tenant]
    return tenant_body


def app_of(lb: Any) -> dict[str, Any]:
    app: dict[str, Any] = declare(lb)[decl.Names.app(lb.loadbalancer_id)]
    return app


def test_tenant_names_are_as3_safe_and_injective() -> None:
    assert decl.tenant_name("Project_", "3f2b0c8e-5d4a") == "Project_3f2b0c8e-5d4a"
    names = {decl.tenant_name("Project_", p) for p in ("a_b", "a-b", "a.b", "a b", "a.2eb")}
    assert len(names) == 5
    with pytest.raises(decl.DeclarationError):
        decl.tenant_name("9bad", "x")
    with pytest.raises(decl.DeclarationError):
        decl.tenant_name("Project_", "x" * 200)


def test_http_listener_pool_members_monitor() -> None:
    lb = g.simple_lb()
    app = app_of(lb)
    listener, pool = lb.listeners[0], lb.pools[0]
    service = app[decl.Names.service(listener.listener_id)]
    assert service["class"] == "Service_HTTP"
    assert service["virtualAddresses"] == ["198.51.100.10"]
    assert service["virtualPort"] == 80
    assert service["pool"] == decl.Names.pool(pool.pool_id)
    body = app[decl.Names.pool(pool.pool_id)]
    assert body["loadBalancingMode"] == "round-robin"
    assert [(m["serverAddresses"], m["servicePort"], m["adminState"]) for m in body["members"]] \
        == [(["192.0.2.11"], 8080, "enable"), (["192.0.2.12"], 8080, "enable")]
    hm = app[decl.Names.monitor(pool.healthmonitor.healthmonitor_id)]
    assert body["monitors"] == [{"use": decl.Names.monitor(pool.healthmonitor.healthmonitor_id)}]
    assert hm["monitorType"] == "http"
    assert hm["send"] == "GET /healthz HTTP/1.0\\r\\n\\r\\n"
    assert hm["receive"] == "HTTP/1\\.[01] (200)"
    assert (hm["interval"], hm["timeout"]) == (5, 16)


@pytest.mark.parametrize("protocol,cls", [
    ("HTTP", "Service_HTTP"), ("TCP", "Service_TCP"), ("HTTPS", "Service_L4"),
    ("UDP", "Service_UDP")])
def test_listener_protocols(protocol: str, cls: str) -> None:
    pool_protocol = "UDP" if protocol == "UDP" else ("HTTPS" if protocol == "HTTPS" else protocol)
    p = g.pool(pool_protocol)
    lst = g.listener(protocol, 443, p, connection_limit=1000)
    service = app_of(g.loadbalancer([lst], [p]))[decl.Names.service(lst.listener_id)]
    assert service["class"] == cls
    assert service["maxConnections"] == 1000


@pytest.mark.parametrize("protocol,pool_protocol,monitor", [
    ("UDP", "UDP", "UDP-CONNECT"), ("HTTPS", "HTTPS", "TCP"), ("TCP", "TCP", "PING")])
def test_source_ip_persistence_on_layer4_services(protocol: str, pool_protocol: str,
                                                  monitor: str) -> None:
    p = g.pool(pool_protocol, session_persistence={"type": "SOURCE_IP"},
               healthmonitor=g.monitor(monitor))
    lst = g.listener(protocol, 443, p)
    service = app_of(g.loadbalancer([lst], [p]))[decl.Names.service(lst.listener_id)]
    assert service["persistenceMethods"] == ["source-address"]


def test_ipv6_vip_and_members() -> None:
    p = g.pool(members=[g.member("2001:db8::11")])
    lb = g.loadbalancer([g.listener(default_pool=p)], [p], vip="2001:db8::10")
    app = app_of(lb)
    assert app[decl.Names.service(lb.listeners[0].listener_id)]["virtualAddresses"] \
        == ["2001:db8::10"]


def test_listener_without_pool_and_disabled_listener() -> None:
    lst = g.listener(admin_state_up=False)
    service = app_of(g.loadbalancer([lst]))[decl.Names.service(lst.listener_id)]
    assert "pool" not in service and service["enable"] is False


def test_weights_backup_and_admin_state() -> None:
    members = [g.member("192.0.2.1", weight=10), g.member("192.0.2.2", weight=0),
               g.member("192.0.2.3", backup=True), g.member("192.0.2.4", admin_state_up=False)]
    p = g.pool(members=members, lb_algorithm="LEAST_CONNECTIONS")
    body = app_of(g.loadbalancer([g.listener(default_pool=p)], [p]))[decl.Names.pool(p.pool_id)]
    assert body["loadBalancingMode"] == "ratio-least-connections-member"
    got = [(m["ratio"], m["adminState"], m["priorityGroup"]) for m in body["members"]]
    assert got == [(10, "enable", 2), (1, "disable", 2), (1, "enable", 1), (1, "disable", 2)]


def test_disabled_load_balancer_and_pool() -> None:
    p = g.pool(admin_state_up=False)
    lb = g.loadbalancer([], [p])
    lb.admin_state_up = False
    app = app_of(lb)
    assert app["enable"] is False
    assert [m["adminState"] for m in app[decl.Names.pool(p.pool_id)]["members"]] == ["disable"]


def test_large_weights_scale_to_ratio() -> None:
    p = g.pool(members=[g.member("192.0.2.1", weight=256), g.member("192.0.2.2", weight=128)])
    body = app_of(g.loadbalancer([], [p]))[decl.Names.pool(p.pool_id)]
    assert [m["ratio"] for m in body["members"]] == [100, 50]


@pytest.mark.parametrize("kind,as3", [("HTTP", "http"), ("HTTPS", "https"), ("TCP", "tcp"),
                                      ("PING", "icmp"), ("UDP-CONNECT", "udp")])
def test_monitor_types(kind: str, as3: str) -> None:
    p = g.pool("UDP" if kind == "UDP-CONNECT" else "HTTP", healthmonitor=g.monitor(kind))
    app = app_of(g.loadbalancer([], [p]))
    assert app[decl.Names.monitor(p.healthmonitor.healthmonitor_id)]["monitorType"] == as3


def test_http11_monitor_with_host_and_code_ranges() -> None:
    hm = g.monitor("HTTP", http_version=1.1, domain_name="health.example.com",
                   expected_codes="200-202,204", http_method="HEAD", url_path="/a b`c")
    p = g.pool(healthmonitor=hm)
    body = app_of(g.loadbalancer([], [p]))[decl.Names.monitor(hm.healthmonitor_id)]
    assert body["send"] == ("HEAD /a%20b%60c HTTP/1.1\\r\\nHost: health.example.com\\r\\n"
                            "Connection: Close\\r\\n\\r\\n")
    assert body["receive"] == "HTTP/1\\.[01] (200|201|202|204)"


@pytest.mark.parametrize("persistence,algorithm,expected", [
    ({"type": "SOURCE_IP"}, "ROUND_ROBIN", ["source-address"]),
    (None, "SOURCE_IP", ["source-address"]),
    ({"type": "HTTP_COOKIE"}, "ROUND_ROBIN", ["cookie"]),
    (None, "ROUND_ROBIN", []),
])
def test_persistence(persistence: Any, algorithm: str, expected: list[str]) -> None:
    p = g.pool(session_persistence=persistence, lb_algorithm=algorithm)
    lst = g.listener(default_pool=p)
    service = app_of(g.loadbalancer([lst], [p]))[decl.Names.service(lst.listener_id)]
    assert service["persistenceMethods"] == expected


def test_app_cookie_persistence() -> None:
    p = g.pool(session_persistence={"type": "APP_COOKIE", "cookie_name": "JSESSIONID"})
    lst = g.listener(default_pool=p)
    app = app_of(g.loadbalancer([lst], [p]))
    persist = app[f"persist_{decl.Names.safe_id(p.pool_id)}"]
    assert (persist["cookieMethod"], persist["cookieName"]) == ("hash", "JSESSIONID")
    assert app[decl.Names.service(lst.listener_id)]["persistenceMethods"] \
        == [{"use": f"persist_{decl.Names.safe_id(p.pool_id)}"}]


def test_l7_policies_in_position_order() -> None:
    default, api = g.pool(), g.pool(members=[g.member("192.0.2.50")])
    policies = [
        g.policy("REDIRECT_TO_URL", [g.rule("HOST_NAME", "EQUAL_TO", "old.example.com")],
                 position=2, redirect_url="https://new.example.com/", redirect_http_code=301),
        g.policy("REDIRECT_TO_POOL", [g.rule("PATH", "STARTS_WITH", "/api"),
                                      g.rule("HEADER", "CONTAINS", "beta", key="X-Channel")],
                 position=1, redirect_pool_id=api.pool_id),
        g.policy("REJECT", [g.rule("FILE_TYPE", "EQUAL_TO", "exe", invert=True)], position=3),
        g.policy("REDIRECT_PREFIX", [g.rule("COOKIE", "ENDS_WITH", "x", key="session")],
                 position=4, redirect_prefix="https://[x]$y.example.com"),
        g.policy("REJECT", [], position=5),  # no rules: never matches, not declared
    ]
    lst = g.listener(default_pool=default, l7policies=policies)
    app = app_of(g.loadbalancer([lst], [default, api]))
    service = app[decl.Names.service(lst.listener_id)]
    policy = app[service["policyEndpoint"]]
    assert policy["strategy"] == "first-match"
    rules = policy["rules"]
    assert [r["name"] for r in rules] == [
        f"l7policy_{decl.Names.safe_id(p.l7policy_id)}" for p in
        (policies[1], policies[0], policies[2], policies[3])]
    assert rules[0]["actions"] == [{"type": "forward", "event": "request",
                                    "select": {"pool": {"use": decl.Names.pool(api.pool_id)}}}]
    assert rules[0]["conditions"][1] == {
        "type": "httpHeader", "event": "request", "name": "X-Channel",
        "all": {"operand": "contains", "values": ["beta"], "caseSensitive": True}}
    assert rules[1]["actions"][0]["location"] == "https://new.example.com/"
    assert rules[1]["actions"][0]["code"] == 301
    assert rules[2]["conditions"][0]["extension"]["operand"] == "does-not-equal"
    assert rules[3]["actions"][0]["location"] \
        == "tcl:https://%5Bx%5D%24y.example.com[HTTP::uri]"


def test_terminated_https_with_sni_client_auth_and_x_forwarded_for() -> None:
    pki = build_pki()
    leaf = {"certificate": pki.leaf_pem, "private_key": pki.leaf_key_pem,
            "intermediates": [pki.chain_pem]}
    other = {"certificate": cert_pem(pki.rsa_leaf), "private_key": "-----BEGIN PRIVATE KEY-----"
             "\nMIIB\n-----END PRIVATE KEY-----", "intermediates": []}
    p = g.pool()
    lst = g.listener("TERMINATED_HTTPS", 443, p, default_tls_container_data=leaf,
                     sni_container_data=[other], client_authentication="MANDATORY",
                     client_ca_tls_container_data=cert_pem(pki.ca).encode(),
                     insert_headers={"X-Forwarded-For": "true"})
    app = app_of(g.loadbalancer([lst], [p]))
    service = app[decl.Names.service(lst.listener_id)]
    assert service["class"] == "Service_HTTPS" and service["redirect80"] is False
    tls = app[service["serverTLS"]]
    assert tls["authenticationMode"] == "require"
    first = app[tls["certificates"][0]["certificate"]]
    assert first["certificate"] == pki.leaf_pem.strip()
    assert first["privateKey"] == pki.leaf_key_pem.strip()
    assert first["chainCA"] == pki.chain_pem.strip()
    assert len(tls["certificates"]) == 2
    assert app[tls["authenticationTrustCA"]]["class"] == "CA_Bundle"
    assert app[service["profileHTTP"]["use"]] == {"class": "HTTP_Profile", "xForwardedFor": True}


def test_reencryption_to_members() -> None:
    pki = build_pki()
    p = g.pool("HTTPS", tls_enabled=True, ca_tls_container_ref="ca-ref",
               ca_tls_container_data=cert_pem(pki.ca).encode())
    lst = g.listener("HTTP", 80, p)
    app = app_of(g.loadbalancer([lst], [p]))
    client = app[app[decl.Names.service(lst.listener_id)]["clientTLS"]]
    assert client["class"] == "TLS_Client" and client["validateCertificate"] is True


def test_several_load_balancers_in_one_tenant() -> None:
    a, b = g.simple_lb(), g.simple_lb(vip="198.51.100.11")
    tenant = declare(a, b)
    assert {decl.Names.app(a.loadbalancer_id), decl.Names.app(b.loadbalancer_id)} \
        <= set(tenant)


@pytest.mark.parametrize("build", [
    lambda: g.loadbalancer([g.listener("SCTP", 80)]),
    lambda: g.loadbalancer([g.listener("PROMETHEUS", 80)]),
    lambda: g.loadbalancer([], [g.pool("PROXY")]),
    lambda: g.loadbalancer([], [g.pool(lb_algorithm="SOURCE_IP_PORT")]),
    lambda: g.loadbalancer([], [g.pool(healthmonitor=g.monitor("TLS-HELLO"))]),
    lambda: g.loadbalancer([], [g.pool(members=[g.member(monitor_port=9000)])]),
    lambda: g.loadbalancer([g.listener(allowed_cidrs=["10.0.0.0/8"])]),
    lambda: g.loadbalancer([g.listener(insert_headers={"X-Forwarded-Port": "true"})]),
    lambda: g.loadbalancer([g.listener("TCP", l7policies=[g.policy()])]),
    lambda: g.loadbalancer([g.listener(l7policies=[g.policy(rules=[
        g.rule("PATH", "REGEX", "^/a")])])]),
    lambda: g.loadbalancer([g.listener(l7policies=[g.policy(rules=[
        g.rule("SSL_CONN_HAS_CERT", "EQUAL_TO", "True")])])]),
    lambda: g.loadbalancer([], [g.pool(session_persistence={
        "type": "APP_COOKIE", "cookie_name": "a b"})]),
])
def test_what_as3_cannot_express_is_refused(build: Any) -> None:
    with pytest.raises(decl.Unsupported):
        decl.application(build())


def test_schema_rejects_what_as3_rejects() -> None:
    lb = g.simple_lb()
    body = decl.declaration("Project_x", {decl.Names.app(lb.loadbalancer_id):
                                          decl.application(lb)})
    validate(body)
    app = body["declaration"]["Project_x"][decl.Names.app(lb.loadbalancer_id)]
    app[decl.Names.pool(lb.pools[0].pool_id)]["members"][0]["servicePort"] = 70000
    with pytest.raises(SchemaError, match="servicePort"):
        validate(body)
    del app[decl.Names.pool(lb.pools[0].pool_id)]["members"][0]["servicePort"]
    with pytest.raises(SchemaError):
        validate(body)


def test_f5_formats_are_checked() -> None:
    lb = g.simple_lb()
    body = decl.declaration("Project_x", {decl.Names.app(lb.loadbalancer_id):
                                          decl.application(lb)})
    service = body["declaration"]["Project_x"][decl.Names.app(lb.loadbalancer_id)][
        decl.Names.service(lb.listeners[0].listener_id)]
    service["virtualAddresses"] = ["198.51.100.10%2/32"]
    validate(body)
    service["virtualAddresses"] = ["not-an-address"]
    with pytest.raises(SchemaError):
        validate(body)
