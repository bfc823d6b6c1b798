"""Pure translation of a project's load balancers into one AS3 tenant declaration.

One AS3 tenant per project (``<tenant_prefix><project id>``), one ``Application`` per load
balancer, a ``Service_*`` per listener, a ``Pool`` per pool with its members, a ``Monitor`` per
health monitor, an ``Endpoint_Policy`` per listener with L7 policies, ``TLS_Server`` /
``TLS_Client`` / ``Certificate`` for TLS. Plain functions from octavia-lib data models to
dicts, no I/O: the tests check every decision against the AS3 schema without a device.

User strings are data. Names and descriptions never reach the device (objects are named by
id). Strings AS3 expands (monitor ``send``/``receive``, backquote escapes) or evaluates as Tcl
(redirect ``location``) get every special character percent-encoded, which keeps a URL's
meaning; strings AS3 restricts by pattern are checked here and refused (``DeclarationError``)
rather than altered. What BIG-IP cannot express raises ``Unsupported``.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from octavia_lib.api.drivers import data_models as dm

SCHEMA_VERSION = "3.36.0"  # the oldest AS3 the provider talks to; every key used exists there
ID_RE = re.compile(r"^[0-9A-Za-z][0-9A-Za-z-]{0,63}$")
TENANT_RE = re.compile(r"^[A-Za-z][0-9A-Za-z_.-]{0,189}$")
COOKIE_NAME_RE = re.compile(r"^[0-9A-Za-z.~#$%^&*_-]{1,64}$")
HOST_RE = re.compile(r"^[0-9A-Za-z.:\[\]-]{1,255}$")
# Characters that must not reach a backquote-expanded or Tcl-evaluated string as themselves.
URL_SPECIALS = {c: f"%{ord(c):02X}" for c in '`[]${}\\"; \t\r\n'}

SERVICE_CLASSES = {
    "HTTP": "Service_HTTP",
    "TERMINATED_HTTPS": "Service_HTTPS",
    "TCP": "Service_TCP",
    "HTTPS": "Service_L4",  # TLS passed through untouched
    "UDP": "Service_UDP",
}
L7_CAPABLE = {"HTTP", "TERMINATED_HTTPS"}
POOL_PROTOCOLS = {"HTTP", "HTTPS", "TCP", "UDP"}
ALGORITHMS = {
    "ROUND_ROBIN": ("round-robin", "ratio-member"),
    "LEAST_CONNECTIONS": ("least-connections-member", "ratio-least-connections-member"),
    "SOURCE_IP": ("round-robin", "ratio-member"),  # plus source-address persistence
}
MONITOR_TYPES = {
    "HTTP": "http", "HTTPS": "https", "TCP": "tcp", "PING": "icmp", "UDP-CONNECT": "udp",
}
HTTP_METHODS = {"GET", "HEAD", "POST", "PUT", "DELETE", "TRACE", "OPTIONS", "CONNECT", "PATCH"}
COMPARE = {
    "EQUAL_TO": ("equals", "does-not-equal"),
    "STARTS_WITH": ("starts-with", "does-not-start-with"),
    "ENDS_WITH": ("ends-with", "does-not-end-with"),
    "CONTAINS": ("contains", "does-not-contain"),
}
L7_RULE_TYPES = {"HOST_NAME", "PATH", "FILE_TYPE", "HEADER", "COOKIE"}
L7_ACTIONS = {"REDIRECT_TO_POOL", "REDIRECT_TO_URL", "REDIRECT_PREFIX", "REJECT"}
PERSISTENCE_TYPES = {"SOURCE_IP", "HTTP_COOKIE", "APP_COOKIE"}
CLIENT_AUTH = {"OPTIONAL": "request", "MANDATORY": "require"}


class DeclarationError(ValueError):
    """The desired graph cannot be declared safely (a refused value or a broken reference)."""


class Unsupported(DeclarationError):
    """BIG-IP/AS3 (as this provider drives it) cannot express the requested option."""


def val(value: Any, default: Any = None) -> Any:
    """``value`` unless it is octavia-lib's ``Unset`` (or None): then ``default``."""
    if value is None or isinstance(value, dm.UnsetType):
        return default
    return value


