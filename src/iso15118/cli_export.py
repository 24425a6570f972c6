"""The ``export`` command: captures and logs -> the *messages* and *sessions* tables.

``iso15118 export INPUT... -o OUT [--format parquet|csv|jsonl] [--engine local|dask]
[--workers N] [--scheduler ADDRESS]``. INPUTs are files or directories (searched
recursively): pcap/pcapng captures (``FILE.keylog.txt`` beside one decrypts its TLS),
hex logs (layout detected, or ``--layout``/``--regex``), OCPP JSON logs. OUT receives
``messages/part-*.{parquet,csv,jsonl}`` and ``sessions/part-*``.

stdout: one summary line. stderr: a progress bar (on a terminal only), one
``skipped INPUT: reason`` line per input that could not be read. Exit status 0 when every
input was exported, 1 when some were skipped (the others are still written) or OUT
already holds an export, 2 for usage errors. pyarrow and dask are imported only when the
command runs, so the rest of the CLI starts as fast as before.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from iso15118.cli_style import style_for
from iso15118.errors import Iso15118Error

__all__ = ["add_subparser"]

EXAMPLES = """examples:
  iso15118 export captures/ -o out/                        # Parquet, in this process
  iso15118 export captures/ logs/*.txt -o out/ --engine dask --workers 8
  iso15118 export logs/ -o out/ --engine dask --scheduler tcp://10.0.0.5:8786
  iso15118 export evse.log -o out/ --format csv \\
      --regex '(?P<timestamp>\\S+) .*RX (?P<hex>[0-9a-f]+)'
  duckdb -c "select message, count(*) from 'out/messages/*.parquet' group by 1"

Hex log layouts (detected from the first lines unless --layout/--regex):
  hex          one message per line (V2GTP header optional)
  timestamped  TIMESTAMP DIRECTION HEX   (direction EV->EVSE, EVSE->EV, EV, EVSE)
  csv          header row naming a hex column (hex, exi, payload, data, message)
               and optionally timestamp/time/ts, direction/dir, channel/connector
  regex        --regex with named groups hex, timestamp, direction, channel
A channel (connector) column separates the sessions a log interleaves.
OCPP logs: the EXI of Get15118EVCertificate (exiRequest/exiResponse, base64), 1.6
DataTransfer included. Captures: FILE.keylog.txt beside a capture decrypts its TLS.
"""


def add_subparser(subparsers: Any) -> None:
    """Register ``export`` on the main CLI's subparsers."""
    p = subparsers.add_parser(
        "export", help="captures and logs -> Parquet/CSV/JSONL tables (local or Dask)",
        description="Decode every V2G message of captures and logs into a messages table "
                    "and a sessions table.",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("inputs", nargs="+", metavar="INPUT",
                   help="capture, hex log or OCPP log files, or directories of them")
    p.add_argument("-o", "--output", required=True, metavar="OUT",
                   help="output directory (created; must not hold an export already)")
    p.add_argument("--format", "-f", choices=("parquet", "csv", "jsonl"), default="parquet",
                   help="part files as Parquet (default), CSV or JSON Lines")
    p.add_argument("--engine", choices=("local", "dask"), default="local",
                   help="local: this process; dask: dask.distributed (default local)")
    p.add_argument("--workers", type=int, metavar="N",
                   help="dask: worker processes of the local cluster (default: CPU count)")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="dask: join this scheduler instead of starting a local cluster")
    p.add_argument("--layout", choices=("hex", "timestamped", "csv"),
                   help="layout of hex logs (default: detected per file)")
    p.add_argument("--regex", metavar="PATTERN",
                   help="hex log lines by a regex with named groups hex, timestamp, "
                        "direction, channel")
    p.add_argument("--keylog", "-k", metavar="KEYS",
                   help="NSS key log for the captures (default: FILE.keylog.txt beside each)")
    p.add_argument("--chunk-mb", type=float, default=32.0, metavar="MB",
                   help="hex logs are cut into tasks of about this size (default 32)")
    p.set_defaults(func=_run)


def _usage(message: str) -> int:
    err = style_for(sys.stderr)
    print(err("error:", "red", "bold") + f" {message} (see iso15118 export --help)",
          file=sys.stderr)
    return 2


def _run(args: argparse.Namespace) -> int:
    if args.workers is not None and args.workers < 1:
        return _usage("--workers must be at least 1")
    if args.engine == "local" and (args.workers not in (None, 1) or args.scheduler):
        return _usage("--workers and --scheduler need --engine dask")
    if args.layout and args.regex:
        return _usage("--layout and --regex exclude each other")
    if args.chunk_mb <= 0:
        return _usage("--chunk-mb must be positive")
    try:
        import pyarrow  # noqa: F401
        if args.engine == "dask":
            import distributed  # noqa: F401
    except ImportError as e:
        raise Iso15118Error(f"{e.name} is not installed: pip install 'v2g-iso15118[export]'"
                            ) from None
    from iso15118.export.engines import Progress, run_dask, run_local
    from iso15118.export.layouts import Layout
    from iso15118.export.tasks import plan

    out = Path(args.output)
    if any((out / sub).exists() and any((out / sub).iterdir())
           for sub in ("messages", "sessions")):
        raise Iso15118Error(f"{out} already holds an export; remove it or choose another "
                            "directory")
    try:
        layout = (Layout("regex", pattern=args.regex) if args.regex
                  else Layout(args.layout) if args.layout else None)
    except Iso15118Error as e:  # a regex that does not compile or has no hex group
        return _usage(str(e))
    started = time.perf_counter()
    tasks, problems = plan(args.inputs, layout=layout,
                           chunk_bytes=max(int(args.chunk_mb * 1024 * 1024), 4096),
                           keylog=args.keylog)
    err = style_for(sys.stderr)
    for path, reason in problems:
        print(err(f"skipped {path}: {reason}", "yellow"), file=sys.stderr)
    out.mkdir(parents=True, exist_ok=True)
    progress = Progress(len(tasks))
    try:
        if args.engine == "dask":
            import os

            results = run_dask(tasks, str(out), args.format, progress,
                               workers=args.workers or os.cpu_count() or 1,
                               scheduler=args.scheduler)
        else:
            results = run_local(tasks, str(out), args.format, progress)
    finally:
        progress.close()
    skipped = len(problems)
    for r in results:
        if r.error is not None:
            skipped += 1
            print(err(f"skipped {r.label}: {r.error}", "yellow"), file=sys.stderr)
    seconds = time.perf_counter() - started
    messages = sum(r.messages for r in results)
    print(f"{messages} V2GTP messages, {sum(r.sdp_messages for r in results)} SDP messages, "
          f"{sum(r.sessions for r in results)} sessions, "
          f"{sum(r.undecodable for r in results)} undecodable, {skipped} inputs skipped; "
          f"{args.format} in {out} ({seconds:.1f} s, {args.engine})")
    if not tasks and not problems:
        raise Iso15118Error("no input files found")
    return 1 if skipped else 0
