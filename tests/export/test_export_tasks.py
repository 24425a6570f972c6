"""A task writes its part file in batches (Parquet row groups) that hold whole sessions,
and the result is the same table as one batch would give."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest
from export_logs import HAVE_CAPTURES, messages_of, write_log

from iso15118.export import Layout
from iso15118.export import tasks as tasks_module
from iso15118.export.tasks import Task, run_task

pytestmark = pytest.mark.skipif(not HAVE_CAPTURES, reason="../shared/vectors/real/pcap absent")


def test_batched_task_writes_row_groups_of_whole_sessions(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    one = messages_of("DIN_DC_DS5366_Josev.pcapng")
    log = write_log(tmp_path / "three.log", one * 3, "timestamped")
    task = Task(0, str(log), "hexlog", Layout("timestamped"))
    whole = run_task(task, str(tmp_path / "whole"))
    monkeypatch.setattr(tasks_module, "BATCH_RECORDS", 100)
    batched = run_task(task, str(tmp_path / "batched"))
    assert (batched.messages, batched.sessions, batched.error) == (
        whole.messages, whole.sessions, None) == (sum(e.kind == "exi" for e in one) * 3, 3,
                                                  None)
    f = pq.ParquetFile(tmp_path / "batched" / "messages" / "part-00000.parquet")
    assert f.num_row_groups == 3
    assert pq.read_table(tmp_path / "batched" / "messages").equals(
        pq.read_table(tmp_path / "whole" / "messages").replace_schema_metadata(
            f.schema_arrow.metadata))
    assert pq.read_table(tmp_path / "batched" / "sessions").num_rows == 3


def test_a_task_that_fails_leaves_no_file(tmp_path: Path) -> None:
    result = run_task(Task(4, str(tmp_path / "gone.log"), "hexlog", Layout("hex")),
                      str(tmp_path / "out"))
    assert result.error is not None and "gone.log" in result.error
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").rglob("*"))
