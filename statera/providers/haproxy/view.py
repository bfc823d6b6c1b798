"""Pure translation of an octavia-lib load-balancer graph into a plain view for the templates.

Every decision about *what* HAProxy should do lives here, in small functions without I/O, so
the templates only lay the view out and the tests can check decisions without a process. The
mapping follows Octavia's amphora templates (reference §5.2) with these deliberate differences:

- L7 policies become ``http-request`` rules in position order; REDIRECT_TO_POOL sets a
  transaction variable that later policies respect and a dynamic ``use_backend`` reads, so the
  first matching policy wins whatever its action (Octavia's ``redirect``/``use_backend``
  keywords are evaluated in fixed phases instead).
- SOURCE_IP and SOURCE_IP_PORT use consistent hashing, which lets HAProxy add and remove
  servers at run time (``add server`` refuses map-based hashing) and moves fewer clients when
  membership changes.
- ``allowed_cidrs`` is enforced in HAProxy (there is no security group in front of a loopback
  VIP).

User strings are never formatted into config text here: they stay raw in the view and the
templates quote them (``escape.quote``). Identifiers must be safe names or the view is refused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from octavia_lib.api.drivers import data_models as dm

from statera.providers.haproxy import escape
from statera.providers.kit.graph import (
    ConfigError,
    active_policies,
    allowed_cidrs,
    enabled,
    expected_codes,
    ip_literal,
    pem_bundle,
    port_number,
    positive_int,
    safe_id,
    split_ciphers,
    val,
    vip_addresses,
)

__all__ = ["ConfigError", "allowed_cidrs", "enabled", "ip_literal", "pem_bundle",
           "port_number", "positive_int", "safe_id", "val", "vip_addresses"]


DEFAULT_CONNECTION_LIMIT = 50000
STICK_TABLE_SIZE = "10k"
BACKEND_VAR = "txn.statera_backend"
SPORT_VAR = "txn.statera_sport"

LISTENER_MODES = {
    "HTTP": "http",
    "TERMINATED_HTTPS": "http",
    "PROMETHEUS": "http",
    "HTTPS": "tcp",
    "TCP": "tcp",
}
ALGORITHMS = {
    "ROUND_ROBIN": ("roundrobin", False),
    "LEAST_CONNECTIONS": ("leastconn", False),
    "SOURCE_IP": ("source", True),
    "SOURCE_IP_PORT": (f"hash src,concat(:,{SPORT_VAR})", True),
}
COMPARE_FLAGS = {
    "REGEX": "-m reg",
    "STARTS_WITH": "-m beg",
    "ENDS_WITH": "-m end",
    "CONTAINS": "-m sub",
    "EQUAL_TO": "-m str",
}
HTTP_METHODS = {"GET", "HEAD", "POST", "PUT", "DELETE", "TRACE", "OPTIONS", "CONNECT", "PATCH"}
REDIRECT_CODES = {301, 302, 303, 307, 308}
TLS_VERSIONS = (("SSLv3", "no-sslv3"), ("TLSv1", "no-tlsv10"), ("TLSv1.1", "no-tlsv11"),
                ("TLSv1.2", "no-tlsv12"), ("TLSv1.3", "no-tlsv13"))
SSL_HEADERS = {
    "X-SSL-Client-Verify": "%[ssl_c_verify]",
    "X-SSL-Client-Has-Cert": "%[ssl_c_used]",
    "X-SSL-Client-DN": "%{+Q}[ssl_c_s_dn]",
    "X-SSL-Client-CN": "%{+Q}[ssl_c_s_dn(cn)]",
    "X-SSL-Issuer": "%{+Q}[ssl_c_i_dn]",
    "X-SSL-Client-SHA1": "%{+Q}[ssl_c_sha1,hex]",
    "X-SSL-Client-Not-Before": "%{+Q}[ssl_c_notbefore]",
    "X-SSL-Client-Not-After": "%{+Q}[ssl_c_notafter]",
}
CLIENT_AUTH = {"NONE": "none", "OPTIONAL": "optional", "MANDATORY": "required"}


@dataclass(frozen=True)
class Options:
    """Inputs that do not come from the graph: settings and host limits."""

    state_dir: str
    timeout_client_data: int = 50000
    timeout_member_connect: int = 5000
    timeout_member_data: int = 50000
    timeout_tcp_inspect: int = 0
    max_global_conns: int = 9000
    nbthread: int = 1
    hard_stop_after: str = "5m"
    ping_script: str = ""
    #: Bind VIPs this host may not hold (the BACKUP of an ACTIVE_STANDBY pair). HAProxy 2.6
    #: has no ``freebind`` keyword; ``transparent`` makes the socket "foreign" per socket
    #: (IP_TRANSPARENT, else IP_FREEBIND), so no host-wide ip_nonlocal_bind sysctl is needed.
    freebind: bool = False


@dataclass(frozen=True)
class ServerView:
    name: str
    address: str
    port: int
    weight: int
    enabled: bool
    backup: bool = False
    check: bool = False
    inter: int = 0
    fall: int = 0
    rise: int = 0
    check_addr: str | None = None
    check_port: int | None = None
    check_ssl: bool = False
    check_alpn: str | None = None
    cookie: str | None = None
    send_proxy: str | None = None
    ssl: bool = False
    ssl_opts: tuple[str, ...] = ()


@dataclass(frozen=True)
class HealthView:
    kind: str  # "tcp" | "http" | "external"
    timeout: int
    method: str = "GET"
    path: str = "/"
    version: str | None = None
    host: str | None = None
    expect: str | None = None


@dataclass(frozen=True)
class BackendView:
    name: str
    pool_id: str
    listener_id: str
    mode: str
    balance: str
    hash_consistent: bool
    source_port_var: bool
    fullconn: int
    timeout_connect: int
    timeout_server: int
    dynamic: bool
    persistence: str | None = None
    persistence_timeout: int | None = None
    cookie_arg: str | None = None
    health: HealthView | None = None
    forwardfor: bool = False
    forwarded_port: bool = False
    forwarded_proto: str | None = None
    ssl_headers: tuple[tuple[str, str], ...] = ()
    servers: tuple[ServerView, ...] = ()


@dataclass(frozen=True)
class AclView:
    name: str
    fetch: str | None  # None: the rule can never match
    flags: str = ""
    value: str | None = None


@dataclass(frozen=True)
class PolicyView:
    action: str  # "deny" | "redirect" | "backend"
    condition: str
    guard: bool
    location: str | None = None
    prefix: str | None = None
    code: int | None = None
    backend: str | None = None


@dataclass(frozen=True)
class FrontendView:
    name: str
    mode: str
    maxconn: int
    binds: tuple[str, ...]
    bind_opts: tuple[str, ...] = ()
    allowed_cidrs: tuple[str, ...] = ()
    timeout_client: int = 50000
    inspect_delay: int = 0
    acls: tuple[AclView, ...] = ()
    policies: tuple[PolicyView, ...] = ()
    uses_backend_var: bool = False
    default_backend: str | None = None
    hsts: str | None = None
    prometheus: bool = False


@dataclass(frozen=True)
class GlobalView:
    maxconn: int
    nbthread: int
    state_file: str
    hard_stop_after: str
    external_check: bool = False


@dataclass(frozen=True)
class LBView:
    lb_id: str
    globals: GlobalView
    frontends: tuple[FrontendView, ...] = ()
    backends: tuple[BackendView, ...] = ()
    ping_script: str = ""
    files: tuple[tuple[str, str], ...] = field(default=(), compare=True)


# --- helpers --------------------------------------------------------------------------------

def connection_limit(listener: dm.Listener) -> int:
    limit = val(listener.connection_limit, -1)
    return DEFAULT_CONNECTION_LIMIT if limit in (-1, None) else positive_int(
        limit, -1, "connection_limit", 1)


def header_enabled(headers: dict[str, Any], name: str) -> bool:
    return str(headers.get(name, "")).lower() == "true"


def expected_codes_regex(codes: Any) -> str:
    """Octavia's ``expected_codes`` ("200", "200,202", "200-204") as an rstatus regex."""
    return "^(" + "|".join(str(c) for c in expected_codes(codes)) + ")$"


