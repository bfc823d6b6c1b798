"""Which database connections an API request is using, so that its statements can be
cancelled when the client goes away.

Handlers run in threads and block inside the database driver; a client that gives up does not
stop them. The API's edge notices the disconnect and calls :meth:`StatementTracker.cancel`,
which interrupts whatever the request's connections are running: ``cancel()`` on PostgreSQL
(psycopg2 sends a cancel request), ``KILL QUERY <thread id>`` on MariaDB (from a connection of
its own, outside the pool), ``interrupt()`` on SQLite. The interrupted statement fails in the
handler's thread, its transaction rolls back and the connection goes back to the pool.

A connection is tracked from the start of a transaction begun while serving a request until
it is checked back in to the pool; both happen under one lock with the cancel itself, so a
cancel can never reach a connection that another request has since taken.
"""

from __future__ import annotations

import logging
import threading
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, event

LOG = logging.getLogger(__name__)


@dataclass(eq=False)
class RequestStatements:
    """One API request as the database layer sees it."""

    cancelled: bool = False


# The request the current task (or a thread it runs a handler in) serves; None outside the
# API. Set by the API's edge middleware; read by the engine's event listeners.
API_REQUEST: ContextVar[RequestStatements | None] = ContextVar("statera_api_request",
                                                                default=None)


class StatementTracker:
    """Tracks the connections of every API request on one engine and cancels them."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._lock = threading.Lock()
        # id(DBAPI connection) -> (connection, the request using it), while checked out.
        self._owners: dict[int, tuple[Any, RequestStatements]] = {}
        self._killer: Any = None  # MariaDB: a connection of its own for KILL QUERY
        event.listen(engine, "begin", self._track)
        event.listen(engine.pool, "checkin", self._untrack)

    def _track(self, conn: Any) -> None:
        request = API_REQUEST.get()
        if request is None:
            return
        dbapi = conn.connection.dbapi_connection
        with self._lock:
            self._owners[id(dbapi)] = (dbapi, request)

    def _untrack(self, dbapi: Any, _record: Any) -> None:
        with self._lock:
            self._owners.pop(id(dbapi), None)

    def cancel(self, request: RequestStatements) -> int:
        """Interrupt every statement ``request`` is running; how many connections it had."""
        with self._lock:
            request.cancelled = True
            targets = [dbapi for dbapi, owner in self._owners.values() if owner is request]
            for dbapi in targets:
                try:
                    self._interrupt(dbapi)
                except Exception:  # noqa: BLE001 (best effort: the statement timeout remains)
                    LOG.warning("could not cancel a statement of a gone client", exc_info=True)
            return len(targets)

    def _interrupt(self, dbapi: Any) -> None:
        name = self.engine.dialect.name
        if name == "postgresql":
            dbapi.cancel()
        elif name == "sqlite":
            dbapi.interrupt()
        elif name in ("mysql", "mariadb"):
            if self._killer is None:
                cargs, cparams = self.engine.dialect.create_connect_args(self.engine.url)
                dbapi_module: Any = self.engine.dialect.dbapi
                self._killer = dbapi_module.connect(*cargs, **cparams)
            with self._killer.cursor() as cursor:
                cursor.execute(f"KILL QUERY {int(dbapi.thread_id())}")

    def close(self) -> None:
        with self._lock:
            if self._killer is not None:
                self._killer.close()
                self._killer = None
