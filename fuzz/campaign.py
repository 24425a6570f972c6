"""Run the harnesses as one campaign and report executions, coverage, time and crashes.

Each harness runs as its own libFuzzer process (``-runs`` and ``-max_total_time`` bound
it), ``--jobs`` of them at a time, niced. The numbers come from libFuzzer's own output:
``stat::number_of_executed_units``, the last ``cov:``/``ft:`` line, and whether it
reported a crash, a timeout (a hang: ``-timeout`` seconds for one input) or running out
of memory (``-rss_limit_mb``). Results go to ``runs/<stamp>/results.json`` and, as a
Markdown table, to stdout.

    python fuzz/campaign.py --runs 2500000 --max-time 3600 --native --jobs 2
    python fuzz/campaign.py --asan --only exi-iso2 exi-din --max-time 600
    python fuzz/campaign.py --quick            # what CI runs: a few seconds per harness

A harness's working corpus is ``corpus/<name>`` (seeded by seed_corpus.py); new inputs
libFuzzer finds are added there, so a later campaign starts where this one ended.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import datetime as _dt
import json
import os
import re
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
EXI_PROTOCOLS = ("apphand", "din", "iso2", "iso20-common", "iso20-ac", "iso20-dc",
                 "iso20-wpt", "iso20-acdp", "xmldsig")


@dataclass
class Harness:
    name: str
    script: str
    options: list[str] = field(default_factory=list)
    max_len: int = 4096
    weight: float = 1.0  # share of --runs (slow harnesses get fewer executions)


HARNESSES = [
    *(Harness(f"exi-{p}", "fuzz_exi.py", ["--protocol", p]) for p in EXI_PROTOCOLS),
    Harness("v2gtp", "fuzz_v2gtp.py", max_len=2048, weight=0.2),
    Harness("sdp", "fuzz_sdp.py", max_len=256),
    Harness("pki", "fuzz_pki.py", max_len=8192, weight=0.2),
]


@dataclass
class Result:
    name: str
    executions: int = 0
    seconds: float = 0.0
    cov: int = 0
    ft: int = 0
    corpus: int = 0
    crashes: int = 0
    hangs: int = 0
    ooms: int = 0
    exit_code: int = 0
    native_pcs: int = 0  # edges instrumented in the native core (0: Python coverage only)
    known: dict[str, int] = field(default_factory=dict)
    artifact: str = ""
    error: str = ""

    @property
    def clean(self) -> bool:
        return self.exit_code == 0 and not (self.crashes or self.hangs or self.ooms)


_STATUS = re.compile(r"^#(\d+)\s+\w+\s+cov: (\d+) ft: (\d+) corp: (\d+)/", re.MULTILINE)


def parse_output(result: Result, text: str) -> None:
    """Fill ``result`` from libFuzzer's stderr."""
    lines = _STATUS.findall(text)
    if lines:
        last = lines[-1]
        result.executions = int(last[0])
        result.cov, result.ft, result.corpus = int(last[1]), int(last[2]), int(last[3])
    pcs = re.search(r"Loaded \d+ modules\s+\((\d+) inline 8-bit counters\)", text)
    if pcs:
        result.native_pcs = int(pcs.group(1))
    stat = re.search(r"stat::number_of_executed_units: (\d+)", text)
    if stat:
        result.executions = int(stat.group(1))
    if "ERROR: libFuzzer: timeout" in text:
        result.hangs += 1
    elif "out-of-memory" in text or "ERROR: libFuzzer: out-of-memory" in text:
        result.ooms += 1
    elif "Uncaught Python exception" in text or "ERROR: libFuzzer: deadly signal" in text \
            or "ERROR: libFuzzer: fuzz target exited" in text \
            or "ERROR: AddressSanitizer" in text:
        result.crashes += 1
    written = re.search(r"Test unit written to (\S+)", text)
    if written:
        result.artifact = written.group(1)
    exc = re.search(r"=== Uncaught Python exception: ===\n(.+)", text)
    if exc:
        result.error = exc.group(1).strip()


