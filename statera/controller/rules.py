"""Semantic rules for listeners, pools, members and health monitors (octavia.md §1.4).

``statera.controller.schemas`` checks each field on its own (types, ranges, enums, lengths); this
module checks what spans fields or needs context: listener/pool protocol compatibility, TLS
references and parameters, ``insert_headers``, ``allowed_cidrs``, session persistence, health
monitor types and HTTP options, and what a ``null`` in a PUT resets a field to (octavia.md §7
item 14). Every string that can reach a data-plane configuration (header names, cookie names,
URL paths, expected codes, domain names, ciphers) is checked against a strict character set
here, and escaped again by the renderers.

The functions raise :class:`~statera.controller.errors.Invalid` (the API's 400) with Octavia's
wording where Octavia has one. The end of the module holds the small pieces of write plumbing
the four object families share (driver lookup, partial update models, "is this object being
deleted").
"""

from __future__ import annotations

import ipaddress
import re
import ssl
from collections.abc import Iterable, Mapping
from typing import Any

from statera.certs.base import Caller, CertificateNotFound, RefKind, UnreadablePKCS12
from statera.certs.parse import crl_is_signed_by, is_crl_pem
from statera.config import Settings
from statera.controller.errors import Conflict, Invalid, InvalidInput
from statera.controller.providers import load_driver
from statera.controller.schemas import parse_bool
from statera.db.statuses import ProvisioningStatus

# Protocols ----------------------------------------------------------------------------------

#: Listener protocols that share one L4 port space on a load balancer (Octavia's
#: ``L4_PROTOCOL_MAP``): two listeners of one family cannot use the same port.
L4_FAMILY = {
    "TCP": "TCP", "HTTP": "TCP", "HTTPS": "TCP", "TERMINATED_HTTPS": "TCP", "PROMETHEUS": "TCP",
    "UDP": "UDP", "SCTP": "SCTP",
}

#: Which pool protocols a listener of each protocol may send traffic to.
LISTENER_POOL_PROTOCOLS: dict[str, frozenset[str]] = {
    "TCP": frozenset({"HTTP", "HTTPS", "PROXY", "PROXYV2", "TCP"}),
    "HTTP": frozenset({"HTTP", "PROXY", "PROXYV2"}),
    "HTTPS": frozenset({"HTTPS", "PROXY", "PROXYV2", "TCP"}),
    "TERMINATED_HTTPS": frozenset({"HTTP", "PROXY", "PROXYV2"}),
    "UDP": frozenset({"UDP"}),
    "SCTP": frozenset({"SCTP"}),
    "PROMETHEUS": frozenset(),
}

DATAGRAM_PROTOCOLS = frozenset({"UDP", "SCTP"})
HEADER_PROTOCOLS = frozenset({"HTTP", "TERMINATED_HTTPS"})
HTTP_HM_TYPES = frozenset({"HTTP", "HTTPS"})
DATAGRAM_HM_TYPES = ("UDP-CONNECT", "SCTP", "TCP", "HTTP")

# Headers ------------------------------------------------------------------------------------

HTTP_HEADERS = ("X-Forwarded-For", "X-Forwarded-Port", "X-Forwarded-Proto", "X-Forwarded-IP",
                "X-Client-IP", "X-Real-IP")
SSL_HEADERS = ("X-SSL-Client-Verify", "X-SSL-Client-Has-Cert", "X-SSL-Client-DN",
               "X-SSL-Client-CN", "X-SSL-Issuer", "X-SSL-Client-SHA1",
               "X-SSL-Client-Not-Before", "X-SSL-Client-Not-After")

# TLS ----------------------------------------------------------------------------------------

