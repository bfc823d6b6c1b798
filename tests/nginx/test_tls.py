"""TERMINATED_HTTPS on NGINX with Python's ssl client: the default certificate, SNI
certificates by name, TLS versions, HSTS, client authentication with a CA and the client
certificate headers towards members; and HTTPS pass-through forwarding TLS untouched."""

from __future__ import annotations

import collections
import socket
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from octavia_lib.api.drivers import data_models as dm

from tests.certs.pki import cert_pem, certificate, key_pem, new_key
from tests.haproxy.helpers import free_vip, listener, loadbalancer, member, pool
from tests.haproxy.test_passthrough import TlsBackend
from tests.haproxy.test_tls_ciphers import CipherBackend, negotiated


def bundle(cn: str, dns: list[str] | None = None,
           issuer: tuple[Any, x509.Certificate] | None = None) -> dict[str, str]:
    key = new_key()
    return {"certificate": cert_pem(certificate(key, cn=cn, dns=dns, issuer=issuer)),
            "private_key": key_pem(key)}


def handshake(vip: str, port: int, server_name: str | None = None,
              context: ssl.SSLContext | None = None, request: bytes = b"GET / HTTP/1.0\r\n\r\n"
              ) -> tuple[x509.Certificate, bytes]:
    ctx = context or ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with socket.create_connection((vip, port), timeout=5) as raw:
        with ctx.wrap_socket(raw, server_hostname=server_name) as tls:
            der = tls.getpeercert(binary_form=True)
            tls.sendall(request)
            data = b""
            while chunk := tls.recv(65536):
                data += chunk
    return x509.load_der_x509_certificate(der), data


def cn(cert: x509.Certificate) -> str:
    return str(cert.subject.get_attributes_for_oid(x509.oid.NameOID.COMMON_NAME)[0].value)


class HeaderEcho:
    """An HTTP member answering with the headers it received, one per line."""

    def __init__(self) -> None:
        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def do_GET(self) -> None:  # noqa: N802
                body = "".join(f"{k.lower()}: {v}\n" for k, v in self.headers.items()).encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = int(self.server.server_address[1])
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def member(self) -> dm.Member:
        return dm.Member(member_id="00000000-0000-0000-0000-0000000000e1", address="127.0.0.1",
                         protocol_port=self.port, weight=1, admin_state_up=True, backup=False)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def header_echo():
    echo = HeaderEcho()
    yield echo
    echo.stop()


def tls_lb(member_: dm.Member, **listener_kw: Any) -> tuple[dm.LoadBalancer, str, int]:
    vip, port = free_vip()
    p = pool([member_])
    values: dict[str, Any] = dict(protocol="TERMINATED_HTTPS",
                                  default_tls_container_data=bundle("default.example"),
                                  tls_versions=["TLSv1.2", "TLSv1.3"],
                                  alpn_protocols=["h2", "http/1.1", "http/1.0"])
    values.update(listener_kw)
    return loadbalancer(vip, [listener(port, p, **values)], [p]), vip, port


def test_default_and_sni_certificates_and_hsts(nginx, header_echo):
    lb, vip, port = tls_lb(header_echo.member(), sni_container_data=[
        bundle("one", dns=["one.example", "*.one.example"]), bundle("two.example")],
        hsts_max_age=3600, hsts_include_subdomains=True)
    report = nginx.converge(lb.loadbalancer_id, lb)
    assert {r["provisioning_status"] for r in report["loadbalancers"]} == {"ACTIVE"}
    cert, data = handshake(vip, port)
    assert cn(cert) == "default.example"
    assert data.startswith(b"HTTP/1.1 200")
    assert b"strict-transport-security: max-age=3600; includesubdomains;" in data.lower()
    assert cn(handshake(vip, port, "one.example")[0]) == "one"
    assert cn(handshake(vip, port, "www.one.example")[0]) == "one"
    assert cn(handshake(vip, port, "two.example")[0]) == "two.example"
    assert cn(handshake(vip, port, "nobody.example")[0]) == "default.example"
    # Private keys live only in the load balancer's state directory, mode 0600.
    pems = sorted(Path(nginx.instance(lb.loadbalancer_id).dir).glob("*.pem"))
    assert len(pems) == 3 and all(p.stat().st_mode & 0o777 == 0o600 for p in pems)


