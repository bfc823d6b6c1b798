"""TERMINATED_HTTPS from Barbican: real Keystone 30, real Barbican 23, a real ``statera serve``
in ``auth_strategy = keystone`` with ``[certificates] cert_manager = barbican`` and the HAProxy
provider, real TLS traffic.

A user of project A stores a certificate and key in Barbican twice, as Octavia's users do: as a
certificate container (PEM secrets) and as one PKCS12 secret. They create one listener from
each URL; HAProxy then serves exactly those certificates. The API checked with the user's token
that the user may read them and put Statera's service user on their read ACLs; the driver agent
read them as that service user. A user of project B cannot use A's container (400, nothing
created), and no private key reaches Statera's log, even at DEBUG.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import random
import shutil
import socket
import ssl
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from threading import Thread
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

from statera.providers.haproxy.process import resolve_binary
from tests.e2e.conftest import LOOPBACK_SUBNET, Server, kill_leftovers, wait_for
from tests.openstack import barbican_service as bs
from tests.openstack import keystone as ks
from tests.openstack.barbican_fixture import barbican  # noqa: F401 - the fixture

HAPROXY = resolve_binary("haproxy")
pytestmark = [
    pytest.mark.keystone, pytest.mark.haproxy, pytest.mark.e2e,
    pytest.mark.skipif(shutil.which(HAPROXY) is None, reason="haproxy is not installed"),
]
NETWORK_ID = "7b1c6e3a-1d5e-4f5e-9a57-3c1f00000001"
NOW = dt.datetime.now(dt.UTC)


# --- material --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Bundle:
    cn: str
    cert: x509.Certificate
    key: Any

    @property
    def cert_pem(self) -> str:
        return self.cert.public_bytes(serialization.Encoding.PEM).decode()

    @property
    def key_pem(self) -> str:
        return self.key.private_bytes(serialization.Encoding.PEM,
                                      serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()).decode()

    def pkcs12(self) -> bytes:
        return pkcs12.serialize_key_and_certificates(
            self.cn.encode(), self.key, self.cert, None, serialization.NoEncryption())

    def key_lines(self) -> list[str]:
        return [line for line in self.key_pem.splitlines() if "-----" not in line]


def bundle(cn: str) -> Bundle:
    # RSA: the default listener ciphers for TLS 1.2 (Octavia's) are RSA suites.
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(NOW - dt.timedelta(days=1))
            .not_valid_after(NOW + dt.timedelta(days=7))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(cn)]), critical=False)
            .sign(key, hashes.SHA256()))
    return Bundle(cn, cert, key)


# --- Barbican as a user sees it ----------------------------------------------------------------

def barbican_client(keystone: ks.Keystone, creds: ks.Credentials) -> Any:
    from barbicanclient import client
    from keystoneauth1 import session
    from keystoneauth1.identity import v3

    auth = v3.Password(auth_url=keystone.url, username=creds.username,
                       password=creds.password, project_name=creds.project_name,
                       user_domain_name="Default", project_domain_name="Default")
    return client.Client(session=session.Session(auth=auth), region_name=keystone.region)


def store_container(client: Any, b: Bundle) -> str:
    """``openstack secret store`` ×2 + ``openstack secret container create --type
    certificate``, through the same client library the CLI uses."""
    cert = client.secrets.create(name=f"{b.cn} cert", payload=b.cert_pem,
                                 payload_content_type="text/plain")
    cert.store()
    key = client.secrets.create(name=f"{b.cn} key", payload=b.key_pem,
                                payload_content_type="text/plain")
    key.store()
    container = client.containers.create_certificate(name=b.cn, certificate=cert,
                                                     private_key=key)
    return str(container.store())


def store_pkcs12(client: Any, b: Bundle) -> str:
    """``openstack secret store --payload-content-type application/octet-stream
    --payload-content-encoding base64``: Octavia's single-secret form."""
    secret = client.secrets.create(name=f"{b.cn} p12",
                                   payload=base64.b64encode(b.pkcs12()).decode(),
                                   payload_content_type="application/octet-stream",
                                   payload_content_encoding="base64")
    return str(secret.store())


# --- Statera, its API and a backend ------------------------------------------------------------

