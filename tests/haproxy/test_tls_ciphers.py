"""TLS 1.3 suites in Octavia's ``tls_ciphers`` reach a real HAProxy: a listener's as the bind's
``ciphersuites``, a pool's as its servers' (``ciphers`` alone skips TLS 1.3 names, so the
choice was silently ignored and every default suite offered). The NGINX tests reuse the
client and member defined here."""

from __future__ import annotations

import socket
import ssl
from pathlib import Path
from typing import Any

from tests.certs.pki import cert_pem, certificate, key_pem, new_key
from tests.haproxy.helpers import free_vip, get, listener, loadbalancer, member, pool
from tests.haproxy.test_passthrough import TlsBackend


def negotiated(vip: str, port: int) -> tuple[str, str]:
    """(TLS version, cipher) a Python client with OpenSSL's defaults gets from the VIP. Such a
    client prefers TLS_AES_256_GCM_SHA384, so another suite means the server's list held."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with socket.create_connection((vip, port), timeout=5) as raw:
        with ctx.wrap_socket(raw) as tls:
            cipher = tls.cipher()
            assert cipher is not None
            return cipher[1], cipher[0]


class CipherBackend(TlsBackend):
    """An HTTPS member whose body is the TLS cipher the data plane negotiated with it (Python's
    server prefers TLS_AES_256_GCM_SHA384 among what it is offered)."""

    def __init__(self, name: str, tmp: Path) -> None:
        super().__init__(name, tmp)
        handler: Any = self.server.RequestHandlerClass
        parent_get = handler.do_GET

        def do_get(request: Any) -> None:
            self.name = request.connection.cipher()[0]
            parent_get(request)

        handler.do_GET = do_get


def test_listener_tls13_suites_are_enforced(converger: Any, backends: Any) -> None:
    key = new_key()
    bundle = {"certificate": cert_pem(certificate(key, cn="lb.example")),
              "private_key": key_pem(key)}
    vip, port = free_vip()
    p = pool([member(backends("alpha"))])
    lst = listener(port, p, protocol="TERMINATED_HTTPS", default_tls_container_data=bundle,
                   tls_versions=["TLSv1.2", "TLSv1.3"],
                   tls_ciphers="ECDHE+AESGCM:TLS_CHACHA20_POLY1305_SHA256")
    lb = loadbalancer(vip, [lst], [p])
    report = converger.converge(lb.loadbalancer_id, lb)
    assert report["loadbalancers"][0]["provisioning_status"] == "ACTIVE"
    assert negotiated(vip, port) == ("TLSv1.3", "TLS_CHACHA20_POLY1305_SHA256")
    # TLS 1.3 suites only, on a TLSv1.3-only listener: no ``ciphers`` left to fail the load.
    lst.tls_versions, lst.tls_ciphers = ["TLSv1.3"], "TLS_AES_128_GCM_SHA256"
    report = converger.converge(lb.loadbalancer_id, lb)
    assert report["loadbalancers"][0]["provisioning_status"] == "ACTIVE"
    assert negotiated(vip, port) == ("TLSv1.3", "TLS_AES_128_GCM_SHA256")


def test_pool_tls13_suites_are_enforced(converger: Any, tmp_path: Path) -> None:
    backend = CipherBackend("alpha", tmp_path)
    try:
        vip, port = free_vip()
        p = pool([member(backend)], tls_enabled=True,  # type: ignore[arg-type]
                 tls_versions=["TLSv1.2", "TLSv1.3"],
                 tls_ciphers="ECDHE+AESGCM:TLS_AES_128_GCM_SHA256")
        lb = loadbalancer(vip, [listener(port, p)], [p])
        report = converger.converge(lb.loadbalancer_id, lb)
        assert report["loadbalancers"][0]["provisioning_status"] == "ACTIVE"
        assert get(vip, port)[1] == "TLS_AES_128_GCM_SHA256"
    finally:
        backend.stop()
