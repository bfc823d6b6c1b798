"""Real certificates for tests, made with ``cryptography``: a CA, an intermediate, leaves
signed by it, encrypted keys, PKCS#12 archives and a CRL."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

NOW = dt.datetime.now(dt.UTC)


def new_key(kind: str = "ec") -> Any:
    if kind == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return ec.generate_private_key(ec.SECP256R1())


def certificate(
    subject_key: Any,
    *,
    cn: str | None,
    issuer: tuple[Any, x509.Certificate] | None = None,
    ca: bool = False,
    dns: list[str] | None = None,
) -> x509.Certificate:
    attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Statera tests")]
    if cn:
        attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, cn))
    name = x509.Name(attrs)
    signer_key, issuer_name = (issuer[0], issuer[1].subject) if issuer else (subject_key, name)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer_name)
        .public_key(subject_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - dt.timedelta(days=1))
        .not_valid_after(NOW + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if dns:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName(d) for d in dns]), critical=False
        )
    return builder.sign(signer_key, hashes.SHA256())


def cert_pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def key_pem(key: Any, passphrase: str | None = None, traditional: bool = False) -> str:
    encryption: Any = (
        serialization.BestAvailableEncryption(passphrase.encode())
        if passphrase else serialization.NoEncryption()
    )
    fmt = serialization.PrivateFormat.TraditionalOpenSSL if traditional else (
        serialization.PrivateFormat.PKCS8)
    return key.private_bytes(serialization.Encoding.PEM, fmt, encryption).decode()


def crl_pem(ca_key: Any, ca_cert: x509.Certificate, revoked: list[int]) -> str:
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca_cert.subject)
        .last_update(NOW - dt.timedelta(hours=1))
        .next_update(NOW + dt.timedelta(days=7))
    )
    for serial in revoked:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(NOW).build()
        )
    return builder.sign(ca_key, hashes.SHA256()).public_bytes(
        serialization.Encoding.PEM).decode()


def p12(key: Any, cert: x509.Certificate, cas: list[x509.Certificate],
        passphrase: str | None) -> bytes:
    encryption: Any = (
        serialization.BestAvailableEncryption(passphrase.encode())
        if passphrase else serialization.NoEncryption()
    )
    return pkcs12.serialize_key_and_certificates(b"bundle", key, cert, cas or None, encryption)


@dataclass
class Pki:
    ca_key: Any
    ca: x509.Certificate
    inter_key: Any
    inter: x509.Certificate
    leaf_key: Any
    leaf: x509.Certificate
    other_key: Any
    rsa_key: Any
    rsa_leaf: x509.Certificate
    san_only_key: Any
    san_only: x509.Certificate

    @property
    def leaf_pem(self) -> str:
        return cert_pem(self.leaf)

    @property
    def leaf_key_pem(self) -> str:
        return key_pem(self.leaf_key)

    @property
    def chain_pem(self) -> str:
        return cert_pem(self.inter)


def build_pki() -> Pki:
    ca_key = new_key()
    ca = certificate(ca_key, cn="Statera Test Root CA", ca=True)
    inter_key = new_key()
    inter = certificate(inter_key, cn="Statera Test Intermediate", issuer=(ca_key, ca), ca=True)
    leaf_key = new_key()
    leaf = certificate(leaf_key, cn="www.example.com", issuer=(inter_key, inter),
                       dns=["www.example.com", "example.com"])
    rsa_key = new_key("rsa")
    rsa_leaf = certificate(rsa_key, cn="rsa.example.com", issuer=(inter_key, inter))
    san_only_key = new_key()
    san_only = certificate(san_only_key, cn=None, issuer=(inter_key, inter),
                           dns=["san-only.example.com"])
    return Pki(ca_key, ca, inter_key, inter, leaf_key, leaf, new_key(), rsa_key, rsa_leaf,
               san_only_key, san_only)