def tls_version_switches(versions: Any) -> tuple[str, ...]:
    wanted = set(val(versions, []) or [])
    if not wanted:
        return ()
    return tuple(switch for name, switch in TLS_VERSIONS if name not in wanted)


def cipher_options(ciphers: Any, versions: Any, what: str) -> tuple[str, ...]:
    """``ciphers`` (TLS 1.2 and older) and ``ciphersuites`` (TLS 1.3) of a bind or server:
    HAProxy's ``ciphers`` alone skips TLS 1.3 names (see ``kit.graph.split_ciphers``)."""
    older, suites = split_ciphers(val(ciphers), list(val(versions, []) or []), what)
    opts = []
    if older:
        opts.append(f"ciphers {escape.quote(older)}")
    if suites:
        opts.append(f"ciphersuites {escape.quote(suites)}")
    return tuple(opts)


def alpn_list(protocols: Any) -> str | None:
    items = [str(p) for p in (val(protocols, []) or [])]
    if not items:
        return None
    for item in items:
        if not escape.is_safe_name(item.replace("/", "")):
            raise ConfigError(f"ALPN protocol {item!r} is not a safe token")
    return ",".join(items)


# --- servers and backends -------------------------------------------------------------------

def pool_tls(pool: dm.Pool, lb_dir: str) -> tuple[tuple[str, ...], list[tuple[str, str]]]:
    """Server TLS options of a ``tls_enabled`` pool and the files they name."""
    if not val(pool.tls_enabled, False):
        return (), []
    pool_id = safe_id(pool.pool_id, "pool")
    opts: list[str] = []
    files: list[tuple[str, str]] = []

    def add_file(kind: str, content: Any) -> None:
        name = f"pool-{pool_id}-{kind}.pem"
        files.append((name, content.decode() if isinstance(content, bytes) else str(content)))
        opts.append(f"{kind} {escape.quote(f'{lb_dir}/{name}')}")

    if val(pool.tls_container_data):
        add_file("crt", pem_bundle(pool.tls_container_data))
    if val(pool.ca_tls_container_data):
        add_file("ca-file", pool.ca_tls_container_data)
        if val(pool.crl_container_data):
            add_file("crl-file", pool.crl_container_data)
            opts.append("verify required")
    else:
        opts.append("verify none")
    opts.extend(cipher_options(pool.tls_ciphers, pool.tls_versions, f"pool {pool_id}"))
    opts.extend(tls_version_switches(pool.tls_versions))
    alpn = alpn_list(pool.alpn_protocols)
    if alpn:
        opts.append(f"alpn {alpn}")
    return tuple(opts), files


