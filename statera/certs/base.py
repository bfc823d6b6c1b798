"""The certificate-manager seam, the TLS container it hands out, and certificate references.

Listeners and pools store *references* (``default_tls_container_ref`` and friends), never
PEM; a manager turns a reference into key material when a provider needs it. Statera's own
refs look like ``statera://certificates/<uuid>``; Barbican-style refs that Octavia users
already type (``https://host/v1/containers/<uuid>`` or ``.../v1/secrets/<uuid>``) and a bare
UUID name the same certificate, so the API stores whatever the user sent and still resolves it.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

REF_PREFIX = "statera://certificates/"
_UUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
_REF_FORMS = (
    re.compile(rf"^statera://certificates/(?P<id>{_UUID})/?$"),
    re.compile(rf"^https?://[^/\s]+(?:/[^\s]*)?/v1/(?:containers|secrets)/(?P<id>{_UUID})/?$"),
    re.compile(rf"^(?P<id>{_UUID})$"),
)


class CertificateNotFound(LookupError):
    """The reference is malformed, unknown, or belongs to another project.

    The message is Octavia's ``CertificateRetrievalException`` text, which the API answers
    with 400 when a listener or pool names such a ref.
    """

    def __init__(self, ref: str) -> None:
        self.ref = ref
        super().__init__(f"Could not retrieve certificate: {ref}")


class UnreadablePKCS12(ValueError):
    """A PKCS#12 secret was found but cannot be read: Octavia answers 400 with its own text
    rather than "could not retrieve", so the user knows the archive is at fault."""

    def __init__(self, error: str) -> None:
        super().__init__(
            "The PKCS12 bundle is unreadable. Please check the PKCS12 bundle validity. In "
            f"addition, make sure it does not require a pass phrase. Error: {error}")


class InvalidCertificate(ValueError):
    """Uploaded material is not a usable certificate bundle. The message is for the user and
    never contains key material."""


def ref_for(cert_id: str) -> str:
    """The canonical reference of a stored certificate."""
    return f"{REF_PREFIX}{cert_id}"


def cert_id_from_ref(ref: str) -> str:
    """The certificate UUID named by any accepted ref form (lower-case, canonical).

    Raises :class:`CertificateNotFound` for anything else, so a typo in a listener's ref is a
    "could not retrieve" error and not a crash.
    """
    text = ref.strip() if isinstance(ref, str) else ""
    for form in _REF_FORMS:
        match = form.match(text)
        if match:
            return str(uuid.UUID(match.group("id")))
    raise CertificateNotFound(str(ref))


@dataclass(frozen=True)
class TLSContainer:
    """Key material for one certificate, shaped like octavia-lib's ``*_tls_container_data``.

    ``private_key`` is unencrypted PEM (PKCS#8), or None for a CA bundle or CRL; ``passphrase``
    is None for the local store, which decrypts keys on upload. Neither appears in ``repr``.
    """

    id: str
    certificate: str
    private_key: str | None = field(default=None, repr=False)
    intermediates: list[str] = field(default_factory=list)
    primary_cn: str | None = None
    passphrase: str | None = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """The dict octavia-lib providers expect for default and SNI container data."""
        return {
            "certificate": self.certificate,
            "private_key": self.private_key,
            "intermediates": list(self.intermediates),
            "primary_cn": self.primary_cn,
            "passphrase": self.passphrase,
            "id": self.id,
        }


class RefKind(StrEnum):
    """What a reference must name, by the field that holds it: a server certificate with its
    key (``default_tls_container_ref``, ``sni_container_refs``, a pool's
    ``tls_container_ref``), a CA bundle (``client_ca_tls_container_ref``, a pool's
    ``ca_tls_container_ref``) or a revocation list (``client_crl_container_ref``,
    ``crl_container_ref``)."""

    BUNDLE = "bundle"
    CA = "ca"
    CRL = "crl"


#: Key material for a reference: a server certificate, or the PEM of a CA bundle or CRL.
Material = TLSContainer | str


@dataclass(frozen=True)
class Caller:
    """Who names a reference in an API request: the project that will own the listener or
    pool, and the caller's Keystone token (``None`` without Keystone). Managers that check
    access elsewhere (Barbican) act with this token; it never appears in ``repr``."""

    project_id: str | None
    token: str | None = field(default=None, repr=False)


class CertManager(Protocol):
    """The seam between references and key material, chosen by ``[certificates]
    cert_manager``: ``local`` (Statera's database), ``barbican`` or ``noop``.

    The API calls :meth:`check` for every reference a request names, before it changes
    anything: :class:`CertificateNotFound` becomes Octavia's 400 "Could not retrieve
    certificate", :class:`UnreadablePKCS12` its own 400. The driver agent calls :meth:`fetch`
    when it serves a provider the objects that hold the reference, with the deployment's own
    credentials; it never raises for a reference that went away (None).
    """

    name: str

    def check(self, ref: str, kind: RefKind, caller: Caller) -> Material:
        """The material ``ref`` names, if ``caller`` may use it for ``kind``; a manager that
        needs it grants Statera's service identity read access on the way (Barbican ACLs)."""
        ...

    def fetch(self, ref: str, kind: RefKind) -> Material | None:
        """The material ``ref`` names, read as the service; None when it cannot be read."""
        ...


class CertStore(Protocol):
    """A manager that also keeps uploads (only ``local``): what the certificate upload API
    (``POST /v2/statera/certificates``) needs. ``store`` raises :class:`InvalidCertificate`
    for unusable input; the other methods :class:`CertificateNotFound`."""

    def store(
        self,
        project_id: str | None,
        name: str | None,
        certificate_pem: str,
        private_key_pem: str | None = None,
        intermediates_pem: str | list[str] | None = None,
        passphrase: str | None = None,
    ) -> str:
        """Validate a PEM bundle and return its ref. Without a private key the PEM may be a CA
        bundle or a CRL (what ``client_ca_tls_container_ref`` and ``*crl_container_ref`` name).
        """
        ...

    def store_pkcs12(
        self, project_id: str | None, name: str | None, pkcs12: str | bytes,
        passphrase: str | None = None,
    ) -> str:
        """Validate a PKCS#12 archive (raw bytes, or base64 text) and return its ref."""
        ...

    def load(self, ref: str, project_id: str | None = None) -> TLSContainer:
        """The server certificate named by ``ref`` (it must include a private key); with
        ``project_id``, only if that project owns it."""
        ...

    def load_pem(self, ref: str, project_id: str | None = None) -> str:
        """Just the certificate field: the PEM of a CA bundle or CRL ref (any stored ref)."""
        ...

    def delete(self, ref: str) -> None: ...