def test_tls_versions_are_enforced(nginx, header_echo):
    lb, vip, port = tls_lb(header_echo.member(), tls_versions=["TLSv1.3"])
    nginx.converge(lb.loadbalancer_id, lb)
    old = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    old.maximum_version = ssl.TLSVersion.TLSv1_2
    with pytest.raises(ssl.SSLError):
        handshake(vip, port, context=old)
    assert handshake(vip, port)[1].startswith(b"HTTP/1.1 200")


def test_tls13_suites_in_tls_ciphers_are_enforced(nginx, header_echo):
    """The TLS 1.3 suites of a listener's ``tls_ciphers`` are the only ones offered
    (``ssl_ciphers`` alone skips TLS 1.3 names: ``ssl_conf_command Ciphersuites``)."""
    lb, vip, port = tls_lb(header_echo.member(),
                           tls_ciphers="ECDHE+AESGCM:TLS_CHACHA20_POLY1305_SHA256")
    report = nginx.converge(lb.loadbalancer_id, lb)
    assert {r["provisioning_status"] for r in report["loadbalancers"]} == {"ACTIVE"}
    assert negotiated(vip, port) == ("TLSv1.3", "TLS_CHACHA20_POLY1305_SHA256")
    old = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    old.maximum_version = ssl.TLSVersion.TLSv1_2
    assert handshake(vip, port, context=old)[1].startswith(b"HTTP/1.1 200")
    # TLS 1.3 suites only, on a TLSv1.3-only listener: no ssl_ciphers line, nginx -t passes.
    lb.listeners[0].tls_versions = ["TLSv1.3"]
    lb.listeners[0].tls_ciphers = "TLS_AES_128_GCM_SHA256"
    report = nginx.converge(lb.loadbalancer_id, lb)
    assert {r["provisioning_status"] for r in report["loadbalancers"]} == {"ACTIVE"}
    assert negotiated(vip, port) == ("TLSv1.3", "TLS_AES_128_GCM_SHA256")


def test_tls13_suites_towards_members_are_enforced(nginx, tmp_path):
    """A pool's TLS 1.3 suites reach ``proxy_ssl_conf_command``: the member (which prefers
    TLS_AES_256_GCM_SHA384) negotiates the one suite NGINX offers."""
    backend = CipherBackend("alpha", tmp_path)
    try:
        vip, port = free_vip()
        p = pool([member(backend)], tls_enabled=True, tls_versions=["TLSv1.2", "TLSv1.3"],
                 tls_ciphers="ECDHE+AESGCM:TLS_AES_128_GCM_SHA256")
        lb = loadbalancer(vip, [listener(port, p)], [p])
        report = nginx.converge(lb.loadbalancer_id, lb)
        assert {r["provisioning_status"] for r in report["loadbalancers"]} == {"ACTIVE"}
        from tests.haproxy.helpers import get

        assert get(vip, port)[1] == "TLS_AES_128_GCM_SHA256"
    finally:
        backend.stop()


def test_client_authentication_and_certificate_headers(nginx, header_echo):
    ca_key = new_key()
    ca = certificate(ca_key, cn="Client CA", ca=True)
    lb, vip, port = tls_lb(
        header_echo.member(), client_ca_tls_container_data=cert_pem(ca),
        client_authentication="MANDATORY",
        insert_headers={"X-SSL-Client-Verify": "true", "X-SSL-Client-CN": "true",
                        "X-SSL-Client-Has-Cert": "true", "X-Forwarded-Proto": "true"})
    nginx.converge(lb.loadbalancer_id, lb)
    # Without a client certificate NGINX answers 400 (TLS 1.3 verifies after the handshake).
    assert handshake(vip, port)[1].startswith(b"HTTP/1.1 400")
    client = bundle("alice", issuer=(ca_key, ca))
    tmp = Path(nginx.instance(lb.loadbalancer_id).dir).parent / "client.pem"
    tmp.write_text(client["certificate"] + client["private_key"])
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_cert_chain(tmp)
    _, data = handshake(vip, port, context=ctx)
    assert data.startswith(b"HTTP/1.1 200")
    headers = data.decode().split("\r\n\r\n", 1)[1]
    assert "x-ssl-client-verify: SUCCESS" in headers
    assert "x-ssl-client-cn: alice" in headers
    assert "x-ssl-client-has-cert: true" in headers
    assert "x-forwarded-proto: https" in headers


