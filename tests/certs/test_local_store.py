"""The local certificate store: what it accepts, what it refuses, and what it hands back."""

from __future__ import annotations

import base64
import logging
import uuid

import pytest
from cryptography.hazmat.primitives import serialization
from sqlalchemy import select

from statera.certs import (
    REF_PREFIX,
    CertificateNotFound,
    InvalidCertificate,
    LocalCertManager,
    TLSContainer,
    cert_id_from_ref,
    cert_loader,
    crl_is_signed_by,
    pem_loader,
)
from statera.db.engine import Database
from statera.db.models import Certificate
from tests.certs.pki import Pki, cert_pem, crl_pem, key_pem, p12


def stored_key(manager: LocalCertManager, ref: str) -> str:
    key = manager.load(ref).private_key
    assert key is not None
    return key


def same_key(pem: str, key: object) -> bool:
    loaded = serialization.load_pem_private_key(pem.encode(), None)
    fmt = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return bool(loaded.public_key().public_bytes(*fmt)
                == key.public_key().public_bytes(*fmt))  # type: ignore[attr-defined]


def test_round_trip(manager: LocalCertManager, pki: Pki) -> None:
    ref = manager.store("proj", "web", pki.leaf_pem, pki.leaf_key_pem, pki.chain_pem)
    assert ref.startswith(REF_PREFIX)
    container = manager.load(ref)
    assert container.id == cert_id_from_ref(ref)
    assert container.certificate == pki.leaf_pem
    assert same_key(stored_key(manager, ref), pki.leaf_key)
    assert container.intermediates == [pki.chain_pem]
    assert container.primary_cn == "www.example.com"
    assert container.passphrase is None
    assert container.to_dict() == {
        "certificate": pki.leaf_pem, "private_key": container.private_key,
        "intermediates": [pki.chain_pem], "primary_cn": "www.example.com",
        "passphrase": None, "id": container.id,
    }


def test_repr_hides_the_key(manager: LocalCertManager, pki: Pki) -> None:
    container = manager.load(manager.store("p", "n", pki.leaf_pem, pki.leaf_key_pem))
    assert container.private_key and "PRIVATE KEY" in container.private_key
    assert "PRIVATE" not in repr(container) and "PRIVATE" not in str(container)
    secret = TLSContainer(id="x", certificate="c", private_key="k3y", passphrase="pa55")
    assert "k3y" not in repr(secret) and "pa55" not in repr(secret)


def test_every_ref_form_names_the_same_certificate(manager: LocalCertManager, pki: Pki) -> None:
    ref = manager.store("p", "n", pki.leaf_pem, pki.leaf_key_pem)
    cert_id = cert_id_from_ref(ref)
    for form in (
        ref,
        f"https://barbican.example.com:9311/v1/containers/{cert_id}",
        f"http://10.0.0.1/key-manager/v1/secrets/{cert_id.upper()}",
        f"https://barbican.example.com/v1/containers/{cert_id}/",
        cert_id,
    ):
        assert manager.load(form).id == cert_id, form


@pytest.mark.parametrize("ref", [
    "", "garbage", "statera://certificates/not-a-uuid",
    "https://x/v1/orders/0b7e1c9a-4f4e-4d7e-9a4a-7f2b3c4d5e6f",
    "statera://certificates/0b7e1c9a-4f4e-4d7e-9a4a-7f2b3c4d5e6f",  # well-formed, unknown
])
def test_unknown_or_malformed_refs(manager: LocalCertManager, ref: str) -> None:
    with pytest.raises(CertificateNotFound) as err:
        manager.load(ref)
    assert str(err.value) == f"Could not retrieve certificate: {ref}"
    with pytest.raises(CertificateNotFound):
        manager.load_pem(ref)


def test_project_scoping(manager: LocalCertManager, pki: Pki) -> None:
    ref = manager.store("owner", "n", pki.leaf_pem, pki.leaf_key_pem)
    assert manager.load(ref, project_id="owner").primary_cn == "www.example.com"
    with pytest.raises(CertificateNotFound):
        manager.load(ref, project_id="intruder")
    with pytest.raises(CertificateNotFound):
        manager.load_pem(ref, project_id="intruder")