@dataclass(frozen=True)
class Names:
    """AS3 names of Statera's objects: ids only, so no user string names anything."""

    @staticmethod
    def safe_id(obj_id: Any) -> str:
        text = str(obj_id)
        if not ID_RE.match(text):
            raise DeclarationError(f"identifier {text[:80]!r} is not AS3-safe")
        return text.replace("-", "_")

    @classmethod
    def app(cls, lb_id: Any) -> str:
        return f"lb_{cls.safe_id(lb_id)}"

    @classmethod
    def service(cls, listener_id: Any) -> str:
        return f"listener_{cls.safe_id(listener_id)}"

    @classmethod
    def pool(cls, pool_id: Any) -> str:
        return f"pool_{cls.safe_id(pool_id)}"

    @classmethod
    def monitor(cls, hm_id: Any) -> str:
        return f"hm_{cls.safe_id(hm_id)}"


def tenant_name(prefix: str, project_id: str) -> str:
    """``prefix`` + the project id made AS3-safe, injectively.

    Letters, digits, ``_`` and ``-`` stay; every other byte becomes ``.XX`` (hex), so two
    different projects never share a tenant. Refused when AS3's tenant pattern still fails.
    """
    safe = "".join(
        ch if ch.isascii() and (ch.isalnum() or ch in "_-")
        else "".join(f".{b:02x}" for b in ch.encode())
        for ch in project_id
    )
    name = prefix + safe
    if not TENANT_RE.match(name) or name in ("Common", "Shared"):
        raise DeclarationError(f"tenant name {name[:80]!r} is not a valid AS3 tenant name")
    return name


def url_data(text: str) -> str:
    """``text`` with every character AS3 would expand or Tcl would evaluate percent-encoded."""
    return "".join(URL_SPECIALS.get(ch, ch) if ch.isascii() else _pct(ch) for ch in text)


def _pct(ch: str) -> str:
    return "".join(f"%{b:02X}" for b in ch.encode())


# ------------------------------------------------------------------------------------------
# Whole declarations