TLS_VERSIONS = ("SSLv3", "TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3")
ALPN_PROTOCOLS = ("h2", "http/1.1", "http/1.0")
#: Octavia's ``CIPHERS_OWASP_SUITE_B``, its default for listeners and pools.
OWASP_SUITE_B = (
    "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:"
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
    "DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305"
)
DEFAULT_LISTENER_TLS_VERSIONS = ["TLSv1.2", "TLSv1.3"]
DEFAULT_LISTENER_ALPN = ["h2", "http/1.1", "http/1.0"]
DEFAULT_POOL_TLS_VERSIONS = ["TLSv1.2", "TLSv1.3"]
DEFAULT_POOL_ALPN = ["h2", "http/1.1", "http/1.0"]
CIPHERS_RE = re.compile(r"^[A-Za-z0-9\-+!:@=_.]+$")
#: The defaults of the TLS trio, per side: (ciphers, versions, ALPN protocols).
TLS_DEFAULTS = {
    "listener": (OWASP_SUITE_B, DEFAULT_LISTENER_TLS_VERSIONS, DEFAULT_LISTENER_ALPN),
    "pool": (OWASP_SUITE_B, DEFAULT_POOL_TLS_VERSIONS, DEFAULT_POOL_ALPN),
}

# Session persistence and health monitors ---------------------------------------------------

#: Characters a cookie name may not hold: controls, space, separators and anything outside
#: ASCII (RFC 6265 ``token``).
BAD_COOKIE_CHARS = re.compile(
    r'[\x00-\x20\x22\x28\x29\x2c\x2f\x3a-\x40\x5b-\x5d\x7b\x7d\x7f-\U0010ffff]')
EXPECTED_CODES_RE = re.compile(r"^(\d{3}(\s*,\s*\d{3})*)$|^(\d{3}-\d{3})$")
#: An absolute path (and optional query) without whitespace, quotes, backslash, ``#`` or ``$``.
URL_PATH_RE = re.compile(r"^/(?!/)[A-Za-z0-9\-._~!&()*+,;=:@/%?]*$")
DOMAIN_NAME_RE = re.compile(
    r"^(?=.{1,253}\.?$)(?:(?!-)[A-Za-z0-9_-]{1,63}(?<!-)\.)*(?!-)[A-Za-z0-9-]{1,63}(?<!-)\.?$"
)
DEFAULT_HM_HTTP = {"http_method": "GET", "url_path": "/", "expected_codes": "200"}
DEFAULT_MAX_RETRIES_DOWN = 3
DEFAULT_UDP_CONNECT_MIN_DELAY = 3


def validation(detail: str) -> Invalid:
    """Octavia's ``ValidationException`` (400)."""
    return Invalid(f"Validation failure: {detail}")


def invalid_option(value: Any, option: str) -> Invalid:
    """Octavia's ``InvalidOption`` (400)."""
    return Invalid(f"{value} is not a valid option for {option}")


def _flag(settings: Settings, name: str, default: Any) -> Any:
    """Deployment switches Octavia has and Statera's settings may not (yet)."""
    return getattr(settings.api, name, default)


# Listener/pool compatibility ----------------------------------------------------------------

def check_pool_protocol(listener_protocol: str, pool_protocol: str) -> None:
    """400 unless a ``listener_protocol`` listener may use a ``pool_protocol`` pool."""
    if listener_protocol == "PROMETHEUS":
        raise validation("PROMETHEUS listeners cannot have a default pool or L7 policies.")
    if pool_protocol not in LISTENER_POOL_PROTOCOLS.get(listener_protocol, frozenset()):
        raise validation(f"The pool protocol '{pool_protocol}' is invalid while the listener "
                         f"protocol is '{listener_protocol}'.")


def ports_collide(protocol_a: str, protocol_b: str) -> bool:
    return L4_FAMILY[protocol_a] == L4_FAMILY[protocol_b]


def check_listener_protocol_allowed(protocol: str, settings: Settings) -> None:
    if protocol == "TERMINATED_HTTPS" and not _flag(
            settings, "allow_tls_terminated_listeners", True):
        raise Invalid("The selected protocol is not allowed in this deployment: "
                       "TERMINATED_HTTPS")
    if protocol == "PROMETHEUS" and not _flag(settings, "allow_prometheus_listeners", True):
        raise Invalid("The selected protocol is not allowed in this deployment: PROMETHEUS")


