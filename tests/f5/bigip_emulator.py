"""A BIG-IP emulator for tests: the iControl REST and AS3 endpoints the f5 provider uses,
with AS3's documented behaviour, on a loopback port. No BIG-IP can run here.

- ``POST /mgmt/shared/authn/login`` → a token (``token.token``) that expires after
  ``token_lifetime`` seconds or on ``expire_tokens()``; every other call needs
  ``X-F5-Auth-Token`` or gets 401.
- ``GET /mgmt/shared/appsvcs/info`` → ``{"version": ...}``.
- ``POST /mgmt/shared/appsvcs/declare/<tenant>[?async=true]``: the body is checked against the
  AS3 schema (422 with AS3-style ``errors`` when invalid); with ``async=true`` → 202 and a task
  that stays ``in progress`` for ``declare_delay`` seconds; tasks run one at a time, as AS3's
  do. A tenant is replaced whole; an identical tenant answers ``no change``. Pointers
  (``pool``, ``monitors``, ``use``) must name objects of the same application, and a
  virtual address:port may be declared once on the device, else an error result (422).
- ``GET /mgmt/shared/appsvcs/task/<id>``, ``GET /mgmt/shared/appsvcs/declare``,
  ``DELETE /mgmt/shared/appsvcs/declare/<tenant>``.
- ``GET /mgmt/tm/ltm/pool/~T~A~P/members/stats`` and ``/mgmt/tm/ltm/virtual/~T~A~V/stats``
  derived from the declared objects; ``mark_member(address, port, up)`` and
  ``set_virtual_counters`` change what they say.
- Switches: ``unreachable`` (connections are closed without an answer), ``failing`` (HTTP 500),
  ``busy_answers`` (that many 503s, as AS3 gives while it applies another declaration),
  ``declare_delay``, ``refuse_with`` (the next declarations end in an error result).
"""

from __future__ import annotations

import copy
import json
import re
import secrets
import ssl
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from jsonschema import Draft7Validator, FormatChecker

from statera.providers.f5 import schema as as3_schema_file  # only for the file's location

SERVICE_CLASSES = {"Service_HTTP", "Service_HTTPS", "Service_TCP", "Service_UDP", "Service_L4"}


def _schema_validator() -> Draft7Validator:
    """The emulator's own validator of the AS3 schema (F5's formats loosely, as AS3 does)."""
    schema = json.loads(as3_schema_file.SCHEMA_FILE.read_text())
    checker = FormatChecker()
    for name in ("f5ip", "f5bigip", "f5pointer"):
        checker.checks(name)(lambda value: True)
    return Draft7Validator(schema, format_checker=checker)


