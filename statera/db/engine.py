"""Engine and session factory for SQLite, PostgreSQL and MariaDB."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from statera.db.cancel import API_REQUEST, StatementTracker

LOG = logging.getLogger(__name__)
T = TypeVar("T")

PG_QUERY_CANCELED = "57014"
MYSQL_STATEMENT_TIMEOUT = 1969  # ER_STATEMENT_TIMEOUT (max_statement_time exceeded)


def make_engine(url: str) -> Engine:
    """Create an engine; SQLite gets WAL and a busy timeout so API and agents share it."""
    kwargs: dict[str, Any] = {"future": True}
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:" and "?" not in path:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            _owner_only(Path(path))
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
    else:
        kwargs.update(pool_size=20, max_overflow=40, pool_pre_ping=True)
    if url.startswith(("mysql", "mariadb")):
        # MariaDB defaults to REPEATABLE READ, where a plain read after a row lock still sees
        # the snapshot taken before it: a writer that locks a load balancer and then reads its
        # graph could decide on a state another transaction has already replaced. READ
        # COMMITTED (PostgreSQL's default) makes every read after the lock see the latest commit.
        kwargs["isolation_level"] = "READ COMMITTED"
    engine = create_engine(url, **kwargs)
    if url.startswith(("mysql", "mariadb")):
        event.listen(engine.pool, "reset", _release_user_locks)
    if url.startswith("sqlite"):
        event.listen(engine, "connect", _sqlite_pragmas)
        writers = _SqliteWriters()
        event.listen(engine, "begin", writers.begin)
        event.listen(engine, "commit", writers.end)
        event.listen(engine, "rollback", writers.end)
        event.listen(engine.pool, "checkin", writers.checkin)
    return engine


_USER_LOCKS = "statera_user_locks"


def hold_user_locks_until_checkin(conn: Connection) -> None:
    """Note that ``conn`` holds MariaDB user-level locks (``GET_LOCK``), which outlive
    transactions: they are released when the connection goes back to the pool, right after the
    transaction that took them ends."""
    conn.info[_USER_LOCKS] = True


def _release_user_locks(dbapi_conn: Any, record: Any, reset_state: Any) -> None:
    if record is not None and record.info.pop(_USER_LOCKS, False):
        cursor = dbapi_conn.cursor()
        try:
            cursor.execute("SELECT RELEASE_ALL_LOCKS()")
        finally:
            cursor.close()


def _owner_only(path: Path) -> None:
    """Make the SQLite file readable by its owner only: it holds the private keys of the local
    certificate store. SQLite gives its WAL and shared-memory files the database file's mode."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
        if os.stat(path).st_mode & 0o077:
            os.chmod(path, 0o600)
    except OSError:  # not ours to change (a read-only mount, another owner): leave it
        pass


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # Let SQLAlchemy issue BEGIN itself (see _sqlite_begin_immediate).
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


#: Longest wait for this process's turn to write before asking SQLite anyway (whose own
#: busy timeout then applies, as it did before the queue).
SQLITE_WRITER_WAIT = 30.0
_WRITER_TURN = "statera_sqlite_writer"


class _SqliteWriters:
    """Write transactions of one process take turns on a lock before ``BEGIN IMMEDIATE``.

    Every write transaction takes SQLite's write lock at its start: read-then-write
    transactions (the API's checks, the driver agent's updates) then serialise instead of
    failing with "database is locked" on upgrade. Read-only sessions take no lock (WAL readers
    never block or wait for the writer).

    SQLite's own busy handler makes a waiting writer sleep and poll, up to 100 ms between
    tries, so under contention a newcomer often wins over a writer that has waited for
    seconds (32 clients saw write p99 of 2 s and maxima of 5 s). Queuing the writers of this
    process on a lock first hands the turn over as soon as one ends. The turn is given back
    when the transaction commits or rolls back (just before the statement; a writer that
    arrives in that instant waits a millisecond in SQLite's busy handler). Other processes
    on the same file (``statera agent``) still meet in SQLite's busy handler.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()

    def begin(self, conn: Any) -> None:
        if conn.get_execution_options().get("statera_readonly"):
            conn.exec_driver_sql("BEGIN")
            return
        turn = self._lock.acquire(timeout=SQLITE_WRITER_WAIT)
        try:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            if turn:
                self._lock.release()
            raise
        if turn:
            conn.info[_WRITER_TURN] = True

    def end(self, conn: Any) -> None:
        if conn.info.pop(_WRITER_TURN, False):
            self._lock.release()

    def checkin(self, _dbapi: Any, record: Any) -> None:
        """A connection back in the pool holds no turn, however its transaction ended."""
        if record is not None and record.info.pop(_WRITER_TURN, False):
            self._lock.release()


def _statement_timeout(engine: Engine, seconds: float) -> None:
    """Bound every statement of an API request's transactions on PostgreSQL and MariaDB.

    PostgreSQL: ``SET LOCAL statement_timeout`` at the start of the transaction, so it ends
    with it. MariaDB has no transaction-scoped setting: ``max_statement_time`` is set on the
    connection when it changes between API and non-API use (remembered in ``conn.info``), so
    the driver agent's transactions run unbounded and the common case costs no round trip."""
    dialect = engine.dialect.name
    if dialect == "postgresql":

        def pg_begin(conn: Any) -> None:
            if API_REQUEST.get() is not None:
                conn.exec_driver_sql(f"SET LOCAL statement_timeout = {int(seconds * 1000)}")

        event.listen(engine, "begin", pg_begin)
    elif dialect in ("mysql", "mariadb"):

        def my_begin(conn: Any) -> None:
            wanted = seconds if API_REQUEST.get() is not None else 0.0
            if conn.info.get("statera_max_statement_time", 0.0) != wanted:
                conn.exec_driver_sql(f"SET SESSION max_statement_time = {wanted:.3f}")
                conn.info["statera_max_statement_time"] = wanted

        event.listen(engine, "begin", my_begin)


