"""Schema migrations with Alembic; ``statera db upgrade`` and every start-up call this.

Every process of a deployment (API hosts, agent hosts) migrates at start, and they often start
at once. Alembic itself takes no lock: two processes on an empty database both create the
tables and one dies on ``alembic_version``'s primary key. So each upgrade runs under one
database-wide lock held for the whole migration, on the connection that migrates:
``pg_advisory_lock`` on PostgreSQL, ``GET_LOCK`` on MariaDB (both session locks, which survive
the implicit commits of DDL), and an exclusive ``flock`` on a file beside the SQLite database.
The first process migrates; the others wait for the lock, then find the schema at head and
do nothing.
"""

from __future__ import annotations

import fcntl
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, text

MIGRATIONS = Path(__file__).parent / "migrations"
LOG = logging.getLogger(__name__)

#: The key of the advisory lock (PostgreSQL) and the name of the user lock (MariaDB).
PG_LOCK_KEY = 0x5EA7E4A  # any constant: Statera's migrations in this database
MY_LOCK_NAME = "statera_migrations"
#: Seconds a process waits for another one's migration on MariaDB before giving up.
MY_LOCK_TIMEOUT = 600


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url)
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the database at ``url`` to ``revision`` (creating it from scratch if empty),
    under the migration lock (see the module docstring)."""
    if url.startswith("sqlite"):
        with _sqlite_file_lock(url):
            command.upgrade(alembic_config(url), revision)
        return
    from statera.db.engine import make_engine

    engine = make_engine(url)
    try:
        with engine.connect() as conn, _server_lock(conn):
            cfg = alembic_config(url)
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)
            conn.commit()
    finally:
        engine.dispose()


@contextmanager
def _server_lock(conn: Connection) -> Iterator[None]:
    """Hold the migration lock on ``conn`` (PostgreSQL or MariaDB) while the block runs."""
    dialect = conn.dialect.name
    if dialect == "postgresql":
        conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": PG_LOCK_KEY})
        conn.commit()  # the lock is the session's; the transaction need not stay open
        try:
            yield
        finally:
            conn.rollback()
            conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": PG_LOCK_KEY})
            conn.commit()
        return
    got = conn.execute(text("SELECT GET_LOCK(:n, :t)"),
                       {"n": MY_LOCK_NAME, "t": MY_LOCK_TIMEOUT}).scalar()
    conn.commit()
    if got != 1:
        raise RuntimeError(f"another process has been migrating the database for more than "
                           f"{MY_LOCK_TIMEOUT} s (lock {MY_LOCK_NAME!r}); giving up")
    try:
        yield
    finally:
        conn.rollback()
        conn.execute(text("SELECT RELEASE_LOCK(:n)"), {"n": MY_LOCK_NAME})
        conn.commit()


@contextmanager
def _sqlite_file_lock(url: str) -> Iterator[None]:
    """An exclusive ``flock`` on ``<database>.migrate.lock`` (none for in-memory databases)."""
    path = url.split("///", 1)[-1]
    if not path or path == ":memory:" or "?" in path:
        yield
        return
    lock_path = Path(path + ".migrate.lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