def test_encrypted_key_is_stored_decrypted(manager: LocalCertManager, pki: Pki) -> None:
    encrypted = key_pem(pki.leaf_key, passphrase="s3cret")
    ref = manager.store("p", "n", pki.leaf_pem, encrypted, passphrase="s3cret")
    key = stored_key(manager, ref)
    assert "ENCRYPTED" not in key and same_key(key, pki.leaf_key)
    with pytest.raises(InvalidCertificate, match="passphrase is required"):
        manager.store("p", "n", pki.leaf_pem, encrypted)
    with pytest.raises(InvalidCertificate, match="wrong passphrase"):
        manager.store("p", "n", pki.leaf_pem, encrypted, passphrase="nope")
    # A passphrase for a plain key is harmless.
    manager.store("p", "n", pki.leaf_pem, pki.leaf_key_pem, passphrase="unused")


def test_traditional_rsa_key(manager: LocalCertManager, pki: Pki) -> None:
    ref = manager.store("p", "n", cert_pem(pki.rsa_leaf), key_pem(pki.rsa_key, traditional=True))
    assert manager.load(ref).primary_cn == "rsa.example.com"
    assert stored_key(manager, ref).startswith("-----BEGIN PRIVATE KEY-----")


def test_haproxy_style_bundle_in_one_field(manager: LocalCertManager, pki: Pki) -> None:
    """Chain before the leaf and the key in the same text: the leaf is the certificate the key
    matches, whatever its position."""
    bundle = pki.chain_pem + "Bag Attributes: ignored\n" + pki.leaf_key_pem + pki.leaf_pem
    container = manager.load(manager.store("p", "n", bundle))
    assert container.certificate == pki.leaf_pem
    assert container.intermediates == [pki.chain_pem]


def test_intermediates_as_list_and_deduplicated(manager: LocalCertManager, pki: Pki) -> None:
    ca = cert_pem(pki.ca)
    ref = manager.store("p", "n", pki.leaf_pem + pki.chain_pem, pki.leaf_key_pem,
                        [pki.chain_pem, ca])
    assert manager.load(ref).intermediates == [pki.chain_pem, ca]


def test_mismatched_key_is_rejected(manager: LocalCertManager, pki: Pki) -> None:
    with pytest.raises(InvalidCertificate, match="does not match the certificate"):
        manager.store("p", "n", pki.leaf_pem, key_pem(pki.other_key))


@pytest.mark.parametrize("certificate, key, message", [
    ("hello world", None, "not PEM"),
    ("", None, "required"),
    ("-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n", None,
     "could not be parsed"),
    ("-----BEGIN PGP MESSAGE-----\nabc\n-----END PGP MESSAGE-----\n", None, "unsupported PEM"),
    (None, "-----BEGIN PRIVATE KEY-----\nZ2FyYmFnZQ==\n-----END PRIVATE KEY-----\n",
     "could not be parsed"),
    (None, "not a key at all", "not PEM"),
])
def test_garbage_is_rejected_with_a_clear_message(
    manager: LocalCertManager, pki: Pki, certificate: str | None, key: str | None, message: str
) -> None:
    with pytest.raises(InvalidCertificate, match=message):
        manager.store("p", "n", certificate if certificate is not None else pki.leaf_pem, key)


def test_two_keys_are_rejected(manager: LocalCertManager, pki: Pki) -> None:
    with pytest.raises(InvalidCertificate, match="more than one private key"):
        manager.store("p", "n", pki.leaf_pem + pki.leaf_key_pem, pki.leaf_key_pem)


def test_pkcs12_base64_and_bytes(manager: LocalCertManager, pki: Pki) -> None:
    archive = p12(pki.leaf_key, pki.leaf, [pki.inter], "p12pass")
    encoded = base64.encodebytes(archive).decode()  # with newlines, as tools print it
    container = manager.load(manager.store_pkcs12("p", "n", encoded, "p12pass"))
    assert container.certificate == pki.leaf_pem
    assert container.intermediates == [pki.chain_pem]
    assert container.primary_cn == "www.example.com"
    assert container.private_key and same_key(container.private_key, pki.leaf_key)
    plain = manager.load(manager.store_pkcs12("p", "n", p12(pki.leaf_key, pki.leaf, [], None)))
    assert plain.intermediates == []


@pytest.mark.parametrize("data, passphrase, message", [
    ("%%% not base64 %%%", None, "base64"),
    (base64.b64encode(b"definitely not pkcs12").decode(), None, "could not be read"),
    ("", None, "empty"),
])
def test_bad_pkcs12(manager: LocalCertManager, data: str, passphrase: str | None,
                    message: str) -> None:
    with pytest.raises(InvalidCertificate, match=message):
        manager.store_pkcs12("p", "n", data, passphrase)


