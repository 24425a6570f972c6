"""Mutated streams through every output path a user reads: decode -> XML -> JSON -> summary.

The atheris harnesses check decode and re-encode; this campaign checks what happens next,
where the decoded value meets the XML writer, the JSON writer and the one-line summaries
(``iso15118 decode``, ``pcap``). The contract is the same: a value either renders or raises
``iso15118.Iso15118Error``. It needs no atheris, so it runs anywhere; the mutations are
``iso15118.testing.mutate`` over generated messages, seeded, so a run is reproducible.

    python fuzz/outputs.py [--per-grammar 1000000] [--seed 1] [--only iso2 din]

Prints one line per grammar (inputs, how many decoded, non-library exceptions) and, for
each distinct failure, the first input (hex) and its traceback; exits 1 if any.
"""

from __future__ import annotations

import argparse
import collections
import random
import sys
import time
import traceback

from iso15118 import codec, protocols
from iso15118.errors import Iso15118Error
from iso15118.testing.generate import generator_for
from iso15118.testing.mutate import mutate
from iso15118.testing.outputs import render_paths


def run(protocol: str, count: int, seed: int, failures: dict) -> tuple[int, int, int]:
    gen = generator_for(protocol)
    seeds = [codec.encode(d.value, protocol, element=d.element)
             for d in gen.generate_many(64, seed=seed)]
    rng = random.Random(f"{protocol}:{seed}")
    decoded = bad = 0
    for _ in range(count):
        data = mutate(rng.choice(seeds), rng).data
        try:
            element, value = codec.decode_element(data, protocol)
        except Iso15118Error:
            continue
        decoded += 1
        for name, render in render_paths(protocol, element, value):
            try:
                render()
            except Iso15118Error:
                pass
            except Exception as e:  # noqa: BLE001 (what the campaign looks for)
                bad += 1
                key = (protocol, name, type(e).__name__, str(e)[:80])
                failures.setdefault(key, (data.hex(), traceback.format_exc()))
    return count, decoded, bad


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--per-grammar", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--only", nargs="*")
    args = ap.parse_args()
    failures: dict = collections.OrderedDict()
    total_bad = 0
    for protocol in args.only or list(protocols.PROTOCOLS):
        t0 = time.perf_counter()
        n, decoded, bad = run(protocol, args.per_grammar, args.seed, failures)
        total_bad += bad
        print(f"{protocol:13} inputs {n:>9,}  decoded {decoded:>9,}  non-library exceptions "
              f"{bad}  ({time.perf_counter() - t0:.0f} s)", flush=True)
    for (protocol, path, kind, msg), (hex_, tb) in failures.items():
        print(f"\n{protocol} {path}: {kind}: {msg}\n  input {hex_}\n{tb}")
    return 1 if total_bad else 0


if __name__ == "__main__":
    sys.exit(main())