def server_view(member: dm.Member, pool: dm.Pool, listener_mode: str,
                listener_protocol: str, ssl_opts: tuple[str, ...]) -> ServerView:
    member_id = safe_id(member.member_id, "member")
    hm = pool.healthmonitor if enabled(val(pool.healthmonitor)) else None
    hm = val(hm)
    persistence = val(pool.session_persistence, {}) or {}
    protocol = val(pool.protocol, "")
    send_proxy = None
    if protocol == "PROXY":
        send_proxy = "send-proxy"
    elif protocol == "PROXYV2":
        send_proxy = ("send-proxy-v2-ssl-cn"
                      if listener_protocol in ("TERMINATED_HTTPS", "PROMETHEUS")
                      else "send-proxy-v2")
    check = hm is not None
    hm_type = str(val(getattr(hm, "type", None), "")) if hm else ""
    monitor_addr = val(member.monitor_address)
    monitor_port = val(member.monitor_port)
    ssl = bool(val(pool.tls_enabled, False))
    return ServerView(
        name=member_id,
        address=ip_literal(member.address, "member address"),
        port=port_number(member.protocol_port, "member protocol_port"),
        weight=positive_int(member.weight, 1, "member weight"),
        enabled=enabled(member),
        backup=bool(val(member.backup, False)),
        check=check,
        inter=positive_int(getattr(hm, "delay", None), 5, "delay", 1) if check else 0,
        fall=positive_int(getattr(hm, "max_retries_down", None), 3, "max_retries_down", 1)
        if check else 0,
        rise=positive_int(getattr(hm, "max_retries", None), 3, "max_retries", 1)
        if check else 0,
        check_addr=ip_literal(monitor_addr, "monitor_address").strip("[]")
        if check and monitor_addr else None,
        check_port=port_number(monitor_port, "monitor_port") if check and monitor_port else None,
        check_ssl=check and hm_type == "HTTPS" and not ssl,
        check_alpn=alpn_list(pool.alpn_protocols) if check and ssl else None,
        cookie=member_id if persistence.get("type") == "HTTP_COOKIE"
        and listener_mode == "http" else None,
        send_proxy=send_proxy,
        ssl=ssl,
        ssl_opts=ssl_opts,
    )


