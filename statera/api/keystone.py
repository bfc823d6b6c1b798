"""Keystone authentication (``[api] auth_strategy = keystone``): keystonemiddleware's
``auth_token``, unchanged, decides every request.

``auth_token`` is a WSGI filter and Statera's API is ASGI. Rather than re-implement token
validation from its private pieces, :class:`KeystoneAuth` runs the real ``AuthProtocol`` as
it runs in front of Octavia, around a tiny WSGI application that only records what the
filter validated: for each request it builds a WSGI environ from the request's headers (the
filter reads only headers: tokens, service tokens, and the identity headers it strips), calls
the filter in a worker thread (a cache miss is a blocking call to Keystone), and then either

- forwards the filter's own refusal (401 with ``WWW-Authenticate: Keystone uri=...``) as it
  is, or
- hands the validated identity (``X-Identity-Status``, project, user, roles and the user's
  auth plugin) to the app in the ASGI scope, where :func:`statera.api.policy.identity` reads
  it. Headers the client sent never reach the policy: ``auth_token`` removes every identity
  header before it sets its own, and the app reads them only from the scope.

The options are the ``[keystone_authtoken]`` section, handed to ``AuthProtocol`` as its
paste-deploy configuration is (any option keystonemiddleware or the auth plugin knows;
``STATERA_KEYSTONE_AUTHTOKEN__<OPTION>`` in the environment), with a private oslo.config
object so that nothing reads Statera's process arguments or ``/etc``. Token validation is
cached by ``auth_token`` itself: in ``memcached_servers`` when set, else in process memory
(``token_cache_time``, five minutes by default).

Version discovery (and every other route whose access rule is public) needs no token.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable, Iterable
from typing import Any

import anyio.to_thread
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from statera.api.policy import AUTH_SCOPE_KEY

LOG = logging.getLogger(__name__)

#: What ``auth_token`` sets in the environ for a validated token, under Statera's names.
IDENTITY_ENVIRON = {
    "HTTP_X_IDENTITY_STATUS": "status",
    "HTTP_X_PROJECT_ID": "project_id",
    "HTTP_X_PROJECT_NAME": "project_name",
    "HTTP_X_PROJECT_DOMAIN_ID": "project_domain_id",
    "HTTP_X_USER_ID": "user_id",
    "HTTP_X_USER_NAME": "user_name",
    "HTTP_X_ROLES": "roles",
    "HTTP_X_SERVICE_ROLES": "service_roles",
    "HTTP_X_IS_ADMIN_PROJECT": "is_admin_project",
}
StartResponse = Callable[..., Any]


def authtoken_conf(options: dict[str, Any]) -> dict[str, Any]:
    """The ``[keystone_authtoken]`` options as paste-deploy would pass them: strings (lists
    comma-joined, booleans lower-case), plus a private oslo.config object."""
    from oslo_config import cfg

    conf: dict[str, Any] = {}
    for key, value in options.items():
        if isinstance(value, bool):
            value = "true" if value else "false"
        elif isinstance(value, list | tuple):
            value = ",".join(str(v) for v in value)
        conf[str(key).lower()] = str(value)
    private = cfg.ConfigOpts()
    private([], project="statera", default_config_files=[])
    conf["oslo_config_config"] = private
    return conf


class _Outcome:
    """What one pass through ``auth_token`` gave: its own response, or the identity."""

    def __init__(self) -> None:
        self.status = 500
        self.headers: list[tuple[str, str]] = []
        self.body = b""
        self.identity: dict[str, Any] | None = None


def _validated(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    """The WSGI app behind ``auth_token``: reached only when the filter let the request
    through; it records what the filter left in the environ."""
    found: dict[str, Any] = {name: environ[key] for key, name in IDENTITY_ENVIRON.items()
                             if key in environ}
    found["token_auth"] = environ.get("keystone.token_auth")
    environ["statera.validated"] = found
    start_response("204 No Content", [])
    return []


class KeystoneAuth:
    """ASGI middleware running keystonemiddleware's ``AuthProtocol`` (see the module doc)."""

    def __init__(self, app: ASGIApp, options: dict[str, Any],
                 public_paths: frozenset[str]) -> None:
        from keystonemiddleware import auth_token

        self.app = app
        self.public_paths = public_paths
        conf = authtoken_conf(options)
        quiet = _PluginOptions(conf.get("auth_type"))
        config_log = logging.getLogger("keystonemiddleware._common.config")
        config_log.addFilter(quiet)
        try:
            self.filter = auth_token.AuthProtocol(_validated, conf)
        finally:
            config_log.removeFilter(quiet)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.public_paths:
            await self.app(scope, receive, send)
            return
        outcome = await anyio.to_thread.run_sync(self._authenticate, _environ(scope))
        if outcome.identity is None:
            await _respond(send, outcome)
            return
        scope[AUTH_SCOPE_KEY] = outcome.identity
        await self.app(scope, receive, send)

    def _authenticate(self, environ: dict[str, Any]) -> _Outcome:
        outcome = _Outcome()

        def start_response(status: str, headers: list[tuple[str, str]],
                           _exc_info: Any = None) -> Callable[[bytes], None]:
            outcome.status = int(status.split(" ", 1)[0])
            outcome.headers = list(headers)
            return lambda _data: None

        body = self.filter(environ, start_response)
        try:
            outcome.body = b"".join(body)
        finally:
            close = getattr(body, "close", None)
            if close is not None:
                close()
        outcome.identity = environ.get("statera.validated")
        return outcome


