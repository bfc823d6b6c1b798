"""Fixtures of the f5 tests: a BIG-IP emulator per test, and a recording driver library."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from statera.providers.f5.client import BigIPClient
from statera.providers.f5.converger import F5Converger
from statera.providers.f5.settings import F5Settings
from tests.f5.bigip_emulator import BigIPEmulator


@pytest.fixture
def bigip() -> Iterator[BigIPEmulator]:
    emulator = BigIPEmulator().start()
    try:
        yield emulator
    finally:
        emulator.stop()


class RecordingLibrary:
    """The driver library's surface a converger uses, over an in-memory set of graphs.

    Stands in for the driver agent's sockets in converger tests (the end-to-end tests use the
    real ones through ``statera serve``)."""

    def __init__(self) -> None:
        self.graphs: dict[str, Any] = {}
        self.statuses: list[dict[str, Any]] = []
        self.statistics: list[dict[str, Any]] = []

    def list_loadbalancer_ids(self, provider: str) -> list[str]:
        return sorted(self.graphs)

    def get_loadbalancer(self, loadbalancer_id: str) -> Any:
        return self.graphs.get(loadbalancer_id)

    def update_loadbalancer_status(self, status: dict[str, Any]) -> None:
        self.statuses.append(status)

    def update_listener_statistics(self, statistics: dict[str, Any]) -> None:
        self.statistics.append(statistics)

    def last(self, kind: str, obj_id: str, field: str) -> str | None:
        for report in reversed(self.statuses):
            for row in report.get(kind, []):
                if row["id"] == obj_id and field in row:
                    return str(row[field])
        return None


@pytest.fixture
def lib() -> RecordingLibrary:
    return RecordingLibrary()


def make_converger(bigip: BigIPEmulator, lib: RecordingLibrary | None = None,
                   **overrides: Any) -> F5Converger:
    """A converger that has contacted the device and done its first full resync of ``lib``
    (an empty database by default), as the agent's first tick does."""
    settings = F5Settings(url=bigip.url, username="admin", password="f5-secret",
                          **{"poll_interval": 0.0, "task_timeout": 10.0, **overrides})
    converger = F5Converger(settings, BigIPClient(settings))
    converger.tick(lib or RecordingLibrary())
    return converger


@pytest.fixture
def converger(bigip: BigIPEmulator, lib: RecordingLibrary) -> Iterator[F5Converger]:
    conv = make_converger(bigip, lib)
    try:
        yield conv
    finally:
        conv.client.close()