def is_statement_timeout(exc: BaseException) -> bool:
    """Whether ``exc`` is the database cancelling a statement for running too long."""
    if not isinstance(exc, DBAPIError):
        return False
    orig = exc.orig
    if getattr(orig, "pgcode", None) == PG_QUERY_CANCELED:
        return True
    args: tuple[Any, ...] = tuple(getattr(orig, "args", ()))
    return bool(args) and args[0] == MYSQL_STATEMENT_TIMEOUT


#: A transaction the database aborted to break a lock cycle (InnoDB 1213, PostgreSQL 40P01).
MYSQL_DEADLOCK = 1213
PG_DEADLOCK = "40P01"
#: Attempts of a transaction that the database aborted as a deadlock victim.
DEADLOCK_ATTEMPTS = 3


def is_deadlock(exc: BaseException) -> bool:
    """Whether ``exc`` is the database aborting this transaction to break a deadlock."""
    if not isinstance(exc, DBAPIError):
        return False
    orig = exc.orig
    if getattr(orig, "pgcode", None) == PG_DEADLOCK:
        return True
    args: tuple[Any, ...] = tuple(getattr(orig, "args", ()))
    return bool(args) and args[0] == MYSQL_DEADLOCK


class Database:
    """Owns the engine and hands out sessions; built once and passed in."""

    def __init__(self, url: str, api_statement_timeout: float = 0.0) -> None:
        self.url = url
        self.engine = make_engine(url)
        if api_statement_timeout > 0:
            _statement_timeout(self.engine, api_statement_timeout)
        self.statements = StatementTracker(self.engine)
        self._factory = sessionmaker(self.engine, expire_on_commit=False)
        self._read_factory = sessionmaker(
            self.engine.execution_options(statera_readonly=True), expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session in one transaction: committed on success, rolled back on any error."""
        with self._factory() as session, session.begin():
            yield session

    def transact(self, work: Callable[[Session], T]) -> T:
        """Run ``work`` in one transaction, again (from scratch) if the database aborted it as
        a deadlock victim, as InnoDB asks ("try restarting transaction").

        For transactions that insert into unique indexes concurrently (VIP allocation): InnoDB's
        duplicate-key and gap locks can form a cycle between inserts and deletes of different
        rows (about 1 in 1,000 creates under 32 clients on MariaDB). ``work`` must have no
        effect outside the transaction.
        """
        for attempt in range(1, DEADLOCK_ATTEMPTS + 1):
            try:
                with self.session() as session:
                    return work(session)
            except DBAPIError as exc:
                if not is_deadlock(exc) or attempt == DEADLOCK_ATTEMPTS:
                    raise
                LOG.info("transaction chosen as a deadlock victim; retrying (%d of %d)",
                         attempt + 1, DEADLOCK_ATTEMPTS)
        raise AssertionError("unreachable")

    @contextmanager
    def read_session(self) -> Iterator[Session]:
        """A session for reads only (GETs): on SQLite it does not take the write lock."""
        with self._read_factory() as session, session.begin():
            yield session

    @contextmanager
    def snapshot_session(self) -> Iterator[Session]:
        """A read-only session whose reads all see one snapshot, without taking a lock.

        For reads that must be consistent across several statements (a whole load-balancer
        graph and its generation) while writers carry on: REPEATABLE READ on PostgreSQL and
        MariaDB (the engine's READ COMMITTED lets each statement see a newer commit); a
        SQLite read transaction in WAL mode already is one snapshot."""
        with self._read_factory() as session, session.begin():
            if self.engine.dialect.name != "sqlite":
                session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
            yield session

    def dispose(self) -> None:
        self.statements.close()
        self.engine.dispose()