def health_view(pool: dm.Pool, opts: Options) -> HealthView | None:
    hm = val(pool.healthmonitor)
    if hm is None or not enabled(hm):
        return None
    kind = str(val(hm.type, "TCP"))
    timeout = positive_int(hm.timeout, 5, "timeout", 1)
    if kind in ("TCP", "TLS-HELLO"):
        return HealthView(kind="tcp", timeout=timeout)
    if kind == "PING":
        return HealthView(kind="external", timeout=timeout)
    if kind not in ("HTTP", "HTTPS"):
        raise ConfigError(f"health monitor type {kind!r} is not supported by HAProxy")
    method = str(val(hm.http_method, "GET")).upper()
    if method not in HTTP_METHODS:
        raise ConfigError(f"http_method {method!r} is not supported")
    version = val(hm.http_version)
    version_text = None
    if version is not None:
        if str(version) not in ("1.0", "1.1"):
            raise ConfigError(f"http_version {version!r} is not supported")
        version_text = f"HTTP/{version}"
    domain = val(hm.domain_name)
    return HealthView(
        kind="http", timeout=timeout, method=method, path=str(val(hm.url_path, "/")),
        version=version_text, host=str(domain) if domain and version_text == "HTTP/1.1" else None,
        expect=expected_codes_regex(hm.expected_codes),
    )


def backend_view(pool: dm.Pool, listener: dm.Listener, opts: Options,
                 ssl_opts: tuple[str, ...] = ()) -> BackendView:
    pool_id = safe_id(pool.pool_id, "pool")
    listener_id = safe_id(listener.listener_id, "listener")
    listener_protocol = str(val(listener.protocol, ""))
    mode = LISTENER_MODES[listener_protocol]
    algorithm = str(val(pool.lb_algorithm, "ROUND_ROBIN"))
    if algorithm not in ALGORITHMS:
        raise ConfigError(f"lb_algorithm {algorithm!r} is not supported")
    balance, consistent = ALGORITHMS[algorithm]
    persistence = val(pool.session_persistence, {}) or {}
    sp_type = persistence.get("type")
    cookie_arg = None
    if sp_type == "APP_COOKIE":
        cookie_arg = escape.fetch_arg(persistence.get("cookie_name") or "")
        if cookie_arg is None:
            sp_type = None  # such a cookie can never be sent, so there is nothing to stick on
    if sp_type == "HTTP_COOKIE" and mode != "http":
        sp_type = None
    timeout = persistence.get("persistence_timeout")
    headers = val(listener.insert_headers, {}) or {}
    http_pool = val(pool.protocol) == "HTTP" and mode == "http"
    proto = None
    if mode == "http" and header_enabled(headers, "X-Forwarded-Proto"):
        proto = "https" if listener_protocol == "TERMINATED_HTTPS" else "http"
    ssl_headers: tuple[tuple[str, str], ...] = ()
    if listener_protocol == "TERMINATED_HTTPS":
        ssl_headers = tuple((name, fetch) for name, fetch in SSL_HEADERS.items()
                            if header_enabled(headers, name))
    limit = connection_limit(listener)
    servers = tuple(server_view(m, pool, mode, listener_protocol, ssl_opts)
                    for m in sorted(val(pool.members, []) or [], key=lambda m: str(m.member_id)))
    return BackendView(
        name=f"{pool_id}:{listener_id}", pool_id=pool_id, listener_id=listener_id, mode=mode,
        balance=balance, hash_consistent=consistent,
        source_port_var=algorithm == "SOURCE_IP_PORT", fullconn=limit,
        timeout_connect=positive_int(listener.timeout_member_connect,
                                     opts.timeout_member_connect, "timeout_member_connect"),
        timeout_server=positive_int(listener.timeout_member_data, opts.timeout_member_data,
                                    "timeout_member_data"),
        dynamic=sp_type != "HTTP_COOKIE",
        persistence=sp_type,
        persistence_timeout=positive_int(timeout, 0, "persistence_timeout") or None
        if timeout else None,
        cookie_arg=cookie_arg,
        health=health_view(pool, opts),
        forwardfor=http_pool and header_enabled(headers, "X-Forwarded-For"),
        forwarded_port=http_pool and header_enabled(headers, "X-Forwarded-Port"),
        forwarded_proto=proto,
        ssl_headers=ssl_headers,
        servers=servers,
    )