def declaration(tenant: str, applications: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The AS3 request body that makes ``tenant`` hold exactly ``applications``."""
    tenant_body: dict[str, Any] = {"class": "Tenant", "label": "statera"}
    tenant_body.update(applications)
    return {
        "class": "AS3",
        "action": "deploy",
        "persist": True,
        "declaration": {
            "class": "ADC",
            "schemaVersion": SCHEMA_VERSION,
            "id": f"statera-{tenant}",
            "label": "Statera",
            tenant: tenant_body,
        },
    }


def application(lb: dm.LoadBalancer) -> dict[str, Any]:
    """The ``Application`` of one load balancer: its services, pools, monitors, TLS, policies."""
    app: dict[str, Any] = {"class": "Application", "template": "generic",
                           "remark": str(lb.loadbalancer_id)[:64],
                           "enable": bool(val(lb.admin_state_up, True))}
    vip = val(lb.vip_address)
    if not vip:
        raise DeclarationError("the load balancer has no VIP address")
    pools = {p.pool_id: p for p in val(lb.pools, [])}
    for pool in pools.values():
        app.update(pool_objects(pool))
    for listener in val(lb.listeners, []):
        app.update(listener_objects(listener, str(vip), pools))
    return app


# ------------------------------------------------------------------------------------------
# Listeners


def listener_objects(listener: dm.Listener, vip: str,
                     pools: dict[str, dm.Pool]) -> dict[str, Any]:
    """The ``Service_*`` of a listener, plus its TLS objects and endpoint policy."""
    protocol = val(listener.protocol)
    cls = SERVICE_CLASSES.get(protocol)
    if cls is None:
        raise Unsupported(f"{protocol} listeners")
    name = Names.service(listener.listener_id)
    service: dict[str, Any] = {
        "class": cls,
        "virtualAddresses": [vip],
        "virtualPort": int(listener.protocol_port),
        "remark": str(listener.listener_id)[:64],
        "enable": bool(val(listener.admin_state_up, True)),
    }
    check_allowed_cidrs(val(listener.allowed_cidrs, []))
    limit = val(listener.connection_limit, -1)
    if isinstance(limit, int) and limit > 0:
        service["maxConnections"] = limit
    objects: dict[str, Any] = {}
    default_pool = pools.get(val(listener.default_pool_id, ""))
    if default_pool is not None:
        service["pool"] = Names.pool(default_pool.pool_id)
        if cls != "Service_L4" or persistence_methods(default_pool):
            service["persistenceMethods"] = persistence_methods(default_pool)
    elif cls in ("Service_HTTP", "Service_HTTPS", "Service_TCP"):
        service["persistenceMethods"] = []
    if cls == "Service_HTTPS":
        service["redirect80"] = False
        tls_name = f"tls_server_{Names.safe_id(listener.listener_id)}"
        service["serverTLS"] = tls_name
        objects.update(tls_server_objects(tls_name, listener))
    if cls in ("Service_HTTP", "Service_HTTPS"):
        headers = val(listener.insert_headers, {}) or {}
        objects.update(http_profile(name, headers, service))
    tls_pool = _tls_pool(listener, pools, default_pool)
    if tls_pool is not None:
        if cls not in ("Service_HTTP", "Service_HTTPS", "Service_TCP"):
            raise Unsupported(f"TLS to members behind a {protocol} listener")
        client_name = f"tls_client_{Names.safe_id(listener.listener_id)}"
        service["clientTLS"] = client_name
        objects.update(tls_client_objects(client_name, tls_pool))
    policies = [p for p in val(listener.l7policies, []) if val(p.admin_state_up, True)]
    if policies:
        if protocol not in L7_CAPABLE:
            raise Unsupported(f"L7 policies on {protocol} listeners")
        policy = endpoint_policy(policies, pools)
        if policy is not None:
            policy_name = f"policy_{Names.safe_id(listener.listener_id)}"
            objects[policy_name] = policy
            service["policyEndpoint"] = policy_name
    objects[name] = service
    return objects


def check_allowed_cidrs(cidrs: Iterable[str]) -> None:
    if any(c not in ("0.0.0.0/0", "::/0") for c in cidrs):
        raise Unsupported("allowed_cidrs (use a firewall in front of the BIG-IP)")


def http_profile(service_name: str, headers: dict[str, Any],
                 service: dict[str, Any]) -> dict[str, Any]:
    """An ``HTTP_Profile`` inserting X-Forwarded-For when asked; other headers are refused."""
    wanted = {k for k, v in headers.items() if str(v).lower() == "true"}
    unknown = wanted - {"X-Forwarded-For"}
    if unknown:
        raise Unsupported(f"inserting the headers {sorted(unknown)}")
    if not wanted:
        return {}
    profile = f"{service_name}_http"
    service["profileHTTP"] = {"use": profile}
    return {profile: {"class": "HTTP_Profile", "xForwardedFor": True}}


def _tls_pool(listener: dm.Listener, pools: dict[str, dm.Pool],
              default_pool: dm.Pool | None) -> dm.Pool | None:
    """The pool whose TLS settings the listener's server side uses (one per listener)."""
    reachable = [default_pool] if default_pool is not None else []
    for policy in val(listener.l7policies, []):
        target = pools.get(val(policy.redirect_pool_id, ""))
        if target is not None:
            reachable.append(target)
    tls = [p for p in reachable if val(p.tls_enabled, False)]
    if not tls:
        return None
    plain = [p for p in reachable if not val(p.tls_enabled, False)]
    keys = {_tls_key(p) for p in tls}
    if plain or len(keys) > 1:
        raise Unsupported("pools with different TLS settings behind one listener")
    return tls[0]


def _tls_key(pool: dm.Pool) -> tuple[str, str]:
    return (str(val(pool.ca_tls_container_ref, "")), str(val(pool.tls_container_ref, "")))


# ------------------------------------------------------------------------------------------
# TLS


def _pem(bundle: Any, key: str) -> str:
    if isinstance(bundle, dict):
        value = bundle.get(key)
    else:
        value = getattr(bundle, key, None)
    return value.decode() if isinstance(value, bytes) else str(value or "")


def certificate_object(bundle: Any, with_key: bool = True) -> dict[str, Any]:
    """A ``Certificate`` from a certificate-store bundle (certificate, key, intermediates)."""
    cert = _pem(bundle, "certificate").strip()
    if not cert:
        raise DeclarationError("a TLS certificate could not be read from the store")
    obj: dict[str, Any] = {"class": "Certificate", "certificate": cert}
    if with_key:
        key = _pem(bundle, "private_key").strip()
        if not key:
            raise DeclarationError("a TLS certificate has no private key")
        obj["privateKey"] = key
    inter = bundle.get("intermediates") if isinstance(bundle, dict) else None
    if inter:
        obj["chainCA"] = "\n".join(str(i).strip() for i in inter)
    return obj


def _cert_name(prefix: str, bundle: Any) -> str:
    digest = hashlib.sha256(_pem(bundle, "certificate").encode()).hexdigest()[:16]
    return f"{prefix}_{digest}"


def tls_server_objects(name: str, listener: dm.Listener) -> dict[str, Any]:
    """``TLS_Server`` with the default certificate first, then SNI ones; client CA if set."""
    default = val(listener.default_tls_container_data)
    if not default:
        raise DeclarationError("a TERMINATED_HTTPS listener needs its default certificate")
    objects: dict[str, Any] = {}
    entries: list[dict[str, Any]] = []
    for bundle in [default, *val(listener.sni_container_data, [])]:
        cert_name = _cert_name("cert", bundle)
        objects[cert_name] = certificate_object(bundle)
        if all(e["certificate"] != cert_name for e in entries):
            entries.append({"certificate": cert_name})
    tls: dict[str, Any] = {"class": "TLS_Server", "certificates": entries}
    mode = CLIENT_AUTH.get(str(val(listener.client_authentication, "NONE")))
    ca = val(listener.client_ca_tls_container_data)
    if mode and ca:
        ca_name = _cert_name("ca", {"certificate": ca})
        objects[ca_name] = {"class": "CA_Bundle", "bundle": _as_text(ca).strip()}
        tls["authenticationMode"] = mode
        tls["authenticationTrustCA"] = ca_name
    elif mode:
        raise DeclarationError("client authentication needs a client CA certificate")
    if val(listener.client_crl_container_data):
        raise Unsupported("client certificate revocation lists")
    objects[name] = tls
    return objects


def tls_client_objects(name: str, pool: dm.Pool) -> dict[str, Any]:
    """``TLS_Client`` re-encrypting to members, verifying them against the pool's CA if set."""
    objects: dict[str, Any] = {}
    tls: dict[str, Any] = {"class": "TLS_Client"}
    ca = val(pool.ca_tls_container_data)
    if ca:
        ca_name = _cert_name("ca", {"certificate": ca})
        objects[ca_name] = {"class": "CA_Bundle", "bundle": _as_text(ca).strip()}
        tls["trustCA"] = {"use": ca_name}
        tls["validateCertificate"] = True
    client = val(pool.tls_container_data)
    if client:
        cert_name = _cert_name("cert", client)
        objects[cert_name] = certificate_object(client)
        tls["clientCertificate"] = cert_name
    if val(pool.crl_container_data):
        raise Unsupported("member certificate revocation lists")
    objects[name] = tls
    return objects


def _as_text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, dict):
        return str(value.get("certificate") or "")
    return str(value)


