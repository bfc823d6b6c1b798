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
    CertificateNotFound,
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
        cert_id = cert_id_from_ref(ref)
        with self._session() as session:
            row = session.get(Certificate, cert_id)
            if row is None or (project_id is not None and row.project_id != project_id):
                raise CertificateNotFound(ref)
            return TLSContainer(
                id=row.id,
                certificate=row.certificate,
                private_key=row.private_key,
                intermediates=split_pem_certificates(row.intermediates),
                primary_cn=primary_cn_of_pem(row.certificate),
                passphrase=row.passphrase,
            )

    def load_pem(self, ref: str, project_id: str | None = None) -> str:
        cert_id = cert_id_from_ref(ref)
        with self._session() as session:
            row = session.get(Certificate, cert_id)
            if row is None or (project_id is not None and row.project_id != project_id):
                raise CertificateNotFound(ref)
            return row.certificate

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


def cert_loader(session_factory: SessionFactory) -> Callable[[str], dict[str, Any]]:
    """``load(ref) -> dict`` for ``default_tls_container_data`` / ``sni_container_data`` /
    ``tls_container_data``: ``{"certificate", "private_key", "intermediates", "primary_cn",
    "passphrase", "id"}`` as octavia-lib providers expect. Raises CertificateNotFound."""
    manager = LocalCertManager(session_factory)

    def load(ref: str) -> dict[str, Any]:
        return manager.load(ref).to_dict()

    return load


def pem_loader(session_factory: SessionFactory) -> Callable[[str], str]:
    """``load(ref) -> str`` for ``client_ca_tls_container_data``, ``client_crl_container_data``,
    ``ca_tls_container_data`` and ``crl_container_data``: the PEM text of the CA bundle or CRL.
    Raises CertificateNotFound."""
    manager = LocalCertManager(session_factory)
    return manager.load_pem
