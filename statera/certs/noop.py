"""The ``noop`` certificate manager: any reference is accepted and names one generated
certificate.

What Octavia's noop test mode relies on: octavia-tempest-plugin with ``test_with_noop`` passes
random UUIDs as ``default_tls_container_ref``, SNI, CA and CRL references and expects the
listener or pool to be created. Octavia's own ``NoopCertManager`` answers every ref with one
sample certificate; here the material is generated once per process (a self-signed EC
certificate that is also its own CA, and an empty CRL it signed), so a CA and CRL pair passes
the same checks a real pair does and a provider that renders it gets usable files. Nothing is
stored and nothing is secret: the key exists only in memory.
"""

from __future__ import annotations

import datetime
import logging
import threading

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from statera.certs.base import Caller, Material, RefKind, TLSContainer

LOG = logging.getLogger(__name__)
COMMON_NAME = "statera-noop.invalid"


class NoopCertManager:
    """:class:`~statera.certs.base.CertManager` that accepts every reference."""

    name = "noop"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._made: tuple[str, str, str] | None = None

    def check(self, ref: str, kind: RefKind, caller: Caller) -> Material:
        LOG.debug("noop certificate manager: accepting %s reference %s", kind.value, ref)
        return self._material(ref, kind)

    def fetch(self, ref: str, kind: RefKind) -> Material | None:
        return self._material(ref, kind)

    def _material(self, ref: str, kind: RefKind) -> Material:
        certificate, key_pem, crl_pem = self._generated()
        if kind is RefKind.CRL:
            return crl_pem
        if kind is RefKind.CA:
            return certificate
        return TLSContainer(id=ref, certificate=certificate, private_key=key_pem,
                            primary_cn=COMMON_NAME)

    def _generated(self) -> tuple[str, str, str]:
        with self._lock:  # one certificate per process, even when requests race
            if self._made is None:
                self._made = _generate()
            return self._made


def _generate() -> tuple[str, str, str]:
    """(certificate PEM, PKCS#8 key PEM, CRL PEM): self-signed, valid for ten years."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, COMMON_NAME)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(COMMON_NAME)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    crl = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(name).last_update(now).next_update(now + datetime.timedelta(days=3650))
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    return (cert.public_bytes(serialization.Encoding.PEM).decode(), key_pem,
            crl.public_bytes(serialization.Encoding.PEM).decode())
