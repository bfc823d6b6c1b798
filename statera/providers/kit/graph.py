"""Reading an octavia-lib load-balancer graph safely, for any provider's renderer.

These checks turn graph values into things that may be written unquoted into a data-plane
configuration (IP literals, port numbers, integers, UUID-like identifiers, networks) or refuse
them with :class:`ConfigError`. User strings proper are never handled here: each provider
quotes them with its own single quoting function.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from typing import Any

from octavia_lib.api.drivers import data_models as dm

_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
#: OpenSSL 3's TLS 1.3 cipher suites. OpenSSL configures them apart from the cipher list of
#: older versions: a cipher list skips their names (and fails when it names nothing else).
TLS13_SUITES = frozenset({"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384",
                          "TLS_CHACHA20_POLY1305_SHA256", "TLS_AES_128_CCM_SHA256",
                          "TLS_AES_128_CCM_8_SHA256"})


class ConfigError(ValueError):
    """The desired graph cannot be expressed as a safe data-plane configuration."""


def val(value: Any, default: Any = None) -> Any:
    """``value`` unless it is octavia-lib's ``Unset`` or None."""
    if value is None or isinstance(value, dm.UnsetType):
        return default
    return value


def enabled(obj: Any) -> bool:
    return val(getattr(obj, "admin_state_up", None), True) is not False


def is_safe_name(value: object) -> bool:
    """Whether ``value`` may be used bare as a name in a configuration (ids are UUIDs)."""
    return bool(_SAFE_NAME.fullmatch(str(value)))


def safe_id(value: Any, what: str) -> str:
    text = str(val(value, ""))
    if not is_safe_name(text):
        raise ConfigError(f"{what} id {text!r} is not a safe identifier")
    return text


def ip_literal(value: Any, what: str) -> str:
    """An IP address as written in ``address:port`` (IPv6 in brackets); no zone ids."""
    try:
        addr = ipaddress.ip_address(str(val(value, "")))
    except ValueError as exc:
        raise ConfigError(f"{what} {value!r} is not an IP address") from exc
    if getattr(addr, "scope_id", None) is not None:  # any text, written unquoted: refuse it
        raise ConfigError(f"{what} {value!r} has an IPv6 zone id")
    return f"[{addr}]" if addr.version == 6 else str(addr)


def port_number(value: Any, what: str) -> int:
    port = val(value)
    if not isinstance(port, int) or isinstance(port, bool) or not 1 <= port <= 65535:
        raise ConfigError(f"{what} {port!r} is not a port number")
    return port


def positive_int(value: Any, default: int, what: str, minimum: int = 0) -> int:
    number = val(value, default)
    if not isinstance(number, int) or isinstance(number, bool) or number < minimum:
        raise ConfigError(f"{what} {number!r} is not an integer >= {minimum}")
    return number


def active_policies(listener: dm.Listener) -> list[tuple[Any, list[Any]]]:
    """The listener's L7 policies a data plane evaluates, first match first: the enabled ones
    with at least one enabled rule, by position (then id, so equal positions keep one order),
    each with its enabled rules."""
    ordered = sorted(val(listener.l7policies, []) or [],
                     key=lambda p: (val(p.position, 0), str(p.l7policy_id)))
    out: list[tuple[Any, list[Any]]] = []
    for policy in ordered:
        rules = [r for r in val(policy.rules, []) or [] if enabled(r)]
        if enabled(policy) and rules:
            out.append((policy, rules))
    return out


def vip_addresses(lb: dm.LoadBalancer) -> list[str]:
    """The VIP and additional VIPs of ``lb`` as IP literals: the addresses to bind. (The core's
    network driver allocates and plumbs them; a provider only binds.)"""
    addresses = [ip_literal(lb.vip_address, "vip_address")]
    for extra in val(lb.additional_vips, []) or []:
        address = extra.get("ip_address") if isinstance(extra, dict) else getattr(
            extra, "ip_address", None)
        if address:
            addresses.append(ip_literal(address, "additional VIP"))
    return addresses