def required(value: Any, what: str) -> str:
    text = str(val(value, ""))
    if not text:
        raise ConfigError(f"{what} is empty")
    return text


def valid_regex(pattern: str) -> bool:
    """Whether HAProxy's PCRE will likely accept ``pattern`` (Python's ``re`` as a proxy, as
    Octavia's API validation does)."""
    try:
        re.compile(pattern)
    except re.error:
        return False
    return True


# --- L7 ---------------------------------------------------------------------------------------

def acl_view(rule: dm.L7Rule) -> AclView:
    rule_id = safe_id(rule.l7rule_id, "l7rule")
    rule_type = str(val(rule.type, ""))
    compare = str(val(rule.compare_type, "EQUAL_TO"))
    flags = COMPARE_FLAGS.get(compare)
    if flags is None:
        raise ConfigError(f"compare_type {compare!r} is not supported")
    value = str(val(rule.value, ""))
    key = val(rule.key)
    if compare == "REGEX" and not valid_regex(value):
        return AclView(rule_id, None)  # the API should have refused it; it can match nothing
    if rule_type == "HOST_NAME":
        return AclView(rule_id, "req.hdr(host)", f"-i {flags}", value)
    if rule_type == "PATH":
        return AclView(rule_id, "path", flags, value)
    if rule_type == "FILE_TYPE":
        return AclView(rule_id, "path_end", "" if compare == "EQUAL_TO" else flags, value)
    if rule_type in ("HEADER", "COOKIE", "SSL_DN_FIELD"):
        arg = escape.fetch_arg(key or "")
        fetch = {"HEADER": "req.hdr", "COOKIE": "req.cook", "SSL_DN_FIELD": "ssl_c_s_dn"}
        return AclView(rule_id, f"{fetch[rule_type]}({arg})" if arg else None, flags, value)
    if rule_type == "SSL_CONN_HAS_CERT":
        return AclView(rule_id, "ssl_c_used")
    if rule_type == "SSL_VERIFY_RESULT":
        if not value.isdigit():
            raise ConfigError(f"SSL_VERIFY_RESULT value {value!r} is not a number")
        return AclView(rule_id, f"ssl_c_verify eq {int(value)}")
    raise ConfigError(f"L7 rule type {rule_type!r} is not supported")