def run_one(h: Harness, args: argparse.Namespace, out: Path) -> Result:
    result = Result(h.name)
    corpus = args.corpus / h.name
    corpus.mkdir(parents=True, exist_ok=True)
    workdir = out / h.name
    workdir.mkdir(parents=True, exist_ok=True)
    known_log = workdir / "known.json"
    runs = max(1, int(args.runs * h.weight))
    cmd = ["nice", "-n", str(args.nice), sys.executable, str(HERE / h.script), *h.options,
           "--allow-known", "--known-log", str(known_log)]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep))
    if args.asan and h.name.startswith("exi-"):
        cmd.append("--native-asan")
        env["LD_PRELOAD"] = str(HERE / "build" / "native-asan" / "asan_with_fuzzer.so")
        # Python's own allocations are not leaks worth reporting; a bad read or write is
        env["ASAN_OPTIONS"] = "detect_leaks=0:allocator_may_return_null=1"
        # small objects (the input bytes among them) come from pymalloc's arenas, where
        # ASan cannot see their ends; plain malloc gives every object its redzones
        env["PYTHONMALLOC"] = "malloc"
    elif args.native and h.name.startswith("exi-"):
        cmd.append("--native")
    cmd += [str(corpus), f"-runs={runs}", f"-max_total_time={args.max_time}",
            f"-timeout={args.timeout}", f"-rss_limit_mb={args.rss_limit_mb}",
            f"-max_len={h.max_len}", "-print_final_stats=1",
            f"-artifact_prefix={workdir}/", f"-seed={args.seed}"]
    start = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=workdir,
                          timeout=args.max_time * 3 + 300, check=False)
    result.seconds = round(time.monotonic() - start, 1)
    result.exit_code = proc.returncode
    # atheris prints the uncaught Python exception on stdout, libFuzzer on stderr
    text = proc.stdout + proc.stderr
    (workdir / "log.txt").write_text(text)
    parse_output(result, text)
    if known_log.exists():
        result.known = json.loads(known_log.read_text())
    return result


def table(results: list[Result], wall: float) -> str:
    rows = ["| harness | executions | exec/s | time s | cov | ft | corpus | crashes | hangs "
            "| OOM | known findings hit |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        rate = r.executions / r.seconds if r.seconds else 0
        known = ", ".join(f"{k} {v}" for k, v in sorted(r.known.items())) or "-"
        rows.append(f"| {r.name} | {r.executions:,} | {rate:,.0f} | {r.seconds:,.0f} | "
                    f"{r.cov} | {r.ft} | {r.corpus} | {r.crashes} | {r.hangs} | {r.ooms} | "
                    f"{known} |")
    total = sum(r.executions for r in results)
    rows.append(f"| **total** | **{total:,}** | | {wall:,.0f} (wall) | | | | "
                f"{sum(r.crashes for r in results)} | {sum(r.hangs for r in results)} | "
                f"{sum(r.ooms for r in results)} | |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=1_000_000, help="executions per harness "
                    "(scaled down for the slow ones: v2gtp and pki get a fifth)")
    ap.add_argument("--max-time", type=int, default=600, help="seconds per harness at most")
    ap.add_argument("--jobs", type=int, default=1, help="harnesses at a time")
    ap.add_argument("--only", nargs="*", help="harness names (default: all)")
    ap.add_argument("--native", action="store_true",
                    help="EXI harnesses use the SanitizerCoverage core (build_native.py)")
    ap.add_argument("--asan", action="store_true",
                    help="EXI harnesses use the AddressSanitizer core (build_native.py --asan)")
    ap.add_argument("--quick", action="store_true",
                    help="CI: 4 s per harness, 2 at a time, into a temporary corpus copy")
    ap.add_argument("--corpus", type=Path, default=HERE / "corpus")
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--timeout", type=int, default=10, help="seconds for one input (hang)")
    ap.add_argument("--rss-limit-mb", type=int, default=2048)
    ap.add_argument("--nice", type=int, default=10)
    ap.add_argument("--seed", type=int, default=15118)
    args = ap.parse_args(argv)
    if args.quick:
        args.max_time = min(args.max_time, 4)
        args.jobs = max(args.jobs, 2)
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    out = args.out or HERE / "runs" / stamp
    out.mkdir(parents=True, exist_ok=True)
    if not any(args.corpus.glob("*/*")):
        subprocess.run([sys.executable, str(HERE / "seed_corpus.py"), "--out",
                        str(args.corpus)], check=True)
    chosen = [h for h in HARNESSES if not args.only or h.name in args.only]
    start = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
        results = list(pool.map(lambda h: run_one(h, args, out), chosen))
    wall = time.monotonic() - start
    (out / "results.json").write_text(json.dumps(
        {"args": {k: str(v) for k, v in vars(args).items()}, "wall_seconds": round(wall, 1),
         "results": [asdict(r) for r in results]}, indent=2))
    print(table(results, wall))
    for r in results:
        if not r.clean:
            print(f"{r.name}: exit {r.exit_code} {r.error} {r.artifact}", file=sys.stderr)
    return 0 if all(r.clean for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