# ------------------------------------------------------------------------------------------
# Pools, members, monitors, persistence


def pool_objects(pool: dm.Pool) -> dict[str, Any]:
    """The ``Pool`` (members inline) and its ``Monitor``."""
    protocol = val(pool.protocol)
    if protocol not in POOL_PROTOCOLS:
        raise Unsupported(f"{protocol} pools")
    algorithm = val(pool.lb_algorithm, "ROUND_ROBIN")
    if algorithm not in ALGORITHMS:
        raise Unsupported(f"the {algorithm} algorithm")
    members = [m for m in val(pool.members, [])]
    ratios = member_ratios(members)
    plain, weighted = ALGORITHMS[algorithm]
    body: dict[str, Any] = {
        "class": "Pool",
        "remark": str(pool.pool_id)[:64],
        "loadBalancingMode": weighted if len(set(ratios.values())) > 1 else plain,
        "members": [member_object(m, ratios, members, val(pool.admin_state_up, True))
                    for m in members],
    }
    objects: dict[str, Any] = persist_objects(pool)
    monitor = val(pool.healthmonitor)
    if monitor is not None and val(monitor.admin_state_up, True):
        hm_name = Names.monitor(monitor.healthmonitor_id)
        objects[hm_name] = monitor_object(monitor)
        body["monitors"] = [{"use": hm_name}]
    objects[Names.pool(pool.pool_id)] = body
    return objects


