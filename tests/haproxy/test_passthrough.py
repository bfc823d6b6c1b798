"""HTTPS pass-through: an HTTPS listener with an HTTPS pool forwards TLS untouched, so the
client sees each backend's own certificate and the backends answer over TLS."""

from __future__ import annotations

import collections
import socket
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID

from tests.certs.pki import cert_pem, certificate, key_pem, new_key
from tests.haproxy.helpers import free_vip, listener, loadbalancer, member, pool


class TlsBackend:
    """An HTTPS server on 127.0.0.1 whose certificate's CN and body are its name."""

    def __init__(self, name: str, tmp: Path) -> None:
        self.name = name
        key = new_key()
        (tmp / f"{name}.pem").write_text(cert_pem(certificate(key, cn=name)) + key_pem(key))
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(tmp / f"{name}.pem")
        backend = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                body = backend.name.encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True)
        self.port = int(self.server.server_address[1])
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def tls_backends(tmp_path: Path) -> Iterator[list[TlsBackend]]:
    started = [TlsBackend("alpha", tmp_path), TlsBackend("beta", tmp_path)]
    yield started
    for backend in started:
        backend.stop()


def _fetch(vip: str, port: int) -> tuple[str, str]:
    """(CN of the certificate the client saw, body) for one request on a new connection."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with socket.create_connection((vip, port), timeout=5) as raw, \
            ctx.wrap_socket(raw, server_hostname="lb.example") as tls:
        der = tls.getpeercert(binary_form=True)
        tls.sendall(b"GET / HTTP/1.0\r\nHost: lb.example\r\n\r\n")
        data = b""
        while chunk := tls.recv(4096):
            data += chunk
    assert der is not None
    cn = x509.load_der_x509_certificate(der).subject.get_attributes_for_oid(
        NameOID.COMMON_NAME)[0].value
    return str(cn), data.split(b"\r\n\r\n", 1)[1].decode()


def test_https_listener_passes_tls_through_to_each_member(converger: Any,
                                                          tls_backends: list[TlsBackend]) -> None:
    vip, port = free_vip()
    p = pool([member(b) for b in tls_backends], protocol="HTTPS")  # type: ignore[arg-type]
    lb = loadbalancer(vip, [listener(port, p, protocol="HTTPS")], [p])
    report = converger.converge(lb.loadbalancer_id, lb)
    assert report["loadbalancers"][0]["provisioning_status"] == "ACTIVE"
    seen = collections.Counter(_fetch(vip, port) for _ in range(10))
    # The certificate is the member's own (no termination at HAProxy) and matches its body.
    assert seen == {("alpha", "alpha"): 5, ("beta", "beta"): 5}
