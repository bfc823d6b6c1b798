"""``statera`` command line: serve, agent, dataplanes list/stop, db upgrade, config sample,
policy sample."""

from __future__ import annotations

import argparse
import errno
import logging
import os
import signal
import socket
import sys
import threading
from importlib import metadata
from typing import TYPE_CHECKING, Any

import uvicorn

from statera.config import Settings, load_settings, sample_config

if TYPE_CHECKING:
    from statera.db.engine import Database
    from statera.metrics.exporter import Exporter

LOG = logging.getLogger("statera")


def _settings(args: argparse.Namespace) -> Settings:
    overrides: dict[str, Any] = {}
    if getattr(args, "data_dir", None):
        overrides["data_dir"] = args.data_dir
    if getattr(args, "host", None):
        overrides["api.host"] = args.host
    if getattr(args, "port", None):
        overrides["api.port"] = args.port
    if getattr(args, "metrics_port", None) is not None:
        overrides[f"metrics.{args.metrics_option}"] = args.metrics_port
    return load_settings(args.config, **overrides)


def _logging(settings: Settings) -> None:
    """Root logging for every command; request data in messages is escaped (statera.logs)."""
    from statera.logs import RequestIdFilter, SafeFormatter

    logging.basicConfig(level=settings.log_level.upper())
    formatter = SafeFormatter(
        "%(asctime)s %(levelname)s %(name)s [%(request_id)s]: %(message)s")
    for handler in logging.getLogger().handlers:
        handler.setFormatter(formatter)
        handler.addFilter(RequestIdFilter())


def _warn_open_noauth(settings: Settings) -> None:
    """Under ``noauth`` every caller is admin: say so loudly when anyone but this host can
    call (any address that is not loopback, the wildcard addresses included)."""
    if settings.api.auth_strategy != "noauth" or _is_loopback(settings.api.host):
        return
    banner = "!" * 78
    LOG.warning(banner)
    LOG.warning("auth_strategy = noauth and the API listens on %s, which is not loopback:",
                settings.api.host)
    LOG.warning("EVERY CALLER IS ADMIN. Anyone who can reach port %s can read, change and "
                "delete every project's load balancers.", settings.api.port)
    LOG.warning("Listen on 127.0.0.1 or ::1, or put an authenticating proxy in front.")
    LOG.warning(banner)


def _is_loopback(host: str) -> bool:
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to anything


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    from statera.db.migrate import upgrade

    settings = _settings(args)
    _logging(settings)
    upgrade(settings.database_url)
    LOG.info("database %s is at the latest schema", _safe_url(settings.database_url))
    return 0


def cmd_hosts(args: argparse.Namespace) -> int:
    from sqlalchemy.exc import DBAPIError

    from statera.controller.hosts import host_views
    from statera.db.engine import Database

    settings = _settings(args)
    database = Database(settings.database_url)
    try:
        with database.read_session() as session:
            views = host_views(session)
    except DBAPIError as exc:
        sys.stderr.write(f"statera hosts: cannot read the host records of "
                         f"{_safe_url(settings.database_url)}: {str(exc.orig).splitlines()[0]} "
                         "(is it migrated? `statera db upgrade`)\n")
        return 1
    finally:
        database.dispose()
    columns = ("name", "status", "lease_age", "instances", "capacity", "availability_zone",
               "providers")
    rows = [[_cell(view[c]) for c in columns] for view in views]
    widths = [max([len(c), *(len(r[i]) for r in rows)]) for i, c in enumerate(columns)]
    for line in [list(columns), *rows]:
        sys.stdout.write("  ".join(v.ljust(w) for v, w in zip(line, widths, strict=True))
                         .rstrip() + "\n")
    return 0


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.1f}"
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return "-" if value in (None, "") else str(value)


def cmd_config_sample(_args: argparse.Namespace) -> int:
    sys.stdout.write(sample_config())
    return 0


def cmd_policy_sample(args: argparse.Namespace) -> int:
    from statera.api.policy import sample_policy

    if args.output:
        with open(args.output, "w", encoding="utf-8") as out:
            out.write(sample_policy())
    else:
        sys.stdout.write(sample_policy())
    return 0