def policy_views(listener: dm.Listener, pools: dict[str, dm.Pool]
                 ) -> tuple[tuple[AclView, ...], tuple[PolicyView, ...], set[str]]:
    """ACLs and ``http-request`` rules for the listener's enabled policies, in position order,
    plus the pool ids the policies redirect to."""
    acls: list[AclView] = []
    policies: list[PolicyView] = []
    targets: set[str] = set()
    guard = False
    for policy, rules in active_policies(listener):
        terms = []
        for rule in rules:
            acl = acl_view(rule)
            acls.append(acl)
            terms.append(("!" if val(rule.invert, False) else "") + acl.name)
        condition = " ".join(terms)
        action = str(val(policy.action, ""))
        code = val(policy.redirect_http_code)
        if code is not None and code not in REDIRECT_CODES:
            raise ConfigError(f"redirect_http_code {code!r} is not supported")
        if action == "REJECT":
            policies.append(PolicyView("deny", condition, guard))
        elif action == "REDIRECT_TO_URL":
            policies.append(PolicyView("redirect", condition, guard,
                                       location=required(policy.redirect_url, "redirect_url"),
                                       code=code))
        elif action == "REDIRECT_PREFIX":
            policies.append(PolicyView("redirect", condition, guard,
                                       prefix=required(policy.redirect_prefix,
                                                       "redirect_prefix"), code=code))
        elif action == "REDIRECT_TO_POOL":
            pool_id = str(val(policy.redirect_pool_id, ""))
            pool = pools.get(pool_id)
            if pool is None or not enabled(pool):
                continue
            targets.add(pool_id)
            backend = f"{safe_id(pool_id, 'pool')}:{safe_id(listener.listener_id, 'listener')}"
            policies.append(PolicyView("backend", condition, guard, backend=backend))
            guard = True
        else:
            raise ConfigError(f"L7 policy action {action!r} is not supported")
    return tuple(acls), tuple(policies), targets


# --- frontends and the whole load balancer --------------------------------------------------

def hsts_value(listener: dm.Listener) -> str | None:
    max_age = val(listener.hsts_max_age)
    if max_age is None or val(listener.protocol) != "TERMINATED_HTTPS":
        return None
    value = f"max-age={positive_int(max_age, 0, 'hsts_max_age')};"
    if val(listener.hsts_include_subdomains, False):
        value += " includeSubDomains;"
    if val(listener.hsts_preload, False):
        value += " preload;"
    return value


def tls_bind(listener: dm.Listener, lb_dir: str) -> tuple[tuple[str, ...], list[tuple[str, str]]]:
    """Bind options and files for a TLS-terminating listener."""
    lid = safe_id(listener.listener_id, "listener")
    data = val(listener.default_tls_container_data)
    files = [(f"{lid}.pem", pem_bundle(data))] if data else []
    for index, sni in enumerate(val(listener.sni_container_data, []) or []):
        files.append((f"{lid}-sni{index}.pem", pem_bundle(sni)))
    if not files:
        raise ConfigError(f"listener {lid} terminates TLS but has no certificate data")
    # The crt-list's first certificate is the one served when no SNI name matches: the
    # default certificate, else (Octavia accepts SNI-only listeners) the first SNI one.
    files.append((f"{lid}.crtlist", "".join(f"{lb_dir}/{name}\n" for name, _ in files)))
    bind_opts = [f"ssl crt-list {escape.quote(f'{lb_dir}/{lid}.crtlist')}"]
    ca = val(listener.client_ca_tls_container_data)
    if ca:
        files.append((f"{lid}-ca.pem", ca.decode() if isinstance(ca, bytes) else str(ca)))
        mode = CLIENT_AUTH.get(str(val(listener.client_authentication, "NONE")), "none")
        bind_opts.append(f"ca-file {escape.quote(f'{lb_dir}/{lid}-ca.pem')} verify {mode}")
        crl = val(listener.client_crl_container_data)
        if crl:
            files.append((f"{lid}-crl.pem", crl.decode() if isinstance(crl, bytes) else str(crl)))
            bind_opts.append(f"crl-file {escape.quote(f'{lb_dir}/{lid}-crl.pem')}")
    bind_opts.extend(cipher_options(listener.tls_ciphers, listener.tls_versions,
                                    f"listener {lid}"))
    bind_opts.extend(tls_version_switches(listener.tls_versions))
    alpn = alpn_list(listener.alpn_protocols)
    if alpn:
        bind_opts.append(f"alpn {alpn}")
    return tuple(bind_opts), files


