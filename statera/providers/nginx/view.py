"""Pure translation of an octavia-lib load-balancer graph into a plain view for nginx.conf.

Every decision about *what* NGINX should do lives here, without I/O; the templates only lay it
out. HTTP listeners become ``server`` blocks of the ``http`` context; TCP, UDP and HTTPS
(pass-through) listeners become ``server`` blocks of the ``stream`` context. Each context gets
one ``upstream`` per pool it uses:

- ROUND_ROBIN is NGINX's default, LEAST_CONNECTIONS ``least_conn``, SOURCE_IP
  ``hash $remote_addr consistent`` and SOURCE_IP_PORT ``hash $remote_addr$remote_port
  consistent`` (consistent hashing moves few clients when membership changes, as in HAProxy).
- A member takes no new connections (``down``) when it is disabled, has weight 0 (draining:
  its open connections finish in the old workers of the reload) or failed its health checks
  (Statera's prober: open-source NGINX has no active checks).
- NGINX refuses ``backup`` in hashing upstreams, so there Statera does what ``backup`` means:
  backup members are ``down`` while any other member is usable.

User strings are never formatted into config text here: the templates quote them
(``escape.quote``). Identifiers must be safe names or the view is refused.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from octavia_lib.api.drivers import data_models as dm

from statera.providers.kit.graph import (
    ConfigError,
    allowed_cidrs,
    certificate_names,
    enabled,
    ip_literal,
    pem_bundle,
    pem_text,
    port_number,
    positive_int,
    safe_id,
    split_ciphers,
    val,
    vip_addresses,
)
from statera.providers.nginx import l7

__all__ = ["ConfigError", "build_view"]

#: Listener protocol -> NGINX context.
CONTEXTS = {"HTTP": "http", "TERMINATED_HTTPS": "http", "TCP": "stream", "HTTPS": "stream",
            "UDP": "stream"}
METHODS = {
    "ROUND_ROBIN": "",
    "LEAST_CONNECTIONS": "least_conn",
    "SOURCE_IP": "hash $remote_addr consistent",
    "SOURCE_IP_PORT": "hash $remote_addr$remote_port consistent",
}
#: ``insert_headers`` NGINX sets towards members of HTTP listeners, and the value it sends.
FORWARD_HEADERS = {
    "X-Forwarded-For": "$proxy_add_x_forwarded_for",
    "X-Forwarded-Port": "$server_port",
    "X-Forwarded-Proto": "$scheme",
}
STREAM_MODULE = "/usr/lib/nginx/modules/ngx_stream_module.so"
#: TLS versions NGINX's ``ssl_protocols`` takes (OpenSSL 3 has no SSLv3).
TLS_VERSIONS = ("TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3")
#: ALPN protocols NGINX 1.22 negotiates itself: h2 when ``http2`` is on, else HTTP/1.x.
ALPN = frozenset({"h2", "http/1.1", "http/1.0"})
CLIENT_AUTH = {"NONE": "off", "OPTIONAL": "optional", "MANDATORY": "on"}
#: TERMINATED_HTTPS ``insert_headers`` about the client certificate, and NGINX's variable.
SSL_HEADERS = {
    "X-SSL-Client-Verify": "$ssl_client_verify",
    "X-SSL-Client-Has-Cert": "$statera_has_cert",
    "X-SSL-Client-DN": "$ssl_client_s_dn",
    "X-SSL-Client-CN": "$statera_client_cn",
    "X-SSL-Issuer": "$ssl_client_i_dn",
    "X-SSL-Client-SHA1": "$ssl_client_fingerprint",
    "X-SSL-Client-Not-Before": "$ssl_client_v_start",
    "X-SSL-Client-Not-After": "$ssl_client_v_end",
}


@dataclass(frozen=True)
class Options:
    """Inputs that do not come from the graph: settings and host paths."""

    state_dir: str
    timeout_client_data: int = 50000
    timeout_member_connect: int = 5000
    timeout_member_data: int = 50000
    stream_module: str = STREAM_MODULE
    worker_connections: int = 4096


@dataclass(frozen=True)
class ServerView:
    member_id: str
    address: str
    port: int
    weight: int
    down: bool
    backup: bool = False


@dataclass(frozen=True)
class UpstreamView:
    name: str
    method: str
    servers: tuple[ServerView, ...]


@dataclass(frozen=True)
class SniView:
    names: tuple[str, ...]  # DNS names from the certificate (quoted by the template)
    certificate: str  # file path


@dataclass(frozen=True)
class TlsView:
    certificate: str  # the default certificate's file
    sni: tuple[SniView, ...] = ()
    protocols: tuple[str, ...] = ("TLSv1.2", "TLSv1.3")
    ciphers: str | None = None  # ``ssl_ciphers``: TLS 1.2 and older
    suites: str | None = None  # ``Ciphersuites``: TLS 1.3
    http2: bool = False
    verify_client: str = "off"
    client_ca: str | None = None
    crl: str | None = None
    hsts: str | None = None


@dataclass(frozen=True)
class PoolTlsView:
    """Re-encryption towards the members of a ``tls_enabled`` pool."""

    certificate: str | None = None  # client certificate and key file
    protocols: tuple[str, ...] = ("TLSv1.2", "TLSv1.3")
    ciphers: str | None = None  # ``proxy_ssl_ciphers``: TLS 1.2 and older
    suites: str | None = None  # ``Ciphersuites``: TLS 1.3


@dataclass(frozen=True)
class ListenerView:
    listener_id: str
    context: str  # "http" | "stream"
    binds: tuple[str, ...]  # "address:port" or "address:port udp"
    upstream: str | None
    log: str
    connection_limit: int | None = None
    allowed_cidrs: tuple[str, ...] = ()
    timeout_client: int = 50000
    timeout_connect: int = 5000
    timeout_data: int = 50000
    headers: tuple[tuple[str, str], ...] = ()
    tls: TlsView | None = None
    pool_tls: PoolTlsView | None = None
    policies: tuple[l7.PolicyView, ...] = ()
    action_var: str = ""  # the map naming the first matching policy


@dataclass(frozen=True)
class LBView:
    lb_id: str
    dir: str
    stream_module: str
    worker_connections: int
    http: tuple[ListenerView, ...] = ()
    stream: tuple[ListenerView, ...] = ()
    http_upstreams: tuple[UpstreamView, ...] = ()
    stream_upstreams: tuple[UpstreamView, ...] = ()
    files: tuple[tuple[str, str], ...] = field(default=())


def monitored(pool: dm.Pool) -> bool:
    hm = val(pool.healthmonitor)
    return hm is not None and enabled(hm)


def upstream_view(pool: dm.Pool, health: dict[str, bool | None]) -> UpstreamView:
    """The upstream of ``pool``; ``health`` maps member ids to the prober's verdicts."""
    pool_id = safe_id(pool.pool_id, "pool")
    algorithm = str(val(pool.lb_algorithm, "ROUND_ROBIN"))
    if algorithm not in METHODS:
        raise ConfigError(f"lb_algorithm {algorithm!r} is not supported by NGINX")
    checked = monitored(pool)
    servers = []
    for member in sorted(val(pool.members, []) or [], key=lambda m: str(m.member_id)):
        member_id = safe_id(member.member_id, "member")
        weight = positive_int(member.weight, 1, "member weight")
        down = (not enabled(member) or weight == 0
                or (checked and health.get(member_id) is False))
        servers.append(ServerView(
            member_id=member_id,
            address=ip_literal(member.address, "member address"),
            port=port_number(member.protocol_port, "member protocol_port"),
            weight=max(weight, 1), down=down, backup=bool(val(member.backup, False))))
    method = METHODS[algorithm]
    persistence = val(pool.session_persistence, {}) or {}
    if persistence.get("type") == "SOURCE_IP" and not method.startswith("hash"):
        # Open-source NGINX has no stick table: a consistent hash of the client address keeps
        # each client on one member (as long as that member is up), whatever the algorithm.
        method = METHODS["SOURCE_IP"]
    if method.startswith("hash"):
        primary_usable = any(not s.down and not s.backup for s in servers)
        servers = [ServerView(s.member_id, s.address, s.port, s.weight,
                              s.down or primary_usable, False) if s.backup else s
                   for s in servers]
    return UpstreamView(name=pool_id, method=method, servers=tuple(servers))


