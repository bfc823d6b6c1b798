"""``statera`` command line: serve, db upgrade, config sample."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from typing import Any

from statera.config import Settings, load_settings, sample_config

LOG = logging.getLogger("statera")


def _settings(args: argparse.Namespace) -> Settings:
    overrides: dict[str, Any] = {}
    if getattr(args, "data_dir", None):
        overrides["data_dir"] = args.data_dir
    if getattr(args, "host", None):
        overrides["api.host"] = args.host
    if getattr(args, "port", None):
        overrides["api.port"] = args.port
    return load_settings(args.config, **overrides)


def _logging(settings: Settings) -> None:
    """Root logging for every command; request data in messages is escaped (statera.logs)."""
    from statera.logs import SafeFormatter

    logging.basicConfig(level=settings.log_level.upper())
    formatter = SafeFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    for handler in logging.getLogger().handlers:
        handler.setFormatter(formatter)


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


def cmd_config_sample(_args: argparse.Namespace) -> int:
    sys.stdout.write(sample_config())
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from statera.service import Statera

    settings = _settings(args)
    _logging(settings)
    service = Statera(settings)
    service.start()
    # log_config=None: uvicorn's own records go through the root handler and its formatter.
    config = uvicorn.Config(service.app, host=settings.api.host, port=settings.api.port,
                            log_level="warning", access_log=False, log_config=None)
    server = uvicorn.Server(config)
    stop = threading.Event()

    def _stop(signum: int, _frame: Any) -> None:
        LOG.info("signal %s: shutting down", signum)
        stop.set()
        server.should_exit = True

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    LOG.info("API listening on http://%s:%s", settings.api.host, settings.api.port)
    _warn_open_noauth(settings)
    try:
        server.run()
    finally:
        service.stop()
    return 0


def cmd_agent(args: argparse.Namespace) -> int:
    """The agent side alone (driver agent + provider agents), for agent hosts that share the
    database and a RabbitMQ bus with separate API hosts."""
    from statera.service import Statera

    settings = _settings(args)
    _logging(settings)
    service = Statera(settings)
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
    return 0


def _safe_url(url: str) -> str:
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="statera", description=__doc__)
    p.add_argument("--config", help="TOML configuration file (see `statera config sample`)")
    sub = p.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the API, the driver agent and provider agents")
    serve.add_argument("--config", dest="config", default=argparse.SUPPRESS)
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--data-dir")
    serve.set_defaults(func=cmd_serve)

    agent = sub.add_parser("agent", help="run only the driver agent and provider agents")
    agent.add_argument("--config", dest="config", default=argparse.SUPPRESS)
    agent.add_argument("--data-dir")
    agent.set_defaults(func=cmd_agent)

    db = sub.add_parser("db", help="database commands")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    up = db_sub.add_parser("upgrade", help="migrate the database to the latest schema")
    up.add_argument("--config", dest="config", default=argparse.SUPPRESS)
    up.add_argument("--data-dir")
    up.set_defaults(func=cmd_db_upgrade)

    cfg = sub.add_parser("config", help="configuration commands")
    cfg_sub = cfg.add_subparsers(dest="config_command", required=True)
    sample = cfg_sub.add_parser("sample", help="print a sample configuration file")
    sample.set_defaults(func=cmd_config_sample)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