def bind_api_socket(host: str, port: int) -> socket.socket:
    """Bind and listen on the API's address before anything else starts, so that a clash is
    one clear error instead of a start-up, a traceback and a shutdown."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP, not 0: asyncio turns Nagle off (TCP_NODELAY) only on accepted sockets whose
    # protocol says TCP. With Nagle on, a response written in two parts waits for the client's
    # delayed ACK: every keep-alive request took 40 ms longer.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
        sock.listen(2048)
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)
    return sock


class _ApiServer(uvicorn.Server):
    """uvicorn's server that says "API listening" when it is true: after start-up."""

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.started:
            host, port = (sockets or [])[0].getsockname()[:2] if sockets else ("?", "?")
            LOG.info("API listening on http://%s:%s", host, port)


def start_metrics(settings: Settings, option: str,
                  database: Database | None) -> Exporter | None:
    """This process's ``/metrics`` (``option`` is ``port`` or ``agent_port`` of ``[metrics]``).

    Returns the running exporter, or None when it is disabled (port 0) or when the default
    port is taken (said in the log: an API must not fail to start over its metrics). A port the
    operator chose that cannot be bound raises OSError: they asked for it, so it is an error.
    """
    from statera.metrics.exporter import start_exporter

    host, port = settings.metrics.host, int(getattr(settings.metrics, option))
    if port == 0:
        LOG.info("metrics disabled ([metrics] %s = 0)", option)
        return None
    try:
        exporter = start_exporter(host, port, database)
    except OSError as exc:
        if option in settings.metrics.model_fields_set:
            raise
        LOG.warning("metrics: cannot listen on %s:%s (%s); running without /metrics (set "
                    "[metrics] %s or --metrics-port to another port, or 0)", host, port,
                    exc.strerror, option)
        return None
    LOG.info("metrics on http://%s:%s/metrics", host, port)
    return exporter


def _metrics_clash(settings: Settings, option: str, command: str, exc: OSError) -> int:
    """Say in one line why a chosen metrics port cannot be used; the exit status."""
    reason = "address already in use" if exc.errno == errno.EADDRINUSE else exc.strerror
    sys.stderr.write(f"statera {command}: cannot serve metrics on {settings.metrics.host}:"
                     f"{getattr(settings.metrics, option)}: {reason} (choose another with "
                     "--metrics-port, or 0 to disable)\n")
    return 1


def cmd_serve(args: argparse.Namespace) -> int:
    from statera.service import Statera

    settings = _settings(args)
    _logging(settings)
    host, port = settings.api.host, settings.api.port
    try:
        sock = bind_api_socket(host, port)
    except OSError as exc:
        reason = "address already in use" if exc.errno == errno.EADDRINUSE else exc.strerror
        sys.stderr.write(f"statera serve: cannot listen on {host}:{port}: {reason} "
                         "(choose another with --port or STATERA_API__PORT)\n")
        return 1
    run_agents = settings.serve_runs_agents if args.agents is None else args.agents
    service = Statera(settings, run_agents=run_agents)
    try:
        # The database's gauges are the API host's to export (they are the same everywhere).
        metrics = start_metrics(settings, "port", service.db)
    except OSError as exc:
        sock.close()
        service.stop()
        return _metrics_clash(settings, "port", "serve", exc)
    service.start()
    # log_config=None: uvicorn's own records go through the root handler and its formatter.
    config = uvicorn.Config(service.app, log_level="warning", access_log=False,
                            log_config=None)
    server = _ApiServer(config)
    stop = threading.Event()

    def _stop(signum: int, _frame: Any) -> None:
        LOG.info("signal %s: shutting down", signum)
        stop.set()
        server.should_exit = True

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    _warn_open_noauth(settings)
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
        service.stop()
        if metrics is not None:
            metrics.stop()
        _say_dataplanes_remain(settings)
    return 0


def _say_dataplanes_remain(settings: Settings) -> None:
    """Tell whoever stopped Statera that its load balancers still serve, and how to end them
    (they outlive Statera on purpose: the next start adopts them)."""
    from statera.providers.kit import dataplanes

    running = dataplanes.find(settings.data_path / "providers")
    if running:
        LOG.info("%d load balancer data plane(s) keep serving; `statera dataplanes stop "
                 "--data-dir %s` ends them", len(running), settings.data_path)


