"""Which Octavia features a provider supports, declared once as a table.

A provider declares a :class:`Capabilities`; the kit's :class:`CapabilityChecks` reads it to
answer every create/update its driver receives (accept, or octavia-lib's
``UnsupportedOptionError``, which the API returns as 501), and :func:`readme_table` renders the
same tables of every installed provider (found through the ``octavia.api.drivers`` entry
points, so the kit names no provider) as the README's feature table. Nothing can drift: the
table that answers the API is the table in the README, and a test compares the two.

``options`` are the optional attributes a provider supports: a driver refuses any object that
sets an option its table lacks (to a value other than the harmless default), never ignoring it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

from octavia_lib.api.drivers import data_models as dm
from octavia_lib.api.drivers import exceptions

from statera.providers.kit.graph import val

LISTENER_PROTOCOLS = ("HTTP", "HTTPS", "TCP", "UDP", "SCTP", "TERMINATED_HTTPS", "PROMETHEUS")
POOL_PROTOCOLS = ("HTTP", "HTTPS", "TCP", "UDP", "SCTP", "PROXY", "PROXYV2")
ALGORITHMS = ("ROUND_ROBIN", "LEAST_CONNECTIONS", "SOURCE_IP", "SOURCE_IP_PORT")
PERSISTENCE = ("SOURCE_IP", "HTTP_COOKIE", "APP_COOKIE")
MONITORS = ("HTTP", "HTTPS", "TCP", "TLS-HELLO", "PING", "UDP-CONNECT", "SCTP")
L7 = ("l7policies",)

#: (object kind, attribute, what the README calls it, values that mean "not used")
OPTIONS: tuple[tuple[str, str, str, tuple[Any, ...]], ...] = (
    ("listener", "connection_limit", "listener connection_limit", (-1,)),
    ("listener", "allowed_cidrs", "listener allowed_cidrs", ((),)),
    ("listener", "insert_headers", "listener insert_headers", ({},)),
    ("listener", "timeout_client_data", "listener timeouts", ()),
    ("listener", "timeout_member_connect", "listener timeouts", ()),
    ("listener", "timeout_member_data", "listener timeouts", ()),
    ("listener", "timeout_tcp_inspect", "listener timeout_tcp_inspect", (0,)),
    ("listener", "tls_versions", "TLS versions and ciphers", ((),)),
    ("listener", "tls_ciphers", "TLS versions and ciphers", ("",)),
    ("listener", "alpn_protocols", "listener ALPN", ((),)),
    ("listener", "client_ca_tls_container_ref", "client certificate authentication", ("",)),
    ("listener", "hsts_max_age", "HSTS", ()),
    ("pool", "tls_enabled", "re-encryption to members", (False,)),
    ("pool", "ca_tls_container_ref", "verifying members' certificates (pool CA, CRL)", ("",)),
    ("pool", "session_persistence", "session persistence", ({},)),
    ("member", "backup", "backup members", (False,)),
    ("member", "monitor_address", "monitor_address/monitor_port", ()),
    ("member", "monitor_port", "monitor_address/monitor_port", ()),
    ("loadbalancer", "additional_vips", "additional VIPs", ((),)),
)


@dataclass(frozen=True)
class Capabilities:
    provider: str
    listener_protocols: frozenset[str]
    pool_protocols: frozenset[str]
    algorithms: frozenset[str]
    persistence: frozenset[str]
    monitors: frozenset[str]
    l7: bool
    options: frozenset[str] = field(default_factory=frozenset)  # OPTIONS' README names

    def rows(self) -> list[tuple[str, bool]]:
        """(feature, supported) in README order."""
        out = [(f"{p} listeners", p in self.listener_protocols) for p in LISTENER_PROTOCOLS]
        out += [(f"{p} pools", p in self.pool_protocols) for p in POOL_PROTOCOLS]
        out += [(f"{a} algorithm", a in self.algorithms) for a in ALGORITHMS]
        out += [(f"{p} persistence", p in self.persistence) for p in PERSISTENCE]
        out += [(f"{m} health monitors", m in self.monitors) for m in MONITORS]
        out.append(("L7 policies and rules", self.l7))
        seen: list[str] = []
        for _, _, name, _ in OPTIONS:
            if name not in seen:
                seen.append(name)
                out.append((name, name in self.options))
        return out


def unsupported(provider: str, what: str) -> exceptions.UnsupportedOptionError:
    return exceptions.UnsupportedOptionError(
        user_fault_string=f"The {provider} provider does not support {what}.",
        operator_fault_string=f"{provider} provider: unsupported option: {what}",
    )


class CapabilityChecks:
    """The driver-side validation that a :class:`Capabilities` table implies."""

    def __init__(self, caps: Capabilities) -> None:
        self.caps = caps

    def refuse(self, what: str) -> exceptions.UnsupportedOptionError:
        return unsupported(self.caps.provider, what)

    def _options(self, kind: str, obj: Any) -> None:
        for option_kind, attr, name, unused in OPTIONS:
            if option_kind != kind or name in self.caps.options:
                continue
            value = val(getattr(obj, attr, None))
            if value is None or value in unused or (isinstance(value, list)
                                                     and tuple(value) in unused):
                continue
            raise self.refuse(f"{name} ({attr})")

    def listener(self, listener: dm.Listener) -> None:
        protocol = val(getattr(listener, "protocol", None))
        if protocol is not None and protocol not in self.caps.listener_protocols:
            raise self.refuse(f"{protocol} listeners")
        self._options("listener", listener)
        if not self.caps.l7 and val(getattr(listener, "l7policies", None)):
            raise self.refuse("L7 policies")

    def pool(self, pool: dm.Pool) -> None:
        protocol = val(getattr(pool, "protocol", None))
        if protocol is not None and protocol not in self.caps.pool_protocols:
            raise self.refuse(f"{protocol} pools")
        algorithm = val(getattr(pool, "lb_algorithm", None))
        if algorithm is not None and algorithm not in self.caps.algorithms:
            raise self.refuse(f"the {algorithm} algorithm")
        monitor = val(getattr(pool, "healthmonitor", None))
        if monitor is not None:
            self.monitor(monitor)
        persistence = val(getattr(pool, "session_persistence", None))
        if persistence:
            kind = persistence.get("type") if isinstance(persistence, dict) else None
            if kind not in self.caps.persistence:
                raise self.refuse(f"session persistence {kind!r}")
        self._options("pool", pool)
        for member in val(getattr(pool, "members", None), []) or []:
            self.member(member)

    def member(self, member: dm.Member) -> None:
        self._options("member", member)

    def monitor(self, monitor: dm.HealthMonitor) -> None:
        kind = val(getattr(monitor, "type", None))
        if kind is not None and kind not in self.caps.monitors:
            raise self.refuse(f"{kind} health monitors")

    def l7(self) -> None:
        if not self.caps.l7:
            raise self.refuse("L7 policies and rules")

    def loadbalancer(self, lb: dm.LoadBalancer) -> None:
        self._options("loadbalancer", lb)
        for listener in val(getattr(lb, "listeners", None), []) or []:
            self.listener(listener)
        for pool in val(getattr(lb, "pools", None), []) or []:
            self.pool(pool)


def installed() -> list[Capabilities]:
    """The capability tables of every installed driver that declares one (``capabilities``
    on the driver class of an ``octavia.api.drivers`` entry point)."""
    found = []
    for entry in sorted(metadata.entry_points(group="octavia.api.drivers"),
                        key=lambda e: e.name):
        caps = getattr(entry.load(), "capabilities", None)
        if isinstance(caps, Capabilities):
            found.append(caps)
    return found


def readme_table(tables: list[Capabilities] | None = None) -> str:
    """The README's feature table (Markdown) of ``tables`` (default: every installed one)."""
    tables = installed() if tables is None else tables
    lines = ["| Octavia feature | " + " | ".join(c.provider for c in tables) + " |",
             "|---|" + "---|" * len(tables)]
    rows = [dict(c.rows()) for c in tables]
    for feature, _ in tables[0].rows() if tables else []:
        marks = ["yes" if row[feature] else "501" for row in rows]
        lines.append(f"| {feature} | " + " | ".join(marks) + " |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":  # python -m statera.providers.kit.capabilities > table for README
    # Import the module by name: as __main__ its Capabilities class is a different object.
    from statera.providers.kit import capabilities as _self

    print(_self.readme_table(), end="")
