"""TLS end to end: a real ``statera serve`` with the haproxy provider, certificates uploaded
through ``POST /v2/statera/certificates``, listeners and pools created through the Octavia API,
real HAProxy processes, and Python's ``ssl`` module as the client on loopback.

One load balancer carries every TLS listener (one HAProxy process, one reload per write):

- ``sni``: TERMINATED_HTTPS, default certificate + an SNI certificate, X-Forwarded-Proto and
  HSTS, two plain HTTP backends;
- ``v13``: TLSv1.3 only; ``v12``: TLSv1.2 only with one cipher; ``alpn``: ALPN ``http/1.1``;
- ``mtls``: client authentication MANDATORY with a client CA and a CRL, client-certificate
  headers inserted;
- ``snionly``: two SNI certificates and no default one;
- ``reenc`` / ``badca`` / ``nocrt``: plain HTTP listeners whose pools re-encrypt to HTTPS
  backends that require a client certificate: one pool shows its ``tls_container_ref`` and
  verifies the backends with the right CA, one with a CA that did not sign them, one has no
  client certificate to show.

Plus what must never happen: private keys in an API answer or the server log, key files
readable by others or left behind, bad TLS input accepted (each a 400 with Octavia's body and
nothing created), and a HAProxy outliving its load balancer or the server.
"""

from __future__ import annotations

import datetime as dt
import http.client
import ipaddress
import json
import os
import random
import shutil
import signal
import socket
import ssl
import stat
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import NameOID

from statera.providers.haproxy.process import resolve_binary
from tests.certs.pki import cert_pem, crl_pem, key_pem, new_key
from tests.e2e.conftest import LOOPBACK_SUBNET, Server, wait_for

HAPROXY = resolve_binary("haproxy")
pytestmark = [
    pytest.mark.haproxy, pytest.mark.e2e,
    pytest.mark.skipif(shutil.which(HAPROXY) is None, reason="haproxy is not installed"),
]

NETWORK_ID = "7b1c6e3a-1d5e-4f5e-9a57-3c1f00000001"
PROJECT = "tls-project"
OTHER_PROJECT = "tls-other-project"
NOW = dt.datetime.now(dt.UTC)
PORTS = {"sni": 8443, "v13": 8444, "v12": 8445, "alpn": 8446, "mtls": 8447, "snionly": 8448,
         "reenc": 8080, "badca": 8081, "nocrt": 8082}
ONE_CIPHER = "ECDHE-RSA-AES128-GCM-SHA256"
HSTS_AGE = 31536000


# --- certificates ----------------------------------------------------------------------------

