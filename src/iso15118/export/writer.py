"""Arrow tables -> part files of a dataset directory: Parquet, CSV or JSON Lines.

``OUT/messages/part-NNNNN.parquet`` and ``OUT/sessions/part-NNNNN.parquet``, one pair per
task: a directory of same-schema Parquet files is what DuckDB (``read_parquet('OUT/
messages/*.parquet')``), polars, pandas (``read_parquet('OUT/messages')``) and Spark
(``spark.read.parquet``) read as one table with no options. No Hive ``key=value``
directories: their partition column would come back as a string or dictionary column,
typed differently by each reader, and the schema would no longer be the one documented.
Snappy compression, which every Parquet reader has.

Each file is written under a dot-name and renamed when complete, so a task that dies
leaves nothing a reader would take for data (all of them skip dot-files).
"""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path
from typing import Any, Final

import pyarrow as pa

__all__ = ["FORMATS", "write_part"]

FORMATS: Final = ("parquet", "csv", "jsonl")


def _plain(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def _for_text(table: pa.Table) -> pa.Table:
    """CSV has no lists or bytes: lists become JSON text, bytes hex."""
    columns = []
    for f, col in zip(table.schema, table.columns, strict=True):
        if pa.types.is_list(f.type):
            col = pa.array([None if v is None else json.dumps(v) for v in col.to_pylist()],
                           type=pa.string())
        elif pa.types.is_binary(f.type):
            col = pa.array([None if v is None else v.hex() for v in col.to_pylist()],
                           type=pa.string())
        columns.append(col)
    return pa.Table.from_arrays(columns, names=table.column_names)


def write_part(table: pa.Table, directory: Path, name: str, fmt: str) -> Path:
    """Write ``table`` as ``directory/name.<fmt>``; returns the path."""
    directory.mkdir(parents=True, exist_ok=True)
    final = directory / f"{name}.{fmt}"
    tmp = directory / f".{name}.{fmt}.tmp"
    if fmt == "parquet":
        import pyarrow.parquet as pq

        pq.write_table(table, tmp, compression="snappy")
    elif fmt == "csv":
        import pyarrow.csv as pcsv

        pcsv.write_csv(_for_text(table), tmp)
    elif fmt == "jsonl":
        with tmp.open("w", encoding="utf-8") as f:
            for row in table.to_pylist():
                f.write(json.dumps({k: _plain(v) for k, v in row.items()},
                                   ensure_ascii=False))
                f.write("\n")
    else:
        raise ValueError(f"unknown format {fmt!r}")
    os.replace(tmp, final)
    return final