class _PluginOptions(logging.Filter):
    """Drops auth_token's warning that an option is "not known to keystonemiddleware" for the
    options of the configured auth plugin (``username``, ``password``, ...): auth_token hands
    those to the plugin, so the warning would mislead; a misspelt option still warns."""

    def __init__(self, auth_type: str | None) -> None:
        super().__init__()
        self.names: set[str] = set()
        if auth_type:
            from keystoneauth1 import loading

            try:
                options = loading.get_plugin_loader(auth_type).get_options()
            except Exception:  # an unknown plugin: auth_token reports it itself
                options = []
            self.names = {o.dest for o in options} | {o.name for o in options}

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args if isinstance(record.args, tuple) else ()
        return not (args and "not known" in str(record.msg) and args[0] in self.names)


def _environ(scope: Scope) -> dict[str, Any]:
    """A WSGI environ with the request's method, path and headers (no body: ``auth_token``
    reads none)."""
    server = scope.get("server") or ("127.0.0.1", 80)
    environ: dict[str, Any] = {
        "REQUEST_METHOD": scope["method"],
        "SCRIPT_NAME": "",
        "PATH_INFO": scope["path"],
        "QUERY_STRING": scope.get("query_string", b"").decode("latin-1"),
        "SERVER_NAME": str(server[0]),
        "SERVER_PORT": str(server[1]),
        "SERVER_PROTOCOL": f"HTTP/{scope.get('http_version', '1.1')}",
        "wsgi.url_scheme": scope.get("scheme", "http"),
        "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": io.StringIO(),
        "wsgi.version": (1, 0),
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    for raw_name, raw_value in scope["headers"]:
        name = raw_name.decode("latin-1").upper().replace("-", "_")
        value = raw_value.decode("latin-1")
        if name in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            environ[name] = value
            continue
        key = f"HTTP_{name}"
        environ[key] = f"{environ[key]},{value}" if key in environ else value
    return environ


async def _respond(send: Send, outcome: _Outcome) -> None:
    headers = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in outcome.headers
               if k.lower() != "content-length"]
    headers.append((b"content-length", str(len(outcome.body)).encode()))
    start: Message = {"type": "http.response.start", "status": outcome.status,
                      "headers": headers}
    await send(start)
    await send({"type": "http.response.body", "body": outcome.body})
