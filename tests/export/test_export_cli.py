"""``iso15118 export`` end to end: a corrupt file in the middle of a run is reported and
skipped while the others are written, with the local engine, a dask LocalCluster, and an
existing dask scheduler joined by address; formats, usage errors, the progress bar."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from export_logs import HAVE_CAPTURES, capture, messages_of, write_log

from iso15118 import cli
from iso15118.export.engines import Progress
from iso15118.export.tasks import TaskResult

pytestmark = pytest.mark.skipif(not HAVE_CAPTURES, reason="../shared/vectors/real/pcap absent")

DC = "ISO-2_DC_DS5366.pcapng"
DIN = "DIN_DC_DS5366_Josev.pcapng"


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """good capture, truncated capture, garbage, good hex log: corrupt ones in the middle."""
    d = tmp_path_factory.mktemp("inputs")
    data = capture(DC).read_bytes()
    (d / "b_truncated.pcapng").write_bytes(data[: len(data) // 2])
    (d / "c_garbage.pcap").write_bytes(b"\xd4\xc3\xb2\xa1" + b"\xff" * 100)
    log = write_log(d / "d_din.log", messages_of(DIN), "timestamped")
    return [str(capture(DC)), str(d / "b_truncated.pcapng"), str(d / "c_garbage.pcap"),
            str(log)]


def _export(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    status = cli.main(["export", *args])
    out, err = capsys.readouterr()
    return status, out, err


def _rows(out: Path, table: str) -> list[dict[str, object]]:
    rows = pq.read_table(out / table).to_pylist()
    return sorted(rows, key=lambda r: (str(r["session"]), str(r.get("seq", ""))))


def _check_corrupt_run(status: int, stdout: str, stderr: str, out: Path) -> None:
    assert status == 1
    skipped = [ln for ln in stderr.splitlines() if ln.startswith("skipped ")]
    assert len(skipped) == 2
    assert "b_truncated.pcapng: " in skipped[0] and "block length" in skipped[0]
    assert "c_garbage.pcap: " in skipped[1]
    dc, din = len(messages_of(DC)), len(messages_of(DIN))
    assert stdout.count("\n") == 1 and "2 inputs skipped" in stdout
    messages = pq.read_table(out / "messages", columns=["source"]).column("source").to_pylist()
    assert len(messages) == dc + din
    assert {Path(s).name for s in messages} == {DC, "d_din.log"}
    assert pq.read_table(out / "sessions").num_rows == 2


def test_corrupt_files_in_the_middle_are_skipped_locally(
        inputs: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    _check_corrupt_run(*_export([*inputs, "-o", str(out)], capsys), out)


def test_dask_local_cluster_writes_the_same_tables_as_the_local_engine(
        inputs: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    local, dask = tmp_path / "local", tmp_path / "dask"
    _export([*inputs, "-o", str(local)], capsys)
    status, stdout, stderr = _export([*inputs, "-o", str(dask), "--engine", "dask",
                                      "--workers", "2"], capsys)
    _check_corrupt_run(status, stdout, stderr, dask)
    for table in ("messages", "sessions"):
        assert _rows(dask, table) == _rows(local, table)


def test_dask_joins_an_existing_scheduler(inputs: list[str], tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    from distributed import LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                      dashboard_address=None) as cluster:
        out = tmp_path / "out"
        status, stdout, stderr = _export(
            [*inputs, "-o", str(out), "--engine", "dask", "--scheduler",
             cluster.scheduler_address], capsys)
        _check_corrupt_run(status, stdout, stderr, out)


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_csv_and_jsonl_hold_the_same_rows(inputs: list[str], tmp_path: Path, fmt: str,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / fmt
    assert _export([inputs[0], "-o", str(out), "--format", fmt], capsys)[0] == 0
    path = out / "messages" / f"part-00000.{fmt}"
    if fmt == "csv":
        import pyarrow.csv as pcsv

        table = pcsv.read_csv(path)
        assert table.num_rows == len(messages_of(DC))
        assert "ev_target_current_a" in table.column_names
    else:
        rows = [json.loads(ln) for ln in path.read_text().splitlines()]
        assert len(rows) == len(messages_of(DC))
        cd = next(r for r in rows if r["message"] == "CurrentDemandReq")
        assert cd["ev_target_current_a"] == 200.0 and cd["time"].endswith("+00:00")
        sessions = [json.loads(ln) for ln in
                    (out / "sessions" / "part-00000.jsonl").read_text().splitlines()]
        assert sessions[0]["protocols_offered"][0] == "urn:iso:15118:2:2013:MsgDef"


def test_usage_errors_and_an_existing_export(inputs: list[str], tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    out = str(tmp_path / "out")
    assert _export([inputs[0], "-o", out, "--workers", "2"], capsys)[0] == 2
    assert _export([inputs[0], "-o", out, "--scheduler", "tcp://x:1"], capsys)[0] == 2
    assert _export([inputs[0], "-o", out, "--layout", "hex", "--regex", "(?P<hex>.*)"],
                   capsys)[0] == 2
    status, _, err = _export([inputs[0], "-o", out, "--regex", "(?P<payload>.*)"], capsys)
    assert status == 2 and "named group (?P<hex>...)" in err
    assert _export([inputs[0], "-o", out], capsys)[0] == 0
    status, _, err = _export([inputs[0], "-o", out], capsys)
    assert status == 1 and "already holds an export" in err
    status, _, err = _export([str(tmp_path / "missing.pcap"), "-o", str(tmp_path / "o2")],
                             capsys)
    assert status == 1 and "skipped" in err and "no such file" in err


def test_progress_bar_only_on_a_terminal() -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    plain, tty = io.StringIO(), Tty()
    for stream in (plain, tty):
        bar = Progress(2, stream)
        bar(TaskResult(0, "a", messages=10))
        bar(TaskResult(1, "b", messages=5, sdp_messages=2))
        bar.close()
    assert plain.getvalue() == ""
    assert tty.getvalue().startswith("\r[") and "2/2 tasks, 17 messages" in tty.getvalue()


def test_the_command_is_registered_lazily() -> None:
    code = ("import sys\nfrom iso15118 import cli\ncli.build_parser('decode')\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('pyarrow', 'dask', 'distributed') or m.startswith('iso15118.export')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, check=True).stdout.strip()
    assert out == "[]"
    assert cli.LAZY_COMMANDS["export"][0] == "cli_export"


def test_an_unreachable_scheduler_is_one_error_line(
        inputs: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    from iso15118.export import engines

    monkeypatch.setattr(engines, "SCHEDULER_TIMEOUT_S", 1.0)
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    status, _, err = _export([inputs[0], "-o", str(tmp_path / "o"), "--engine", "dask",
                              "--scheduler", f"tcp://127.0.0.1:{port}"], capsys)
    assert status == 1
    assert err.count("\n") == 1 and "cannot join the Dask scheduler" in err
