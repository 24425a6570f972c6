"""Start-up cost: a fresh interpreter that imports the library and decodes one message.

Each figure is the median wall time of ``--runs`` fresh processes (after one warm-up run
that is not counted, so byte-code caches exist as they do after ``pip install``), with
the peak RSS of the child (``ru_maxrss`` from ``wait4``: at least the RSS after the first
message). Plain interpreter start-up (``python -c pass``) is measured in the same run,
interleaved with the others, so a busy machine shows in both.

    python benchmarks/bench_startup.py [--runs 10] [--src DIR] [--json out.json]

``--src`` puts another source tree first on ``sys.path`` (with its extension built),
e.g. an older commit, to compare before and after on the same machine.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from typing import Any

SETUP_REQ = "809802000000000000000011d018286cb0f5397c00"  # ISO-2 SessionSetupReq

CASES: dict[str, list[str]] = {
    "python -c pass": ["-c", "pass"],
    "import + first ISO-2 decode": [
        "-c", "from iso15118 import codec\n"
              f"codec.decode(bytes.fromhex('{SETUP_REQ}'), 'iso2')"],
    "iso15118 decode <hex> (detected)": ["-m", "iso15118", "decode", SETUP_REQ],
    "iso15118 decode --protocol iso2 -f json": [
        "-m", "iso15118", "decode", "--protocol", "iso2", "-f", "json", SETUP_REQ],
}


def _run(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of one child process."""
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, *argv], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{argv} failed with status {proc.returncode}")
    return wall, usage.ru_maxrss / 1024


def measure(runs: int, src: str | None) -> dict[str, dict[str, Any]]:
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # an installed package has its .pyc files
    if src:
        env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
    for argv in CASES.values():
        _run(argv, env)  # warm-up: byte code written, files in the page cache
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in CASES}
    for _ in range(runs):
        for name, argv in CASES.items():
            samples[name].append(_run(argv, env))
    out = {}
    for name, s in samples.items():
        walls = [w for w, _ in s]
        out[name] = {"median_ms": statistics.median(walls) * 1e3,
                     "min_ms": min(walls) * 1e3, "max_ms": max(walls) * 1e3,
                     "rss_mb": max(r for _, r in s)}
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--src", help="source tree to put first on sys.path")
    ap.add_argument("--json", help="write the figures here too")
    args = ap.parse_args()
    res = measure(args.runs, args.src)
    print(f"{'case':44} {'median ms':>10} {'min':>8} {'max':>8} {'peak RSS MB':>12}")
    for name, r in res.items():
        print(f"{name:44} {r['median_ms']:10.1f} {r['min_ms']:8.1f} {r['max_ms']:8.1f} "
              f"{r['rss_mb']:12.1f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"runs": args.runs, "python": sys.version.split()[0], "results": res},
                      f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
