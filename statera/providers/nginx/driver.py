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

from typing import Any

from octavia_lib.api.drivers import data_models as dm
from octavia_lib.api.drivers import provider_base

from statera.providers.kit import capabilities as kit
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


def check_listener(listener: Any) -> None:
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


def check_rule(rule: Any) -> None:
    reason = l7.unsupported_rule(rule)
    if reason:
        raise CHECKS.refuse(reason)


def check_policy(policy: Any) -> None:
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


def check_pool(pool: Any) -> None:
    CHECKS.pool(pool)
    alpn = set(val(getattr(pool, "alpn_protocols", None), []) or [])
    if alpn - {"http/1.1", "http/1.0"}:
        raise CHECKS.refuse(f"the ALPN protocols {sorted(alpn)} towards members")


class NginxProviderDriver(provider_base.ProviderDriver):  # type: ignore[misc]
    capabilities = CAPABILITIES

    def __init__(self) -> None:
        super().__init__()

    def create_vip_port(self, loadbalancer_id: str, project_id: str,
                        vip_dictionary: dict[str, Any],
                        additional_vip_dicts: list[dict[str, Any]]) -> Any:
        # The core's network driver allocates VIPs (loopback addresses by default).
        raise NotImplementedError()

    # load balancers
    def loadbalancer_create(self, loadbalancer: dm.LoadBalancer) -> None:
        self._check_lb(loadbalancer)

    def loadbalancer_update(self, old_loadbalancer: dm.LoadBalancer,
                            new_loadbalancer: dm.LoadBalancer) -> None:
        self._check_lb(new_loadbalancer)

    @staticmethod
    def _check_lb(lb: dm.LoadBalancer) -> None:
        CHECKS.loadbalancer(lb)
        for listener in getattr(lb, "listeners", None) or []:
            check_listener(listener)
        for pool in getattr(lb, "pools", None) or []:
            check_pool(pool)
        flavor = getattr(lb, "flavor", None)
        if isinstance(flavor, dict) and flavor:
            raise CHECKS.refuse(f"flavor options {sorted(flavor)}")

    def loadbalancer_delete(self, loadbalancer: dm.LoadBalancer, cascade: bool = False) -> None:
        return None

    def loadbalancer_failover(self, loadbalancer_id: str) -> None:
        return None  # the agent replaces the NGINX master on the failover hint

    # listeners
    def listener_create(self, listener: dm.Listener) -> None:
        check_listener(listener)

    def listener_update(self, old_listener: dm.Listener, new_listener: dm.Listener) -> None:
        check_listener(new_listener)

    def listener_delete(self, listener: dm.Listener) -> None:
        return None

    # pools
    def pool_create(self, pool: dm.Pool) -> None:
        check_pool(pool)

    def pool_update(self, old_pool: dm.Pool, new_pool: dm.Pool) -> None:
        check_pool(new_pool)

    def pool_delete(self, pool: dm.Pool) -> None:
        return None

    # members
    def member_create(self, member: dm.Member) -> None:
        CHECKS.member(member)

    def member_update(self, old_member: dm.Member, new_member: dm.Member) -> None:
        CHECKS.member(new_member)

    def member_delete(self, member: dm.Member) -> None:
        return None

    def member_batch_update(self, pool_id: str, members: list[dm.Member]) -> None:
        for member in members:
            CHECKS.member(member)

    # health monitors
    def health_monitor_create(self, healthmonitor: dm.HealthMonitor) -> None:
        CHECKS.monitor(healthmonitor)

    def health_monitor_update(self, old_healthmonitor: dm.HealthMonitor,
                              new_healthmonitor: dm.HealthMonitor) -> None:
        CHECKS.monitor(new_healthmonitor)

    def health_monitor_delete(self, healthmonitor: dm.HealthMonitor) -> None:
        return None

    # L7
    def l7policy_create(self, l7policy: dm.L7Policy) -> None:
        check_policy(l7policy)

    def l7policy_update(self, old_l7policy: dm.L7Policy, new_l7policy: dm.L7Policy) -> None:
        check_policy(new_l7policy)

    def l7policy_delete(self, l7policy: dm.L7Policy) -> None:
        return None

    def l7rule_create(self, l7rule: dm.L7Rule) -> None:
        check_rule(l7rule)

    def l7rule_update(self, old_l7rule: dm.L7Rule, new_l7rule: dm.L7Rule) -> None:
        # ``new`` carries only the changed fields: judge the rule as it will be.
        merged = {attr: val(getattr(new_l7rule, attr, None),
                            val(getattr(old_l7rule, attr, None)))
                  for attr in ("type", "key", "value", "compare_type")}
        check_rule(dm.L7Rule(**{k: v for k, v in merged.items() if v is not None}))

    def l7rule_delete(self, l7rule: dm.L7Rule) -> None:
        return None

    # flavors and availability zones
    def get_supported_flavor_metadata(self) -> dict[str, str]:
        return {}

    def validate_flavor(self, flavor_metadata: dict[str, Any]) -> None:
        if flavor_metadata:
            raise CHECKS.refuse(f"flavor options {sorted(flavor_metadata)}")

    def get_supported_availability_zone_metadata(self) -> dict[str, str]:
        return {}

    def validate_availability_zone(self, availability_zone_metadata: dict[str, Any]) -> None:
        if availability_zone_metadata:
            raise CHECKS.refuse(
                f"availability zone options {sorted(availability_zone_metadata)}")