def tls_view(listener: dm.Listener, lb_dir: str, files: dict[str, str]) -> TlsView:
    """Certificates (written to ``files``) and TLS options of a TERMINATED_HTTPS listener.
    The default certificate is served when no SNI name matches; Octavia accepts SNI-only
    listeners, whose first SNI certificate is then the default."""
    lid = safe_id(listener.listener_id, "listener")
    bundles = []
    default = val(listener.default_tls_container_data)
    if default:
        bundles.append(("", pem_bundle(default)))
    for index, sni in enumerate(val(listener.sni_container_data, []) or []):
        bundles.append((f"-sni{index}", pem_bundle(sni)))
    if not bundles:
        raise ConfigError(f"listener {lid} terminates TLS but has no certificate data")
    paths = []
    for suffix, pem in bundles:
        name = f"{lid}{suffix}.pem"
        files[name] = pem
        paths.append(f"{lb_dir}/{name}")
    sni = tuple(SniView(tuple(certificate_names(pem)), path)
                for (suffix, pem), path in zip(bundles, paths, strict=True) if suffix)
    versions = [v for v in TLS_VERSIONS if v in (val(listener.tls_versions, []) or TLS_VERSIONS)]
    if not versions:
        raise ConfigError(f"listener {lid}: none of its tls_versions is available")
    alpn = set(val(listener.alpn_protocols, []) or [])
    if alpn - ALPN:
        raise ConfigError(f"listener {lid}: ALPN {sorted(alpn - ALPN)} is not available")
    verify, ca_path, crl_path = "off", None, None
    ca = val(listener.client_ca_tls_container_data)
    if ca:
        files[f"{lid}-ca.pem"] = pem_text(ca)
        ca_path = f"{lb_dir}/{lid}-ca.pem"
        verify = CLIENT_AUTH.get(str(val(listener.client_authentication, "NONE")), "off")
        crl = val(listener.client_crl_container_data)
        if crl:
            files[f"{lid}-crl.pem"] = pem_text(crl)
            crl_path = f"{lb_dir}/{lid}-crl.pem"
    ciphers, suites = split_ciphers(val(listener.tls_ciphers), versions, f"listener {lid}")
    return TlsView(
        certificate=paths[0], sni=sni, protocols=tuple(versions), ciphers=ciphers,
        suites=suites, http2="h2" in alpn, verify_client=verify, client_ca=ca_path,
        crl=crl_path, hsts=hsts_value(listener))


