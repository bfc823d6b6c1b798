"""API side of the NGINX provider: accept what open-source NGINX can carry, refuse the rest
with Octavia's 501 (``UnsupportedOptionError``), never silently ignore an option.

Every create/update only validates against the provider's capability table (which the README's
feature table is generated from); the core commits and the agent does the work. What is
refused and why:

- SCTP (NGINX has no SCTP), PROMETHEUS listeners (HAProxy's exporter);
- verifying members' certificates with a pool CA (and CRL): NGINX always checks the member's
  name as well when it verifies, and a member is only an address;
- listener ALPN protocols other than h2/http/1.1/http/1.0 (NGINX negotiates those itself);
  ``h2`` in a pool's ALPN (NGINX speaks HTTP/1.x to members and offers no ALPN);
- PROXY/PROXYV2 pools: NGINX's stream module sends PROXY v1 only and its HTTP proxy none; not
  rendered yet;
- session persistence HTTP_COOKIE and APP_COOKIE: open-source NGINX can neither insert a
  cookie nor learn an application's (``sticky`` is NGINX Plus). SOURCE_IP persistence is a
  consistent hash of the client address (it replaces the pool's algorithm);
- SCTP health monitors; ``timeout_tcp_inspect`` (HAProxy's content inspection);
- L7 rules NGINX variables cannot name (header names beyond letters, digits, ``-``, ``_``;
  cookie names beyond letters, digits, ``_``), values with control characters or non-ASCII,
  SSL_VERIFY_RESULT other than 0, and redirect targets with ``$`` or non-ASCII (see ``l7``);
- additional VIPs are supported (each listener binds every VIP).
"""

from __future__ import annotations

from octavia_lib.api.drivers import data_models as dm

from statera.providers.kit import capabilities as kit
from statera.providers.kit.driver import TOPOLOGY_METADATA, TableDriver
from statera.providers.kit.graph import ConfigError, val
from statera.providers.nginx import escape, l7
from statera.providers.nginx.view import ALPN, FORWARD_HEADERS, SSL_HEADERS

#: What this provider supports; the checks below and the README's feature table read it.
CAPABILITIES = kit.Capabilities(
    provider="nginx",
    listener_protocols=frozenset({"HTTP", "HTTPS", "TCP", "UDP", "TERMINATED_HTTPS"}),
    pool_protocols=frozenset({"HTTP", "HTTPS", "TCP", "UDP"}),
    algorithms=frozenset(kit.ALGORITHMS),
    persistence=frozenset({"SOURCE_IP"}),
    monitors=frozenset({"HTTP", "HTTPS", "TCP", "TLS-HELLO", "PING", "UDP-CONNECT"}),
    l7=True,
    options=frozenset({
        "listener connection_limit", "listener allowed_cidrs", "listener insert_headers",
        "listener timeouts", "backup members", "monitor_address/monitor_port",
        "additional VIPs", "TLS versions and ciphers", "listener ALPN",
        "client certificate authentication", "HSTS", "session persistence",
        "re-encryption to members",
    }),
)
CHECKS = kit.CapabilityChecks(CAPABILITIES)
#: The ``insert_headers`` NGINX sets.
HEADERS = frozenset(FORWARD_HEADERS) | frozenset(SSL_HEADERS)


def check_listener(listener: dm.Listener) -> None:
    CHECKS.listener(listener)
    for policy in val(getattr(listener, "l7policies", None), []) or []:
        check_policy(policy)
    alpn = set(val(getattr(listener, "alpn_protocols", None), []) or [])
    if alpn - ALPN:
        raise CHECKS.refuse(f"the ALPN protocols {sorted(alpn - ALPN)}")
    headers = getattr(listener, "insert_headers", None)
    if isinstance(headers, dict):
        for name, value in headers.items():
            if name not in HEADERS and str(value).lower() == "true":
                raise CHECKS.refuse(f"the {name} header")


def check_rule(rule: dm.L7Rule) -> None:
    reason = l7.unsupported_rule(rule)
    if reason:
        raise CHECKS.refuse(reason)


def check_policy(policy: dm.L7Policy) -> None:
    for attr in ("redirect_url", "redirect_prefix"):
        target = val(getattr(policy, attr, None))
        if target is not None:
            try:
                escape.quote(target)
            except ConfigError:
                raise CHECKS.refuse(f"a {attr} with '$', control characters, non-ASCII or "
                                    "over 4,000 characters") from None
    for rule in val(getattr(policy, "rules", None), []) or []:
        check_rule(rule)


def check_pool(pool: dm.Pool) -> None:
    CHECKS.pool(pool)
    alpn = set(val(getattr(pool, "alpn_protocols", None), []) or [])
    if alpn - {"http/1.1", "http/1.0"}:
        raise CHECKS.refuse(f"the ALPN protocols {sorted(alpn)} towards members")


class NginxProviderDriver(TableDriver):
    capabilities = CAPABILITIES
    flavor_metadata = TOPOLOGY_METADATA

    def check_loadbalancer(self, lb: dm.LoadBalancer) -> None:
        CHECKS.loadbalancer(lb)
        for listener in getattr(lb, "listeners", None) or []:
            check_listener(listener)
        for pool in getattr(lb, "pools", None) or []:
            check_pool(pool)
        flavor = getattr(lb, "flavor", None)
        if isinstance(flavor, dict) and flavor:
            self.validate_flavor(flavor)

    def check_listener(self, listener: dm.Listener) -> None:
        check_listener(listener)

    def check_pool(self, pool: dm.Pool) -> None:
        check_pool(pool)

    def check_policy(self, policy: dm.L7Policy) -> None:
        check_policy(policy)

    def check_rule(self, rule: dm.L7Rule, old: dm.L7Rule | None = None) -> None:
        if old is not None:
            # ``rule`` carries only the changed fields: judge the rule as it will be.
            merged = {attr: val(getattr(rule, attr, None), val(getattr(old, attr, None)))
                      for attr in ("type", "key", "value", "compare_type")}
            rule = dm.L7Rule(**{k: v for k, v in merged.items() if v is not None})
        check_rule(rule)
