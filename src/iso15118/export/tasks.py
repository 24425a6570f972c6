"""An export as independent tasks: one per capture, OCPP log, or chunk of a hex log.

:func:`plan` turns the inputs (files and directories) into :class:`Task` objects, small
picklable descriptions that any worker can run with :func:`run_task`: read, build the
two tables, write one part file of each. A task never raises for a bad input: it reports
the input in its :class:`TaskResult` and writes nothing, so one corrupt file does not
stop a fleet-sized run.
"""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from iso15118.errors import Iso15118Error
from iso15118.export.hexlog import layout_of_file, plan_chunks, read_log
from iso15118.export.layouts import Layout
from iso15118.export.ocpp import read_ocpp
from iso15118.export.pcap import CAPTURE_SUFFIXES, read_pcap
from iso15118.export.records import ExportInputError, MessageRecord

__all__ = ["BATCH_RECORDS", "DEFAULT_CHUNK_BYTES", "Task", "TaskResult", "batches",
           "expand_inputs", "plan", "records_of", "run_task"]

DEFAULT_CHUNK_BYTES: Final = 32 * 1024 * 1024
#: Records turned into tables at a time (cut at a session start): bounds a task's memory.
BATCH_RECORDS: Final = 20_000
_PCAP_MAGICS: Final = (b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\xc3\xd4", b"\x4d\x3c\xb2\xa1",
                       b"\xa1\xb2\x3c\x4d", b"\x0a\x0d\x0d\x0a")
_OCPP_FRAME: Final = re.compile(rb"\[\s*[23]\s*,\s*\"")
_SKIPPED_NAMES: Final = (".keylog.txt",)


@dataclass(frozen=True)
class Task:
    index: int
    path: str
    reader: str  # "pcap", "hexlog" or "ocpp"
    layout: Layout | None = None
    start: int = 0
    end: int | None = None
    keylog: str | None = None

    @property
    def label(self) -> str:
        if self.reader == "hexlog" and (self.start or self.end is not None):
            return f"{self.path} [bytes {self.start}-{self.end if self.end is not None else ''}]"
        return self.path


@dataclass
class TaskResult:
    index: int
    label: str
    messages: int = 0  # V2GTP/EXI messages
    sdp_messages: int = 0
    undecodable: int = 0
    sessions: int = 0
    seconds: float = 0.0
    cpu_seconds: float = 0.0  # CPU time of the process that ran it (contention shows here)
    error: str | None = None  # set when the input was skipped
    files: list[str] = field(default_factory=list)


def expand_inputs(inputs: list[str]) -> tuple[list[Path], list[tuple[str, str]]]:
    """Files named or found under named directories (sorted; dot-files and key logs
    left out), and (input, reason) for inputs that do not exist."""
    files: list[Path] = []
    missing: list[tuple[str, str]] = []
    for text in inputs:
        p = Path(text)
        if p.is_dir():
            for f in sorted(p.rglob("*")):
                if f.is_file() and not any(part.startswith(".") for part in
                                           f.relative_to(p).parts) \
                        and not f.name.endswith(_SKIPPED_NAMES):
                    files.append(f)
        elif p.is_file():
            files.append(p)
        else:
            missing.append((text, "no such file or directory"))
    return files, missing


def _reader_of(path: Path) -> str:
    with path.open("rb") as f:
        head = f.read(4096)
    if head[:4] in _PCAP_MAGICS or path.suffix.lower() in CAPTURE_SUFFIXES:
        return "pcap"
    if _OCPP_FRAME.search(head):
        return "ocpp"
    return "hexlog"


