"""Fixtures for the certificate store: a migrated SQLite database, the local manager and a
session-wide set of real certificates."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from statera.certs.local import LocalCertManager
from statera.db.engine import Database
from tests.certs.pki import Pki, build_pki
from tests.dbs import temp_database


@pytest.fixture(scope="session")
def pki() -> Pki:
    return build_pki()


@pytest.fixture
def db(tmp_path: object) -> Iterator[Database]:
    with temp_database("sqlite", str(tmp_path)) as url:
        database = Database(url)
        yield database
        database.dispose()


@pytest.fixture
def manager(db: Database) -> LocalCertManager:
    return LocalCertManager(db.session)
