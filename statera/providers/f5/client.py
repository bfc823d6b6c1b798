"""iControl REST client for the AS3 endpoints and the two statistics reads the provider uses.

Only what F5 documents: token login (``/mgmt/shared/authn/login``, again on 401), AS3 info,
asynchronous declare + task polling, read-back of declarations, tenant delete, pool-member and
virtual-server statistics. ``verify_tls`` is honoured as set: the HTTP client ignores the
environment (``trust_env=False``), so ``REQUESTS_CA_BUNDLE``/``SSL_CERT_FILE`` never widen or
narrow what the operator configured. The password and the token are never logged.
"""

from __future__ import annotations

import logging
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx

from statera.providers.f5.redact import redact
from statera.providers.f5.settings import F5Settings

LOG = logging.getLogger(__name__)
MIN_AS3 = (3, 36)
REQUEST_TIMEOUT = 30.0
TASK_POLL_INTERVAL = 0.1  # while a task is young (most finish within seconds)
TASK_POLL_FAST_FOR = 2.0
TASK_POLL_MAX_INTERVAL = 2.0
BUSY_FIRST_PAUSE = 0.5
BUSY_MAX_PAUSE = 5.0


class DeviceError(Exception):
    """The device could not be reached or answered outside the documented protocol."""


class DeclarationRefused(Exception):
    """AS3 refused a declaration (422 or an error result); ``str()`` is the device's reason."""


class As3TooOld(DeviceError):
    """The device's AS3 is older than the oldest version the provider declares for."""


@dataclass
class TaskResult:
    """The outcome of one declaration: the per-tenant results of the AS3 task."""

    results: list[dict[str, Any]] = field(default_factory=list)

    @property
    def unchanged(self) -> bool:
        return all(r.get("message") == "no change" for r in self.results)


def _verify(setting: bool | str) -> bool | ssl.SSLContext:
    if isinstance(setting, str):
        return ssl.create_default_context(cafile=setting)
    return setting