# Listener fields ----------------------------------------------------------------------------

def check_insert_headers(headers: Mapping[str, str], protocol: str) -> dict[str, str]:
    """Names per protocol (X-SSL-* only on TERMINATED_HTTPS); values are boolean strings."""
    if not headers:
        return {}
    if protocol not in HEADER_PROTOCOLS:
        raise invalid_option("insert-headers", f"a {protocol} protocol listener.")
    unknown = sorted(set(headers) - set(HTTP_HEADERS) - set(SSL_HEADERS))
    if unknown:
        raise invalid_option(unknown, "insert_headers")
    if protocol != "TERMINATED_HTTPS":
        ssl = sorted(set(headers) & set(SSL_HEADERS))
        if ssl:
            raise invalid_option(ssl, f"{protocol} protocol listener.")
    for name, value in headers.items():
        try:
            parse_bool(value)
        except ValueError:
            raise InvalidInput("insert_headers", f"{name}={value}",
                               "Header values must be 'true' or 'false'.") from None
    return dict(headers)


def normalise_cidrs(cidrs: Iterable[str] | None) -> list[str]:
    """Each CIDR as network/prefix (host bits cleared), duplicates dropped, order kept."""
    out: list[str] = []
    for text in cidrs or []:
        try:
            if "%" in str(text):  # an IPv6 zone: any text, kept verbatim by str(network)
                raise ValueError(text)
            net = ipaddress.ip_network(str(text).strip(), strict=False)
        except ValueError:
            raise InvalidInput("allowed_cidrs", text, "Value should be a valid CIDR.") from None
        if str(net) not in out:
            out.append(str(net))
    return out


def check_cidrs_against_vips(cidrs: list[str], lb: Any) -> None:
    """Each CIDR's IP version must match one of the load balancer's VIPs; none with SGs."""
    if not cidrs:
        return
    if getattr(lb, "vip_sg_ids", None):
        raise validation("Allowed CIDRs are not allowed when using custom VIP Security Groups.")
    vips = [lb.vip_address] + [v.get("ip_address") for v in (lb.additional_vips or [])
                               if isinstance(v, dict)]
    versions = set()
    for vip in vips:
        try:
            versions.add(ipaddress.ip_address(vip).version)
        except (TypeError, ValueError):
            continue
    if not versions:
        return
    for cidr in cidrs:
        if ipaddress.ip_network(cidr).version not in versions:
            shown = ", ".join(str(v) for v in vips if v)
            raise validation(f"CIDR {cidr} IP version incompatible with all VIPs {shown} "
                             "IP version.")


def check_tls_versions(versions: list[str] | None) -> None:
    if versions is None:
        return
    if not versions:
        raise validation("Empty TLS version list. Either specify at least one TLS version or "
                         "remove this parameter to use the default.")
    bad = [v for v in versions if v not in TLS_VERSIONS]
    if bad:
        raise validation(f"Invalid TLS versions: {', '.join(bad)}")


def check_alpn(protocols: list[str] | None) -> None:
    if protocols is None:
        return
    if not protocols:
        raise validation("Empty ALPN protocol list. Either specify at least one ALPN protocol "
                         "or remove this parameter to use the default.")
    bad = [p for p in protocols if p not in ALPN_PROTOCOLS]
    if bad:
        raise validation(f"Invalid ALPN protocol: {', '.join(bad)}")


def check_ciphers(ciphers: str | None) -> None:
    """Only cipher-string characters, and a string OpenSSL selects at least one cipher from:
    a data plane built on OpenSSL fails to load a cipher list that selects none, which would
    leave the load balancer in ERROR for a value the API accepted."""
    if ciphers is None:
        return
    if not CIPHERS_RE.fullmatch(ciphers):
        raise InvalidInput("tls_ciphers", ciphers,
                           "Cipher strings may only hold A-Z a-z 0-9 and - + ! : @ = _ .")
    try:
        ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).set_ciphers(ciphers)
    except ssl.SSLError:
        raise InvalidInput("tls_ciphers", ciphers,
                           "OpenSSL selects no cipher from this cipher string.") from None