def member_ratios(members: list[dm.Member]) -> dict[str, int]:
    """Octavia weights (0-256) as BIG-IP ratios (0-100), exact when every weight fits."""
    weights = {m.member_id: int(val(m.weight, 1)) for m in members}
    top = max(weights.values(), default=1)
    if top <= 100:
        return {k: max(w, 1) for k, w in weights.items()}
    return {k: max(1, math.ceil(w * 100 / 256)) for k, w in weights.items()}


def member_object(member: dm.Member, ratios: dict[str, int], members: list[dm.Member],
                  pool_enabled: bool = True) -> dict[str, Any]:
    """A ``Pool_Member``; a disabled pool (AS3 has no pool switch) disables its members."""
    if val(member.monitor_address) or val(member.monitor_port):
        raise Unsupported("member monitor_address/monitor_port")
    enabled = (pool_enabled and bool(val(member.admin_state_up, True))
               and int(val(member.weight, 1)) > 0)
    body: dict[str, Any] = {
        "servicePort": int(member.protocol_port),
        "serverAddresses": [str(member.address)],
        "shareNodes": True,  # a backend address may serve several projects' pools
        "ratio": ratios[member.member_id],
        "adminState": "enable" if enabled else "disable",
        "remark": str(member.member_id)[:64],
    }
    if any(val(m.backup, False) for m in members):
        body["priorityGroup"] = 1 if val(member.backup, False) else 2
    return body


def monitor_object(monitor: dm.HealthMonitor) -> dict[str, Any]:
    """A ``Monitor``; HTTP send/receive strings built only from percent-encoded data."""
    kind = val(monitor.type)
    monitor_type = MONITOR_TYPES.get(kind)
    if monitor_type is None:
        raise Unsupported(f"{kind} health monitors")
    delay = int(val(monitor.delay, 5))
    retries_down = int(val(monitor.max_retries_down, 3))
    body: dict[str, Any] = {
        "class": "Monitor",
        "monitorType": monitor_type,
        "remark": str(monitor.healthmonitor_id)[:64],
        "interval": min(delay, 3600),
        # BIG-IP marks a member down after ``timeout`` seconds without an answer: the
        # Octavia equivalent is max_retries_down missed probes.
        "timeout": min(retries_down * delay + 1, 900),
    }
    if monitor_type in ("http", "https"):
        body["send"] = http_send(monitor)
        body["receive"] = http_receive(str(val(monitor.expected_codes, "200")))
    return body


def http_send(monitor: dm.HealthMonitor) -> str:
    method = str(val(monitor.http_method, "GET"))
    if method not in HTTP_METHODS:
        raise DeclarationError(f"HTTP method {method[:20]!r}")
    path = url_data(str(val(monitor.url_path, "/")))
    version = str(val(monitor.http_version, 1.0))
    if version not in ("1.0", "1.1"):
        raise Unsupported(f"HTTP/{version[:10]} health checks")
    send = f"{method} {path} HTTP/{version}\\r\\n"
    domain = val(monitor.domain_name)
    if domain:
        if not HOST_RE.match(str(domain)):
            raise DeclarationError("the health monitor's domain_name is not a host name")
        send += f"Host: {domain}\\r\\n"
    elif version == "1.1":
        send += "Host: localhost\\r\\n"
    if version == "1.1":
        send += "Connection: Close\\r\\n"
    return send + "\\r\\n"


def http_receive(expected_codes: str) -> str:
    """A regex for the status line: codes like ``200``, ``200,202`` or ``200-204``."""
    codes: list[str] = []
    for part in expected_codes.split(","):
        low, _, high = part.strip().partition("-")
        if not low.isdigit() or (high and not high.isdigit()):
            raise DeclarationError(f"expected_codes {expected_codes[:40]!r}")
        end = int(high) if high else int(low)
        if not 100 <= int(low) <= end <= 599:
            raise DeclarationError(f"expected_codes {expected_codes[:40]!r}")
        codes.extend(str(c) for c in range(int(low), end + 1))
    return "HTTP/1\\.[01] (" + "|".join(codes) + ")"


def persistence_methods(pool: dm.Pool) -> list[Any]:
    """The listener-side persistence for a pool (BIG-IP persists on the virtual server)."""
    persistence = val(pool.session_persistence) or {}
    kind = persistence.get("type") if isinstance(persistence, dict) else None
    if val(pool.lb_algorithm) == "SOURCE_IP" and kind is None:
        return ["source-address"]
    if kind is None:
        return []
    if kind not in PERSISTENCE_TYPES:
        raise Unsupported(f"session persistence {kind!r}")
    if kind == "SOURCE_IP":
        return ["source-address"]
    if kind == "HTTP_COOKIE":
        return ["cookie"]
    return [{"use": f"persist_{Names.safe_id(pool.pool_id)}"}]