def cmd_agent(args: argparse.Namespace) -> int:
    """The agent side alone (driver agent + provider agents), for agent hosts that share the
    database and a RabbitMQ bus with separate API hosts."""
    from statera.service import Statera

    settings = _settings(args)
    _logging(settings)
    service = Statera(settings, run_agents=True)
    try:
        metrics = start_metrics(settings, "agent_port", None)
    except OSError as exc:
        service.stop()
        return _metrics_clash(settings, "agent_port", "agent", exc)
    stop = threading.Event()

    def _stop(signum: int, _frame: Any) -> None:
        LOG.info("signal %s: shutting down", signum)
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    service.start()
    try:
        stop.wait()
    finally:
        service.stop()
        if metrics is not None:
            metrics.stop()
        _say_dataplanes_remain(settings)
    return 0


def cmd_dataplanes(args: argparse.Namespace) -> int:
    """List or stop the data planes (HAProxy, NGINX, ...) a data directory runs. They outlive
    `statera serve` and `statera agent` on purpose; this is how a host ends them."""
    from statera.providers.kit import dataplanes

    settings = _settings(args)
    root = settings.data_path / "providers"
    if args.dataplanes_command == "stop":
        found = dataplanes.stop(root)
        verb = "stopped"
    else:
        found = dataplanes.find(root)
        verb = "running"
    for instance in found:
        pids = " ".join(str(pid) for pid in instance.pids)
        sys.stdout.write(f"{verb} {instance.provider} {instance.lb_id} pids {pids}\n")
    if not found:
        sys.stdout.write(f"no data plane running under {root}\n")
    return 0


def _safe_url(url: str) -> str:
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url


DESCRIPTION = """\
Statera: load balancing as a service with OpenStack Octavia's v2 API. Drive it with the
`openstack loadbalancer` CLI or openstacksdk (see README.md).

Every option can also be set in the TOML file given by --config or in the environment as
STATERA_<SECTION>__<OPTION>; `statera config sample` prints them all with their defaults."""


def _version() -> str:
    try:
        return metadata.version("statera")
    except metadata.PackageNotFoundError:
        return "unknown"


def _option_help(text: str, dotted: str, env: str) -> str:
    """Help text that ends with the option's default (from Settings) and environment variable."""
    section, _, option = dotted.partition(".")
    model: Any = Settings if not option else Settings.model_fields[section].default_factory
    field = model.model_fields[option or section]
    return f"{text} (default: {field.default}; env: {env})"


def _common(sub: argparse.ArgumentParser, data_dir: bool = True) -> None:
    sub.add_argument("--config", dest="config", default=argparse.SUPPRESS, metavar="FILE",
                     help="TOML configuration file, see `statera config sample` "
                          "(default: none; env: STATERA_CONFIG)")
    if data_dir:
        sub.add_argument("--data-dir", metavar="DIR", help=_option_help(
            "where the SQLite database, the driver agent's sockets and the load balancers' "
            "files live", "data_dir", "STATERA_DATA_DIR"))