def validate_listener(values: dict[str, Any], protocol: str, lb: Any,
                      settings: Settings) -> dict[str, Any]:
    """Check a listener's effective fields (API names) and fill TLS defaults.

    ``values`` is the whole desired listener: on create the request with defaults applied, on
    update the stored listener overlaid with the request. Returns the normalised values.
    """
    out = dict(values)
    cert_refs = bool(out.get("default_tls_container_ref") or out.get("sni_container_refs"))
    any_refs = cert_refs or bool(out.get("client_ca_tls_container_ref"))
    if protocol in DATAGRAM_PROTOCOLS and (any_refs or out.get("insert_headers")):
        raise validation(f"{protocol} protocol listener does not support TLS or header "
                         "insertion.")
    if protocol not in ("TERMINATED_HTTPS", "PROMETHEUS") and any_refs:
        raise validation("Certificate container references are only allowed on "
                         "TERMINATED_HTTPS and PROMETHEUS protocol listeners.")
    if protocol == "TERMINATED_HTTPS" and not cert_refs:
        raise validation("An SNI or default certificate container reference must be provided "
                         "for TERMINATED_HTTPS protocol listeners.")
    if out.get("client_ca_tls_container_ref") and not cert_refs:
        raise validation("An SNI or default certificate container reference must be provided "
                         "with a client CA container reference.")
    if out.get("client_authentication", "NONE") != "NONE" and not out.get(
            "client_ca_tls_container_ref"):
        raise validation(f"Client authentication setting {out['client_authentication']} "
                         "requires a client CA container reference.")
    if out.get("client_crl_container_ref") and not out.get("client_ca_tls_container_ref"):
        raise validation("A client authentication CA reference is required to specify a "
                         "client authentication revocation list.")
    out["insert_headers"] = check_insert_headers(out.get("insert_headers") or {}, protocol)
    out["allowed_cidrs"] = normalise_cidrs(out.get("allowed_cidrs"))
    check_cidrs_against_vips(out["allowed_cidrs"], lb)
    tls = protocol == "TERMINATED_HTTPS" or (protocol == "PROMETHEUS" and cert_refs)
    if out.get("hsts_max_age") is not None and protocol != "TERMINATED_HTTPS":
        raise validation("The HSTS feature can only be used for listeners using the "
                         "TERMINATED_HTTPS protocol.")
    if (out.get("hsts_include_subdomains") or out.get("hsts_preload")) and out.get(
            "hsts_max_age") is None:
        raise validation("HSTS configuration options hsts_include_subdomains and hsts_preload "
                         "only make sense if hsts_max_age is set as well.")
    _check_tls_options(out)
    if tls:
        _fill_tls_defaults(out, settings, "listener")
    return out


def _check_tls_options(out: dict[str, Any]) -> None:
    check_tls_versions(out.get("tls_versions"))
    check_alpn(out.get("alpn_protocols"))
    check_ciphers(out.get("tls_ciphers"))


def _fill_tls_defaults(out: dict[str, Any], settings: Settings, side: str) -> None:
    """Set the unset TLS options of a listener or pool (``side``) that speaks TLS."""
    ciphers, versions, alpn = TLS_DEFAULTS[side]
    out["tls_ciphers"] = out.get("tls_ciphers") or _flag(
        settings, f"default_{side}_ciphers", ciphers)
    out["tls_versions"] = out.get("tls_versions") or list(_flag(
        settings, f"default_{side}_tls_versions", versions))
    out["alpn_protocols"] = out.get("alpn_protocols") or list(_flag(
        settings, f"default_{side}_alpn_protocols", alpn))


