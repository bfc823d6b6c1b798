"""Parsing and validating uploaded TLS material with ``cryptography``. Pure functions, no I/O.

Everything is checked at upload so a bad bundle is a 400 at the API and never a data plane
that fails to load its configuration later: every PEM block must parse, a private key must
decrypt and match exactly one certificate (the leaf), and the output is normalised (PEM
certificates, an unencrypted PKCS#8 key) so renderers need no passphrase handling.

Error messages say what is wrong without echoing any input, so they are safe to return and
to log.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

from statera.certs.base import InvalidCertificate

MAX_FIELD_BYTES = 256 * 1024
_PEM_BLOCK = re.compile(
    r"-----BEGIN (?P<label>[A-Z0-9 ]+)-----\r?\n.*?-----END (?P=label)-----", re.DOTALL
)
_CERT_LABELS = frozenset({"CERTIFICATE", "TRUSTED CERTIFICATE", "X509 CERTIFICATE"})
_KEY_LABELS = frozenset(
    {"PRIVATE KEY", "ENCRYPTED PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY", "DSA PRIVATE KEY"}
)
_CRL_LABELS = frozenset({"X509 CRL"})
_SHA256 = SHA256()


@dataclass(frozen=True)
class ParsedBundle:
    """Normalised material ready to store.

    With a key: ``certificate`` is the leaf's PEM and ``intermediates`` the rest of the chain.
    Without one: ``certificate`` holds every certificate (a CA bundle) or every CRL given,
    and ``intermediates`` is empty.
    """

    certificate: str
    private_key: str | None = field(default=None, repr=False)
    intermediates: list[str] = field(default_factory=list)
    primary_cn: str | None = None
    is_crl: bool = False


def parse_pem_bundle(
    certificate: str,
    private_key: str | None = None,
    intermediates: str | list[str] | None = None,
    passphrase: str | None = None,
) -> ParsedBundle:
    """Validate PEM input. The key may also be embedded in ``certificate`` (HAProxy style),
    and ``certificate`` may carry the chain after the leaf."""
    if not isinstance(certificate, str) or not certificate.strip():
        raise InvalidCertificate("certificate is required and must be PEM text.")
    inter_texts = [intermediates] if isinstance(intermediates, str) else list(intermediates or [])
    for text in (certificate, private_key or "", *inter_texts):
        if not isinstance(text, str):
            raise InvalidCertificate("certificate, private_key and intermediates must be text.")
        if len(text.encode()) > MAX_FIELD_BYTES:
            raise InvalidCertificate(f"a PEM field is larger than {MAX_FIELD_BYTES} bytes.")

    main = _blocks(certificate, "certificate")
    key_blocks = [b for b in main if b[0] in _KEY_LABELS]
    if private_key and private_key.strip():
        key_field = _blocks(private_key, "private_key")
        if any(label not in _KEY_LABELS for label, _ in key_field):
            raise InvalidCertificate("private_key must contain only a PEM private key.")
        key_blocks += key_field
    if len(key_blocks) > 1:
        raise InvalidCertificate("more than one private key was given.")

    certs = [_load_cert(text) for label, text in main if label in _CERT_LABELS]
    crls = [_load_crl(text) for label, text in main if label in _CRL_LABELS]
    chain: list[x509.Certificate] = []
    for text in inter_texts:
        for label, block in _blocks(text, "intermediates"):
            if label not in _CERT_LABELS:
                raise InvalidCertificate("intermediates must contain only PEM certificates.")
            chain.append(_load_cert(block))

    if crls:
        if certs or key_blocks or chain:
            raise InvalidCertificate("a CRL upload cannot also contain certificates or keys.")
        pem = "".join(crl.public_bytes(serialization.Encoding.PEM).decode() for crl in crls)
        return ParsedBundle(certificate=pem, is_crl=True)
    if not certs:
        raise InvalidCertificate("certificate contains no PEM certificate.")

    if not key_blocks:
        # A CA bundle (client CA, pool CA): every certificate, in the order given.
        everything = certs + chain
        return ParsedBundle(
            certificate="".join(_cert_pem(c) for c in everything),
            primary_cn=primary_cn(everything[0]),
        )

    key = _load_key(key_blocks[0][1], passphrase)
    leaf = next((c for c in certs if _same_public_key(c, key)), None)
    if leaf is None:
        raise InvalidCertificate("The private key does not match the certificate.")
    rest = [c for c in certs if c is not leaf] + chain
    return _bundle(leaf, key, rest)


def parse_pkcs12(data: str | bytes, passphrase: str | None = None) -> ParsedBundle:
    """Validate a PKCS#12 archive given as raw bytes or base64 text."""
    raw = _decode_base64(data) if isinstance(data, str) else data
    if not raw:
        raise InvalidCertificate("pkcs12 is empty.")
    if len(raw) > MAX_FIELD_BYTES:
        raise InvalidCertificate(f"pkcs12 is larger than {MAX_FIELD_BYTES} bytes.")
    password = passphrase.encode() if passphrase else None
    try:
        key, cert, additional = pkcs12.load_key_and_certificates(raw, password)
    except ValueError:
        raise InvalidCertificate(
            "pkcs12 could not be read: not a PKCS#12 archive, or a wrong passphrase."
        ) from None
    if cert is None:
        raise InvalidCertificate("pkcs12 contains no certificate.")
    if key is None:
        everything = [cert, *additional]
        return ParsedBundle(
            certificate="".join(_cert_pem(c) for c in everything), primary_cn=primary_cn(cert)
        )
    if not _same_public_key(cert, key):
        raise InvalidCertificate("The private key does not match the certificate.")
    return _bundle(cert, key, list(additional))