class BigIPEmulator:
    def __init__(self, *, username: str = "admin", password: str = "f5-secret",
                 version: str = "3.56.0", declare_delay: float = 0.05,
                 token_lifetime: float = 1200.0, tls: ssl.SSLContext | None = None,
                 port: int = 0) -> None:
        self.username, self.password, self.version = username, password, version
        self.declare_delay = declare_delay
        self.token_lifetime = token_lifetime
        self.unreachable = False
        self.failing = False
        self.refuse_with: str | None = None
        self.busy_answers = 0  # answer this many requests with 503 (AS3 busy)
        self.tenants: dict[str, dict[str, Any]] = {}
        self.declarations: list[tuple[str, dict[str, Any]]] = []  # (tenant, body) POSTed
        self.deletes: list[str] = []
        self.results: list[dict[str, Any]] = []  # every finished task's results, in order
        self.logins = 0
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self.member_down: set[tuple[str, int]] = set()
        self.virtual_counters: dict[str, dict[str, int]] = {}
        self._tokens: dict[str, float] = {}
        self._tasks: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        self._work = threading.Lock()  # AS3 runs one declaration at a time
        self._validator = _schema_validator()
        self._valid_apps: set[str] = set()
        self._server = ThreadingHTTPServer(("127.0.0.1", port), self._handler_class())
        self._server.daemon_threads = True
        if tls is not None:
            self._server.socket = tls.wrap_socket(self._server.socket, server_side=True)
        self.scheme = "https" if tls is not None else "http"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True,
                                        name="bigip-emulator")

    # -- life cycle -------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> BigIPEmulator:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    # -- switches ---------------------------------------------------------------------------
    def expire_tokens(self) -> None:
        with self._lock:
            self._tokens.clear()

    def mark_member(self, address: str, port: int, up: bool) -> None:
        with self._lock:
            (self.member_down.discard if up else self.member_down.add)((address, port))

    def set_virtual_counters(self, virtual: str, **counters: int) -> None:
        """Counters of the virtual server named ``virtual`` (``bitsIn``, ``curConns``, ...)."""
        with self._lock:
            self.virtual_counters[virtual] = dict(counters)

    def declarations_for(self, tenant: str) -> int:
        with self._lock:
            return sum(1 for t, _ in self.declarations if t == tenant)

    def tenant(self, name: str) -> dict[str, Any] | None:
        with self._lock:
            body = self.tenants.get(name)
            return copy.deepcopy(body) if body is not None else None

    # -- request handling -------------------------------------------------------------------
    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        emulator = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return None

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                if emulator.unreachable:
                    self.close_connection = True
                    self.connection.close()
                    return
                status, body = emulator.handle(self.command, self.path, dict(self.headers),
                                               raw)
                data = b"" if body is None else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_DELETE = _serve

        return Handler

    def handle(self, method: str, target: str, headers: dict[str, str],
               raw: bytes) -> tuple[int, Any]:
        parts = urlsplit(target)
        path, query = unquote(parts.path), parse_qs(parts.query)
        with self._lock:
            self.requests.append((method, path, headers))
        if self.failing:
            return 500, {"code": 500, "message": "emulated device failure"}
        with self._lock:
            busy, self.busy_answers = self.busy_answers > 0, max(0, self.busy_answers - 1)
        if busy:
            return 503, {"code": 503, "message": "Configuration operation in progress on "
                         "device, please try again in 2 minutes"}
        if method == "POST" and path == "/mgmt/shared/authn/login":
            return self._login(raw)
        if not self._authorised(headers.get("X-F5-Auth-Token", "")):
            return 401, {"code": 401, "message": "Authorization failed: no user authentication "
                         "header or token detected."}
        if method == "GET" and path == "/mgmt/shared/appsvcs/info":
            return 200, {"version": self.version, "release": "10", "schemaCurrent": self.version,
                         "schemaMinimum": "3.0.0"}
        match = re.fullmatch(r"/mgmt/shared/appsvcs/declare(?:/([^/]+))?", path)
        if match and method == "POST":
            return self._declare(match[1], raw, query.get("async") == ["true"])
        if match and method == "GET":
            return self._read_declaration()
        if match and method == "DELETE" and match[1]:
            return self._delete(match[1])
        match = re.fullmatch(r"/mgmt/shared/appsvcs/task/([^/]+)", path)
        if match and method == "GET":
            with self._lock:
                task = self._tasks.get(match[1])
            return (200, task) if task else (404, {"code": 404, "message": "task not found"})
        match = re.fullmatch(r"/mgmt/tm/ltm/pool/~([^~]+)~([^~]+)~([^~/]+)/members/stats", path)
        if match and method == "GET":
            return self._member_stats(match[1], match[2], match[3])
        match = re.fullmatch(r"/mgmt/tm/ltm/virtual/~([^~]+)~([^~]+)~([^~/]+)/stats", path)
        if match and method == "GET":
            return self._virtual_stats(match[1], match[2], match[3])
        return 404, {"code": 404, "message": f"Public URI path not registered: {path}"}

    def _login(self, raw: bytes) -> tuple[int, Any]:
        try:
            body = json.loads(raw)
        except ValueError:
            return 400, {"code": 400, "message": "invalid JSON"}
        if (body.get("username"), body.get("password"), body.get("loginProviderName")) != (
                self.username, self.password, "tmos"):
            return 401, {"code": 401, "message": "Authentication failed."}
        token = secrets.token_hex(16)
        with self._lock:
            self._tokens[token] = time.monotonic() + self.token_lifetime
            self.logins += 1
        return 200, {"username": self.username, "token": {"token": token, "timeout": 1200}}

    def _authorised(self, token: str) -> bool:
        with self._lock:
            expiry = self._tokens.get(token)
            return expiry is not None and time.monotonic() < expiry

    # -- AS3 --------------------------------------------------------------------------------
    def _declare(self, tenant: str | None, raw: bytes, asynchronous: bool) -> tuple[int, Any]:
        try:
            body = json.loads(raw)
        except ValueError:
            return 400, {"code": 400, "message": "invalid JSON"}
        errors = self._schema_errors(body)
        adc = body.get("declaration", {}) if isinstance(body, dict) else {}
        tenants = {k: v for k, v in adc.items() if isinstance(v, dict)
                   and v.get("class") == "Tenant"}
        if tenant is not None and set(tenants) - {tenant}:
            errors.append(f"declaration names tenants outside the path: {sorted(tenants)}")
        if errors:
            return 422, {"code": 422, "message": "declaration is invalid", "errors": errors}
        with self._lock:
            for name, tenant_body in tenants.items():
                self.declarations.append((name, copy.deepcopy(tenant_body)))
        task_id = str(uuid.uuid4())
        pending = [{"code": 0, "message": "in progress", "tenant": name} for name in tenants]
        with self._lock:
            self._tasks[task_id] = {"id": task_id, "results": pending}
        if not asynchronous:
            self._run(task_id, tenants)
            with self._lock:
                return 200, self._tasks[task_id]
        threading.Thread(target=self._run, args=(task_id, tenants), daemon=True).start()
        return 202, {"id": task_id, "results": [{"message": "Declaration successfully submitted",
                                                 "code": 0, "tenant": ""}]}

    def _schema_errors(self, body: Any) -> list[str]:
        """AS3 schema errors of ``body``: the envelope once, each application on its own
        (cached by content), so a large tenant does not make the emulator slower than
        ``declare_delay`` says -- the result is the same as validating the whole body."""
        if not isinstance(body, dict) or not isinstance(body.get("declaration"), dict):
            return self._errors(body)
        envelope = copy.deepcopy(body)
        apps: list[tuple[str, str, Any]] = []
        for name, tenant in envelope["declaration"].items():
            if isinstance(tenant, dict) and tenant.get("class") == "Tenant":
                for app_name in [k for k, v in tenant.items()
                                 if isinstance(v, dict) and v.get("class") == "Application"]:
                    apps.append((name, app_name, tenant.pop(app_name)))
        errors = self._errors(envelope)
        for tenant_name, app_name, app in apps:
            key = json.dumps(app, sort_keys=True)
            if key not in self._valid_apps:
                single = copy.deepcopy(envelope)
                single["declaration"][tenant_name] = {"class": "Tenant", app_name: app}
                found = self._errors(single)
                if not found:
                    self._valid_apps.add(key)
                errors += found
        return errors

    def _errors(self, body: Any) -> list[str]:
        """AS3-style messages: the innermost failure under ``oneOf``s, by path."""
        out = []
        for error in self._validator.iter_errors(body):
            error = _innermost(error)
            path = "/".join(str(p) for p in error.absolute_path)
            out.append(f"/{path}: {error.message[:200]}")
        return out

    def _run(self, task_id: str, tenants: dict[str, dict[str, Any]]) -> None:
        with self._work:
            time.sleep(self.declare_delay)
            results = [self._apply(name, body) for name, body in tenants.items()]
        with self._lock:
            self._tasks[task_id] = {"id": task_id, "results": results}
            self.results.extend(results)

    def _apply(self, name: str, body: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            if self.refuse_with is not None:
                return {"code": 422, "message": "declaration failed", "tenant": name,
                        "response": self.refuse_with, "errors": [self.refuse_with]}
            problem = self._semantic_problem(name, body)
            if problem:
                return {"code": 422, "message": "declaration failed", "tenant": name,
                        "response": problem, "errors": [problem]}
            if self.tenants.get(name) == body:
                return {"code": 200, "message": "no change", "tenant": name}
            self.tenants[name] = copy.deepcopy(body)
            return {"code": 200, "message": "success", "tenant": name}

    def _semantic_problem(self, name: str, body: dict[str, Any]) -> str:
        """What a BIG-IP refuses after the schema: dangling pointers, duplicate listeners."""
        taken = {}
        for other, other_body in self.tenants.items():
            if other == name:
                continue
            for app_name, _item_name, item in _items(other_body):
                if item.get("class") in SERVICE_CLASSES:
                    for address in item.get("virtualAddresses", []):
                        taken[(str(address), item.get("virtualPort"))] = f"/{other}/{app_name}"
        mine: dict[tuple[str, Any], str] = {}
        for app_name, item_name, item in _items(body):
            app = body[app_name]
            for pointer in _pointers(item):
                if pointer not in app:
                    return (f"/{name}/{app_name}/{item_name}: pointer {pointer!r} does not "
                            "resolve")
            if item.get("class") in SERVICE_CLASSES:
                for address in item.get("virtualAddresses", []):
                    where = (str(address), item.get("virtualPort"))
                    owner = taken.get(where) or mine.get(where)
                    mine[where] = f"/{name}/{app_name}"
                    if owner:
                        return (f"01070333:3: Virtual Server /{name}/{app_name}/{item_name} "
                                f"illegally shares destination address with {owner}")
        return ""

    def _read_declaration(self) -> tuple[int, Any]:
        with self._lock:
            if not self.tenants:
                return 204, None
            adc: dict[str, Any] = {"class": "ADC", "schemaVersion": self.version,
                                   "id": "emulated"}
            adc.update(copy.deepcopy(self.tenants))
        return 200, adc

    def _delete(self, tenant: str) -> tuple[int, Any]:
        with self._work, self._lock:
            self.deletes.append(tenant)
            existed = self.tenants.pop(tenant, None) is not None
        return 200, {"results": [{"code": 200, "tenant": tenant,
                                  "message": "success" if existed else "no change"}]}

    # -- statistics -------------------------------------------------------------------------
    def _member_stats(self, tenant: str, app: str, pool: str) -> tuple[int, Any]:
        with self._lock:
            body = self.tenants.get(tenant, {}).get(app, {}).get(pool)
            if not body or body.get("class") != "Pool":
                return 404, {"code": 404, "message": f"Object not found - /{tenant}/{app}/{pool}"}
            monitored = bool(body.get("monitors"))
            entries = {}
            for member in body.get("members", []):
                for address in member.get("serverAddresses", []):
                    port = int(member["servicePort"])
                    down = (address, port) in self.member_down
                    availability = ("offline" if down else "available") if monitored \
                        else "unknown"
                    enabled = "enabled" if member.get("adminState", "enable") == "enable" \
                        else "disabled"
                    key = (f"https://localhost/mgmt/tm/ltm/pool/~{tenant}~{app}~{pool}/members/"
                           f"~Common~{address}:{port}/stats")
                    entries[key] = {"nestedStats": {"entries": {
                        "addr": {"description": address},
                        "port": {"value": port},
                        "status.availabilityState": {"description": availability},
                        "status.enabledState": {"description": enabled},
                        "serverside.curConns": {"value": 0},
                    }}}
        return 200, {"kind": "tm:ltm:pool:members:membersstats", "entries": entries}

    def _virtual_availability(self, app: dict[str, Any], service: dict[str, Any]) -> str:
        """``offline`` when the service's pool is offline, as BIG-IP reports it."""
        pool = app.get(service.get("pool") or "")
        if isinstance(pool, dict) and _pool_members_down(self, pool):
            return "offline"
        return "available"

    def _virtual_stats(self, tenant: str, app: str, virtual: str) -> tuple[int, Any]:
        with self._lock:
            body = self.tenants.get(tenant, {}).get(app, {}).get(virtual)
            if not body or body.get("class") not in SERVICE_CLASSES:
                return 404, {"code": 404,
                             "message": f"Object not found - /{tenant}/{app}/{virtual}"}
            counters = self.virtual_counters.get(virtual, {})
            availability = self._virtual_availability(self.tenants[tenant][app], body)
        names = ("bitsIn", "bitsOut", "curConns", "totConns")
        entry = {f"clientside.{n}": {"value": int(counters.get(n, 0))} for n in names}
        entry["status.availabilityState"] = {"description": availability}
        key = f"https://localhost/mgmt/tm/ltm/virtual/~{tenant}~{app}~{virtual}/stats"
        return 200, {"kind": "tm:ltm:virtual:virtualstats",
                     "entries": {key: {"nestedStats": {"entries": entry}}}}


def _pool_members_down(emulator: BigIPEmulator, pool: dict[str, Any]) -> bool:
    """Whether every member of a monitored pool is marked down (BIG-IP: pool offline)."""
    members = [(a, int(m["servicePort"])) for m in pool.get("members", [])
               for a in m.get("serverAddresses", [])]
    return bool(pool.get("monitors")) and bool(members) and all(
        m in emulator.member_down for m in members)


def _innermost(error: Any) -> Any:
    best = error
    for sub in error.context or []:
        candidate = _innermost(sub)
        if len(candidate.absolute_path) > len(best.absolute_path):
            best = candidate
    return best


def _items(tenant_body: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    out = []
    for app_name, app in tenant_body.items():
        if isinstance(app, dict) and app.get("class") == "Application":
            for item_name, item in app.items():
                if isinstance(item, dict):
                    out.append((app_name, item_name, item))
    return out


def _pointers(item: dict[str, Any]) -> list[str]:
    """Names an AS3 object points at within its application (``pool``, ``use``, TLS...)."""
    found: list[str] = []
    for key in ("pool", "serverTLS", "clientTLS", "policyEndpoint", "authenticationTrustCA",
                "clientCertificate"):
        if isinstance(item.get(key), str):
            found.append(item[key])

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            if isinstance(value.get("use"), str):
                found.append(value["use"])
            for sub in value.values():
                walk(sub)
        elif isinstance(value, list):
            for sub in value:
                walk(sub)

    walk({k: v for k, v in item.items() if k not in ("class",)})
    for cert in item.get("certificates", []) if item.get("class") == "TLS_Server" else []:
        found.append(cert.get("certificate"))
    return found


def main() -> None:
    """Run the emulator in the foreground, to try ``statera serve`` with ``[f5] url`` by hand."""
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8443)
    parser.add_argument("--delay", type=float, default=0.3, help="seconds per declaration")
    args = parser.parse_args()
    emulator = BigIPEmulator(port=args.port, declare_delay=args.delay).start()
    print(f"BIG-IP emulator on {emulator.url} (user admin, password f5-secret); Ctrl-C stops")
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        emulator.stop()


if __name__ == "__main__":
    main()
