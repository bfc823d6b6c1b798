"""TLS through the f5 provider: listeners terminating TLS with certificates from Statera's
certificate store become TLS_Server/Certificate/CA_Bundle objects, re-encrypting pools a
TLS_Client; and the device's own certificate is verified exactly as ``verify_tls`` says."""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes

from statera.providers.f5 import declaration as decl
from statera.providers.f5.client import BigIPClient, DeviceError
from statera.providers.f5.settings import F5Settings
from tests.certs.pki import build_pki, cert_pem, key_pem, new_key
from tests.e2e.conftest import LOOPBACK_SUBNET, Server, kill_leftovers, wait_for
from tests.f5.bigip_emulator import BigIPEmulator

TENANT = "Project_tls-project"


def device_tls(tmp_path: Path) -> tuple[ssl.SSLContext, Path]:
    """A server context for 127.0.0.1 signed by a private CA, and that CA's file."""
    pki = build_pki()
    key = new_key()
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "bigip")]))
            .issuer_name(pki.ca.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .sign(pki.ca_key, hashes.SHA256()))
    (tmp_path / "device.pem").write_text(cert_pem(cert) + key_pem(key))
    ca = tmp_path / "device-ca.pem"
    ca.write_text(cert_pem(pki.ca))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(tmp_path / "device.pem")
    return ctx, ca


@pytest.fixture
def tls_bigip(tmp_path: Path) -> Iterator[tuple[BigIPEmulator, Path]]:
    ctx, ca = device_tls(tmp_path)
    emulator = BigIPEmulator(tls=ctx).start()
    try:
        yield emulator, ca
    finally:
        emulator.stop()


def client(url: str, verify: bool | str) -> BigIPClient:
    return BigIPClient(F5Settings(url=url, username="admin", password="f5-secret",
                                  verify_tls=verify))


def test_verify_tls_is_honoured_as_set(tls_bigip: tuple[BigIPEmulator, Path],
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    bigip, ca = tls_bigip
    assert client(bigip.url, str(ca)).as3_version() == "3.56.0"
    assert client(bigip.url, False).as3_version() == "3.56.0"
    # The environment names the device's CA, but "true" means the default trust store only.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(ca))
    monkeypatch.setenv("SSL_CERT_FILE", str(ca))
    with pytest.raises(DeviceError, match="CERTIFICATE_VERIFY_FAILED|certificate verify"):
        client(bigip.url, True).as3_version()
    # ... and a CA path is used even when the environment points elsewhere.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/nonexistent.pem")
    monkeypatch.setenv("SSL_CERT_FILE", "/nonexistent.pem")
    assert client(bigip.url, str(ca)).as3_version() == "3.56.0"


@pytest.mark.e2e
def test_tls_listener_and_reencrypting_pool_from_the_certificate_store(
        tmp_path: Path, tls_bigip: tuple[BigIPEmulator, Path]) -> None:
    bigip, ca = tls_bigip
    pki = build_pki()
    server = Server(tmp_path / "data", {
        "STATERA_F5__URL": bigip.url, "STATERA_F5__USERNAME": "admin",
        "STATERA_F5__PASSWORD": "f5-secret", "STATERA_F5__VERIFY_TLS": str(ca),
        "REQUESTS_CA_BUNDLE": "/nonexistent.pem"})
    server.data_dir.mkdir()
    server.start()
    api = httpx.Client(base_url=server.url, headers={"X-Project-Id": "tls-project"},
                       timeout=30)
    try:
        def created(path: str, key: str, body: dict[str, Any]) -> dict[str, Any]:
            resp = api.post(path, json={key: body})
            assert resp.status_code == 201, resp.text
            data: dict[str, Any] = resp.json()[key]
            return data

        def upload(name: str, certificate: str, private_key: str | None = None) -> str:
            body = {"name": name, "certificate": certificate}
            if private_key:
                body["private_key"] = private_key
            return str(created("/v2/statera/certificates", "certificate", body)["ref"])

        leaf = upload("leaf", pki.leaf_pem + pki.chain_pem, pki.leaf_key_pem)
        sni = upload("rsa", cert_pem(pki.rsa_leaf), key_pem(pki.rsa_key))
        client_ca = upload("client-ca", cert_pem(pki.ca))
        lb = created("/v2/lbaas/loadbalancers", "loadbalancer",
                     {"vip_subnet_id": LOOPBACK_SUBNET, "provider": "f5"})
        listener = created("/v2/lbaas/listeners", "listener", {
            "loadbalancer_id": lb["id"], "protocol": "TERMINATED_HTTPS", "protocol_port": 443,
            "default_tls_container_ref": leaf, "sni_container_refs": [sni],
            "client_authentication": "OPTIONAL", "client_ca_tls_container_ref": client_ca,
            "insert_headers": {"X-Forwarded-For": "true"}})
        created("/v2/lbaas/pools", "pool", {
            "listener_id": listener["id"], "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN",
            "tls_enabled": True, "ca_tls_container_ref": client_ca})

        def app() -> dict[str, Any]:
            held: dict[str, Any] = (bigip.tenant(TENANT) or {}).get(
                decl.Names.app(lb["id"]), {})
            return held

        def status() -> str:
            return str(api.get(f"/v2/lbaas/loadbalancers/{lb['id']}").json()["loadbalancer"]
                       ["provisioning_status"])

        wait_for(lambda: status() == "ACTIVE" and "clientTLS" in app().get(
            decl.Names.service(listener["id"]), {}), timeout=30, what="TLS declared")
        declared = app()
        service = declared[decl.Names.service(listener["id"])]
        tls = declared[service["serverTLS"]]
        certs = [declared[c["certificate"]] for c in tls["certificates"]]
        assert certs[0]["certificate"] == pki.leaf_pem.strip()
        assert certs[0]["privateKey"].startswith("-----BEGIN PRIVATE KEY-----")
        assert certs[0]["chainCA"] == pki.chain_pem.strip()
        assert certs[1]["certificate"] == cert_pem(pki.rsa_leaf).strip()
        assert tls["authenticationMode"] == "request"
        assert declared[tls["authenticationTrustCA"]]["bundle"] == cert_pem(pki.ca).strip()
        client_tls = declared[service["clientTLS"]]
        assert client_tls["validateCertificate"] is True
        log = server.log.read_text()
        for secret in (certs[0]["privateKey"].splitlines()[1], "f5-secret"):
            assert secret not in log
    finally:
        api.close()
        server.stop()
        kill_leftovers(server.data_dir)