def plan(inputs: list[str], *, layout: Layout | None = None,
         chunk_bytes: int = DEFAULT_CHUNK_BYTES, keylog: str | None = None
         ) -> tuple[list[Task], list[tuple[str, str]]]:
    """The tasks for ``inputs`` and (input, reason) for those that cannot be read.

    A given ``layout`` makes every non-capture input a hex log of that layout."""
    files, problems = expand_inputs(inputs)
    tasks: list[Task] = []
    for path in files:
        try:
            reader = _reader_of(path)
            if layout is not None and reader != "pcap":
                reader = "hexlog"
            if reader == "hexlog":
                file_layout = layout_of_file(path, layout)
                # interleaved channels: a cut at one channel's session start would fall
                # inside another's, so such a log is one task
                ranges = ([(0, None)] if file_layout.has_channel
                          else plan_chunks(path, file_layout, chunk_bytes))
                for start, end in ranges:
                    tasks.append(Task(len(tasks), str(path), "hexlog", file_layout, start, end))
            else:
                tasks.append(Task(len(tasks), str(path), reader, keylog=keylog))
        except (OSError, Iso15118Error) as e:
            reason = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
            problems.append((str(path), " ".join(reason.split())))
    return tasks, problems


def records_of(task: Task) -> Iterator[MessageRecord]:
    """Everything the task's input holds, read by its reader."""
    if task.reader == "pcap":
        return read_pcap(task.path, task.keylog)
    if task.reader == "ocpp":
        return read_ocpp(task.path)
    if task.layout is None:
        raise ExportInputError(f"{task.path}: no layout")
    return read_log(task.path, task.layout, start=task.start, end=task.end)


def batches(records: Iterable[MessageRecord], size: int = BATCH_RECORDS
            ) -> Iterator[list[MessageRecord]]:
    """Records in lists of about ``size``, cut only where a new session begins, so each
    session's row is computed from all of its messages. That needs sessions that follow
    one another, as in logs; a capture's sessions may overlap in time, so a capture is
    one batch (it is read whole into memory by the capture reader anyway)."""
    batch: list[MessageRecord] = []
    open_sessions: set[str | None] = set()
    for r in records:
        if len(batch) >= size and r.session not in open_sessions:
            yield batch
            batch, open_sessions = [], set()
        batch.append(r)
        open_sessions.add(r.session)
    if batch:
        yield batch


def run_task(task: Task, out: str, fmt: str = "parquet") -> TaskResult:
    """Read one task's input and write its part files under ``out``.

    Bad input (an unreadable or corrupt file) is returned as ``error``, not raised, and
    whatever the task had written is removed, so an input is either exported whole or
    not at all. Any other exception is a bug in this library; it is also returned, with
    its type, so the run goes on and the report names the input that found it."""
    from iso15118.export.tables import build_tables
    from iso15118.export.writer import PartWriter

    started, cpu_started = time.perf_counter(), time.process_time()
    result = TaskResult(task.index, task.label)
    name = f"part-{task.index:05d}"
    writers = [PartWriter(Path(out) / "messages", name, fmt),
               PartWriter(Path(out) / "sessions", name, fmt)]
    try:
        seen = 0
        size = sys.maxsize if task.reader == "pcap" else BATCH_RECORDS
        for batch in batches(records_of(task), size):
            messages, sessions = build_tables(batch, first_seq=seen)
            seen += len(batch)
            writers[0].write(messages)
            writers[1].write(sessions)
            result.messages += sum(1 for r in batch if r.kind == "exi")
            result.sdp_messages += sum(1 for r in batch if r.kind == "sdp")
            result.undecodable += sum(1 for r in batch if r.error is not None)
            result.sessions += sessions.num_rows
        for w in writers:
            path = w.close()
            if path is not None:
                result.files.append(str(path))
    except Exception as e:  # noqa: BLE001 - one input must not end a fleet-sized run
        for w in writers:
            w.abort()
        expected = isinstance(e, ExportInputError | Iso15118Error | OSError)
        text = " ".join(str(e).split())
        result = TaskResult(task.index, task.label, error=text if expected else
                            f"internal error ({type(e).__name__}: {text})")
    result.seconds = time.perf_counter() - started
    result.cpu_seconds = time.process_time() - cpu_started
    return result
