"""The default certificate manager: bundles in the ``certificate`` table.

Keys are stored decrypted (unencrypted PKCS#8 PEM, ``passphrase`` left null): a passphrase kept
in the same row as the key it protects adds no security, and every renderer then gets a key it
can use as is. Protecting the table (database permissions, encryption at rest) is therefore the
operator's job, as it is for Barbican's own database. Keys never reach a log line or a repr.

Each call runs in its own short transaction from ``session_factory`` (``Database.session``),
because certificates are written by their own API, not inside a load-balancer change.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from sqlalchemy.orm import Session

from statera.certs.base import (
    Caller,
    CertificateNotFound,
    InvalidCertificate,
    Material,
    RefKind,
    TLSContainer,
    cert_id_from_ref,
    ref_for,
)
from statera.certs.parse import (
    ParsedBundle,
    parse_pem_bundle,
    parse_pkcs12,
    primary_cn_of_pem,
    split_pem_certificates,
)
from statera.db.models import Certificate, new_id

LOG = logging.getLogger(__name__)

SessionFactory = Callable[[], AbstractContextManager[Session]]


class LocalCertManager:
    """:class:`~statera.certs.base.CertManager` over the database."""

    name = "local"

    def __init__(self, session_factory: SessionFactory) -> None:
        self._session = session_factory

    def store(
        self,
        project_id: str | None,
        name: str | None,
        certificate_pem: str,
        private_key_pem: str | None = None,
        intermediates_pem: str | list[str] | None = None,
        passphrase: str | None = None,
    ) -> str:
        bundle = parse_pem_bundle(certificate_pem, private_key_pem, intermediates_pem, passphrase)
        return self._save(project_id, name, bundle)

    def store_pkcs12(
        self,
        project_id: str | None,
        name: str | None,
        pkcs12: str | bytes,
        passphrase: str | None = None,
    ) -> str:
        return self._save(project_id, name, parse_pkcs12(pkcs12, passphrase))

    def load(self, ref: str, project_id: str | None = None) -> TLSContainer:
        container = self.find(ref, project_id)
        if container is None or container.private_key is None:
            # A CA bundle or CRL is not a server certificate: no data plane could serve it.
            raise CertificateNotFound(ref)
        return container

    def load_pem(self, ref: str, project_id: str | None = None) -> str:
        container = self.find(ref, project_id)
        if container is None:
            raise CertificateNotFound(ref)
        return container.certificate

    def check(self, ref: str, kind: RefKind, caller: Caller) -> Material:
        """The project's own stored certificate (its token plays no part: the store is
        Statera's). A server certificate must have a key; a CA or CRL ref gives its PEM."""
        if kind is RefKind.BUNDLE:
            return self.load(ref, caller.project_id)
        return self.load_pem(ref, caller.project_id)

    def fetch(self, ref: str, kind: RefKind) -> Material | None:
        """Any stored ref, whoever owns it (the API checked ownership); None if gone."""
        container = self.find(ref)
        if container is None:
            return None
        return container if kind is RefKind.BUNDLE else container.certificate

    def find(self, ref: str, project_id: str | None = None) -> TLSContainer | None:
        """Whatever ``ref`` names (with or without a key), or None if unknown or malformed."""
        try:
            cert_id = cert_id_from_ref(ref)
        except CertificateNotFound:
            return None
        with self._session() as session:
            row = session.get(Certificate, cert_id)
            if row is None or (project_id is not None and row.project_id != project_id):
                return None
            return TLSContainer(
                id=row.id,
                certificate=row.certificate,
                private_key=row.private_key,
                intermediates=split_pem_certificates(row.intermediates),
                primary_cn=_primary_cn(row.certificate),
                passphrase=row.passphrase,
            )

    def delete(self, ref: str) -> None:
        cert_id = cert_id_from_ref(ref)
        with self._session() as session:
            row = session.get(Certificate, cert_id)
            if row is None:
                raise CertificateNotFound(ref)
            session.delete(row)
        LOG.info("deleted certificate %s", cert_id)

    def _save(self, project_id: str | None, name: str | None, bundle: ParsedBundle) -> str:
        row = Certificate(
            id=new_id(),
            project_id=project_id,
            name=name,
            certificate=bundle.certificate,
            private_key=bundle.private_key,
            intermediates="".join(bundle.intermediates) or None,
            passphrase=None,
        )
        with self._session() as session:
            session.add(row)
        kind = "CRL" if bundle.is_crl else "certificate" if bundle.private_key else "CA bundle"
        LOG.info(
            "stored %s %s for project %s (primary CN %s)",
            kind, row.id, project_id, bundle.primary_cn,
        )
        return ref_for(row.id)


def _primary_cn(pem: str) -> str | None:
    # Rows are written by this manager, so this only guards rows put there by other means.
    try:
        return primary_cn_of_pem(pem)
    except InvalidCertificate:
        return None


def cert_loader(session_factory: SessionFactory) -> Callable[[str], dict[str, Any] | None]:
    """``load(ref) -> dict | None``: the octavia-lib container data for any stored ref.

    The dict is ``{"certificate", "private_key", "intermediates", "primary_cn", "passphrase",
    "id"}``, what providers expect in ``default_tls_container_data``, ``sni_container_data`` and
    a pool's ``tls_container_data``. For a CA bundle or CRL ``private_key`` is None and
    ``certificate`` is the PEM that ``client_ca_tls_container_data`` and friends carry, so one
    loader serves every ``*_data`` field. An unknown or malformed ref gives None (the ref was
    checked when the listener or pool was written; the certificate may be gone since).
    Not project-scoped: the API checks ownership with ``CertManager.load(ref, project_id)``.
    """
    manager = LocalCertManager(session_factory)

    def load(ref: str) -> dict[str, Any] | None:
        container = manager.find(ref)
        return container.to_dict() if container is not None else None

    return load


def pem_loader(session_factory: SessionFactory) -> Callable[[str], str | None]:
    """``load(ref) -> str | None``: just the PEM text of a CA bundle or CRL ref (the
    ``certificate`` field), for ``client_ca_tls_container_data``, ``client_crl_container_data``,
    ``ca_tls_container_data`` and ``crl_container_data``; None if unknown or malformed."""
    manager = LocalCertManager(session_factory)

    def load(ref: str) -> str | None:
        container = manager.find(ref)
        return container.certificate if container is not None else None

    return load