def pool_tls_view(pool: dm.Pool, lb_dir: str, files: dict[str, str]) -> PoolTlsView | None:
    if not val(pool.tls_enabled, False):
        return None
    pool_id = safe_id(pool.pool_id, "pool")

    def add(kind: str, content: str) -> str:
        files[f"pool-{pool_id}-{kind}.pem"] = content
        return f"{lb_dir}/pool-{pool_id}-{kind}.pem"

    cert = val(pool.tls_container_data)
    if val(pool.ca_tls_container_data):
        # NGINX checks a member's name whenever it verifies, and a pool has only addresses.
        raise ConfigError(f"pool {pool_id}: NGINX cannot verify members by CA alone")
    versions = [v for v in TLS_VERSIONS if v in (val(pool.tls_versions, []) or TLS_VERSIONS)]
    if not versions:
        raise ConfigError(f"pool {pool_id}: none of its tls_versions is available")
    ciphers, suites = split_ciphers(val(pool.tls_ciphers), versions, f"pool {pool_id}")
    return PoolTlsView(
        certificate=add("crt", pem_bundle(cert)) if cert else None,
        protocols=tuple(versions), ciphers=ciphers, suites=suites)


def hsts_value(listener: dm.Listener) -> str | None:
    max_age = val(listener.hsts_max_age)
    if max_age is None:
        return None
    value = f"max-age={positive_int(max_age, 0, 'hsts_max_age')};"
    if val(listener.hsts_include_subdomains, False):
        value += " includeSubDomains;"
    if val(listener.hsts_preload, False):
        value += " preload;"
    return value