def build_view(lb: dm.LoadBalancer, opts: Options) -> LBView:
    """The whole configuration of one load balancer, or ConfigError."""
    lb_id = safe_id(lb.loadbalancer_id, "load balancer")
    lb_dir = f"{opts.state_dir}/{lb_id}"
    pools = {str(p.pool_id): p for p in val(lb.pools, []) or []}
    frontends: list[FrontendView] = []
    backends: list[BackendView] = []
    files: list[tuple[str, str]] = []
    total_conns = 0
    listeners = [] if not enabled(lb) else sorted(
        (x for x in val(lb.listeners, []) or [] if enabled(x)),
        key=lambda x: str(x.listener_id))
    vips = vip_addresses(lb) if listeners else []
    for listener in listeners:
        lid = safe_id(listener.listener_id, "listener")
        protocol = str(val(listener.protocol, ""))
        if protocol not in LISTENER_MODES:
            raise ConfigError(f"listener protocol {protocol!r} is not supported by HAProxy")
        mode = LISTENER_MODES[protocol]
        port = port_number(listener.protocol_port, "listener protocol_port")
        limit = connection_limit(listener)
        total_conns += limit
        bind_opts: tuple[str, ...] = ()
        if protocol == "TERMINATED_HTTPS":
            bind_opts, tls_files = tls_bind(listener, lb_dir)
            files.extend(tls_files)
        if opts.freebind:
            bind_opts = ("transparent", *bind_opts)
        acls: tuple[AclView, ...] = ()
        policies: tuple[PolicyView, ...] = ()
        targets: set[str] = set()
        if mode == "http" and protocol != "PROMETHEUS":
            acls, policies, targets = policy_views(listener, pools)
        default_id = str(val(listener.default_pool_id)
                         or val(getattr(val(listener.default_pool), "pool_id", None), ""))
        default_pool = pools.get(default_id)
        default_backend = None
        if protocol != "PROMETHEUS":
            if default_pool is not None and enabled(default_pool):
                targets.add(default_id)
                default_backend = f"{safe_id(default_id, 'pool')}:{lid}"
            for pool_id in sorted(targets):
                ssl_opts, pool_files = pool_tls(pools[pool_id], lb_dir)
                files.extend(pool_files)
                backends.append(backend_view(pools[pool_id], listener, opts, ssl_opts))
        frontends.append(FrontendView(
            name=lid, mode=mode, maxconn=limit,
            binds=tuple(f"{vip}:{port}" for vip in vips), bind_opts=bind_opts,
            allowed_cidrs=allowed_cidrs(listener),
            timeout_client=positive_int(listener.timeout_client_data, opts.timeout_client_data,
                                        "timeout_client_data"),
            inspect_delay=positive_int(listener.timeout_tcp_inspect, opts.timeout_tcp_inspect,
                                       "timeout_tcp_inspect"),
            acls=acls, policies=policies,
            uses_backend_var=any(p.action == "backend" for p in policies),
            default_backend=default_backend, hsts=hsts_value(listener),
            prometheus=protocol == "PROMETHEUS",
        ))
    flavor = val(lb.flavor, {}) or {}
    nbthread = positive_int(flavor.get("nbthread"), opts.nbthread, "nbthread", 1)
    maxconn_cap = positive_int(flavor.get("maxconn"), opts.max_global_conns, "maxconn", 1)
    return LBView(
        lb_id=lb_id,
        globals=GlobalView(
            maxconn=max(1, min(total_conns or 100, maxconn_cap, opts.max_global_conns)),
            nbthread=nbthread,
            state_file=f"{lb_dir}/servers-state",
            hard_stop_after=opts.hard_stop_after,
            external_check=any(b.health and b.health.kind == "external" for b in backends),
        ),
        frontends=tuple(frontends),
        backends=tuple(backends),
        ping_script=opts.ping_script,
        files=tuple(dict(files).items()),
    )