def listener_null_defaults(settings: Settings) -> dict[str, Any]:
    """What ``null`` in a listener PUT resets each field to (the TLS trio resets to None and
    :func:`validate_listener` then fills the defaults for TLS listeners)."""
    defaults = settings.listener_defaults
    return {
        "admin_state_up": False, "connection_limit": -1, "client_authentication": "NONE",
        "timeout_client_data": defaults.timeout_client_data,
        "timeout_member_connect": defaults.timeout_member_connect,
        "timeout_member_data": defaults.timeout_member_data,
        "timeout_tcp_inspect": defaults.timeout_tcp_inspect,
        "insert_headers": {}, "sni_container_refs": [], "allowed_cidrs": [],
        "hsts_include_subdomains": False, "hsts_preload": False,
    }


# Pools ----------------------------------------------------------------------------------------

SP_FIELDS = ("type", "cookie_name", "persistence_timeout", "persistence_granularity")


def check_session_persistence(sp: Mapping[str, Any] | None,
                              pool_protocol: str) -> dict[str, Any] | None:
    """Validate a whole session-persistence object; returns it with all four keys."""
    if sp is None:
        return None
    out = {k: sp.get(k) for k in SP_FIELDS}
    sp_type, cookie = out["type"], out["cookie_name"]
    if sp_type is None:
        raise InvalidInput("session_persistence.type", None, "Mandatory field missing.")
    if pool_protocol in DATAGRAM_PROTOCOLS:
        if sp_type != "SOURCE_IP":
            raise validation(f"Session persistence of type {sp_type} is not supported for "
                             f"{pool_protocol} protocol pools.")
        if cookie:
            raise validation(f"Cookie names are not supported for {pool_protocol} pools.")
    elif out["persistence_timeout"] is not None or out["persistence_granularity"] is not None:
        raise validation("persistence_timeout and persistence_granularity is only for UDP and "
                         "SCTP protocol pools.")
    if cookie is not None:
        if sp_type != "APP_COOKIE":
            raise validation('Field "cookie_name" can only be specified with session '
                             'persistence of type "APP_COOKIE".')
        if not cookie or BAD_COOKIE_CHARS.search(cookie):
            raise validation('Supplied "cookie_name" is invalid.')
    elif sp_type == "APP_COOKIE":
        raise validation('Field "cookie_name" must be specified when using the "APP_COOKIE" '
                         'session persistence type.')
    timeout = out["persistence_timeout"]
    if timeout is not None and timeout < 0:
        raise InvalidInput("session_persistence.persistence_timeout", timeout,
                           "Value should be greater than or equal to 0.")
    granularity = out["persistence_granularity"]
    if granularity is not None:
        try:
            if "%" in str(granularity):  # an IPv6 zone: any text, kept verbatim by str()
                raise ValueError(granularity)
            out["persistence_granularity"] = str(ipaddress.ip_address(granularity))
        except ValueError:
            raise InvalidInput("session_persistence.persistence_granularity", granularity,
                               "Value should be a valid IP address.") from None
    return out


def validate_pool(values: dict[str, Any], protocol: str, settings: Settings) -> dict[str, Any]:
    """Check a pool's effective fields (API names) and fill TLS defaults when TLS is on."""
    out = dict(values)
    out["session_persistence"] = check_session_persistence(out.get("session_persistence"),
                                                           protocol)
    tls_enabled = bool(out.get("tls_enabled"))
    if protocol in DATAGRAM_PROTOCOLS and (tls_enabled or out.get("tls_container_ref")
                                           or out.get("ca_tls_container_ref")):
        raise validation(f"TLS is not supported for {protocol} protocol pools.")
    if out.get("crl_container_ref") and not out.get("ca_tls_container_ref"):
        raise validation("A CA certificate reference is required to specify a revocation "
                         "list.")
    _check_tls_options(out)
    if tls_enabled:
        _fill_tls_defaults(out, settings, "pool")
    return out


POOL_NULL_DEFAULTS: dict[str, Any] = {"admin_state_up": False, "tls_enabled": False}


# Members --------------------------------------------------------------------------------------

MEMBER_NULL_DEFAULTS: dict[str, Any] = {"admin_state_up": False, "weight": 1, "backup": False}


