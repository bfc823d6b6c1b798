"""TLS certificates and keys: the certificate-manager seam, and its three managers.

Belongs here: turning a certificate reference into key material for whoever needs it,
validating material with ``cryptography``, and the octavia-lib-shaped views providers consume.
Does not belong here: HTTP (the upload API is ``statera.api.certificates``) and writing PEM
files for a data plane, which a provider agent does.

``[certificates] cert_manager`` picks the manager (:func:`cert_manager`): ``local`` (default;
Statera's own store, ``statera://certificates/<uuid>`` refs uploaded through
``POST /v2/statera/certificates``), ``barbican`` (Barbican container and secret URLs, checked
with the caller's Keystone token, read with ``[service_auth]``) or ``noop`` (any reference, one
generated certificate). The API checks every reference a request names with
``manager.check(ref, kind, Caller(project, token))``; the driver agent fills the providers'
``*_data`` fields through :func:`material_loader` (``manager.fetch``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from statera.certs.base import (
    REF_PREFIX,
    Caller,
    CertificateNotFound,
    CertManager,
    CertStore,
    InvalidCertificate,
    Material,
    RefKind,
    TLSContainer,
    UnreadablePKCS12,
    cert_id_from_ref,
    ref_for,
)
from statera.certs.local import LocalCertManager, SessionFactory, cert_loader, pem_loader
from statera.certs.noop import NoopCertManager
from statera.certs.parse import crl_is_signed_by
from statera.config import Settings

__all__ = [
    "REF_PREFIX",
    "Caller",
    "CertManager",
    "CertStore",
    "CertificateNotFound",
    "InvalidCertificate",
    "LocalCertManager",
    "Material",
    "NoopCertManager",
    "RefKind",
    "TLSContainer",
    "UnreadablePKCS12",
    "cert_id_from_ref",
    "cert_loader",
    "cert_manager",
    "crl_is_signed_by",
    "material_loader",
    "pem_loader",
    "ref_for",
]


def cert_manager(settings: Settings, session_factory: SessionFactory) -> CertManager:
    """The manager ``[certificates] cert_manager`` names (settings validated the name)."""
    kind = settings.certificates.cert_manager
    if kind == "barbican":
        # Imported only here: python-barbicanclient is needed only by Barbican deployments.
        from statera.certs.barbican import BarbicanCertManager

        return BarbicanCertManager(settings.certificates, settings.service_auth)
    if kind == "noop":
        return NoopCertManager()
    return LocalCertManager(session_factory)


def material_loader(manager: CertManager) -> Callable[[str, str], dict[str, Any] | str | None]:
    """The driver agent's ``cert_loader(ref, kind)`` over ``manager.fetch``: the octavia-lib
    container dict for a server certificate, the PEM text for a CA bundle or CRL, None when
    the reference cannot be read (any other failure propagates, so the agent answers the
    provider with an error instead of a listener without its certificate)."""

    def load(ref: str, kind: str) -> dict[str, Any] | str | None:
        material = manager.fetch(ref, RefKind(kind))
        if isinstance(material, TLSContainer):
            return material.to_dict()
        return material

    return load
