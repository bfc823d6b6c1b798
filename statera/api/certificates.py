"""Statera's certificate upload API (Octavia has none; it reads Barbican).

Users who have no Barbican upload a bundle here and put the returned ``ref`` in a listener's
``default_tls_container_ref`` / ``sni_container_refs`` / ``client_ca_tls_container_ref`` /
``client_crl_container_ref`` or a pool's ``tls_container_ref`` / ``ca_tls_container_ref`` /
``crl_container_ref``.

- ``POST /v2/statera/certificates`` with ``{"certificate": {"name", "certificate",
  "private_key", "intermediates", "passphrase"}}`` (PEM; the key may also sit in
  ``certificate``; without a key the PEM may be a CA bundle or a CRL) or ``{"certificate":
  {"name", "pkcs12": "<base64>", "passphrase"}}`` -> 201 ``{"certificate": {"id", "name",
  "ref", "primary_cn", "project_id", "created_at"}}``.
- ``GET /v2/statera/certificates`` -> ``{"certificates": [...], "certificates_links": []}``
  (the caller's project only); ``GET .../{id}`` -> ``{"certificate": {...}}``.
- ``DELETE .../{id}`` -> 204; 409 while a listener or pool still refers to it.

A response never contains the key, the passphrase or the PEM. Another project's certificate
answers 404, exactly like a missing one. Errors use Octavia's body ``{"faultcode",
"faultstring", "debuginfo"}``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from statera.api.errors import utf8_safe
from statera.certs.base import (
    CertificateNotFound,
    CertStore,
    InvalidCertificate,
    cert_id_from_ref,
    ref_for,
)
from statera.certs.parse import primary_cn_of_pem
from statera.db.models import Certificate, Listener, Pool

LOG = logging.getLogger(__name__)

SessionFactory = Callable[[], AbstractContextManager[Session]]
PATH = "/v2/statera/certificates"
MAX_BODY_BYTES = 1024 * 1024
_PEM_KEYS = frozenset({"name", "certificate", "private_key", "intermediates", "passphrase"})
_PKCS12_KEYS = frozenset({"name", "pkcs12", "passphrase"})
_SECRET_KEYS = frozenset({"certificate", "private_key", "intermediates", "passphrase", "pkcs12"})


class _BadRequest(Exception):
    pass


class CertificateUpload(BaseModel):
    """The inner object of an upload, for the OpenAPI document only: :func:`_parse_body`
    checks bodies itself (so that no error ever echoes a secret)."""

    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(None, max_length=255)
    certificate: str | None = Field(None, description="PEM; give this or pkcs12")
    private_key: str | None = None
    intermediates: list[str] | str | None = None
    passphrase: str | None = None
    pkcs12: str | None = Field(None, description="base64 PKCS#12 archive; give this or "
                                                 "certificate")


def fault(status: int, message: str) -> JSONResponse:
    return JSONResponse(
        {"faultcode": "Client" if status < 500 else "Server",
         "faultstring": utf8_safe(message), "debuginfo": None},
        status_code=status,
    )


def certificates_router(
    get_cert_manager: Callable[[], CertStore],
    get_session: SessionFactory,
    get_project: Callable[[Request], str | None],
) -> APIRouter:
    """Routes under ``/v2/statera/certificates``.

    ``get_cert_manager()`` returns the manager that validates and stores uploads;
    ``get_session()`` opens a transaction (``Database.session``) for listing and the in-use
    check; ``get_project(request)`` is the caller's project id (None answers 400, as Octavia's
    "Missing project ID").
    """
    router = APIRouter(tags=["certificates"])

    @router.post(PATH, status_code=201)
    async def create_certificate(request: Request) -> JSONResponse:
        project = get_project(request)
        if not project:
            return fault(400, "Missing project ID in request where one is required.")
        raw = await request.body()
        try:
            fields = _parse_body(raw)
        except _BadRequest as exc:
            return fault(400, str(exc))
        manager = get_cert_manager()
        try:
            ref = await run_in_threadpool(_store, manager, project, fields)
        except InvalidCertificate as exc:
            return fault(400, f"Invalid certificate: {exc}")
        cert_id = cert_id_from_ref(ref)
        view = await run_in_threadpool(_show, get_session, cert_id, project)
        if view is None:  # stored by a manager that does not use this database
            return fault(500, "The certificate was stored but cannot be read back.")
        return JSONResponse({"certificate": view}, status_code=201)

    @router.get(PATH)
    def list_certificates(request: Request) -> JSONResponse:
        project = get_project(request)
        if not project:
            return fault(400, "Missing project ID in request where one is required.")
        with get_session() as session:
            rows = session.execute(_metadata_query().where(Certificate.project_id == project)
                                   .order_by(Certificate.created_at, Certificate.id)).all()
            views = [_view(row) for row in rows]
        return JSONResponse({"certificates": views, "certificates_links": []})

    @router.get(PATH + "/{cert_id}")
    def show_certificate(cert_id: str, request: Request) -> JSONResponse:
        project = get_project(request)
        if not project:
            return fault(400, "Missing project ID in request where one is required.")
        view = _show(get_session, cert_id, project)
        if view is None:
            return fault(404, f"Certificate {cert_id} not found.")
        return JSONResponse({"certificate": view})

    @router.delete(PATH + "/{cert_id}", status_code=204)
    def delete_certificate(cert_id: str, request: Request) -> Response:
        project = get_project(request)
        if not project:
            return fault(400, "Missing project ID in request where one is required.")
        with get_session() as session:
            if _show_in(session, cert_id, project) is None:
                return fault(404, f"Certificate {cert_id} not found.")
            user = _user_of(session, cert_id)
        if user is not None:
            return fault(409, f"Certificate {cert_id} is in use by {user}.")
        try:
            get_cert_manager().delete(ref_for(cert_id))
        except CertificateNotFound:
            return fault(404, f"Certificate {cert_id} not found.")
        return Response(status_code=204)

    return router


def _parse_body(raw: bytes) -> dict[str, Any]:
    """The inner object, checked for shape only; PEM/PKCS#12 validation is the manager's."""
    if len(raw) > MAX_BODY_BYTES:
        raise _BadRequest(f"Request body is larger than {MAX_BODY_BYTES} bytes.")
    try:
        body = json.loads(raw or b"null")
    except ValueError:
        raise _BadRequest("Request body is not valid JSON.") from None
    if not isinstance(body, dict) or not isinstance(body.get("certificate"), dict):
        raise _BadRequest(
            "Invalid input for field/attribute certificate. Value: 'None'. "
            "Mandatory field missing."
        )
    extra = sorted(set(body) - {"certificate"})
    if extra:
        raise _BadRequest(f"Unknown attribute for argument body: {', '.join(extra)}")
    fields: dict[str, Any] = body["certificate"]
    if "pkcs12" in fields and "certificate" in fields:
        raise _BadRequest("Give either certificate (PEM) or pkcs12, not both.")
    allowed = _PKCS12_KEYS if "pkcs12" in fields else _PEM_KEYS
    unknown = sorted(set(fields) - allowed)
    if unknown:
        raise _BadRequest(f"Unknown attribute for argument certificate: {', '.join(unknown)}")
    main = "pkcs12" if "pkcs12" in fields else "certificate"
    if not fields.get(main):
        raise _BadRequest(
            f"Invalid input for field/attribute {main}. Value: 'None'. Mandatory field missing."
        )
    for key, value in fields.items():
        if value is None:
            continue
        # Never echo the value of a secret-bearing field.
        shown = "<redacted>" if key in _SECRET_KEYS else value
        texts = value if key == "intermediates" and isinstance(value, list) else [value]
        if not all(isinstance(v, str) for v in texts):
            raise _BadRequest(f"Invalid input for field/attribute {key}. Value: '{shown}'. "
                              "Value should be a string.")
        if not all(_is_text(v) for v in texts):
            raise _BadRequest(f"Invalid input for field/attribute {key}. Value: '{shown}'. "
                              "Value should be Unicode text without NUL characters.")
    name = fields.get("name")
    if name is not None and len(name) > 255:
        raise _BadRequest(
            "Invalid input for field/attribute name. Value: '<too long>'. "
            "Value should have a maximum character requirement of 255"
        )
    return fields