def check_member_address(address: str, settings: Settings) -> None:
    """Octavia refuses members on ``[networking] reserved_ips`` (e.g. the metadata address)."""
    addr = ipaddress.ip_address(address)
    for reserved in settings.networking.reserved_ips:
        try:
            if ipaddress.ip_address(reserved) == addr:
                raise invalid_option(address, "member address")
        except ValueError:
            continue


# Health monitors ------------------------------------------------------------------------------

HM_NULL_DEFAULTS: dict[str, Any] = {"admin_state_up": False,
                                    "max_retries_down": DEFAULT_MAX_RETRIES_DOWN}
HM_REQUIRED_ON_PUT = ("delay", "timeout", "max_retries")
HM_HTTP_FIELDS = ("http_method", "url_path", "expected_codes", "http_version", "domain_name")


def check_hm_type(hm_type: str, pool_protocol: str, delay: int, settings: Settings) -> None:
    if hm_type == "PING" and not _flag(settings, "allow_ping_health_monitors", True):
        raise Invalid("The selected type is not allowed in this deployment: PING")
    if pool_protocol in DATAGRAM_PROTOCOLS:
        if hm_type not in DATAGRAM_HM_TYPES:
            raise validation(f"The associated pool protocol is {pool_protocol}, so only a "
                             f"{', '.join(DATAGRAM_HM_TYPES)} health monitor is supported.")
    elif hm_type in ("UDP-CONNECT", "SCTP"):
        raise validation(f"The {hm_type} type is only supported for pools of type "
                         f"{'UDP' if hm_type == 'UDP-CONNECT' else 'SCTP'}.")
    min_delay = _flag(settings, "udp_connect_min_interval_health_monitor",
                      DEFAULT_UDP_CONNECT_MIN_DELAY)
    if hm_type == "UDP-CONNECT" and min_delay and delay < min_delay:
        raise validation(f"The request delay value {delay} should be larger than {min_delay} "
                         f"for {hm_type} health monitor type.")


def validate_hm(values: dict[str, Any], given: Iterable[str], hm_type: str,
                pool_protocol: str, settings: Settings) -> dict[str, Any]:
    """Check a monitor's effective fields; ``given`` names the fields the request set.

    HTTP options are refused when sent for a non-HTTP monitor and stored as null; for HTTP and
    HTTPS monitors a missing method, path or codes take Octavia's defaults.
    """
    out = dict(values)
    check_hm_type(hm_type, pool_protocol, out["delay"], settings)
    if hm_type not in HTTP_HM_TYPES:
        for name in HM_HTTP_FIELDS:
            if name in given and out.get(name) is not None:
                raise invalid_option(name, f"health monitors of type {hm_type}")
            out[name] = None
        return out
    for name, default in DEFAULT_HM_HTTP.items():
        if out.get(name) is None:
            out[name] = default
    if not URL_PATH_RE.fullmatch(out["url_path"]):
        raise InvalidInput("url_path", out["url_path"], "Not a valid URL path.")
    if not EXPECTED_CODES_RE.fullmatch(out["expected_codes"]):
        raise InvalidInput("expected_codes", out["expected_codes"],
                           "Value should match the pattern ^(\\d{3}(\\s*,\\s*\\d{3})*)$"
                           "|^(\\d{3}-\\d{3})$.")
    domain = out.get("domain_name")
    if domain is not None:
        if not DOMAIN_NAME_RE.fullmatch(domain):
            raise InvalidInput("domain_name", domain, "Value should be a valid host name.")
        if out.get("http_version") is None or out["http_version"] < 1.1:
            raise validation("http_version 1.1 or higher is required when domain_name is set.")
    return out


# Write plumbing shared by the four routers ----------------------------------------------------

def refuse_deleting(obj: Any, kind: str) -> None:
    """A write to an object already waiting for its deletion is a conflict."""
    if obj.provisioning_status in (ProvisioningStatus.PENDING_DELETE, ProvisioningStatus.DELETED):
        raise Conflict(f"Invalid state {obj.provisioning_status} of {kind} resource {obj.id}")