def allowed_cidrs(listener: dm.Listener) -> tuple[str, ...]:
    """The listener's allowed CIDRs as networks; empty when everything is allowed."""
    out = []
    for cidr in val(listener.allowed_cidrs, []) or []:
        try:
            if "%" in str(cidr):  # an IPv6 zone: any text, written unquoted
                raise ValueError(cidr)
            network = ipaddress.ip_network(str(cidr), strict=False)
        except ValueError as exc:
            raise ConfigError(f"allowed_cidr {cidr!r} is not a network") from exc
        if network.prefixlen == 0:
            return ()  # everything is allowed
        out.append(str(network))
    return tuple(out)


def expected_codes(codes: Any) -> list[int]:
    """Octavia's ``expected_codes`` ("200", "200,202", "200-204") as a list of codes."""
    text = str(val(codes, "200"))
    out: list[int] = []
    for part in text.split(","):
        part = part.strip()
        lo, _, hi = part.partition("-")
        if not lo.isdigit() or (hi and not hi.isdigit()):
            raise ConfigError(f"expected_codes {text!r} is not a list of codes or ranges")
        first, last = int(lo), int(hi or lo)
        if not 100 <= first <= last <= 599:
            raise ConfigError(f"expected_codes {text!r} is out of range")
        out.extend(c for c in range(first, last + 1) if c not in out)
    return out


def split_ciphers(text: str | None, versions: Sequence[str],
                  what: str) -> tuple[str | None, str | None]:
    """(cipher list for TLS 1.2 and older, TLS 1.3 suites) of an Octavia ``tls_ciphers``.

    Octavia takes one string for every TLS version; OpenSSL sets TLS 1.3 suites apart (NGINX's
    ``ssl_conf_command Ciphersuites``, HAProxy's ``ciphersuites``), so without the split a
    string's TLS 1.3 choice would be silently ignored (every default suite offered) and a
    string of TLS 1.3 suites only would fail to load. A string with no TLS 1.3 suite keeps
    OpenSSL's defaults for TLS 1.3. ``versions`` are the enabled TLS versions (Octavia's
    names; empty: the data plane's defaults, which include TLS 1.2).
    """
    if not text:
        return None, None
    parts = [p for p in re.split(r"[:, ]+", text) if p]
    suites = [p for p in parts if p in TLS13_SUITES]
    older = [p for p in parts if p not in TLS13_SUITES]
    if not older and (not versions or any(v != "TLSv1.3" for v in versions)):
        raise ConfigError(f"{what}: tls_ciphers names only TLS 1.3 suites, but TLS versions "
                          f"before 1.3 are enabled ({', '.join(versions) or 'defaults'})")
    return ":".join(older) or None, ":".join(suites) or None


def pem_text(data: Any) -> str:
    return data.decode() if isinstance(data, bytes) else str(data)


def _field(data: object, key: str) -> Any:
    """``key`` of a certificate container, which arrives as a dict (from the agent's graph
    JSON) or as an object (octavia-lib's or the cert manager's), or None."""
    return data.get(key) if isinstance(data, dict) else getattr(data, key, None)


def pem_bundle(data: object) -> str:
    """A certificate container dict (or object) as one PEM: cert, intermediates, key."""
    parts = [_field(data, "certificate")]
    parts.extend(_field(data, "intermediates") or [])
    parts.append(_field(data, "private_key"))
    texts = [pem_text(p) for p in parts if p]
    if not texts:
        raise ConfigError("certificate container has no certificate data")
    return "".join(t if t.endswith("\n") else t + "\n" for t in texts)


def certificate_names(pem: str) -> list[str]:
    """The DNS names a PEM certificate (the first in ``pem``) is for: its subjectAltName DNS
    entries, else its common name; the names a TLS listener serves it for by SNI."""
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    try:
        cert = x509.load_pem_x509_certificate(pem.encode())
    except ValueError as exc:
        raise ConfigError("certificate data is not a PEM certificate") from exc
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
        names = [str(n) for n in san.value.get_values_for_type(x509.DNSName)]
    except x509.ExtensionNotFound:
        names = []
    if not names:
        names = [str(a.value) for a in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    return names
