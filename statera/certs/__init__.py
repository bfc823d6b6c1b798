"""TLS certificates and keys: the certificate-manager seam and the local store.

Belongs here: turning a certificate reference (``statera://certificates/<uuid>``, or a
Barbican-style ``.../v1/containers/<uuid>``) into key material, validating uploads with
``cryptography``, and the octavia-lib-shaped views providers consume. Does not belong here:
HTTP (the upload API is ``statera.api.certificates``) and writing PEM files for a data plane,
which a provider agent does.

Wiring: the API core builds ``LocalCertManager(db.session)`` and checks refs with
``load(ref, project_id)`` (server certificates) and ``load_pem(ref, project_id)`` (CA bundles,
CRLs); code that fills octavia-lib models uses :func:`cert_loader` (ref -> container dict or
None) and :func:`pem_loader` (ref -> PEM or None).
"""

from __future__ import annotations

from statera.certs.base import (
    REF_PREFIX,
    CertificateNotFound,
    CertManager,
    InvalidCertificate,
    TLSContainer,
    cert_id_from_ref,
    ref_for,
)
from statera.certs.local import LocalCertManager, cert_loader, pem_loader
from statera.certs.parse import crl_is_signed_by

__all__ = [
    "REF_PREFIX",
    "CertManager",
    "CertificateNotFound",
    "InvalidCertificate",
    "LocalCertManager",
    "TLSContainer",
    "cert_id_from_ref",
    "cert_loader",
    "crl_is_signed_by",
    "pem_loader",
    "ref_for",
]
