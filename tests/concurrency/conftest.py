"""A real ``statera serve`` on each database (SQLite, PostgreSQL, MariaDB), for tests that drive
it with many concurrent clients and then check what the database holds."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.dbs import BACKENDS, temp_database
from tests.e2e.conftest import Server, running_server


@pytest.fixture(params=BACKENDS)
def db_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Server, str]]:
    """``(server, database URL)``: the noop provider, so what is measured is the control plane."""
    with temp_database(request.param, str(tmp_path)) as url:
        with running_server(tmp_path / "data", {
                "STATERA_DATABASE__CONNECTION": url,
                "STATERA_API__DEFAULT_PROVIDER_DRIVER": "noop",
                "STATERA_DRIVER_AGENT__RESYNC_INTERVAL": "2"}) as srv:
            yield srv, url
