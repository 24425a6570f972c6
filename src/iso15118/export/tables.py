"""Rows -> pyarrow tables with the stable schemas of :mod:`.schema`.

pyarrow is imported here and nowhere else in the readers, so reading logs works (and the
CLI starts) without it. The ``time`` columns are filled only from absolute times: a log
whose timestamps count from its own start has ``time_s`` but no ``time``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Final

import pyarrow as pa

from iso15118.export.records import MessageRecord
from iso15118.export.rows import message_rows
from iso15118.export.schema import (
    MESSAGE_COLUMNS,
    SCHEMA_VERSION,
    SESSION_COLUMNS,
    Column,
)
from iso15118.export.sessions import session_rows

__all__ = ["MESSAGES_SCHEMA", "SESSIONS_SCHEMA", "build_tables", "messages_table",
           "sessions_table"]

#: Times before this (1973-03-03) are read as relative to the log's own origin.
ABSOLUTE_AFTER_S: Final = 1e8
_TYPES: Final = {
    "string": pa.string(), "int64": pa.int64(), "int32": pa.int32(),
    "float64": pa.float64(), "bool": pa.bool_(), "binary": pa.binary(),
    "timestamp": pa.timestamp("us", tz="UTC"), "list<string>": pa.list_(pa.string()),
}


def _schema(columns: Sequence[Column], table: str) -> pa.Schema:
    fields = [pa.field(c.name, _TYPES[c.type], metadata={"doc": c.doc}) for c in columns]
    return pa.schema(fields, metadata={"iso15118.schema": SCHEMA_VERSION,
                                       "iso15118.table": table})


MESSAGES_SCHEMA: Final = _schema(MESSAGE_COLUMNS, "messages")
SESSIONS_SCHEMA: Final = _schema(SESSION_COLUMNS, "sessions")


def _micros(seconds: float | None) -> int | None:
    if seconds is None or seconds < ABSOLUTE_AFTER_S or seconds > 1e11:
        return None
    return int(round(seconds * 1_000_000))


def _table(rows: list[dict[str, Any]], schema: pa.Schema) -> pa.Table:
    # from_pylist reads the dicts in C++ (a missing key is null): 3x faster than a list
    # per column built in Python, measured on 22,000 rows of the benchmark corpus
    return pa.Table.from_pylist(rows, schema=schema)


def messages_table(rows: list[dict[str, Any]]) -> pa.Table:
    for row in rows:
        row["time"] = _micros(row.get("time_s"))
    return _table(rows, MESSAGES_SCHEMA)


def sessions_table(rows: list[dict[str, Any]]) -> pa.Table:
    for row in rows:
        start = row.get("start_s")
        row["start"] = _micros(start)
        row["end"] = _micros(start + row["duration_s"]) if start is not None and \
            row.get("duration_s") is not None else None
    return _table(rows, SESSIONS_SCHEMA)


def build_tables(records: Iterable[MessageRecord], *, with_json: bool = True,
                 first_seq: int = 0) -> tuple[pa.Table, pa.Table]:
    """(messages, sessions) for a batch of records that holds whole sessions; ``seq``
    counts from ``first_seq`` (the records of the task's earlier batches)."""
    recs = list(records)
    rows = message_rows(recs, with_json=with_json, first_seq=first_seq)
    sessions = session_rows(recs, rows)
    return messages_table(rows), sessions_table(sessions)
