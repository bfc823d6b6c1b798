"""Where the tests find PostgreSQL, MariaDB and RabbitMQ.

``scripts/services`` (run by ``make test``) finds, installs or starts them and writes the URLs
it chose to ``<state>/env``; an environment variable of the same name wins over that file, and
without either the standard ports on loopback are used.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit


def state_dir() -> Path:
    """The state directory of scripts/services (the same rule as the script's)."""
    configured = os.environ.get("STATERA_TEST_SERVICES_DIR")
    return Path(configured or f"/var/tmp/statera-test-services-{os.getuid()}")


def _recorded() -> dict[str, str]:
    try:
        lines = (state_dir() / "env").read_text().splitlines()
    except OSError:
        return {}
    return dict(line.split("=", 1) for line in lines if "=" in line)


def _url(key: str, default: str) -> str:
    return os.environ.get(key) or _recorded().get(key) or default


PG_ADMIN = _url("STATERA_TEST_PG", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres")
MY_ADMIN = _url("STATERA_TEST_MYSQL", "mysql+pymysql://root@127.0.0.1:3306/")
AMQP_URL = _url("STATERA_TEST_AMQP", "amqp://guest:guest@127.0.0.1:5672/%2F")


def host_port(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", int(parts.port or 0)