def apply_nulls(given: dict[str, Any], defaults: Mapping[str, Any]) -> dict[str, Any]:
    """Replace the request's nulls by the field's reset value, where it has one."""
    return {k: (defaults[k] if v is None and k in defaults else v) for k, v in given.items()}


def partial_model(full: Any, id_attr: str, given: Iterable[str]) -> Any:
    """The ``new`` argument of ``*_update(old, new)``: the id plus only the fields the request
    set, read from the full model of the updated row; everything else stays ``Unset``.
    A certificate reference brings its ``*_data`` along."""
    values: dict[str, Any] = {id_attr: getattr(full, id_attr)}
    for name in given:
        for attr in (name, name.replace("_refs", "_data").replace("_ref", "_data")):
            if hasattr(full, attr) and attr not in ("tags",):
                values[attr] = getattr(full, attr)
    return type(full)(**values)


def driver_for(svc: Any, lb: Any) -> Any:
    """The provider driver of ``lb`` (400 if its provider is not enabled, 501 if broken)."""
    return load_driver(svc.settings, lb.provider or svc.settings.api.default_provider_driver)


def check_cert_refs(certs: Any, caller: Caller, bundles: Iterable[str],
                    cas: Iterable[str] = (), crls: Iterable[str] = ()) -> None:
    """400 "Could not retrieve certificate" unless the certificate manager accepts every
    reference for ``caller`` (Octavia's ``_validate_tls_refs``): ``bundles`` name server
    certificates (with keys), ``cas`` CA bundles and ``crls`` revocation lists. Octavia's own
    400 for a PKCS12 secret that cannot be read. With Barbican this also grants Statera's
    service user read access (Octavia's ACLs).

    Runs outside the write transaction: a manager may open its own or call Barbican. Skipped
    when the deployment has no certificate manager.
    """
    if certs is None:
        return
    bad: list[str] = []
    for kind, refs in ((RefKind.BUNDLE, bundles), (RefKind.CA, cas), (RefKind.CRL, crls)):
        for ref in dict.fromkeys(refs):
            try:
                certs.check(ref, kind, caller)
            except UnreadablePKCS12 as exc:
                raise Invalid(str(exc)) from None
            except CertificateNotFound:  # managers turn every refusal and outage into this
                bad.append(ref)
    if bad:
        raise Invalid(f"Could not retrieve certificate: {bad}")


def check_ca_and_crl(certs: Any, ca_ref: str | None, crl_ref: str | None,
                     owner: str = "client certificate authority") -> None:
    """400 unless a CA reference holds certificates and a revocation list reference holds a
    CRL signed by that CA (Octavia refuses a CRL of another issuer; HAProxy would then reject
    every peer, since OpenSSL finds no CRL for the real issuer).

    Call after :func:`check_cert_refs` (which turns refs the caller may not use into 400s)
    with the refs the object will have once written, outside the write transaction; the
    material is then read as the service (``fetch``). A CRL without a CA is left to
    ``validate_listener``/``validate_pool``, which say so in Octavia's words.
    """
    if certs is None or not ca_ref:
        return
    def pem(ref: str, kind: RefKind) -> str:
        try:
            material = certs.fetch(ref, kind)
        except Exception:  # a backend outage (Barbican away) is "could not retrieve" here
            material = None
        if not isinstance(material, str):
            raise Invalid(f"Could not retrieve certificate: {[ref]}")
        return material

    ca_pem = pem(ca_ref, RefKind.CA)
    if is_crl_pem(ca_pem):
        raise validation(f"The {owner} reference {ca_ref} is a certificate revocation list, "
                         "not a CA certificate.")
    if not crl_ref:
        return
    crl_pem = pem(crl_ref, RefKind.CRL)
    if not is_crl_pem(crl_pem):
        raise validation(f"The revocation list reference {crl_ref} is not a certificate "
                         "revocation list.")
    if not crl_is_signed_by(crl_pem, ca_pem):
        raise validation(f"The CRL specified is not valid for the {owner} reference "
                         "supplied.")
