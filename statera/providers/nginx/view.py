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

from dataclasses import dataclass, field

from octavia_lib.api.drivers import data_models as dm

from statera.providers.kit.graph import (
    ConfigError,
    allowed_cidrs,
    enabled,
    ip_literal,
    port_number,
    positive_int,
    safe_id,
    val,
    vip_addresses,
)

__all__ = ["ConfigError", "build_view"]

#: Listener protocol -> NGINX context.
CONTEXTS = {"HTTP": "http", "TCP": "stream", "HTTPS": "stream", "UDP": "stream"}
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
    if method.startswith("hash"):
        primary_usable = any(not s.down and not s.backup for s in servers)
        servers = [ServerView(s.member_id, s.address, s.port, s.weight,
                              s.down or primary_usable, False) if s.backup else s
                   for s in servers]
    return UpstreamView(name=pool_id, method=method, servers=tuple(servers))


def listener_view(listener: dm.Listener, vips: list[str], upstream: str | None,
                  opts: Options, lb_dir: str) -> ListenerView:
    lid = safe_id(listener.listener_id, "listener")
    protocol = str(val(listener.protocol, ""))
    if protocol not in CONTEXTS:
        raise ConfigError(f"listener protocol {protocol!r} is not supported by NGINX")
    port = port_number(listener.protocol_port, "listener protocol_port")
    suffix = " udp" if protocol == "UDP" else ""
    limit = val(listener.connection_limit, -1)
    headers: tuple[tuple[str, str], ...] = ()
    if protocol == "HTTP":
        wanted = val(listener.insert_headers, {}) or {}
        headers = tuple((name, value) for name, value in FORWARD_HEADERS.items()
                        if str(wanted.get(name, "")).lower() == "true")
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
    upstreams: dict[str, dict[str, UpstreamView]] = {"http": {}, "stream": {}}
    for listener in listeners:
        pool = pools.get(default_pool_id(listener))
        upstream = None
        context = CONTEXTS.get(str(val(listener.protocol, "")), "http")
        if pool is not None and enabled(pool) and val(pool.members, []):
            up = upstream_view(pool, health)
            upstreams[context][up.name] = up
            upstream = up.name
        lv = listener_view(listener, vips, upstream, opts, lb_dir)
        views[lv.context].append(lv)
    return LBView(
        lb_id=lb_id, dir=lb_dir, stream_module=opts.stream_module,
        worker_connections=opts.worker_connections,
        http=tuple(views["http"]), stream=tuple(views["stream"]),
        http_upstreams=tuple(upstreams["http"].values()),
        stream_upstreams=tuple(upstreams["stream"].values()),
    )