def parser() -> argparse.ArgumentParser:
    fmt = argparse.RawDescriptionHelpFormatter
    p = argparse.ArgumentParser(prog="statera", description=DESCRIPTION, formatter_class=fmt)
    p.add_argument("--version", action="version", version=f"statera {_version()}")
    p.add_argument("--config", metavar="FILE", default=os.environ.get("STATERA_CONFIG"),
                   help="TOML configuration file, see `statera config sample` "
                        "(default: none; env: STATERA_CONFIG)")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = sub.add_parser(
        "serve", formatter_class=fmt, help="run the API, the driver agent and provider agents",
        description="Run the Octavia v2 API, the driver agent and the provider agents in one "
                    "process,\nmigrating the database first. Stops on SIGTERM or Ctrl-C.")
    _common(serve)
    serve.add_argument("--host", help=_option_help(
        "address the API listens on", "api.host", "STATERA_API__HOST"))
    serve.add_argument("--port", type=int, help=_option_help(
        "TCP port of the API", "api.port", "STATERA_API__PORT"))
    agents = serve.add_mutually_exclusive_group()
    agents.add_argument("--agents", dest="agents", action="store_true", default=None,
                        help=_option_help("also run the driver agent and provider agents, as "
                                          "an agent host ('auto': only with the in-process "
                                          "bus)", "api.run_agents", "STATERA_API__RUN_AGENTS"))
    agents.add_argument("--no-agents", dest="agents", action="store_false",
                        help=_option_help("run the API only, no provider agents (an API host "
                                          "beside `statera agent` hosts)", "api.run_agents",
                                          "STATERA_API__RUN_AGENTS"))
    serve.add_argument("--metrics-port", type=int, metavar="PORT", help=_option_help(
        "port of this process's Prometheus /metrics; 0 disables it", "metrics.port",
        "STATERA_METRICS__PORT"))
    serve.set_defaults(func=cmd_serve, metrics_option="port")

    agent = sub.add_parser(
        "agent", formatter_class=fmt, help="run only the driver agent and provider agents",
        description="Run the driver agent and the provider agents without the API, on agent "
                    "hosts that\nshare the database and a RabbitMQ bus with `statera serve` "
                    "hosts.")
    _common(agent)
    agent.add_argument("--metrics-port", type=int, metavar="PORT", help=_option_help(
        "port of this process's Prometheus /metrics (give each agent on one host its own); "
        "0 disables it", "metrics.agent_port", "STATERA_METRICS__AGENT_PORT"))
    agent.set_defaults(func=cmd_agent, metrics_option="agent_port")

    hosts = sub.add_parser(
        "hosts", formatter_class=fmt, help="list agent hosts, their leases and load",
        description="List the agent hosts recorded in the database: up or down, the seconds "
                    "since\ntheir last lease renewal, providers, zone, capacity and the "
                    "instances placed on them.")
    _common(hosts)
    hosts.set_defaults(func=cmd_hosts)

    db = sub.add_parser("db", help="database commands", description="Database commands.")
    db_sub = db.add_subparsers(dest="db_command", required=True, metavar="COMMAND")
    up = db_sub.add_parser("upgrade", help="migrate the database to the latest schema",
                           description="Migrate the database to the latest schema (`serve` "
                                       "and `agent` do it too).")
    _common(up)
    up.set_defaults(func=cmd_db_upgrade)

    planes = sub.add_parser(
        "dataplanes", formatter_class=fmt, help="list or stop the load balancers' processes",
        description="The data planes (one HAProxy or NGINX per load balancer) keep serving "
                    "when `statera serve`\nor `statera agent` stops, even by kill -9, and "
                    "the next start adopts them.\n`statera dataplanes stop` ends those of "
                    "one data directory (stop Statera first,\nor its agent starts them "
                    "again).")
    planes_sub = planes.add_subparsers(dest="dataplanes_command", required=True,
                                       metavar="COMMAND")
    listing = planes_sub.add_parser(
        "list", help="show the data-plane processes of a data directory",
        description="Show each running data plane of the data directory and its pids.")
    _common(listing)
    listing.set_defaults(func=cmd_dataplanes)
    stopping = planes_sub.add_parser(
        "stop", help="stop every data plane of a data directory",
        description="Stop, by pid, every process recorded in the data directory's pid files "
                    "(each checked\nagainst /proc: that program, working in and naming its "
                    "state directory) and\nthe processes of the same program in the same "
                    "directory:\nSIGTERM, and SIGKILL for what is left after 5 s. State files "
                    "stay.")
    _common(stopping)
    stopping.set_defaults(func=cmd_dataplanes)

    cfg = sub.add_parser("config", help="configuration commands",
                         description="Configuration commands.")
    cfg_sub = cfg.add_subparsers(dest="config_command", required=True, metavar="COMMAND")
    sample = cfg_sub.add_parser(
        "sample", help="print a sample configuration file",
        description="Print every option as a commented TOML file, with its default.")
    sample.set_defaults(func=cmd_config_sample)

    pol = sub.add_parser("policy", help="policy commands", description="Policy commands.")
    pol_sub = pol.add_subparsers(dest="policy_command", required=True, metavar="COMMAND")
    psample = pol_sub.add_parser(
        "sample", help="write the default policy (YAML)",
        description="Write every policy rule (Octavia's names and default rules) as a YAML "
                    "file,\nready to edit and name in [oslo_policy] policy_file.")
    psample.add_argument("--output", "-o", metavar="FILE",
                         help="write to FILE instead of standard output")
    psample.set_defaults(func=cmd_policy_sample)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
