"""Instructions per decode + encode of a message, under callgrind, beside libcbv2g's C.

callgrind counts instructions, not seconds, so the figure repeats for the same build,
inputs and environment, whatever else the machine is doing; wall-clock figures
(``bench_codec.py``) cannot. The child runs with a fixed ``PYTHONHASHSEED``: a new string
hash seed per process moved the count by a few hundred instructions between runs. Each
message is decoded and re-encoded through ``iso15118.codec`` (the path an application
takes) in a child process, ``N`` and ``3 N`` times; the difference divided by ``2 N`` is
the cost of one pair, without start-up.

    python benchmarks/callgrind_codec.py [--iterations 2000] [--src DIR] [--shared ../shared]

``--src`` measures another source tree (with its extension built), e.g. an older commit.
libcbv2g's figure (22,400 instructions for CurrentDemandReq decode + encode) is the one
quoted in issue 12 (callgrind on libcbv2g's C codec); ``../shared/vectors/cbv2g`` has its
wall-clock figures only, so it is not re-measured here.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

C_INSTRUCTIONS = {"iso2_CurrentDemandReq": 22_400}
MESSAGES = ("iso2_CurrentDemandReq", "din_CurrentDemandReq", "iso20_DC_ChargeLoopReq")
PROTOCOL = {"iso2": "iso2", "din": "din", "iso20": "iso20-dc"}

CHILD = """
import json, sys
from iso15118 import codec
name, proto, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
m = {x["name"]: x for x in json.load(open(sys.argv[4]))["messages"]}[name]
data = bytes.fromhex(m["hex"])
dec, enc = codec.decode, codec.encode
enc(dec(data, proto), proto)
for _ in range(n):
    enc(dec(data, proto), proto)
"""


def _instructions(argv: list[str], env: dict[str, str]) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "callgrind.out"
        proc = subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
                               sys.executable, *argv], env=env, capture_output=True, text=True)
        found = re.search(r"Collected : (\d+)", proc.stderr)
        if proc.returncode != 0 or not found:
            raise SystemExit(f"valgrind failed: {proc.stderr[-800:]}")
        return int(found.group(1))


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--iterations", type=int, default=2000)
    ap.add_argument("--src", help="source tree to put first on sys.path")
    ap.add_argument("--shared", default=str(Path(__file__).resolve().parents[1].parent
                                             / "shared"))
    args = ap.parse_args()
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed (apt-get install valgrind)")
    vectors = Path(args.shared) / "vectors" / "cbv2g" / "vectors.json"
    env = dict(os.environ, PYTHONHASHSEED="0")
    if args.src:
        env["PYTHONPATH"] = args.src + os.pathsep + env.get("PYTHONPATH", "")
    n = args.iterations
    print(f"{'message':28} {'instructions/pair':>18} {'libcbv2g C':>11} {'ratio':>6}")
    for name in MESSAGES:
        proto = PROTOCOL[name.split("_", 1)[0]]
        base = ["-c", CHILD, name, proto]
        lo = _instructions([*base, str(n), str(vectors)], env)
        hi = _instructions([*base, str(3 * n), str(vectors)], env)
        per = (hi - lo) / (2 * n)
        c = C_INSTRUCTIONS.get(name)
        ratio = f"{per / c:6.2f}" if c else "     -"
        print(f"{name:28} {per:18,.0f} {c or '-':>11} {ratio}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
