"""Stats socket through octavia-lib's DriverLibrary: absolute counters replace the row."""

from __future__ import annotations

from typing import Any

import pytest
from octavia_lib.api.drivers import driver_lib
from octavia_lib.api.drivers import exceptions as lib_exc

from statera.db import models as m
from statera.db.engine import Database
from tests.agent.conftest import Graph, row


def counters(listener_id: str, base: int, **extra: Any) -> dict[str, Any]:
    return {"id": listener_id, "bytes_in": base, "bytes_out": base + 1,
            "active_connections": base + 2, "total_connections": base + 3,
            "request_errors": base + 4, **extra}


def values(stats: m.ListenerStatistics) -> tuple[int, ...]:
    return (stats.bytes_in, stats.bytes_out, stats.active_connections, stats.total_connections,
            stats.request_errors)


def test_reports_replace_the_row_per_listener_and_reporter(
    lib: driver_lib.DriverLibrary, database: Database, graph: Graph
) -> None:
    lib.update_listener_statistics({"listeners": [counters(graph.listener, 100)]})
    lib.update_listener_statistics({"listeners": [counters(graph.listener, 10)]})
    stats = row(database, m.ListenerStatistics, (graph.listener, graph.listener))
    assert values(stats) == (10, 11, 12, 13, 14)  # replaced, not added
    lib.update_listener_statistics(
        {"listeners": [counters(graph.listener, 1000, amphora_id="amp-2")]})
    assert values(row(database, m.ListenerStatistics, (graph.listener, "amp-2"))) == (
        1000, 1001, 1002, 1003, 1004)
    assert values(row(database, m.ListenerStatistics, (graph.listener, graph.listener))) == (
        10, 11, 12, 13, 14)


def test_unknown_listener_ids_still_create_rows(
    lib: driver_lib.DriverLibrary, database: Database
) -> None:
    lib.update_listener_statistics({"listeners": [counters("not-a-listener", 5)]})
    assert values(row(database, m.ListenerStatistics, ("not-a-listener", "not-a-listener"))) == (
        5, 6, 7, 8, 9)


@pytest.mark.parametrize("bad", [
    pytest.param({"drop": "request_errors"}, id="missing-counter"),
    pytest.param({"bytes_in": -1}, id="negative"),
    pytest.param({"bytes_out": "lots"}, id="not-a-number"),
    pytest.param({"drop": "id"}, id="missing-id"),
])
def test_invalid_records_are_refused_and_nothing_is_written(
    lib: driver_lib.DriverLibrary, database: Database, graph: Graph, bad: dict[str, Any]
) -> None:
    good = counters("other-listener", 1)
    record = counters(graph.listener, 1)
    if "drop" in bad:
        del record[bad["drop"]]
    else:
        record.update(bad)
    with pytest.raises(lib_exc.UpdateStatisticsError) as caught:
        lib.update_listener_statistics({"listeners": [good, record]})
    assert caught.value.stats_object == "listeners"
    assert caught.value.fault_string
    assert caught.value.stats_record == record
    if "id" in record:
        assert caught.value.stats_object_id == graph.listener
    assert row(database, m.ListenerStatistics, ("other-listener", "other-listener")) is None


def test_missing_counter_names_it(lib: driver_lib.DriverLibrary, graph: Graph) -> None:
    record = counters(graph.listener, 1)
    del record["total_connections"]
    with pytest.raises(lib_exc.UpdateStatisticsError, match="total_connections"):
        lib.update_listener_statistics({"listeners": [record]})
