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


class CertManager(Protocol):
    """Stores and resolves TLS bundles. Implementations: ``local`` (the database).

    Every method raises :class:`CertificateNotFound` for a ref it cannot resolve; ``store``
    raises :class:`InvalidCertificate` (a ValueError) for unusable input.
    """

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
