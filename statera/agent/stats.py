"""The stats socket: listener counters reported by provider agents (octavia.md §4.5).

Counters are absolute totals, so a report replaces the stored row for (listener, reporter)
rather than adding to it: a provider that reports twice, or restarts and reports again, never
double-counts. The reporter defaults to the listener itself, as in Octavia; a provider with
several data-plane instances per listener names each one in ``amphora_id`` and the API sums
the rows. There is no foreign key to the listener, so a report for a listener that is not (or
no longer) in the database still lands, as in Octavia.

The whole request is validated before anything is written and then written in one
transaction: a batch is one observation, applied entirely or not at all.
"""

from __future__ import annotations

import logging
from typing import Any

from octavia_lib.common import constants as lib_consts
from sqlalchemy.exc import IntegrityError

from statera.db.engine import Database
from statera.db.models import ListenerStatistics

LOG = logging.getLogger(__name__)

COUNTERS: tuple[str, ...] = (
    lib_consts.ACTIVE_CONNECTIONS,
    lib_consts.BYTES_IN,
    lib_consts.BYTES_OUT,
    lib_consts.REQUEST_ERRORS,
    lib_consts.TOTAL_CONNECTIONS,
)

#: The stats columns are BIGINT (signed 64-bit).
MAX_COUNTER = 2**63 - 1

Reply = dict[str, Any]


class StatsRecordError(Exception):
    def __init__(self, message: str, obj_id: Any, record: Any) -> None:
        super().__init__(message)
        self.obj_id = obj_id if isinstance(obj_id, str) else None
        self.record = record


class StatsHandler:
    """Answers one stats-socket request; thread-safe."""

    def __init__(self, database: Database) -> None:
        self.database = database

    def __call__(self, request: dict[str, Any]) -> Reply:
        try:
            rows = _parse(request)
        except StatsRecordError as exc:
            LOG.warning("statistics report rejected: %s", exc)
            return _failure(str(exc), exc.obj_id, exc.record)
        try:
            self._write(rows)
        except IntegrityError:
            # Two reporters inserted the same new key at once; the second write now updates.
            try:
                self._write(rows)
            except Exception as exc:
                return self._db_failure(exc)
        except Exception as exc:
            return self._db_failure(exc)
        return {lib_consts.STATUS_CODE: lib_consts.DRVR_STATUS_CODE_OK}

    def _write(self, rows: list[dict[str, Any]]) -> None:
        with self.database.session() as session:
            for values in rows:
                key = (values["listener_id"], values["amphora_id"])
                row = session.get(ListenerStatistics, key)
                if row is None:
                    session.add(ListenerStatistics(**values))
                else:
                    for counter in COUNTERS:
                        setattr(row, counter, values[counter])

    @staticmethod
    def _db_failure(exc: Exception) -> Reply:
        LOG.exception("statistics report failed")
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return _failure(f"could not store the statistics: {message}", None, None)


def _parse(request: dict[str, Any]) -> list[dict[str, Any]]:
    records = request.get(lib_consts.LISTENERS, [])
    if not isinstance(records, list):
        raise StatsRecordError("'listeners' must be a list of records", None, None)
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for record in records:
        if not isinstance(record, dict):
            raise StatsRecordError(
                f"a listeners record must be a JSON object, not {record!r}", None, record
            )
        obj_id = record.get(lib_consts.ID)
        if not obj_id or not isinstance(obj_id, str):
            raise StatsRecordError("a listeners record has no 'id'", None, record)
        amphora_id = record.get("amphora_id") or obj_id
        if not isinstance(amphora_id, str):
            raise StatsRecordError(
                f"listener {obj_id}: amphora_id must be a string", obj_id, record
            )
        values: dict[str, Any] = {"listener_id": obj_id, "amphora_id": amphora_id}
        missing = [name for name in COUNTERS if name not in record]
        if missing:
            raise StatsRecordError(
                f"listener {obj_id}: missing counter(s) {', '.join(missing)}; all of "
                f"{', '.join(COUNTERS)} are required",
                obj_id,
                record,
            )
        for name in COUNTERS:
            value = record[name]
            if isinstance(value, bool) or not isinstance(value, int):
                raise StatsRecordError(
                    f"listener {obj_id}: {name} must be an integer, not {value!r}",
                    obj_id,
                    record,
                )
            if value < 0 or value > MAX_COUNTER:
                raise StatsRecordError(
                    f"listener {obj_id}: {name} must be between 0 and {MAX_COUNTER}, "
                    f"not {value}",
                    obj_id,
                    record,
                )
            values[name] = value
        rows[(obj_id, amphora_id)] = values  # the last report of a key in a batch wins
    return list(rows.values())


def _failure(message: str, obj_id: str | None, record: Any) -> Reply:
    return {
        lib_consts.STATUS_CODE: lib_consts.DRVR_STATUS_CODE_FAILED,
        lib_consts.FAULT_STRING: message,
        lib_consts.STATS_OBJECT: lib_consts.LISTENERS,
        lib_consts.STATS_OBJECT_ID: obj_id,
        lib_consts.STATS_RECORD: record,
    }