def _is_text(value: str) -> bool:
    """False for a string with a lone UTF-16 surrogate or a NUL character (JSON can carry
    both; UTF-8 and the certificate parser cannot carry the first, PostgreSQL not the second)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return "\x00" not in value


def _store(manager: CertStore, project: str, fields: dict[str, Any]) -> str:
    if "pkcs12" in fields:
        return manager.store_pkcs12(project, fields.get("name"), fields["pkcs12"],
                                    fields.get("passphrase"))
    return manager.store(
        project,
        fields.get("name"),
        fields["certificate"],
        fields.get("private_key"),
        fields.get("intermediates"),
        fields.get("passphrase"),
    )


def _metadata_query() -> Any:
    # Only these columns are read, so the key never even leaves the database here.
    return select(
        Certificate.id, Certificate.name, Certificate.project_id, Certificate.created_at,
        Certificate.certificate,
    )


def _view(row: Any) -> dict[str, Any]:
    try:
        cn = primary_cn_of_pem(row.certificate)
    except InvalidCertificate:
        cn = None
    return {
        "id": row.id,
        "name": row.name or "",
        "ref": ref_for(row.id),
        "primary_cn": cn,
        "project_id": row.project_id,
        "created_at": row.created_at.isoformat() if row.created_at else None,
    }


def _show_in(session: Session, cert_id: str, project: str) -> dict[str, Any] | None:
    row = session.execute(
        _metadata_query().where(Certificate.id == cert_id, Certificate.project_id == project)
    ).first()
    return _view(row) if row is not None else None


def _show(get_session: SessionFactory, cert_id: str, project: str) -> dict[str, Any] | None:
    with get_session() as session:
        return _show_in(session, cert_id, project)


def _refers_to(refs: Iterable[Any], cert_id: str) -> bool:
    for ref in refs:
        if not ref:
            continue
        try:
            if cert_id_from_ref(str(ref)) == cert_id:
                return True
        except CertificateNotFound:
            continue
    return False


def _user_of(session: Session, cert_id: str) -> str | None:
    """The first listener or pool that names the certificate (in any accepted ref form)."""
    listeners = session.execute(select(
        Listener.id, Listener.default_tls_container_ref, Listener.sni_container_refs,
        Listener.client_ca_tls_container_ref, Listener.client_crl_container_ref,
    ))
    for lid, default, sni, ca, crl in listeners:
        if _refers_to([default, ca, crl, *(sni or [])], cert_id):
            return f"listener {lid}"
    pools = session.execute(select(
        Pool.id, Pool.tls_container_ref, Pool.ca_tls_container_ref, Pool.crl_container_ref,
    ))
    for pid, tls, ca, crl in pools:
        if _refers_to([tls, ca, crl], cert_id):
            return f"pool {pid}"
    return None
