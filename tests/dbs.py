"""Real databases for tests: a temporary SQLite file, and a fresh throw-away database on the
PostgreSQL and MariaDB servers that scripts/services found or started (tests/services.py;
skipped with a reason when absent)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import create_engine, text

from statera.db.migrate import upgrade
from tests.services import MY_ADMIN, PG_ADMIN

BACKENDS = ["sqlite", "postgresql", "mariadb"]


@contextmanager
def temp_database(backend: str, tmp_dir: str, migrated: bool = True) -> Iterator[str]:
    """Yield the URL of a new database (migrated unless ``migrated`` is False); drop it
    afterwards."""
    if backend == "sqlite":
        url = f"sqlite:///{tmp_dir}/statera-{uuid.uuid4().hex[:8]}.db"
        if migrated:
            upgrade(url)
        yield url
        return
    name = f"statera_t_{uuid.uuid4().hex[:10]}"
    admin_url = PG_ADMIN if backend == "postgresql" else MY_ADMIN
    try:
        admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f"CREATE DATABASE {name}"))
    except Exception as exc:  # server not running here
        pytest.skip(f"{backend} not reachable: {exc.__class__.__name__}")
    if backend == "postgresql":
        url = PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
    else:
        url = MY_ADMIN.rstrip("/") + f"/{name}?charset=utf8mb4"
    try:
        if migrated:
            upgrade(url)
        yield url
    finally:
        with admin.connect() as conn:
            if backend == "postgresql":
                conn.execute(text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    f"WHERE datname = '{name}'"))
            conn.execute(text(f"DROP DATABASE IF EXISTS {name}"))
        admin.dispose()
