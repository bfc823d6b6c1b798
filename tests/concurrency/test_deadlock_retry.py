"""A transaction that MariaDB aborts as a deadlock victim is run again from scratch
(``Database.transact``, used by load-balancer creates), with a real deadlock on a real server."""

from __future__ import annotations

import threading
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.orm import Session

from statera.db.engine import Database
from tests.dbs import temp_database


def test_a_deadlock_victim_is_retried(tmp_path: Path) -> None:
    with temp_database("mariadb", str(tmp_path)) as url:
        db = Database(url)
        try:
            with db.engine.begin() as conn:
                conn.execute(text("CREATE TABLE scratch (id INT PRIMARY KEY, v INT)"))
                conn.execute(text("INSERT INTO scratch VALUES (1, 0), (2, 0)"))
            a_locked, b_locked = threading.Event(), threading.Event()

            def other() -> None:
                # Locks row 1 and modifies it (so InnoDB prefers the other side as victim),
                # then waits for row 2, which the first attempt below holds.
                with db.engine.begin() as conn:
                    conn.execute(text("UPDATE scratch SET v = v + 1 WHERE id = 1"))
                    a_locked.set()
                    b_locked.wait(10)
                    conn.execute(text("UPDATE scratch SET v = v + 1 WHERE id = 2"))

            attempts: list[int] = []

            def work(session: Session) -> int:
                attempts.append(1)
                session.execute(text("SELECT v FROM scratch WHERE id = 2 FOR UPDATE"))
                if len(attempts) == 1:
                    b_locked.set()
                    a_locked.wait(10)
                # Row 1: a cycle with the other transaction on the first attempt.
                value = session.execute(text("SELECT v FROM scratch WHERE id = 1 FOR UPDATE"))
                return int(value.scalar_one())

            thread = threading.Thread(target=other)
            thread.start()
            assert a_locked.wait(10)
            result = db.transact(work)
            thread.join(10)
            assert len(attempts) == 2  # the first was the deadlock victim
            assert result == 1  # the second saw the other transaction's committed update
        finally:
            db.dispose()
