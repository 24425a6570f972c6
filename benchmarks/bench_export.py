"""Throughput of ``iso15118 export`` on a synthetic corpus of >= 1 M messages: the local
engine, and dask.distributed with 1 and 2 workers (issue 17).

The corpus: every message of every capture in ``../shared/vectors/real/pcap`` (10,812
V2GTP + 170 SDP, TLS sessions decrypted with their key logs), written as hex log lines
in the ``timestamped`` layout (``ISO-TIME DIRECTION HEX``, V2GTP header included), and
repeated with the timestamps shifted by one day per repetition until the corpus holds
``--messages`` lines; spread over ``--files`` files. So the messages are real ones
(DIN, -2, -20; the charge loops dominate as in the field) and every repetition is a new
set of sessions (one per handshake). The corpus is written once to ``--corpus`` and
reused when it is already there.

Each run exports the whole corpus to Parquet in a fresh directory and is timed from
task planning to the last part file written (the figure a user waits for). The Dask
cluster (a ``LocalCluster`` of N single-threaded worker processes) is started before the
clock starts and its start-up is printed on its own; the runs use the same code path
as ``iso15118 export --engine dask --scheduler ADDRESS``. Printed per run: messages,
seconds, messages/s, messages/s per worker, messages per CPU-second of the tasks and
the tasks' CPU share (CPU time / wall time: below 1 when the task waited for a core),
the 1-minute load average before and after; then the scaling ratio (2 workers' rate /
1 worker's). On a machine with 2 cores the 2-worker run shares them with this process
(idle while it waits) and whatever else runs there, so its ratio is an upper bound on
what 2 cores give, not a measurement of 2 free ones.

    python benchmarks/bench_export.py [--messages 1000000] [--files 8] [--chunk-mb 16]
        [--corpus /tmp/iso15118-export-corpus] [--runs local,dask1,dask2] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from iso15118.capture import KeyLog, read_capture  # noqa: E402
from iso15118.export.engines import run_dask, run_local  # noqa: E402
from iso15118.export.tasks import TaskResult, plan  # noqa: E402
from iso15118.v2gtp import encode_frame  # noqa: E402

PCAP_DIR = ROOT.parent / "shared" / "vectors" / "real" / "pcap"
DAY = 86_400.0


def _lines_of_captures() -> list[tuple[float, str, str]]:
    """(time, direction, hex) of every SDP and V2GTP message of the real captures."""
    out: list[tuple[float, str, str]] = []
    for path in sorted(PCAP_DIR.glob("*/*.pcap*")):
        if path.suffix not in (".pcap", ".pcapng"):
            continue
        keys = path.with_name(path.name + ".keylog.txt")
        result = read_capture(path.read_bytes(),
                              KeyLog.parse(keys.read_text()) if keys.exists() else None)
        for e in result.entries:
            if e.kind in ("exi", "sdp"):
                out.append((e.timestamp, e.direction or "-",
                            encode_frame(e.payload_type or 0x8001, e.payload).hex()))
    return out


def make_corpus(directory: Path, messages: int, files: int) -> tuple[int, int]:
    """Write the corpus (see the module docstring); returns (lines, bytes)."""
    marker = directory / ".corpus.json"  # a dot-file: export skips it
    if marker.exists():
        info = json.loads(marker.read_text())
        if info["messages"] == messages and info["files"] == files:
            return info["messages"], info["bytes"]
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    base = _lines_of_captures()
    per_file = -(-messages // files)
    written = size = 0
    rep = 0
    for n in range(files):
        with (directory / f"evse-{n:02d}.log").open("w") as f:
            in_file = 0
            while in_file < per_file and written < messages:
                shift = rep * DAY
                rep += 1
                for t, direction, hexdata in base:
                    if in_file >= per_file or written >= messages:
                        break
                    when = datetime.fromtimestamp(t + shift, tz=timezone.utc)
                    line = f"{when.isoformat(timespec='microseconds')} {direction} {hexdata}\n"
                    f.write(line)
                    size += len(line)
                    in_file += 1
                    written += 1
    marker.write_text(json.dumps({"messages": written, "files": files, "bytes": size}))
    return written, size


def _ok(results: list[TaskResult]) -> tuple[int, int, float, float]:
    """(messages, sessions, task wall seconds, task CPU seconds), summed over tasks."""
    bad = [r for r in results if r.error]
    if bad:
        raise SystemExit(f"{len(bad)} tasks failed, e.g. {bad[0].label}: {bad[0].error}")
    return (sum(r.messages + r.sdp_messages for r in results), sum(r.sessions for r in results),
            sum(r.seconds for r in results), sum(r.cpu_seconds for r in results))


def _load() -> float:
    return os.getloadavg()[0]


def run(kind: str, corpus: Path, chunk_bytes: int) -> dict[str, object]:
    out = Path(tempfile.mkdtemp(prefix=f"export-{kind}-"))
    load_before = round(_load(), 2)
    try:
        startup = 0.0
        if kind == "local":
            workers = 1
            t0 = time.perf_counter()
            tasks, problems = plan([str(corpus)], chunk_bytes=chunk_bytes)
            results = run_local(tasks, str(out), "parquet", lambda r: None)
            seconds = time.perf_counter() - t0
        else:
            from distributed import LocalCluster

            workers = int(kind.removeprefix("dask"))
            s0 = time.perf_counter()
            cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                   dashboard_address=None, silence_logs=logging.ERROR)
            startup = time.perf_counter() - s0
            try:
                t0 = time.perf_counter()
                tasks, problems = plan([str(corpus)], chunk_bytes=chunk_bytes)
                results = run_dask(tasks, str(out), "parquet", lambda r: None,
                                   scheduler=cluster.scheduler_address)
                seconds = time.perf_counter() - t0
            finally:
                cluster.close()
        assert not problems, problems
        messages, sessions, task_s, cpu_s = _ok(results)
        rate = messages / seconds
        return {"run": kind, "workers": workers, "tasks": len(tasks), "messages": messages,
                "sessions": sessions, "seconds": round(seconds, 2),
                "messages_per_s": round(rate), "messages_per_s_per_worker": round(rate / workers),
                "messages_per_cpu_s": round(messages / cpu_s),
                "cpu_share": round(cpu_s / task_s, 2),
                "cluster_startup_s": round(startup, 2), "load_before": load_before,
                "load_after": round(_load(), 2)}
    finally:
        shutil.rmtree(out, ignore_errors=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--messages", type=int, default=1_000_000)
    ap.add_argument("--files", type=int, default=8)
    ap.add_argument("--chunk-mb", type=float, default=16.0)
    ap.add_argument("--corpus", type=Path,
                    default=Path(tempfile.gettempdir()) / "iso15118-export-corpus")
    ap.add_argument("--runs", default="local,dask1,dask2")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    t0 = time.perf_counter()
    lines, size = make_corpus(args.corpus, args.messages, args.files)
    print(f"corpus: {lines:,} messages in {args.files} files, {size / 1e6:.0f} MB "
          f"({args.corpus}; {time.perf_counter() - t0:.1f} s); {os.cpu_count()} CPUs")
    chunk = int(args.chunk_mb * 1024 * 1024)
    rows = []
    for kind in args.runs.split(","):
        row = run(kind, args.corpus, chunk)
        rows.append(row)
        print(f"{row['run']:6} workers={row['workers']} tasks={row['tasks']} "
              f"messages={row['messages']:,} sessions={row['sessions']:,} "
              f"{row['seconds']:.1f} s  {row['messages_per_s']:,} msg/s  "
              f"{row['messages_per_s_per_worker']:,} msg/s/worker  "
              f"{row['messages_per_cpu_s']:,} msg/CPU-s  CPU share {row['cpu_share']}  "
              f"load {row['load_before']}->{row['load_after']}"
              + (f"  (cluster start-up {row['cluster_startup_s']} s, not timed)"
                 if str(row["run"]).startswith("dask") else ""), flush=True)
    by = {r["run"]: r for r in rows}
    if "dask1" in by and "dask2" in by:
        ratio = int(by["dask2"]["messages_per_s"]) / int(by["dask1"]["messages_per_s"])
        print(f"scaling 1 -> 2 workers: x{ratio:.2f}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
