"""The ``barbican`` certificate manager: references are Barbican URLs, as Octavia takes them.

A server certificate (``default_tls_container_ref``, ``sni_container_refs``, a pool's
``tls_container_ref``) is either a *secret* holding a PKCS#12 archive without passphrase
(``.../v1/secrets/<uuid>``, Octavia's ``barbican`` manager) or a *certificate container*
whose ``certificate``, ``private_key`` and optional ``intermediates`` and
``private_key_passphrase`` are PEM secrets (``.../v1/containers/<uuid>``, Octavia's
``barbican_legacy``): the secret is tried first, then the container, as Octavia does. A CA
bundle or CRL is a secret whose payload is PEM (Octavia's ``get_secret``).

Access follows Octavia's ``BarbicanACLAuth``. When a request names a reference, the API acts
*with the caller's token*: it reads the reference's ACL, which Barbican allows only to those
who may manage the secret, and adds Statera's service user to its ``read`` users (and to each
secret of a container), then reads the material *as the service user* and validates it. A
reference the caller cannot reach (another project's, a typo, a deleted secret) is Octavia's
400 "Could not retrieve certificate". Later the driver agent reads the material as the service
user only (``[service_auth]``), when it serves a provider the listener or pool.

Why python-barbicanclient and keystoneauth1: they are what Octavia uses for exactly this
(barbicanclient knows Barbican's ACL, container and payload APIs; keystoneauth1 keeps the
service user's token and re-authenticates when it expires) and both are maintained by
OpenStack. Their HTTP logging is switched off (a quiet logger): a payload is a private key.
Nothing in this module logs payloads, tokens or passwords; errors name the reference and the
HTTP status only.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from keystoneauth1 import loading, session, token_endpoint

from statera.certs.base import (
    Caller,
    CertificateNotFound,
    InvalidCertificate,
    Material,
    RefKind,
    TLSContainer,
    UnreadablePKCS12,
)
from statera.certs.parse import parse_pem_bundle, parse_pkcs12
from statera.config import CertificatesSettings, ServiceAuthSettings

LOG = logging.getLogger(__name__)

#: keystoneauth1 and barbicanclient log request and response bodies at DEBUG; a secret's
#: payload is a private key. Their requests go through this logger, which never logs DEBUG.
_HTTP_LOG = logging.getLogger("statera.certs.barbican.http")
_HTTP_LOG.setLevel(logging.INFO)
_HTTP_LOG.propagate = True
# barbicanclient also logs through its own module loggers: debug lines, and an ERROR for every
# 4xx (a refused reference is the user's mistake, not Statera's error). This module logs each
# refusal itself, once, at INFO; theirs are silenced.
logging.getLogger("barbicanclient").setLevel(logging.CRITICAL)



class BarbicanUnavailable(RuntimeError):
    """Barbican or Keystone did not answer (or refused the service user itself), as opposed to
    refusing one reference. The driver agent then answers the provider with a failure, so a
    running listener is not torn down because Barbican is briefly away."""


class BarbicanCertManager:
    """:class:`~statera.certs.base.CertManager` over Barbican (see the module doc)."""

    name = "barbican"

    def __init__(self, certificates: CertificatesSettings, service_auth: ServiceAuthSettings,
                 *, clock: Callable[[], float] = time.monotonic) -> None:
        self._settings = certificates
        self._auth = service_auth
        self._clock = clock
        self._lock = threading.Lock()
        self._service_session: session.Session | None = None
        self._service_client: Any = None
        self._service_user_id: str | None = None
        self._endpoint: str | None = certificates.endpoint.rstrip("/") or None
        self._cache: dict[tuple[str, RefKind], tuple[float, Material]] = {}

    # The API side -----------------------------------------------------------------------
    def check(self, ref: str, kind: RefKind, caller: Caller) -> Material:
        """Grant the service user read access with the caller's token, then read and validate
        the material as the service user (Octavia's ``set_acls`` then ``get_cert``)."""
        if not caller.token:
            # Without a token nobody can prove access to a Barbican secret.
            LOG.info("certificate %s refused: the request carries no Keystone token", ref)
            raise CertificateNotFound(ref)
        try:
            self._grant_service_read(ref, caller.token)
            material = self._load(ref, kind)
        except BarbicanUnavailable as exc:
            LOG.warning("certificate %s: %s", ref, exc)
            raise CertificateNotFound(ref) from None  # Octavia answers 400 here too
        self._remember(ref, kind, material)
        return material

    # The driver agent's side ------------------------------------------------------------
    def fetch(self, ref: str, kind: RefKind) -> Material | None:
        """The material as the service user, reused for ``cache_seconds``; None (and a
        warning without any payload) when Barbican refuses it; raises
        :class:`BarbicanUnavailable` when Barbican cannot be asked."""
        cached = self._cache.get((ref, kind))
        if cached is not None and cached[0] > self._clock():
            return cached[1]
        try:
            material = self._load(ref, kind)
        except (CertificateNotFound, UnreadablePKCS12) as exc:
            LOG.warning("could not read certificate %s from Barbican: %s", ref, exc)
            return None
        self._remember(ref, kind, material)
        return material

    # Internals --------------------------------------------------------------------------
    def _remember(self, ref: str, kind: RefKind, material: Material) -> None:
        ttl = self._settings.cache_seconds
        if ttl <= 0:
            return
        now = self._clock()
        with self._lock:
            # Forget what has expired, so references no listener uses any more go away.
            for key in [k for k, (until, _) in self._cache.items() if until <= now]:
                del self._cache[key]
            self._cache[(ref, kind)] = (now + ttl, material)

    def _grant_service_read(self, ref: str, token: str) -> None:
        """Add the service user to the read ACL of ``ref`` and, for a container, of every
        secret in it; any failure (no access, not found, malformed) is "could not retrieve"."""
        try:
            user = self._client(self._user_session(token))
            service_user = self._service_user()
        except Exception as exc:  # keystoneauth: Keystone or the catalog unreachable
            raise BarbicanUnavailable(f"Keystone could not be asked: {_why(exc)}") from None
        try:
            targets = [ref]
            if _is_container(ref):
                container = user.containers.get(container_ref=ref)
                targets += [s.secret_ref for s in container.secrets.values() if s is not None]
            for target in targets:
                acl = user.acls.get(target)
                readers = acl.get("read")
                if service_user not in readers.users:
                    readers.users.append(service_user)
                    acl.submit()
                    LOG.info("granted Statera's service user read access to %s", target)
        except Exception as exc:  # barbicanclient raises HTTP, ValueError and others
            _raise_if_outage(exc, ref)
            LOG.info("certificate %s refused: the caller cannot grant access to it (%s)",
                     ref, _why(exc))
            raise CertificateNotFound(ref) from None

    def _load(self, ref: str, kind: RefKind) -> Material:
        try:
            client = self._service()
        except Exception as exc:  # keystoneauth: Keystone or the catalog unreachable
            raise BarbicanUnavailable(f"Keystone could not be asked: {_why(exc)}") from None
        if kind is not RefKind.BUNDLE:
            return self._load_pem(client, ref, kind)
        if not _is_container(ref):
            try:
                payload = client.secrets.get(secret_ref=ref).payload
            except Exception as exc:
                _raise_if_outage(exc, ref)
                LOG.info("certificate %s: no readable PKCS12 secret (%s)", ref, _why(exc))
            else:
                try:
                    bundle = parse_pkcs12(_as_bytes(payload))
                except InvalidCertificate as exc:
                    raise UnreadablePKCS12(str(exc)) from None
                return TLSContainer(id=ref, certificate=bundle.certificate,
                                    private_key=bundle.private_key,
                                    intermediates=list(bundle.intermediates),
                                    primary_cn=bundle.primary_cn)
        return self._load_container(client, ref)

    def _load_container(self, client: Any, ref: str) -> TLSContainer:
        """A certificate container (Octavia's legacy form), validated like an upload."""
        try:
            container = client.containers.get(container_ref=ref)
            parts = {name: _as_text(secret.payload)
                     for name, secret in container.secrets.items() if secret is not None}
        except Exception as exc:
            _raise_if_outage(exc, ref)
            LOG.info("certificate %s: no readable certificate container (%s)", ref, _why(exc))
            raise CertificateNotFound(ref) from None
        if "certificate" not in parts or "private_key" not in parts:
            LOG.info("certificate %s: the container has no certificate and private_key", ref)
            raise CertificateNotFound(ref)
        try:
            bundle = parse_pem_bundle(parts["certificate"], parts["private_key"],
                                      parts.get("intermediates"),
                                      parts.get("private_key_passphrase"))
        except InvalidCertificate as exc:
            LOG.info("certificate %s: the container's material is not usable (%s)", ref, exc)
            raise CertificateNotFound(ref) from None
        return TLSContainer(id=ref, certificate=bundle.certificate,
                            private_key=bundle.private_key,
                            intermediates=list(bundle.intermediates),
                            primary_cn=bundle.primary_cn)

    def _load_pem(self, client: Any, ref: str, kind: RefKind) -> str:
        """A CA bundle or CRL: a secret whose payload is PEM, normalised like an upload."""
        try:
            payload = client.secrets.get(secret_ref=ref).payload
            bundle = parse_pem_bundle(_as_text(payload))
        except Exception as exc:
            _raise_if_outage(exc, ref)
            LOG.info("certificate %s: no readable PEM secret (%s)", ref, _why(exc))
            raise CertificateNotFound(ref) from None
        if bundle.private_key is not None:  # a CA or CRL secret never holds a key
            raise CertificateNotFound(ref)
        return bundle.certificate

    def _client(self, sess: session.Session) -> Any:
        from barbicanclient import client as barbican_client

        return barbican_client.Client(
            session=sess, endpoint=self._barbican_endpoint(), logger=_HTTP_LOG)

    def _service(self) -> Any:
        """The service user's Barbican client, made once (it discovers Barbican's version
        with one request when made)."""
        if self._service_client is None:
            self._service_client = self._client(self._session())
        return self._service_client

    def _barbican_endpoint(self) -> str:
        """``[certificates] endpoint``, else Barbican's URL from the service catalog."""
        if self._endpoint is None:
            url = self._session().get_endpoint(
                service_type="key-manager", interface=self._settings.endpoint_type,
                region_name=self._settings.region_name or None)
            if not url:
                raise CertificateNotFound("(no key-manager endpoint in the catalog)")
            self._endpoint = str(url).rstrip("/")
        return self._endpoint

    def _session(self) -> session.Session:
        """The service user's keystoneauth session (one per process, re-authenticating by
        itself when the token expires)."""
        with self._lock:
            if self._service_session is None:
                self._service_session = self._new_session(self._service_plugin())
            return self._service_session

    def _service_user(self) -> str:
        if self._service_user_id is None:
            sess = self._session()
            self._service_user_id = str(sess.get_user_id())
        return self._service_user_id

    def _user_session(self, token: str) -> session.Session:
        """A session that presents the caller's already-validated token to Barbican."""
        return self._new_session(token_endpoint.Token(self._barbican_endpoint(), token))

    def _service_plugin(self) -> Any:
        options = self._auth.model_dump()
        options["password"] = self._auth.password.get_secret_value()
        loader: Any = loading.get_plugin_loader(options.pop("auth_type"))
        known = {opt.dest for opt in loader.get_options()}
        return loader.load_from_options(
            **{k: v for k, v in options.items() if k in known and v not in ("", None)})

    def _new_session(self, plugin: Any) -> session.Session:
        verify: bool | str = not self._auth.insecure
        if self._auth.cafile:
            verify = self._auth.cafile
        return session.Session(auth=plugin, verify=verify, timeout=self._auth.timeout)


def _raise_if_outage(exc: BaseException, ref: str) -> None:
    """Re-raise as :class:`BarbicanUnavailable` unless ``exc`` is about this reference: a 4xx
    from Barbican, a malformed reference (ValueError) or unusable material."""
    from barbicanclient import exceptions as barbican_exc

    if isinstance(exc, barbican_exc.HTTPClientError | ValueError | InvalidCertificate):
        return
    if isinstance(exc, UnicodeDecodeError):
        return
    raise BarbicanUnavailable(f"Barbican could not be asked about {ref}: {_why(exc)}") from None


def _is_container(ref: str) -> bool:
    return "/containers/" in ref


def _as_bytes(payload: Any) -> bytes:
    return payload if isinstance(payload, bytes) else str(payload).encode()


def _as_text(payload: Any) -> str:
    return payload.decode() if isinstance(payload, bytes) else str(payload)


def _why(exc: BaseException) -> str:
    """An error's kind and HTTP status, never its whole text (which could quote a body)."""
    status = getattr(exc, "status_code", None)
    return f"{type(exc).__name__}{f' {status}' if status else ''}"
