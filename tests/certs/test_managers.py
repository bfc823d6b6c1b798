"""The certificate-manager seam: which manager a deployment gets, and what ``check`` and
``fetch`` answer for each kind of reference (local and noop here; Barbican against a real one
in tests/openstack/test_barbican_certs.py)."""

from __future__ import annotations

import uuid

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from pydantic import SecretStr, ValidationError

from statera.certs import (
    Caller,
    CertificateNotFound,
    LocalCertManager,
    NoopCertManager,
    RefKind,
    TLSContainer,
    cert_manager,
    crl_is_signed_by,
    material_loader,
)
from statera.certs.barbican import BarbicanCertManager
from statera.config import Settings, load_settings
from statera.db.engine import Database
from tests.certs.pki import Pki, cert_pem, crl_pem, key_pem


def test_the_setting_picks_the_manager(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    assert isinstance(cert_manager(Settings(), db.session), LocalCertManager)  # the default
    for name, kind in (("noop", NoopCertManager), ("barbican", BarbicanCertManager),
                       ("local", LocalCertManager)):
        monkeypatch.setenv("STATERA_CERTIFICATES__CERT_MANAGER", name)
        assert isinstance(cert_manager(load_settings(), db.session), kind)
    monkeypatch.setenv("STATERA_CERTIFICATES__CERT_MANAGER", "castellan")
    with pytest.raises(ValidationError, match="cert_manager"):
        load_settings()


def test_service_auth_from_the_environment_keeps_the_password_secret(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STATERA_SERVICE_AUTH__USERNAME", "statera")
    monkeypatch.setenv("STATERA_SERVICE_AUTH__PASSWORD", "s3cret-pw")
    monkeypatch.setenv("STATERA_SERVICE_AUTH__USER_DOMAIN_ID", "default")  # any keystoneauth
    settings = load_settings()
    assert settings.service_auth.username == "statera"
    assert settings.service_auth.password.get_secret_value() == "s3cret-pw"
    assert "s3cret-pw" not in repr(settings) and "s3cret-pw" not in str(settings.service_auth)
    assert settings.service_auth.model_dump()["user_domain_id"] == "default"


def test_noop_accepts_any_reference_with_usable_material() -> None:
    manager = NoopCertManager()
    caller = Caller("any-project")
    refs = [str(uuid.uuid4()), "https://kms.example/v1/containers/x", "anything at all"]
    bundles = [manager.check(ref, RefKind.BUNDLE, caller) for ref in refs]
    assert all(isinstance(b, TLSContainer) and b.private_key for b in bundles)
    first = bundles[0]
    assert isinstance(first, TLSContainer) and first.private_key is not None
    cert = x509.load_pem_x509_certificate(first.certificate.encode())
    key = serialization.load_pem_private_key(first.private_key.encode(), None)
    assert cert.public_key() == key.public_key()  # a certificate HAProxy could serve
    assert [b.id for b in bundles] == refs  # each named as the caller named it
    ca = manager.check(refs[0], RefKind.CA, caller)
    crl = manager.check(refs[1], RefKind.CRL, caller)
    assert isinstance(ca, str) and isinstance(crl, str)
    assert "CERTIFICATE" in ca and "X509 CRL" in crl
    assert crl_is_signed_by(crl, ca)  # so a CA + CRL pair passes the listener's check
    assert manager.fetch(refs[2], RefKind.CA) == ca  # the agent gets the same material


def test_local_check_is_scoped_to_the_project(manager: LocalCertManager, pki: Pki) -> None:
    ref = manager.store("p1", "server", cert_pem(pki.leaf), key_pem(pki.leaf_key))
    ca_ref = manager.store("p1", "ca", cert_pem(pki.ca))
    crl_ref = manager.store("p1", "crl", crl_pem(pki.ca_key, pki.ca, [7]))
    found = manager.check(ref, RefKind.BUNDLE, Caller("p1"))
    assert isinstance(found, TLSContainer) and found.private_key
    assert manager.check(ca_ref, RefKind.CA, Caller("p1")) == cert_pem(pki.ca)
    assert "X509 CRL" in str(manager.check(crl_ref, RefKind.CRL, Caller("p1")))
    for kind, some_ref in ((RefKind.BUNDLE, ref), (RefKind.CA, ca_ref)):
        with pytest.raises(CertificateNotFound):
            manager.check(some_ref, kind, Caller("p2"))
    with pytest.raises(CertificateNotFound):  # a CA bundle is no server certificate
        manager.check(ca_ref, RefKind.BUNDLE, Caller("p1"))


def test_material_loader_gives_providers_their_shapes(manager: LocalCertManager,
                                                      pki: Pki) -> None:
    ref = manager.store("p1", "server", cert_pem(pki.leaf), key_pem(pki.leaf_key))
    ca_ref = manager.store("p1", "ca", cert_pem(pki.ca))
    load = material_loader(manager)
    server = load(ref, "bundle")
    assert isinstance(server, dict) and server["private_key"] and server["primary_cn"]
    assert load(ca_ref, "ca") == cert_pem(pki.ca)
    assert load(f"statera://certificates/{uuid.uuid4()}", "bundle") is None


def test_barbican_refuses_a_request_without_a_token() -> None:
    # Nobody can show Barbican they may read a secret without a token; no request is made.
    settings = Settings()
    manager = BarbicanCertManager(settings.certificates, settings.service_auth)
    with pytest.raises(CertificateNotFound, match="Could not retrieve certificate"):
        manager.check("https://kms.example/v1/containers/" + str(uuid.uuid4()),
                      RefKind.BUNDLE, Caller("p1", None))


def test_barbican_fetch_reuses_material_then_fails_loudly_when_unreachable() -> None:
    """The agent reuses what the API just read for ``cache_seconds``; after that it asks
    Barbican again, and an unreachable Keystone/Barbican is an error (the agent then answers
    the provider with a failure and the running listener stays), never "no certificate"."""
    from statera.certs.barbican import BarbicanUnavailable
    from statera.config import CertificatesSettings, ServiceAuthSettings

    now = [1000.0]
    manager = BarbicanCertManager(
        CertificatesSettings(cert_manager="barbican", cache_seconds=60),
        ServiceAuthSettings(auth_url="http://127.0.0.1:9/v3", username="statera",
                            password=SecretStr("pw"), timeout=2),
        clock=lambda: now[0])
    ref = "https://kms.example/v1/secrets/" + str(uuid.uuid4())
    material = TLSContainer(id=ref, certificate="CERT", private_key="KEY")
    manager._remember(ref, RefKind.BUNDLE, material)  # what a successful check() leaves
    now[0] += 59
    assert manager.fetch(ref, RefKind.BUNDLE) is material
    now[0] += 2
    with pytest.raises(BarbicanUnavailable):
        manager.fetch(ref, RefKind.BUNDLE)