def listener_view(listener: dm.Listener, vips: list[str], upstream: str | None,
                  opts: Options, lb_dir: str, files: dict[str, str]) -> ListenerView:
    lid = safe_id(listener.listener_id, "listener")
    protocol = str(val(listener.protocol, ""))
    if protocol not in CONTEXTS:
        raise ConfigError(f"listener protocol {protocol!r} is not supported by NGINX")
    port = port_number(listener.protocol_port, "listener protocol_port")
    suffix = " udp" if protocol == "UDP" else ""
    limit = val(listener.connection_limit, -1)
    headers: tuple[tuple[str, str], ...] = ()
    if CONTEXTS[protocol] == "http":
        wanted = val(listener.insert_headers, {}) or {}
        offered = FORWARD_HEADERS if protocol == "HTTP" else {**FORWARD_HEADERS, **SSL_HEADERS}
        headers = tuple((name, value) for name, value in offered.items()
                        if str(wanted.get(name, "")).lower() == "true")
    tls = tls_view(listener, lb_dir, files) if protocol == "TERMINATED_HTTPS" else None
    return ListenerView(
        listener_id=lid, context=CONTEXTS[protocol],
        binds=tuple(f"{vip}:{port}{suffix}" for vip in vips), upstream=upstream,
        log=f"{lb_dir}/{lid}.log",
        connection_limit=None if limit in (-1, None) else positive_int(
            limit, -1, "connection_limit", 1),
        allowed_cidrs=allowed_cidrs(listener),
        timeout_client=positive_int(listener.timeout_client_data, opts.timeout_client_data,
                                    "timeout_client_data", 1),
        timeout_connect=positive_int(listener.timeout_member_connect,
                                     opts.timeout_member_connect, "timeout_member_connect", 1),
        timeout_data=positive_int(listener.timeout_member_data, opts.timeout_member_data,
                                  "timeout_member_data", 1),
        headers=headers,
        tls=tls,
    )


def default_pool_id(listener: dm.Listener) -> str:
    return str(val(listener.default_pool_id)
               or val(getattr(val(listener.default_pool), "pool_id", None), ""))


def build_view(lb: dm.LoadBalancer, opts: Options,
               health: dict[str, bool | None] | None = None) -> LBView:
    """The whole configuration of one load balancer, or ConfigError."""
    lb_id = safe_id(lb.loadbalancer_id, "load balancer")
    lb_dir = f"{opts.state_dir}/{lb_id}"
    health = health or {}
    pools = {str(p.pool_id): p for p in val(lb.pools, []) or []}
    listeners = [] if not enabled(lb) else sorted(
        (x for x in val(lb.listeners, []) or [] if enabled(x)),
        key=lambda x: str(x.listener_id))
    vips = vip_addresses(lb) if listeners else []
    views: dict[str, list[ListenerView]] = {"http": [], "stream": []}
    files: dict[str, str] = {}
    upstreams: dict[str, dict[str, UpstreamView]] = {"http": {}, "stream": {}}
    for index, listener in enumerate(listeners, 1):
        pool = pools.get(default_pool_id(listener))
        context = CONTEXTS.get(str(val(listener.protocol, "")), "http")

        def upstream_of(target: dm.Pool, context: str = context) -> str | None:
            if not enabled(target) or not val(target.members, []):
                return None
            up = upstream_view(target, health)
            upstreams[context][up.name] = up
            return up.name

        upstream = upstream_of(pool) if pool is not None else None
        lv = listener_view(listener, vips, upstream, opts, lb_dir, files)
        if upstream and pool is not None and val(pool.tls_enabled, False):
            lv = replace(lv, pool_tls=pool_tls_view(pool, lb_dir, files))
        if context == "http":
            policies = l7.policy_views(listener, index, pools, upstream_of)
            if policies:
                tls = bool(val(getattr(pool, "tls_enabled", None), False))
                for policy in policies:
                    target = pools.get(str(policy.upstream))
                    if target is not None and bool(val(target.tls_enabled, False)) != tls:
                        raise ConfigError("NGINX cannot send one listener's requests to pools "
                                          "with and without tls_enabled")
                lv = replace(lv, policies=policies, action_var=f"$statera_l7_{index}")
        views[lv.context].append(lv)
    return LBView(
        lb_id=lb_id, dir=lb_dir, stream_module=opts.stream_module,
        worker_connections=opts.worker_connections,
        http=tuple(views["http"]), stream=tuple(views["stream"]),
        http_upstreams=tuple(upstreams["http"].values()),
        stream_upstreams=tuple(upstreams["stream"].values()),
        files=tuple(sorted(files.items())),
    )