class BigIPClient:
    """One device, one session; thread-safe enough for the converger (httpx.Client is)."""

    def __init__(self, settings: F5Settings, *, sleep: Callable[[float], None] = time.sleep,
                 transport: httpx.BaseTransport | None = None) -> None:
        self.settings = settings
        self._sleep = sleep
        self._token: str | None = None
        self._http = httpx.Client(
            base_url=settings.url.rstrip("/"), verify=_verify(settings.verify_tls),
            trust_env=False, timeout=REQUEST_TIMEOUT, transport=transport)

    def close(self) -> None:
        self._http.close()

    # -- session --------------------------------------------------------------------------
    def login(self) -> None:
        body = {"username": self.settings.username, "password": self.settings.password,
                "loginProviderName": "tmos"}
        response = self._send("POST", "/mgmt/shared/authn/login", json=body, auth=False)
        if response.status_code != 200:
            raise DeviceError(f"login as {self.settings.username!r} failed: HTTP "
                              f"{response.status_code}")
        try:
            self._token = str(response.json()["token"]["token"])
        except (ValueError, KeyError, TypeError):
            raise DeviceError("login answer carries no token") from None

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """A request with the session token; logs in first, and again once on a 401.

        A 503 means the device is busy (AS3 applying another declaration): the request is
        tried again with growing pauses for up to ``task_timeout`` seconds.
        """
        deadline = time.monotonic() + self.settings.task_timeout
        pause = BUSY_FIRST_PAUSE
        while True:
            if self._token is None:
                self.login()
            response = self._send(method, path, **kwargs)
            if response.status_code == 401:
                LOG.info("f5: token refused (expired?); logging in again")
                self.login()
                response = self._send(method, path, **kwargs)
            if response.status_code != 503:
                return response
            if time.monotonic() + pause > deadline:
                raise DeviceError(f"{method} {path}: device busy (503) for "
                                  f"{self.settings.task_timeout:g} s")
            LOG.info("f5: device busy (503); %s %s again in %.1f s", method, path, pause)
            self._sleep(pause)
            pause = min(pause * 2, BUSY_MAX_PAUSE)

    def _send(self, method: str, path: str, auth: bool = True, **kwargs: Any) -> httpx.Response:
        headers = {"X-F5-Auth-Token": self._token} if auth and self._token else {}
        try:
            response = self._http.request(method, path, headers=headers, **kwargs)
        except httpx.HTTPError as exc:
            raise DeviceError(f"{method} {path}: {type(exc).__name__}: {exc}") from None
        if response.status_code >= 500 and response.status_code != 503:
            raise DeviceError(f"{method} {path}: HTTP {response.status_code}: "
                              f"{redact(response.text)[:300]}")
        return response

    # -- AS3 --------------------------------------------------------------------------------
    def as3_version(self) -> str:
        """AS3's version; raises As3TooOld below 3.36."""
        response = self.request("GET", "/mgmt/shared/appsvcs/info")
        if response.status_code != 200:
            raise DeviceError(f"AS3 info: HTTP {response.status_code} (is AS3 installed?)")
        version = str(response.json().get("version", ""))
        parts = tuple(int(p) for p in version.split(".")[:2] if p.isdigit())
        if len(parts) < 2 or parts < MIN_AS3:
            raise As3TooOld(f"AS3 {version or '(unknown)'} is older than 3.36; the f5 provider "
                            "needs AS3 3.36 or later on the device")
        return version

    def declare(self, tenant: str, body: dict[str, Any]) -> TaskResult:
        """POST one tenant's declaration asynchronously and wait for its task."""
        response = self.request("POST", f"/mgmt/shared/appsvcs/declare/{quote(tenant)}",
                                params={"async": "true"}, json=body)
        return self._outcome(response, f"declaring {tenant}")

    def delete_tenant(self, tenant: str) -> TaskResult:
        response = self.request("DELETE", f"/mgmt/shared/appsvcs/declare/{quote(tenant)}")
        if response.status_code == 404:
            return TaskResult([{"tenant": tenant, "code": 200, "message": "no change"}])
        return self._outcome(response, f"removing {tenant}")

    def declared_tenants(self) -> dict[str, Any]:
        """Tenants the device holds (name -> body), from its current declaration."""
        response = self.request("GET", "/mgmt/shared/appsvcs/declare")
        if response.status_code == 204 or not response.content:
            return {}
        if response.status_code != 200:
            raise DeviceError(f"reading declarations: HTTP {response.status_code}")
        adc = response.json()
        if isinstance(adc, dict) and adc.get("class") == "AS3":
            adc = adc.get("declaration", {})
        return {k: v for k, v in adc.items()
                if isinstance(v, dict) and v.get("class") == "Tenant"}

    def _outcome(self, response: httpx.Response, what: str) -> TaskResult:
        if response.status_code == 422 or response.status_code == 400:
            raise DeclarationRefused(f"{what}: {_reason(_json(response))}")
        if response.status_code == 202:
            task_id = str(_json(response).get("id", ""))
            if not task_id:
                raise DeviceError(f"{what}: 202 without a task id")
            return self._wait(task_id, what)
        if response.status_code == 200:
            return self._checked(_json(response), what)
        raise DeviceError(f"{what}: HTTP {response.status_code}: "
                          f"{redact(response.text)[:300]}")

    def _wait(self, task_id: str, what: str) -> TaskResult:
        started = time.monotonic()
        deadline = started + self.settings.task_timeout
        interval = TASK_POLL_INTERVAL
        while True:
            response = self.request("GET", f"/mgmt/shared/appsvcs/task/{quote(task_id)}")
            if response.status_code != 200:
                raise DeviceError(f"{what}: task {task_id}: HTTP {response.status_code}")
            task = _json(response)
            results = task.get("results") or []
            if results and not any(r.get("message") == "in progress" for r in results):
                return self._checked(task, what)
            if time.monotonic() >= deadline:
                raise DeviceError(f"{what}: task {task_id} still in progress after "
                                  f"{self.settings.task_timeout:g} s")
            self._sleep(interval)
            if time.monotonic() - started > TASK_POLL_FAST_FOR:
                interval = min(interval * 2, TASK_POLL_MAX_INTERVAL)

    @staticmethod
    def _checked(task: dict[str, Any], what: str) -> TaskResult:
        results = [r for r in task.get("results") or [] if isinstance(r, dict)]
        failed = [r for r in results
                  if r.get("message") not in ("success", "no change")
                  or int(r.get("code", 200)) >= 300]
        if failed:
            raise DeclarationRefused(f"{what}: {_reason({'results': failed})}")
        return TaskResult(results)

    # -- statistics -------------------------------------------------------------------------
    def pool_member_stats(self, tenant: str, app: str, pool: str) -> list[dict[str, Any]]:
        """Each member's nested statistics entries (``addr``, ``port``, ``status.*``)."""
        path = f"/mgmt/tm/ltm/pool/~{tenant}~{app}~{pool}/members/stats"
        return list(_nested(self._stats(path)).values())

    def virtual_stats(self, tenant: str, app: str, virtual: str) -> dict[str, Any]:
        path = f"/mgmt/tm/ltm/virtual/~{tenant}~{app}~{virtual}/stats"
        entries = list(_nested(self._stats(path)).values())
        return entries[0] if entries else {}

    def _stats(self, path: str) -> dict[str, Any]:
        response = self.request("GET", path)
        if response.status_code == 404:
            return {}
        if response.status_code != 200:
            raise DeviceError(f"GET {path}: HTTP {response.status_code}")
        return _json(response)


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {"message": response.text[:300]}
    return body if isinstance(body, dict) else {"message": str(body)[:300]}


def _nested(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """``entries`` → each entry's ``nestedStats.entries`` (iControl's statistics shape)."""
    out: dict[str, dict[str, Any]] = {}
    for key, entry in (body.get("entries") or {}).items():
        nested = (entry or {}).get("nestedStats", {}).get("entries")
        if isinstance(nested, dict):
            out[key] = nested
    return out


def _reason(body: dict[str, Any]) -> str:
    """The device's own words: messages and AS3 validation errors, shortened."""
    parts: list[str] = []
    for result in body.get("results") or []:
        if isinstance(result, dict):
            text = f"{result.get('tenant', '')}: {result.get('message', '')}".strip(": ")
            errors = result.get("errors") or []
            if errors:
                text += " " + "; ".join(str(e) for e in errors[:5])
            parts.append(text)
    if body.get("message"):
        parts.append(str(body["message"]))
    for error in (body.get("errors") or [])[:5]:
        parts.append(str(error))
    return redact(" | ".join(p for p in parts if p))[:1000] or "no reason given"


def stat_value(entries: dict[str, Any], key: str) -> Any:
    """``value`` or ``description`` of one statistics entry (None when absent)."""
    entry = entries.get(key) or {}
    return entry.get("value", entry.get("description"))
