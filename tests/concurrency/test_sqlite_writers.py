"""SQLite write transactions of one process take turns (statera.db.engine._SqliteWriters):
a writer waits for the one before it, sees what it committed, and a transaction that fails
hands the turn on instead of keeping every later writer waiting."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from statera.db.engine import Database
from tests.dbs import temp_database

PROJECT = "p-writers"


def _count(db: Database) -> int:
    with db.read_session() as session:
        return int(session.execute(
            text("SELECT count(*) FROM quota WHERE project_id LIKE :p"),
            {"p": PROJECT + "%"}).scalar_one())


def _insert(db: Database, suffix: str) -> None:
    with db.session() as session:
        session.execute(text("INSERT INTO quota (project_id) VALUES (:p)"),
                        {"p": PROJECT + suffix})


def test_a_writer_waits_for_the_one_before_it_and_sees_its_commit(tmp_path: Path) -> None:
    with temp_database("sqlite", str(tmp_path)) as url:
        db = Database(url)
        try:
            first_in, release = threading.Event(), threading.Event()
            seen: list[int] = []

            def first() -> None:
                with db.session() as session:
                    session.execute(text("INSERT INTO quota (project_id) VALUES (:p)"),
                                    {"p": PROJECT + "-1"})
                    first_in.set()
                    release.wait(10)

            def second() -> None:
                with db.session() as session:
                    seen.append(int(session.execute(
                        text("SELECT count(*) FROM quota WHERE project_id LIKE :p"),
                        {"p": PROJECT + "%"}).scalar_one()))

            a = threading.Thread(target=first)
            a.start()
            assert first_in.wait(10)
            b = threading.Thread(target=second)
            b.start()
            b.join(0.5)
            assert b.is_alive(), "the second writer began while the first held the turn"
            assert _count(db) == 0  # readers do not wait, and see nothing uncommitted
            release.set()
            a.join(10)
            b.join(10)
            assert not b.is_alive()
            assert seen == [1]
        finally:
            db.dispose()


def test_a_failed_transaction_hands_the_turn_on(tmp_path: Path) -> None:
    with temp_database("sqlite", str(tmp_path)) as url:
        db = Database(url)
        try:
            with pytest.raises(RuntimeError), db.session() as session:
                session.execute(text("INSERT INTO quota (project_id) VALUES (:p)"),
                                {"p": PROJECT + "-lost"})
                raise RuntimeError("handler failed")
            with pytest.raises(OperationalError), db.session() as session:  # a bad statement
                session.execute(text("INSERT INTO no_such_table VALUES (1)"))
            done = threading.Thread(target=_insert, args=(db, "-after"))
            done.start()
            done.join(10)  # the turn waits 30 s before giving up: a kept turn shows here
            assert not done.is_alive()
            assert _count(db) == 1
        finally:
            db.dispose()