def persist_objects(pool: dm.Pool) -> dict[str, Any]:
    """APP_COOKIE: a ``Persist`` hashing the application's own cookie."""
    persistence = val(pool.session_persistence) or {}
    if not isinstance(persistence, dict) or persistence.get("type") != "APP_COOKIE":
        return {}
    cookie = str(persistence.get("cookie_name") or "")
    if not COOKIE_NAME_RE.match(cookie):
        raise Unsupported(f"the cookie name {cookie[:64]!r} (AS3 allows 0-9A-Za-z.~#$%^&*_-)")
    return {f"persist_{Names.safe_id(pool.pool_id)}": {
        "class": "Persist", "persistenceMethod": "cookie", "cookieMethod": "hash",
        "cookieName": cookie}}


# ------------------------------------------------------------------------------------------
# L7 policies


def endpoint_policy(policies: list[dm.L7Policy],
                    pools: dict[str, dm.Pool]) -> dict[str, Any] | None:
    """An ``Endpoint_Policy`` (first match wins) with a rule per L7 policy, by position."""
    rules: list[dict[str, Any]] = []
    for policy in sorted(policies, key=lambda p: int(val(p.position, 0))):
        conditions = [
            l7_condition(rule) for rule in val(policy.rules, [])
            if val(rule.admin_state_up, True)
        ]
        if not conditions:
            continue  # Octavia: a policy without (enabled) rules never matches
        rules.append({
            "name": f"l7policy_{Names.safe_id(policy.l7policy_id)}",
            "conditions": conditions,
            "actions": [l7_action(policy, pools)],
        })
    if not rules:
        return None
    return {"class": "Endpoint_Policy", "strategy": "first-match", "rules": rules}


def l7_condition(rule: dm.L7Rule) -> dict[str, Any]:
    kind = val(rule.type)
    if kind not in L7_RULE_TYPES:
        raise Unsupported(f"{kind} L7 rules")
    compare = val(rule.compare_type)
    if compare not in COMPARE:
        raise Unsupported(f"the {compare} comparison in L7 rules")
    positive, negative = COMPARE[compare]
    value = str(val(rule.value, ""))
    match: dict[str, Any] = {
        "operand": negative if val(rule.invert, False) else positive,
        "values": [value],
        "caseSensitive": kind != "HOST_NAME",
    }
    if kind == "HOST_NAME":
        return {"type": "httpHeader", "event": "request", "name": "Host", "all": match}
    if kind == "PATH":
        return {"type": "httpUri", "event": "request", "path": match}
    if kind == "FILE_TYPE":
        return {"type": "httpUri", "event": "request", "extension": match}
    key = str(val(rule.key, ""))
    if kind == "HEADER":
        return {"type": "httpHeader", "event": "request", "name": key, "all": match}
    return {"type": "httpCookie", "event": "request", "name": key, "all": match}


def l7_action(policy: dm.L7Policy, pools: dict[str, dm.Pool]) -> dict[str, Any]:
    action = val(policy.action)
    if action not in L7_ACTIONS:
        raise Unsupported(f"the L7 action {action}")
    if action == "REJECT":
        return {"type": "drop", "event": "request"}
    if action == "REDIRECT_TO_POOL":
        pool_id = val(policy.redirect_pool_id)
        if pool_id not in pools:
            raise DeclarationError("an L7 policy redirects to a pool of another load balancer")
        return {"type": "forward", "event": "request",
                "select": {"pool": {"use": Names.pool(pool_id)}}}
    code = int(val(policy.redirect_http_code, 302))
    if action == "REDIRECT_TO_URL":
        location = url_data(str(val(policy.redirect_url, "")))
    else:
        # Tcl evaluates ``tcl:`` locations: the prefix is percent-encoded data, and only
        # the request URI is substituted.
        location = "tcl:" + url_data(str(val(policy.redirect_prefix, ""))) + "[HTTP::uri]"
    return {"type": "httpRedirect", "event": "request", "location": location, "code": code}