def test_https_pass_through_forwards_tls_untouched(nginx, tmp_path):
    alpha, beta = TlsBackend("alpha", tmp_path), TlsBackend("beta", tmp_path)
    try:
        vip, port = free_vip()
        p = pool([member(alpha), member(beta)], protocol="HTTPS")
        lb = loadbalancer(vip, [listener(port, p, protocol="HTTPS")], [p])
        nginx.converge(lb.loadbalancer_id, lb)
        seen = collections.Counter(cn(handshake(vip, port)[0]) for _ in range(4))
        assert seen == {"alpha": 2, "beta": 2}
    finally:
        alpha.stop()
        beta.stop()


def test_re_encryption_to_members(nginx, tmp_path):
    alpha, beta = TlsBackend("alpha", tmp_path), TlsBackend("beta", tmp_path)
    try:
        vip, port = free_vip()
        p = pool([member(alpha), member(beta)], tls_enabled=True,
                 tls_versions=["TLSv1.2", "TLSv1.3"], alpn_protocols=["http/1.1"])
        lb = loadbalancer(vip, [listener(port, p)], [p])
        nginx.converge(lb.loadbalancer_id, lb)
        from tests.haproxy.helpers import get

        assert collections.Counter(get(vip, port)[1] for _ in range(4)) == {
            "alpha": 2, "beta": 2}
        # A client certificate towards the members is offered (they do not ask for one).
        p.tls_container_data = bundle("statera-client")
        nginx.converge(lb.loadbalancer_id, lb)
        assert {get(vip, port)[1] for _ in range(4)} == {"alpha", "beta"}
    finally:
        alpha.stop()
        beta.stop()


def test_driver_refuses_what_nginx_cannot_do_with_501():
    from octavia_lib.api.drivers import exceptions

    from statera.providers.nginx.driver import NginxProviderDriver

    driver = NginxProviderDriver()
    refused = [
        dm.Pool(pool_id="p", protocol="HTTP", tls_enabled=True, ca_tls_container_ref="ca"),
        dm.Pool(pool_id="p", protocol="HTTP", session_persistence={"type": "HTTP_COOKIE"}),
        dm.Pool(pool_id="p", protocol="PROXY"),
        dm.Pool(pool_id="p", protocol="HTTP", tls_enabled=True, alpn_protocols=["h2"]),
    ]
    for obj in refused:
        with pytest.raises(exceptions.UnsupportedOptionError):
            driver.pool_create(obj)
    with pytest.raises(exceptions.UnsupportedOptionError):
        driver.listener_create(dm.Listener(listener_id="l", protocol="SCTP"))
    with pytest.raises(exceptions.UnsupportedOptionError):
        driver.l7rule_create(dm.L7Rule(l7rule_id="r", type="COOKIE", key="a-b",
                                       compare_type="EQUAL_TO", value="x"))
    with pytest.raises(exceptions.UnsupportedOptionError):
        driver.l7policy_create(dm.L7Policy(l7policy_id="x", action="REDIRECT_TO_URL",
                                           redirect_url="http://x/$host"))
    with pytest.raises(exceptions.UnsupportedOptionError):
        driver.listener_create(dm.Listener(listener_id="l", protocol="HTTP",
                                           timeout_tcp_inspect=100))
    driver.pool_create(dm.Pool(pool_id="p", protocol="UDP", lb_algorithm="SOURCE_IP_PORT"))
    driver.health_monitor_create(dm.HealthMonitor(healthmonitor_id="h", type="UDP-CONNECT"))


def test_driver_takes_the_active_standby_topology_flavor():
    from octavia_lib.api.drivers import exceptions

    from statera.providers.nginx.driver import NginxProviderDriver

    driver = NginxProviderDriver()
    assert set(driver.get_supported_flavor_metadata()) == {"loadbalancer_topology"}
    driver.validate_flavor({"loadbalancer_topology": "ACTIVE_STANDBY"})
    for bad in ({"loadbalancer_topology": "ACTIVE_ACTIVE"}, {"workers": 2}):
        with pytest.raises(exceptions.UnsupportedOptionError):
            driver.validate_flavor(bad)
