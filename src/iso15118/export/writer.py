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
from typing import IO, Any, Final

import pyarrow as pa

__all__ = ["FORMATS", "PartWriter", "write_part"]

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


class PartWriter:
    """One part file written in batches (Parquet row groups, CSV/JSONL appended), so a
    task's memory is bounded by its batch, not by its input. Created lazily: a task with
    no rows leaves no file."""

    def __init__(self, directory: Path, name: str, fmt: str) -> None:
        if fmt not in FORMATS:
            raise ValueError(f"unknown format {fmt!r}")
        self.directory, self.fmt = directory, fmt
        self.final = directory / f"{name}.{fmt}"
        self.tmp = directory / f".{name}.{fmt}.tmp"
        self._writer: Any = None
        self._text: IO[str] | None = None
        self.rows = 0

    def write(self, table: pa.Table) -> None:
        if not table.num_rows:
            return
        if self.rows == 0:
            self.directory.mkdir(parents=True, exist_ok=True)
        self.rows += table.num_rows
        if self.fmt == "parquet":
            if self._writer is None:
                import pyarrow.parquet as pq

                self._writer = pq.ParquetWriter(self.tmp, table.schema, compression="snappy")
            self._writer.write_table(table)
        elif self.fmt == "csv":
            if self._writer is None:
                import pyarrow.csv as pcsv

                text = _for_text(table)
                self._writer = pcsv.CSVWriter(self.tmp, text.schema)
                self._writer.write_table(text)
            else:
                self._writer.write_table(_for_text(table))
        else:
            if self._text is None:
                self._text = self.tmp.open("w", encoding="utf-8")
            for row in table.to_pylist():
                self._text.write(json.dumps({k: _plain(v) for k, v in row.items()},
                                            ensure_ascii=False))
                self._text.write("\n")

    def close(self) -> Path | None:
        """Finish the file and give it its final name; None when nothing was written."""
        if self._writer is not None:
            self._writer.close()
        if self._text is not None:
            self._text.close()
        if self.rows == 0:
            return None
        os.replace(self.tmp, self.final)
        return self.final

    def abort(self) -> None:
        """Drop a half-written file (the task failed part-way)."""
        for handle in (self._writer, self._text):
            if handle is not None:
                try:
                    handle.close()
                except (OSError, ValueError):
                    pass
        self.tmp.unlink(missing_ok=True)


def write_part(table: pa.Table, directory: Path, name: str, fmt: str) -> Path | None:
    """Write ``table`` as ``directory/name.<fmt>`` in one go; returns the path."""
    w = PartWriter(directory, name, fmt)
    w.write(table)
    return w.close()