def test_pkcs12_wrong_passphrase(manager: LocalCertManager, pki: Pki) -> None:
    archive = base64.b64encode(p12(pki.leaf_key, pki.leaf, [], "right")).decode()
    with pytest.raises(InvalidCertificate, match="wrong passphrase"):
        manager.store_pkcs12("p", "n", archive, "wrong")


def test_primary_cn_falls_back_to_the_first_dns_name(manager: LocalCertManager, pki: Pki) -> None:
    ref = manager.store("p", "n", cert_pem(pki.san_only), key_pem(pki.san_only_key))
    assert manager.load(ref).primary_cn == "san-only.example.com"


def test_ca_bundle_and_crl_without_keys(manager: LocalCertManager, pki: Pki) -> None:
    ca_bundle = cert_pem(pki.ca) + cert_pem(pki.inter)
    ca_ref = manager.store("p", "client-ca", ca_bundle)
    assert manager.load_pem(ca_ref) == ca_bundle
    found = manager.find(ca_ref)
    assert found is not None and found.private_key is None
    assert found.primary_cn == "Statera Test Root CA"
    # Not a server certificate: the API's check of a default_tls_container_ref refuses it.
    with pytest.raises(CertificateNotFound):
        manager.load(ca_ref)
    crl = crl_pem(pki.ca_key, pki.ca, [pki.leaf.serial_number])
    crl_ref = manager.store("p", "crl", crl)
    assert manager.load_pem(crl_ref) == crl
    assert crl_is_signed_by(crl, ca_bundle)
    assert not crl_is_signed_by(crl, cert_pem(pki.inter))
    with pytest.raises(InvalidCertificate, match="CRL"):
        manager.store("p", "n", crl + pki.leaf_pem)


def test_delete(manager: LocalCertManager, pki: Pki) -> None:
    ref = manager.store("p", "n", pki.leaf_pem, pki.leaf_key_pem)
    manager.delete(ref)
    with pytest.raises(CertificateNotFound):
        manager.load(ref)
    with pytest.raises(CertificateNotFound):
        manager.delete(ref)


def test_loaders_for_provider_models(db: Database, manager: LocalCertManager, pki: Pki) -> None:
    ref = manager.store("p", "n", pki.leaf_pem, pki.leaf_key_pem, pki.chain_pem)
    ca_ref = manager.store("p", "ca", cert_pem(pki.ca))
    data = cert_loader(db.session)(ref)
    assert data is not None
    assert set(data) == {"certificate", "private_key", "intermediates", "primary_cn",
                         "passphrase", "id"}
    assert data["primary_cn"] == "www.example.com"
    assert data["intermediates"] == [pki.chain_pem]
    assert pem_loader(db.session)(ca_ref) == cert_pem(pki.ca)
    # One loader serves the CA/CRL fields too: their PEM is the "certificate".
    ca_data = cert_loader(db.session)(ca_ref)
    assert ca_data is not None
    assert (ca_data["certificate"], ca_data["private_key"]) == (cert_pem(pki.ca), None)
    # A ref that is gone or malformed is None, as the provider-model builder expects.
    for missing in ("statera://certificates/" + str(uuid.uuid4()), "garbage"):
        assert cert_loader(db.session)(missing) is None
        assert pem_loader(db.session)(missing) is None


def test_nothing_secret_reaches_the_logs(
    manager: LocalCertManager, pki: Pki, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    encrypted = key_pem(pki.leaf_key, passphrase="log-secret")
    ref = manager.store("p", "n", pki.leaf_pem, encrypted, passphrase="log-secret")
    key = stored_key(manager, ref)
    for bad in ((pki.leaf_pem, key_pem(pki.other_key)), (pki.leaf_pem, "garbage")):
        with pytest.raises(InvalidCertificate):
            manager.store("p", "n", *bad)
    manager.delete(ref)
    assert caplog.records  # the store does log, just never the material
    for secret in (*_body_lines(key), *_body_lines(encrypted), "log-secret", "PRIVATE KEY"):
        assert secret not in caplog.text


def test_the_table_holds_no_passphrase(db: Database, manager: LocalCertManager, pki: Pki) -> None:
    manager.store("p", "n", pki.leaf_pem, key_pem(pki.leaf_key, "pw"), passphrase="pw")
    with db.session() as s:
        row = s.scalars(select(Certificate)).one()
    assert row.passphrase is None and row.project_id == "p" and row.name == "n"


def _body_lines(pem: str) -> list[str]:
    return [line for line in pem.splitlines() if line and not line.startswith("-----")]