class Api:
    """Octavia's API as one Keystone user calls it: their token on every request."""

    def __init__(self, url: str, keystone: ks.Keystone, creds: ks.Credentials) -> None:
        self.http = httpx.Client(base_url=url, headers={"X-Auth-Token": keystone.token(creds)},
                                 timeout=60)

    def post(self, path: str, body: dict[str, Any]) -> httpx.Response:
        return self.http.post(path, json=body)

    def get(self, path: str) -> Any:
        resp = self.http.get(path)
        assert resp.status_code == 200, resp.text
        return resp.json()

    def created(self, path: str, key: str, body: dict[str, Any]) -> dict[str, Any]:
        resp = self.post(path, {key: body})
        assert resp.status_code == 201, resp.text
        return dict(resp.json()[key])


class Backend:
    """A plain HTTP member on loopback that says who it is."""

    def __init__(self) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                body = b"backend says hello"
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class Deployment:
    server: Server
    keystone: ks.Keystone
    alice: ks.Credentials
    bob: ks.Credentials
    api: Api
    other: Api
    refs: dict[str, str]
    bundles: dict[str, Bundle]
    lb_id: str
    vip: str
    ports: dict[str, int]


def served_certificate(address: str, port: int, sni: str) -> tuple[x509.Certificate, bytes]:
    """The certificate HAProxy shows for ``sni``, and the answer to one GET through it."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with socket.create_connection((address, port), timeout=5) as raw, \
            ctx.wrap_socket(raw, server_hostname=sni) as tls:
        der = tls.getpeercert(binary_form=True)
        assert der is not None
        tls.sendall(f"GET / HTTP/1.1\r\nHost: {sni}\r\nConnection: close\r\n\r\n".encode())
        answer = b""
        while chunk := tls.recv(65536):
            answer += chunk
    return x509.load_der_x509_certificate(der), answer


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory, keystone: ks.Keystone,
               barbican: bs.Barbican) -> Iterator[Deployment]:  # noqa: F811 - the fixture
    alice = keystone.user("tls-alice", "tls-project-a", ["member"])
    bob = keystone.user("tls-bob", "tls-project-b", ["member"])
    time.sleep(1)  # Keystone revokes tokens of the second a password was (re)set in
    bundles = {"container": bundle("container.example.test"),
               "pkcs12": bundle("pkcs12.example.test"),
               "foreign": bundle("foreign.example.test")}
    alice_bc, bob_bc = barbican_client(keystone, alice), barbican_client(keystone, bob)
    refs = {"container": store_container(alice_bc, bundles["container"]),
            "pkcs12": store_pkcs12(alice_bc, bundles["pkcs12"]),
            "foreign": store_container(bob_bc, bundles["foreign"])}

    data = tmp_path_factory.mktemp("barbican-tls") / "data"
    data.mkdir()
    cidr = f"127.{random.randrange(30, 100)}.{random.randrange(0, 256)}.0/24"
    networks = [{"id": NETWORK_ID, "name": "loopback", "subnets": [
        {"id": LOOPBACK_SUBNET, "name": "loopback-v4", "cidr": cidr}]}]
    service = keystone.service
    server = Server(data, {
        "STATERA_LOG_LEVEL": "DEBUG",  # the strictest test of "no key in the log"
        "STATERA_API__AUTH_STRATEGY": "keystone",
        **{f"STATERA_KEYSTONE_AUTHTOKEN__{k.upper()}": v
           for k, v in keystone.authtoken_options().items()},
        "STATERA_API__DEFAULT_PROVIDER_DRIVER": "haproxy",
        "STATERA_DRIVER_AGENT__RESYNC_INTERVAL": "2",
        "STATERA_NETWORKING__NETWORKS": json.dumps(networks),
        "STATERA_CERTIFICATES__CERT_MANAGER": "barbican",
        "STATERA_CERTIFICATES__REGION_NAME": keystone.region,
        "STATERA_SERVICE_AUTH__AUTH_URL": keystone.url,
        "STATERA_SERVICE_AUTH__USERNAME": service.username,
        "STATERA_SERVICE_AUTH__PASSWORD": service.password,
        "STATERA_SERVICE_AUTH__PROJECT_NAME": service.project_name,
    })
    backend = Backend()
    server.start()
    api = Api(server.url, keystone, alice)
    other = Api(server.url, keystone, bob)
    try:
        lb = api.created("/v2/lbaas/loadbalancers", "loadbalancer",
                         {"name": "barbican-tls", "vip_subnet_id": LOOPBACK_SUBNET})
        ports = {"container": 9443, "pkcs12": 9444}
        for name, port in ports.items():
            listener = api.created("/v2/lbaas/listeners", "listener", {
                "name": name, "loadbalancer_id": lb["id"], "protocol": "TERMINATED_HTTPS",
                "protocol_port": port, "default_tls_container_ref": refs[name]})
            pool = api.created("/v2/lbaas/pools", "pool", {
                "listener_id": listener["id"], "protocol": "HTTP",
                "lb_algorithm": "ROUND_ROBIN"})
            api.created(f"/v2/lbaas/pools/{pool['id']}/members", "member", {
                "address": "127.0.0.1", "protocol_port": backend.port})
        wait_for(lambda: _active(api, lb["id"]), timeout=60, what="load balancer ACTIVE")
        vip = str(api.get(f"/v2/lbaas/loadbalancers/{lb['id']}")["loadbalancer"]["vip_address"])
        yield Deployment(server, keystone, alice, bob, api, other, refs, bundles, lb["id"],
                         vip, ports)
    finally:
        api.http.close()
        other.http.close()
        server.stop()
        kill_leftovers(data)
        backend.stop()


def _active(api: Api, lb_id: str) -> bool:
    tree = api.get(f"/v2/lbaas/loadbalancers/{lb_id}/status")["statuses"]["loadbalancer"]
    states = [tree["provisioning_status"]] + [x["provisioning_status"]
                                              for x in tree["listeners"]]
    assert "ERROR" not in states, tree
    return all(s == "ACTIVE" for s in states)


# --- tests -----------------------------------------------------------------------------------

@pytest.mark.parametrize("form", ["container", "pkcs12"])
def test_listener_serves_the_barbican_certificate(deployment: Deployment, form: str) -> None:
    d = deployment
    expected = d.bundles[form]
    served, answer = served_certificate(d.vip, d.ports[form], expected.cn)
    assert served == expected.cert  # the very certificate the user stored, byte for byte
    assert answer.split(b"\r\n")[0].endswith(b" 200 OK"), answer[:200]
    assert answer.endswith(b"backend says hello")
    listener = [x for x in d.api.get("/v2/lbaas/listeners")["listeners"] if x["name"] == form]
    assert listener[0]["default_tls_container_ref"] == d.refs[form]


def test_service_user_was_granted_read_access(deployment: Deployment) -> None:
    """Octavia's ACL model: the user's container, each of its secrets and the PKCS12 secret
    list Statera's service user as a reader; the other project's container does not."""
    d = deployment
    client = barbican_client(d.keystone, d.alice)
    container = client.containers.get(d.refs["container"])
    targets = [d.refs["container"], d.refs["pkcs12"],
               *(s.secret_ref for s in container.secrets.values())]
    assert len(targets) == 4
    for ref in targets:
        assert d.keystone.service.user_id in client.acls.get(ref).get("read").users, ref
    foreign = barbican_client(d.keystone, d.bob).acls.get(d.refs["foreign"])
    assert d.keystone.service.user_id not in foreign.get("read").users


def test_a_container_the_caller_cannot_read_is_refused(deployment: Deployment) -> None:
    d = deployment
    before = d.api.get("/v2/lbaas/listeners")["listeners"]
    for ref in (d.refs["foreign"], d.refs["foreign"].replace("containers", "secrets")):
        resp = d.api.post("/v2/lbaas/listeners", {"listener": {
            "loadbalancer_id": d.lb_id, "protocol": "TERMINATED_HTTPS", "protocol_port": 9445,
            "default_tls_container_ref": ref}})
        assert resp.status_code == 400, resp.text
        assert resp.json()["faultstring"] == f"Could not retrieve certificate: ['{ref}']"
    # The same through SNI, and through a load balancer graph: nothing is created either.
    resp = d.api.post("/v2/lbaas/listeners", {"listener": {
        "loadbalancer_id": d.lb_id, "protocol": "TERMINATED_HTTPS", "protocol_port": 9446,
        "default_tls_container_ref": d.refs["container"],
        "sni_container_refs": [d.refs["foreign"]]}})
    assert resp.status_code == 400, resp.text
    graph = d.api.post("/v2/lbaas/loadbalancers", {"loadbalancer": {
        "vip_subnet_id": LOOPBACK_SUBNET, "listeners": [{
            "protocol": "TERMINATED_HTTPS", "protocol_port": 9447,
            "default_tls_container_ref": d.refs["foreign"]}]}})
    assert graph.status_code == 400, graph.text
    assert d.api.get("/v2/lbaas/listeners")["listeners"] == before
    assert len(d.api.get("/v2/lbaas/loadbalancers")["loadbalancers"]) == 1
    # Keystone mode for real: without a token nobody gets as far as Barbican.
    anonymous = httpx.post(f"{d.server.url}/v2/lbaas/listeners", json={"listener": {
        "loadbalancer_id": d.lb_id, "protocol": "TERMINATED_HTTPS", "protocol_port": 9449,
        "default_tls_container_ref": d.refs["container"]}}, timeout=30)
    assert anonymous.status_code == 401


def _ca_and_crl(cn: str) -> tuple[str, str]:
    """A CA certificate and an empty CRL it signed, as PEM."""
    b = bundle(cn)
    ca = (x509.CertificateBuilder().subject_name(b.cert.subject).issuer_name(b.cert.subject)
          .public_key(b.key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(NOW - dt.timedelta(days=1))
          .not_valid_after(NOW + dt.timedelta(days=7))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(b.key, hashes.SHA256()))
    crl = (x509.CertificateRevocationListBuilder().issuer_name(ca.subject)
           .last_update(NOW - dt.timedelta(hours=1)).next_update(NOW + dt.timedelta(days=7))
           .sign(b.key, hashes.SHA256()))
    return (ca.public_bytes(serialization.Encoding.PEM).decode(),
            crl.public_bytes(serialization.Encoding.PEM).decode())


def test_client_ca_and_crl_from_barbican_secrets(deployment: Deployment) -> None:
    """CA bundles and CRLs are PEM secrets (Octavia's get_secret): checked like certificates,
    granted to the service user, and a CRL of another CA is refused with Octavia's words."""
    d = deployment
    client = barbican_client(d.keystone, d.alice)

    def secret(name: str, pem: str) -> str:
        made = client.secrets.create(name=name, payload=pem, payload_content_type="text/plain")
        return str(made.store())

    ca_pem, crl_pem = _ca_and_crl("Client CA")
    _, stranger_crl_pem = _ca_and_crl("Some other CA")
    ca, crl, stranger = (secret("ca", ca_pem), secret("crl", crl_pem),
                         secret("stranger-crl", stranger_crl_pem))
    body = {"loadbalancer_id": d.lb_id, "protocol": "TERMINATED_HTTPS", "protocol_port": 9450,
            "default_tls_container_ref": d.refs["container"],
            "client_authentication": "OPTIONAL", "client_ca_tls_container_ref": ca}
    resp = d.api.post("/v2/lbaas/listeners", {"listener": {
        **body, "client_crl_container_ref": stranger}})
    assert resp.status_code == 400, resp.text
    assert "The CRL specified is not valid" in resp.json()["faultstring"]
    listener = d.api.created("/v2/lbaas/listeners", "listener",
                             {**body, "client_crl_container_ref": crl})
    wait_for(lambda: _active(d.api, d.lb_id), timeout=60, what="mTLS listener ACTIVE")
    served, _ = served_certificate(d.vip, 9450, "container.example.test")
    assert served == d.bundles["container"].cert
    for ref in (ca, crl):
        assert d.keystone.service.user_id in client.acls.get(ref).get("read").users
    assert listener["client_crl_container_ref"] == crl


def test_no_private_key_in_the_log(deployment: Deployment) -> None:
    d = deployment
    log = d.server.log.read_text()
    assert "barbican" in log.lower()  # the log is the real one, with the manager's lines
    assert "PRIVATE KEY" not in log
    for b in d.bundles.values():
        for line in b.key_lines():
            assert line not in log
    assert d.keystone.service.password not in log
    for api in (d.api, d.other):  # nor a caller's token
        assert api.http.headers["X-Auth-Token"] not in log