def primary_cn(cert: x509.Certificate) -> str | None:
    """The subject's common name, else the first DNS name of the SAN extension."""
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if names:
        value = names[0].value
        return value.decode() if isinstance(value, bytes) else value
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return None
    dns = san.value.get_values_for_type(x509.DNSName)
    return dns[0] if dns else None


def primary_cn_of_pem(pem: str) -> str | None:
    """``primary_cn`` of the first certificate in stored PEM (None for a CRL)."""
    for label, block in _blocks(pem, "certificate"):
        if label in _CERT_LABELS:
            return primary_cn(_load_cert(block))
    return None


def split_pem_certificates(pem: str | None) -> list[str]:
    """Stored intermediates text -> one PEM string per certificate (octavia-lib's list)."""
    if not pem:
        return []
    return [block for label, block in _blocks(pem, "intermediates") if label in _CERT_LABELS]


def is_crl_pem(pem: str) -> bool:
    """Whether stored PEM is a CRL (uploads are normalised: a CRL upload holds only CRLs, any
    other upload no CRL at all)."""
    return any(m.group("label") in _CRL_LABELS for m in _PEM_BLOCK.finditer(pem or ""))


def crl_is_signed_by(crl_pem: str, ca_pem: str) -> bool:
    """True if some CA of the bundle signed the CRL (Octavia requires this for listeners)."""
    crls = [_load_crl(b) for label, b in _blocks(crl_pem, "crl") if label in _CRL_LABELS]
    cas = [_load_cert(b) for label, b in _blocks(ca_pem, "ca") if label in _CERT_LABELS]
    if not crls:
        return False
    for crl in crls:
        if not any(_crl_signed(crl, ca) for ca in cas):
            return False
    return True


# Internals ---------------------------------------------------------------------------------
def _blocks(text: str, what: str) -> list[tuple[str, str]]:
    found = [(m.group("label"), m.group(0).replace("\r\n", "\n") + "\n")
             for m in _PEM_BLOCK.finditer(text)]
    if not found:
        raise InvalidCertificate(f"{what} is not PEM (no '-----BEGIN ...-----' block found).")
    for label, _ in found:
        if label not in _CERT_LABELS | _KEY_LABELS | _CRL_LABELS:
            raise InvalidCertificate(f"{what} contains an unsupported PEM block '{label}'.")
    return found


def _load_cert(block: str) -> x509.Certificate:
    if block.startswith("-----BEGIN TRUSTED CERTIFICATE") or block.startswith(
        "-----BEGIN X509 CERTIFICATE"
    ):
        block = re.sub(r"-----(BEGIN|END) [A-Z0-9 ]+-----", r"-----\1 CERTIFICATE-----", block)
    try:
        return x509.load_pem_x509_certificate(block.encode())
    except ValueError:
        raise InvalidCertificate("a certificate could not be parsed.") from None


def _load_crl(block: str) -> x509.CertificateRevocationList:
    try:
        return x509.load_pem_x509_crl(block.encode())
    except ValueError:
        raise InvalidCertificate("a CRL could not be parsed.") from None


def _load_key(block: str, passphrase: str | None) -> Any:
    password = passphrase.encode() if passphrase else None
    try:
        return serialization.load_pem_private_key(block.encode(), password)
    except TypeError:
        if password is None:
            raise InvalidCertificate(
                "The private key is encrypted; a passphrase is required."
            ) from None
        # A passphrase for a key that is not encrypted: harmless, load it without.
        try:
            return serialization.load_pem_private_key(block.encode(), None)
        except (TypeError, ValueError):
            raise InvalidCertificate("The private key could not be parsed.") from None
    except ValueError:
        if password is not None:
            raise InvalidCertificate(
                "The private key could not be decrypted: wrong passphrase, or not a key."
            ) from None
        raise InvalidCertificate("The private key could not be parsed.") from None
    except Exception:  # unsupported algorithms surface as other exception types
        raise InvalidCertificate("The private key could not be parsed.") from None


def _public_der(public_key: Any) -> bytes:
    der: bytes = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return der


def _same_public_key(cert: x509.Certificate, key: Any) -> bool:
    try:
        return _public_der(cert.public_key()) == _public_der(key.public_key())
    except Exception:  # an algorithm the certificate cannot express: no match
        return False


def _crl_signed(crl: x509.CertificateRevocationList, ca: x509.Certificate) -> bool:
    try:
        return bool(crl.is_signature_valid(ca.public_key()))  # type: ignore[arg-type]
    except Exception:  # a key type that cannot sign CRLs
        return False


def _cert_pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def _bundle(leaf: x509.Certificate, key: Any, chain: list[x509.Certificate]) -> ParsedBundle:
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    seen = {leaf.fingerprint(_SHA256)}
    intermediates: list[str] = []
    for cert in chain:
        fp = cert.fingerprint(_SHA256)
        if fp not in seen:
            seen.add(fp)
            intermediates.append(_cert_pem(cert))
    return ParsedBundle(
        certificate=_cert_pem(leaf),
        private_key=key_pem,
        intermediates=intermediates,
        primary_cn=primary_cn(leaf),
    )


def _decode_base64(text: str) -> bytes:
    compact = "".join(text.split())
    try:
        return base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidCertificate("pkcs12 must be base64-encoded.") from None