def _cert(key: Any, cn: str, issuer: tuple[Any, x509.Certificate] | None = None, *,
          ca: bool = False, dns: tuple[str, ...] = (), ips: tuple[str, ...] = ()
          ) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Statera TLS e2e"),
                      x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    signer, issuer_name = (issuer[0], issuer[1].subject) if issuer else (key, name)
    builder = (x509.CertificateBuilder().subject_name(name).issuer_name(issuer_name)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(NOW - dt.timedelta(days=1))
               .not_valid_after(NOW + dt.timedelta(days=7))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if ca:
        builder = builder.add_extension(x509.KeyUsage(
            digital_signature=True, content_commitment=False, key_encipherment=False,
            data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
            encipher_only=False, decipher_only=False), critical=True)
    sans: list[x509.GeneralName] = [x509.DNSName(d) for d in dns]
    sans += [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return builder.sign(signer, hashes.SHA256())


@dataclass
class Pki:
    """Everything the tests need, as PEM text, plus files for the ``ssl`` clients."""

    ca: str
    ca_file: Path
    servers: dict[str, tuple[str, str]]  # name -> (certificate PEM, key PEM)
    clients: dict[str, tuple[Path, Path]]  # name -> (certificate file, key file)
    crl: str
    other_ca: str
    other_crl: str
    backend_ctx: ssl.SSLContext

    def keys(self) -> list[str]:
        return [key for _, key in self.servers.values()]


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    out = tmp_path_factory.mktemp("pki")
    ca_key = new_key()
    ca = _cert(ca_key, "Statera TLS e2e CA", ca=True)
    other_key = new_key()
    other_ca = _cert(other_key, "Some other CA", ca=True)
    servers: dict[str, tuple[str, str]] = {}
    # RSA server keys: the default listener ciphers for TLS 1.2 (OWASP suite B) are all RSA.
    for name in ("alpha", "beta"):
        key = new_key("rsa")
        leaf = _cert(key, f"{name}.example.test", (ca_key, ca), dns=(f"{name}.example.test",))
        servers[name] = (cert_pem(leaf), key_pem(key))
    # What HAProxy shows HTTPS members that ask for a client certificate.
    key = new_key()
    servers["to-members"] = (cert_pem(_cert(key, "haproxy-to-members", (ca_key, ca))),
                             key_pem(key))
    backend_key = new_key()
    backend = _cert(backend_key, "backend.example.test", (ca_key, ca),
                    dns=("backend.example.test",), ips=("127.0.0.1",))
    ca_file = out / "ca.pem"
    ca_file.write_text(cert_pem(ca))
    clients: dict[str, tuple[Path, Path]] = {}
    revoked = 0
    for name, issuer in (("good", (ca_key, ca)), ("revoked", (ca_key, ca)),
                         ("stranger", (other_key, other_ca))):
        key = new_key()
        leaf = _cert(key, f"client-{name}", issuer)
        if name == "revoked":
            revoked = leaf.serial_number
        cert_file, key_file = out / f"client-{name}.pem", out / f"client-{name}.key"
        cert_file.write_text(cert_pem(leaf))
        key_file.write_text(key_pem(key))
        clients[name] = (cert_file, key_file)
    (out / "backend.pem").write_text(cert_pem(backend) + key_pem(backend_key))
    backend_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    backend_ctx.load_cert_chain(out / "backend.pem")
    backend_ctx.load_verify_locations(ca_file)
    backend_ctx.verify_mode = ssl.CERT_REQUIRED
    return Pki(ca=cert_pem(ca), ca_file=ca_file, servers=servers, clients=clients,
               crl=crl_pem(ca_key, ca, [revoked]), other_ca=cert_pem(other_ca),
               other_crl=crl_pem(other_key, other_ca, []), backend_ctx=backend_ctx)


# --- backends --------------------------------------------------------------------------------

class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    tls: ssl.SSLContext | None = None

    def finish_request(self, request: Any, client_address: Any) -> None:
        # The TLS handshake in the request's thread, so one slow client blocks nobody.
        if self.tls is not None:
            request = self.tls.wrap_socket(request, server_side=True)
        super().finish_request(request, client_address)

    def handle_error(self, request: Any, client_address: Any) -> None:
        return None


class Backend:
    """A loopback HTTP (or HTTPS) server answering ``{"name", "tls", "headers"}`` as JSON."""

    def __init__(self, name: str, tls: ssl.SSLContext | None = None) -> None:
        self.name = name
        backend = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                tls = isinstance(self.connection, ssl.SSLSocket)
                peer = self.connection.getpeercert() if tls else None  # type: ignore[attr-defined]
                body = json.dumps({
                    "name": backend.name,
                    "tls": tls,
                    "client_cn": dict(x[0] for x in peer["subject"])["commonName"]
                    if peer else None,
                    "headers": {k.lower(): v for k, v in self.headers.items()},
                }).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                return None

        self.server = _HTTPServer(("127.0.0.1", 0), Handler)
        self.server.tls = tls
        self.port = int(self.server.server_address[1])
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True,
                                       name=f"backend-{name}")
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# --- TLS client -------------------------------------------------------------------------------

@dataclass
class Answer:
    cn: str
    version: str
    cipher: str
    alpn: str | None
    status: int
    headers: dict[str, str]
    body: dict[str, Any]


def client_context(pki: Pki, *, client: str | None = None, verify: bool = True,
                   versions: tuple[ssl.TLSVersion, ssl.TLSVersion] | None = None,
                   alpn: list[str] | None = None) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(pki.ca_file)
    if not verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if versions is not None:
        ctx.minimum_version, ctx.maximum_version = versions
    if client is not None:
        ctx.load_cert_chain(*pki.clients[client])
    if alpn:
        ctx.set_alpn_protocols(alpn)
    return ctx


def https_get(address: str, port: int, sni: str, ctx: ssl.SSLContext,
              path: str = "/") -> Answer:
    """One HTTPS request with SNI ``sni`` on a new connection; raises if TLS is refused."""
    raw = socket.create_connection((address, port), timeout=5)
    with ctx.wrap_socket(raw, server_hostname=sni) as tls:
        der = tls.getpeercert(binary_form=True)
        assert der is not None
        cert = x509.load_der_x509_certificate(der)
        cn = str(cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value)
        cipher = tls.cipher()
        version, alpn = str(tls.version()), tls.selected_alpn_protocol()
        tls.sendall(f"GET {path} HTTP/1.1\r\nHost: {sni}\r\nConnection: close\r\n\r\n"
                    .encode())
        resp = http.client.HTTPResponse(tls)  # type: ignore[arg-type]
        resp.begin()
        data = resp.read()
        headers = {k.lower(): v for k, v in resp.getheaders()}
    try:
        body = json.loads(data)
    except ValueError:
        body = {"raw": data.decode("latin-1")}
    return Answer(cn, version, cipher[0] if cipher else "", alpn, resp.status, headers, body)


def refusal(call: Callable[[], Answer]) -> str:
    """Why the TLS connection (or the request on it) was refused: the TLS alert text. With
    TLS 1.3 a server rejecting the client's certificate says so after the client's handshake
    completed, so the alert may only surface on the first read."""
    try:
        answer = call()
    except (ssl.SSLError, ConnectionError, http.client.HTTPException, OSError) as exc:
        return str(exc)
    raise AssertionError(f"the connection was accepted: {answer.status} {answer.body}")


def http_get(address: str, port: int) -> tuple[int, dict[str, Any]]:
    conn = http.client.HTTPConnection(address, port, timeout=5)
    try:
        conn.request("GET", "/", headers={"Connection": "close"})
        resp = conn.getresponse()
        data = resp.read()
    finally:
        conn.close()
    try:
        return resp.status, json.loads(data)
    except ValueError:
        return resp.status, {"raw": data.decode("latin-1")}


# --- the server and its API --------------------------------------------------------------------

class Api:
    """Plain HTTP against the Octavia API as one project (noauth: the X-Project-Id header)."""

    def __init__(self, url: str, project: str) -> None:
        self.client = httpx.Client(base_url=url, headers={"X-Project-Id": project}, timeout=30)

    def post(self, path: str, body: dict[str, Any]) -> httpx.Response:
        return self.client.post(path, json=body)

    def get(self, path: str) -> httpx.Response:
        return self.client.get(path)

    def put(self, path: str, body: dict[str, Any]) -> httpx.Response:
        return self.client.put(path, json=body)

    def delete(self, path: str) -> httpx.Response:
        return self.client.delete(path)

    def created(self, path: str, key: str, body: dict[str, Any]) -> dict[str, Any]:
        resp = self.post(path, {key: body})
        assert resp.status_code == 201, resp.text
        data: dict[str, Any] = resp.json()[key]
        return data

    def upload(self, name: str, certificate: str, private_key: str | None = None) -> str:
        body = {"name": name, "certificate": certificate}
        if private_key is not None:
            body["private_key"] = private_key
        return str(self.created("/v2/statera/certificates", "certificate", body)["ref"])

    def close(self) -> None:
        self.client.close()


def pids_under(path: Path) -> list[int]:
    """Processes whose command line names ``path`` (this one excluded)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as fh:
                cmdline = fh.read()
            with open(f"/proc/{entry}/stat", "rb") as fh:
                state = fh.read().rsplit(b")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if str(path).encode() in cmdline and state not in (b"Z", b"X"):
            found.append(int(entry))
    return found


@dataclass
class Deployment:
    server: Server
    api: Api
    other: Api
    pki: Pki
    refs: dict[str, str]
    lb: dict[str, Any]
    vip: str
    listeners: dict[str, dict[str, Any]]
    backends: dict[str, Backend]

    @property
    def lb_dir(self) -> Path:
        return self.server.data_dir / "providers" / "haproxy" / str(self.lb["id"])


def _listener(api: Api, lb_id: str, name: str, protocol: str, **fields: Any) -> dict[str, Any]:
    return api.created("/v2/lbaas/listeners", "listener", {
        "loadbalancer_id": lb_id, "name": name, "protocol": protocol,
        "protocol_port": PORTS[name], **fields})


def _pool(api: Api, listener: dict[str, Any], members: list[Backend], **fields: Any) -> None:
    api.created("/v2/lbaas/pools", "pool", {
        "listener_id": listener["id"], "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN",
        "members": [{"address": "127.0.0.1", "protocol_port": b.port} for b in members],
        **fields})


def _active(api: Api, lb_id: str) -> bool:
    tree = api.get(f"/v2/lbaas/loadbalancers/{lb_id}/status").json()["statuses"]
    lb = tree["loadbalancer"]
    states = [lb["provisioning_status"]] + [x["provisioning_status"] for x in lb["listeners"]]
    assert "ERROR" not in states, tree
    return all(s == "ACTIVE" for s in states)


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory, pki: Pki) -> Iterator[Deployment]:
    data = tmp_path_factory.mktemp("tls") / "data"
    data.mkdir()
    cidr = f"127.{random.randrange(30, 100)}.{random.randrange(0, 256)}.0/24"
    networks = [{"id": NETWORK_ID, "name": "loopback", "subnets": [
        {"id": LOOPBACK_SUBNET, "name": "loopback-v4", "cidr": cidr}]}]
    server = Server(data, {
        "STATERA_API__DEFAULT_PROVIDER_DRIVER": "haproxy",
        "STATERA_DRIVER_AGENT__RESYNC_INTERVAL": "2",
        "STATERA_NETWORKING__NETWORKS": json.dumps(networks),
    })
    backends = {name: Backend(name) for name in ("plain-a", "plain-b")}
    backends.update({name: Backend(name, pki.backend_ctx) for name in ("tls-a", "tls-b")})
    server.start()
    api, other = Api(server.url, PROJECT), Api(server.url, OTHER_PROJECT)
    try:
        yield _deploy(server, api, other, pki, backends)
    finally:
        api.close()
        other.close()
        server.close()  # statera serve and its data planes (they outlive the server alone)
        for backend in backends.values():
            backend.stop()
        deadline = time.monotonic() + 5
        while pids_under(data) and time.monotonic() < deadline:
            time.sleep(0.05)
        # HAProxy processes name their state directory, under ``data``, on their command line.
        leftovers = pids_under(data)
        for pid in leftovers:
            os.kill(pid, signal.SIGKILL)
        assert leftovers == [], "processes outlived statera dataplanes stop"


def _deploy(server: Server, api: Api, other: Api, pki: Pki,
            backends: dict[str, Backend]) -> Deployment:
    refs = {name: api.upload(name, cert, key) for name, (cert, key) in pki.servers.items()}
    refs["ca"] = api.upload("client-ca", pki.ca)
    refs["crl"] = api.upload("client-crl", pki.crl)
    refs["other-ca"] = api.upload("other-ca", pki.other_ca)
    refs["other-crl"] = api.upload("other-crl", pki.other_crl)
    refs["foreign"] = other.upload("foreign", *pki.servers["alpha"])
    lb = api.created("/v2/lbaas/loadbalancers", "loadbalancer",
                     {"name": "tls", "vip_subnet_id": LOOPBACK_SUBNET})
    lb_id = lb["id"]
    plain = [backends["plain-a"], backends["plain-b"]]
    tls_backends = [backends["tls-a"], backends["tls-b"]]
    default = {"default_tls_container_ref": refs["alpha"]}
    listeners = {
        "sni": _listener(api, lb_id, "sni", "TERMINATED_HTTPS", **default,
                         sni_container_refs=[refs["beta"]],
                         insert_headers={"X-Forwarded-Proto": "true"},
                         hsts_max_age=HSTS_AGE, hsts_include_subdomains=True),
        "v13": _listener(api, lb_id, "v13", "TERMINATED_HTTPS", **default,
                         tls_versions=["TLSv1.3"]),
        "v12": _listener(api, lb_id, "v12", "TERMINATED_HTTPS", **default,
                         tls_versions=["TLSv1.2"], tls_ciphers=ONE_CIPHER),
        "alpn": _listener(api, lb_id, "alpn", "TERMINATED_HTTPS", **default,
                          alpn_protocols=["http/1.1"]),
        "mtls": _listener(api, lb_id, "mtls", "TERMINATED_HTTPS", **default,
                          client_authentication="MANDATORY",
                          client_ca_tls_container_ref=refs["ca"],
                          client_crl_container_ref=refs["crl"],
                          insert_headers={"X-SSL-Client-CN": "true",
                                          "X-SSL-Client-Verify": "true"}),
        "snionly": _listener(api, lb_id, "snionly", "TERMINATED_HTTPS",
                             sni_container_refs=[refs["beta"], refs["alpha"]]),
        "reenc": _listener(api, lb_id, "reenc", "HTTP"),
        "badca": _listener(api, lb_id, "badca", "HTTP"),
        "nocrt": _listener(api, lb_id, "nocrt", "HTTP"),
    }
    for name in ("sni", "v13", "v12", "alpn", "mtls", "snionly"):
        _pool(api, listeners[name], plain)
    # Members ask for a client certificate signed by the CA, and show a CA-signed one.
    _pool(api, listeners["reenc"], tls_backends, tls_enabled=True,
          tls_container_ref=refs["to-members"], ca_tls_container_ref=refs["ca"])
    _pool(api, listeners["badca"], tls_backends, tls_enabled=True,
          tls_container_ref=refs["to-members"], ca_tls_container_ref=refs["other-ca"])
    _pool(api, listeners["nocrt"], tls_backends, tls_enabled=True,
          ca_tls_container_ref=refs["ca"])
    wait_for(lambda: _active(api, lb_id), timeout=20, what="load balancer ACTIVE")
    vip = str(api.get(f"/v2/lbaas/loadbalancers/{lb_id}").json()["loadbalancer"]["vip_address"])
    return Deployment(server, api, other, pki, refs, lb, vip, listeners, backends)


# --- what works -------------------------------------------------------------------------------

def test_sni_picks_the_certificate_by_name(deployment: Deployment) -> None:
    d, port = deployment, PORTS["sni"]
    ctx = client_context(d.pki)
    assert https_get(d.vip, port, "alpha.example.test", ctx).cn == "alpha.example.test"
    assert https_get(d.vip, port, "beta.example.test", ctx).cn == "beta.example.test"
    # An unknown name, or none at all, gets the listener's default certificate.
    loose = client_context(d.pki, verify=False)
    assert https_get(d.vip, port, "unknown.example.test", loose).cn == "alpha.example.test"


def test_sni_only_listener(deployment: Deployment) -> None:
    """Without a default certificate the first SNI certificate is the default one."""
    d, port = deployment, PORTS["snionly"]
    ctx = client_context(d.pki)
    assert https_get(d.vip, port, "alpha.example.test", ctx).cn == "alpha.example.test"
    assert https_get(d.vip, port, "beta.example.test", ctx).cn == "beta.example.test"
    loose = client_context(d.pki, verify=False)
    assert https_get(d.vip, port, "unknown.example.test", loose).cn == "beta.example.test"


def test_terminated_https_reaches_both_backends_with_headers(deployment: Deployment) -> None:
    d, port = deployment, PORTS["sni"]
    ctx = client_context(d.pki)
    seen = set()
    for _ in range(6):
        answer = https_get(d.vip, port, "beta.example.test", ctx)
        assert answer.status == 200
        assert answer.body["tls"] is False  # terminated: plain HTTP to the members
        assert answer.body["headers"]["x-forwarded-proto"] == "https"
        assert answer.headers["strict-transport-security"] == (
            f"max-age={HSTS_AGE}; includeSubDomains;")
        seen.add(answer.body["name"])
    assert seen == {"plain-a", "plain-b"}
    # The defaults Octavia applies to TERMINATED_HTTPS: TLS 1.2 and 1.3 both work.
    assert https_get(d.vip, port, "alpha.example.test", client_context(
        d.pki, versions=(ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_2))).version == "TLSv1.2"
    # No HSTS where hsts_max_age is not set.
    assert "strict-transport-security" not in https_get(
        d.vip, PORTS["v13"], "alpha.example.test", ctx).headers


def test_tls_versions_and_ciphers(deployment: Deployment) -> None:
    d = deployment
    only12 = client_context(d.pki, versions=(ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_2))
    only13 = client_context(d.pki, versions=(ssl.TLSVersion.TLSv1_3, ssl.TLSVersion.TLSv1_3))
    assert https_get(d.vip, PORTS["v13"], "alpha.example.test", only13).version == "TLSv1.3"
    assert "protocol version" in refusal(
        lambda: https_get(d.vip, PORTS["v13"], "alpha.example.test", only12))
    answer = https_get(d.vip, PORTS["v12"], "alpha.example.test", only12)
    assert (answer.version, answer.cipher) == ("TLSv1.2", ONE_CIPHER)
    assert "protocol version" in refusal(
        lambda: https_get(d.vip, PORTS["v12"], "alpha.example.test", only13))


def test_alpn(deployment: Deployment) -> None:
    d = deployment
    ctx = client_context(d.pki, alpn=["h2", "http/1.1"])
    # The default list offers h2 first; a listener limited to http/1.1 never says h2.
    raw = socket.create_connection((d.vip, PORTS["sni"]), timeout=5)
    with ctx.wrap_socket(raw, server_hostname="alpha.example.test") as tls:
        assert tls.selected_alpn_protocol() == "h2"
    answer = https_get(d.vip, PORTS["alpn"], "alpha.example.test", ctx)
    assert (answer.alpn, answer.status) == ("http/1.1", 200)


def test_client_certificates(deployment: Deployment) -> None:
    d, port, sni = deployment, PORTS["mtls"], "alpha.example.test"
    answer = https_get(d.vip, port, sni, client_context(d.pki, client="good"))
    assert answer.status == 200
    assert answer.body["headers"]["x-ssl-client-cn"] == "client-good"
    assert answer.body["headers"]["x-ssl-client-verify"] == "0"
    for client, alert in ((None, "certificate required"), ("stranger", "unknown ca"),
                          ("revoked", "certificate revoked")):
        ctx = client_context(d.pki, client=client)
        assert alert in refusal(partial(https_get, d.vip, port, sni, ctx)), client


def test_pool_reencryption(deployment: Deployment) -> None:
    d = deployment
    seen = set()
    for _ in range(4):
        status, body = http_get(d.vip, PORTS["reenc"])
        assert status == 200, body
        assert body["tls"] is True
        assert body["client_cn"] == "haproxy-to-members"  # the pool's tls_container_ref
        seen.add(body["name"])
    assert seen == {"tls-a", "tls-b"}
    # The other pool's CA did not sign the members: HAProxy refuses to talk to them.
    assert http_get(d.vip, PORTS["badca"])[0] == 503
    # Without tls_container_ref HAProxy has no certificate to show: the members refuse it
    # (with TLS 1.3 only after HAProxy's handshake completed and the request went out: 502).
    assert http_get(d.vip, PORTS["nocrt"])[0] in (502, 503)


# --- secrets ------------------------------------------------------------------------------------

def _key_lines(pem: str) -> list[str]:
    return [line for line in pem.splitlines() if line and not line.startswith("-----")]


def test_api_never_returns_keys(deployment: Deployment) -> None:
    d = deployment
    answers = [d.api.get("/v2/statera/certificates"),
               d.api.get(f"/v2/lbaas/listeners/{d.listeners['sni']['id']}"),
               d.api.get("/v2/lbaas/listeners"),
               d.api.get("/v2/lbaas/pools"),
               d.api.get(f"/v2/lbaas/loadbalancers/{d.lb['id']}")]
    for ref in d.refs.values():
        cert_id = ref.rsplit("/", 1)[1]
        answers.append(d.api.get(f"/v2/statera/certificates/{cert_id}"))
    for resp in answers:
        assert resp.status_code in (200, 404), resp.text
        assert "PRIVATE KEY" not in resp.text and "BEGIN" not in resp.text, resp.request.url
    shown = d.api.get(f"/v2/statera/certificates/{d.refs['alpha'].rsplit('/', 1)[1]}").json()
    assert set(shown["certificate"]) == {"id", "name", "ref", "primary_cn", "project_id",
                                         "created_at"}
    assert shown["certificate"]["primary_cn"] == "alpha.example.test"


def test_keys_stay_out_of_the_log_and_off_limits_on_disk(deployment: Deployment) -> None:
    d = deployment
    log = d.server.log.read_text()
    assert "haproxy" in log  # the log is the real one, with the provider's lines in it
    assert "PRIVATE KEY" not in log
    for key in d.pki.keys():
        for line in _key_lines(key):
            assert line not in log
    body_lines = {line for key in d.pki.keys() for line in _key_lines(key)}
    key_files = []
    for path in d.server.data_dir.rglob("*"):
        if not path.is_file() or path.name.startswith("statera.db") or path.is_socket():
            continue
        try:
            text = path.read_text(errors="replace")
        except OSError:
            continue
        if "PRIVATE KEY" in text or any(line in text for line in body_lines):
            key_files.append(path)
            mode = stat.S_IMODE(path.stat().st_mode)
            assert mode == 0o600, f"{path} holds a private key with mode {oct(mode)}"
    # alpha for each TLS listener, beta for two, the members' client certificate twice.
    assert len(key_files) >= 10, key_files
    for path in d.server.data_dir.glob("statera.db*"):  # the local store's keys
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert all(p.parent == d.lb_dir for p in key_files), key_files


# --- bad input at the API edge ---------------------------------------------------------------

def _fault(resp: httpx.Response, status: int = 400) -> str:
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert set(body) == {"faultcode", "faultstring", "debuginfo"}, body
    assert body["faultcode"] == "Client" and body["debuginfo"] is None
    return str(body["faultstring"])


def _listener_ids(d: Deployment) -> set[str]:
    resp = d.api.get(f"/v2/lbaas/listeners?loadbalancer_id={d.lb['id']}")
    return {x["id"] for x in resp.json()["listeners"]}


def test_bad_listener_tls_input_is_refused(deployment: Deployment) -> None:
    d = deployment
    before = _listener_ids(d)
    missing = f"statera://certificates/{uuid.uuid4()}"
    base = {"loadbalancer_id": d.lb["id"], "protocol": "TERMINATED_HTTPS",
            "protocol_port": 9443}
    cases: list[tuple[dict[str, Any], str]] = [
        ({}, "certificate container reference must be provided"),
        ({"default_tls_container_ref": missing}, "Could not retrieve certificate"),
        ({"default_tls_container_ref": "not a ref"}, "Could not retrieve certificate"),
        ({"sni_container_refs": [missing]}, "Could not retrieve certificate"),
        ({"default_tls_container_ref": d.refs["foreign"]}, "Could not retrieve certificate"),
        # A CA bundle has no key: it cannot be a server certificate.
        ({"default_tls_container_ref": d.refs["ca"]}, "Could not retrieve certificate"),
        ({"default_tls_container_ref": d.refs["alpha"], "client_authentication": "MANDATORY"},
         "requires a client CA"),
        ({"default_tls_container_ref": d.refs["alpha"], "client_ca_tls_container_ref": missing},
         "Could not retrieve certificate"),
        ({"default_tls_container_ref": d.refs["alpha"],
          "client_crl_container_ref": d.refs["crl"]}, "CA reference is required"),
        ({"default_tls_container_ref": d.refs["alpha"], "client_ca_tls_container_ref":
          d.refs["ca"], "client_crl_container_ref": d.refs["other-crl"]},
         "The CRL specified is not valid"),
        ({"default_tls_container_ref": d.refs["alpha"],
          "client_ca_tls_container_ref": d.refs["crl"]}, "not a CA certificate"),
        ({"default_tls_container_ref": d.refs["alpha"], "client_ca_tls_container_ref":
          d.refs["ca"], "client_crl_container_ref": d.refs["ca"]}, "not a certificate "
                                                                 "revocation list"),
        ({"default_tls_container_ref": d.refs["alpha"], "tls_versions": []}, "TLS version"),
        ({"default_tls_container_ref": d.refs["alpha"], "tls_ciphers": "A B"}, "tls_ciphers"),
    ]
    for extra, message in cases:
        text = _fault(d.api.post("/v2/lbaas/listeners", {"listener": {**base, **extra}}))
        assert message in text, (extra, text)
    # Certificates on a plain HTTP listener; the other project cannot use ours either.
    text = _fault(d.api.post("/v2/lbaas/listeners", {"listener": {
        **base, "protocol": "HTTP", "default_tls_container_ref": d.refs["alpha"]}}))
    assert "only allowed on TERMINATED_HTTPS" in text
    other_lb = d.other.created("/v2/lbaas/loadbalancers", "loadbalancer",
                               {"name": "other", "vip_subnet_id": LOOPBACK_SUBNET})
    try:
        text = _fault(d.other.post("/v2/lbaas/listeners", {"listener": {
            **base, "loadbalancer_id": other_lb["id"],
            "default_tls_container_ref": d.refs["alpha"]}}))
        assert "Could not retrieve certificate" in text
        # The same holds for a pool re-encrypting with our CA, and for a create graph.
        text = _fault(d.other.post("/v2/lbaas/pools", {"pool": {
            "loadbalancer_id": other_lb["id"], "protocol": "HTTP", "lb_algorithm":
            "ROUND_ROBIN", "tls_enabled": True, "ca_tls_container_ref": d.refs["ca"]}}))
        assert "Could not retrieve certificate" in text
    finally:
        assert d.other.delete(f"/v2/lbaas/loadbalancers/{other_lb['id']}").status_code == 204
    # An update is checked like a create, and leaves the listener as it was.
    sni = d.listeners["sni"]["id"]
    text = _fault(d.api.put(f"/v2/lbaas/listeners/{sni}", {"listener": {
        "default_tls_container_ref": d.refs["foreign"]}}))
    assert "Could not retrieve certificate" in text
    shown = d.api.get(f"/v2/lbaas/listeners/{sni}").json()["listener"]
    assert shown["default_tls_container_ref"] == d.refs["alpha"]
    assert _listener_ids(d) == before


def test_bad_graph_tls_input_is_refused(deployment: Deployment) -> None:
    d = deployment
    # A name of its own: other tests' load balancers may still be going away meanwhile.
    name = f"bad-graph-{uuid.uuid4().hex[:8]}"
    missing = f"statera://certificates/{uuid.uuid4()}"
    alpha = {"default_tls_container_ref": d.refs["alpha"]}
    for listener, message in (
        ({}, "certificate container reference must be provided"),
        ({"default_tls_container_ref": missing}, "Could not retrieve certificate"),
        ({"default_tls_container_ref": d.refs["foreign"]}, "Could not retrieve certificate"),
        ({**alpha, "client_authentication": "MANDATORY"}, "requires a client CA"),
        ({**alpha, "client_ca_tls_container_ref": d.refs["ca"],
          "client_crl_container_ref": d.refs["other-crl"]}, "The CRL specified is not valid"),
    ):
        text = _fault(d.api.post("/v2/lbaas/loadbalancers", {"loadbalancer": {
            "name": name, "vip_subnet_id": LOOPBACK_SUBNET, "listeners": [{
                "protocol": "TERMINATED_HTTPS", "protocol_port": 443, **listener}]}}))
        assert message in text, (listener, text)
    text = _fault(d.api.post("/v2/lbaas/loadbalancers", {"loadbalancer": {
        "name": name, "vip_subnet_id": LOOPBACK_SUBNET, "pools": [{
            "name": "p", "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN",
            "tls_enabled": True, "tls_container_ref": missing}]}}))
    assert "Could not retrieve certificate" in text
    assert d.api.get(f"/v2/lbaas/loadbalancers?name={name}").json()["loadbalancers"] == []


def test_bad_uploads_are_refused(deployment: Deployment) -> None:
    d = deployment
    before = d.api.get("/v2/statera/certificates").json()["certificates"]
    cert, key = d.pki.servers["alpha"]
    other_key = d.pki.servers["beta"][1]
    for body, message in (
        ({"certificate": "garbage"}, "not PEM"),
        ({"certificate": "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"},
         "could not be parsed"),
        ({"certificate": cert, "private_key": "garbage"}, "not PEM"),
        ({"certificate": cert, "private_key": other_key}, "does not match"),
        ({"pkcs12": "bm90IGEgcGtjczEy"}, "pkcs12"),
        ({"certificate": cert, "surprise": 1}, "Unknown attribute"),
    ):
        text = _fault(d.api.post("/v2/statera/certificates", {"certificate": body}))
        assert message in text, (message, text)
        assert "PRIVATE" not in text and _key_lines(key)[1] not in text
    assert d.api.get("/v2/statera/certificates").json()["certificates"] == before
    # A certificate in use cannot be deleted.
    cert_id = d.refs["alpha"].rsplit("/", 1)[1]
    _fault(d.api.delete(f"/v2/statera/certificates/{cert_id}"), 409)


# --- changes and teardown -----------------------------------------------------------------------

def test_certificate_change_is_served(deployment: Deployment) -> None:
    """A new default certificate is served after the update (HAProxy reloads: it reads
    certificate files only at start-up)."""
    d, port = deployment, PORTS["v13"]
    ctx = client_context(d.pki, verify=False)
    lid = d.listeners["v13"]["id"]
    resp = d.api.put(f"/v2/lbaas/listeners/{lid}", {"listener": {
        "default_tls_container_ref": d.refs["beta"]}})
    assert resp.status_code == 200, resp.text
    wait_for(lambda: _active(d.api, d.lb["id"]), timeout=15, what="update ACTIVE")
    wait_for(lambda: https_get(d.vip, port, "x.example.test", ctx).cn == "beta.example.test",
             timeout=10, what="new default certificate served")


def test_removed_certificates_leave_no_key_file(deployment: Deployment) -> None:
    """Key files follow the configuration: an SNI certificate dropped from a listener, or a
    deleted listener, leaves no copy of its key on disk."""
    d = deployment
    sni, alpn = d.listeners["sni"]["id"], d.listeners["alpn"]["id"]
    assert (d.lb_dir / f"{sni}-sni0.pem").exists() and (d.lb_dir / f"{alpn}.pem").exists()
    resp = d.api.put(f"/v2/lbaas/listeners/{sni}", {"listener": {"sni_container_refs": []}})
    assert resp.status_code == 200 and resp.json()["listener"]["sni_container_refs"] == []
    assert d.api.delete(f"/v2/lbaas/listeners/{alpn}").status_code == 204
    wait_for(lambda: d.api.get(f"/v2/lbaas/listeners/{alpn}").status_code == 404,
             timeout=15, what="listener deleted")
    wait_for(lambda: _active(d.api, d.lb["id"]), timeout=15, what="updates ACTIVE")
    # beta.example.test now gets the default certificate; the alpn port is closed.
    ctx = client_context(d.pki, verify=False)
    assert https_get(d.vip, PORTS["sni"], "beta.example.test", ctx).cn == "alpha.example.test"
    assert "refused" in refusal(
        lambda: https_get(d.vip, PORTS["alpn"], "alpha.example.test", ctx)).lower()
    left = sorted(p.name for p in d.lb_dir.iterdir())
    assert f"{sni}-sni0.pem" not in left and not any(n.startswith(alpn) for n in left), left


def test_deleting_the_load_balancer_stops_haproxy_and_removes_keys(
        deployment: Deployment) -> None:
    d = deployment
    lb_dir = d.lb_dir
    assert pids_under(lb_dir), "HAProxy should be running for the load balancer"
    resp = d.api.delete(f"/v2/lbaas/loadbalancers/{d.lb['id']}?cascade=true")
    assert resp.status_code == 204, resp.text
    wait_for(lambda: d.api.get(f"/v2/lbaas/loadbalancers/{d.lb['id']}").status_code == 404,
             timeout=20, what="load balancer deleted")
    wait_for(lambda: not pids_under(lb_dir), timeout=10, what="HAProxy stopped")
    assert not lb_dir.exists()
    with pytest.raises(OSError):
        https_get(d.vip, PORTS["sni"], "alpha.example.test", client_context(d.pki))
    assert haproxies(d.server.data_dir) == []


def haproxies(path: Path) -> list[int]:
    """HAProxy processes started for ``path`` (the state directory is in their command line)."""
    found = []
    for pid in pids_under(path):
        try:
            with open(f"/proc/{pid}/comm") as fh:
                if fh.read().strip() == "haproxy":
                    found.append(pid)
        except OSError:
            continue
    return found
