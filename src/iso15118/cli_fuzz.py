"""The ``fuzz`` command of the ``iso15118`` CLI: test input for a device under test.

``iso15118 fuzz --protocol P [-n N] [--seed S] [--mode valid|mutated|lenient]
[--element NAME] [--profile PROFILE] [--v2gtp]`` prints N EXI streams as hex, one per
line, for a test harness to send to a charger or a vehicle:

* ``valid``: schema-valid messages (every message of the protocol in turn, unless
  ``--element`` picks one), from :mod:`iso15118.testing.generate`;
* ``mutated``: those streams damaged at the byte level (truncation, bit flips, inserted
  or deleted bytes, claimed lengths; :mod:`iso15118.testing.mutate`);
* ``lenient``: one facet broken per message and written by the lenient encoder
  (:mod:`iso15118.testing.lenient`): a receiver should refuse these.

The same ``--seed`` prints the same lines, on any machine with the same version; without
one, a seed is chosen and reported on stderr so that a failing run can be repeated. What
was done to each line goes to stderr with ``--explain``, keeping stdout pure hex.
"""

from __future__ import annotations

import argparse
import random
import secrets
import sys
from typing import Any

from iso15118 import protocols
from iso15118.errors import Iso15118Error

__all__ = ["add_subparser", "generate_lines"]

MODES = ("valid", "mutated", "lenient")

EXAMPLES = """examples:
  iso15118 fuzz --protocol iso2 -n 100 --seed 7               # 100 valid ISO-2 messages
  iso15118 fuzz -p din --element CurrentDemandReq --mode mutated -n 1000 --seed 1
  iso15118 fuzz -p iso20-dc --mode lenient --explain -n 20 2> what-was-broken.txt
  iso15118 fuzz -p iso2 --v2gtp -n 10 | xxd -r -p | nc charger 50000
  iso15118 fuzz -p iso2 --list                                 # the message names

every line is one EXI stream in hex (with --v2gtp: with its 8-byte V2GTP header);
the same --seed gives the same lines; without it the seed used is printed on stderr.
"""


def add_subparser(subparsers: Any) -> None:
    """Register ``fuzz`` on the main CLI's subparsers."""
    p = subparsers.add_parser(
        "fuzz", help="generate valid, mutated or facet-breaking messages as hex lines",
        description="Print EXI streams of one protocol as hex lines, for feeding a device "
        "under test: schema-valid messages, byte-level mutations of them, or messages "
        "with a broken facet (lenient encoder).",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--protocol", "-p", required=True,
                   help="one of: " + ", ".join(protocols.PROTOCOLS))
    p.add_argument("-n", "--count", type=int, default=10, help="how many lines (default 10)")
    p.add_argument("--seed", type=int, help="for reproduction (default: random, reported)")
    p.add_argument("--mode", "-m", choices=MODES, default="valid")
    p.add_argument("--element", "-e",
                   help="one message, e.g. CurrentDemandReq (default: all in turn)")
    p.add_argument("--profile", choices=("typical", "boundary", "minimal", "full"),
                   default="typical",
                   help="generator profile: boundary puts values and list lengths on their "
                   "facet bounds, minimal leaves out everything optional, full includes it")
    p.add_argument("--v2gtp", action="store_true", help="prefix each stream with its V2GTP "
                   "header (payload type of the protocol)")
    p.add_argument("--explain", action="store_true",
                   help="say on stderr what each line is (message, mutation, violation)")
    p.add_argument("--list", action="store_true", help="list the protocol's messages and exit")
    p.set_defaults(func=_run)


def generate_lines(protocol: str, count: int, seed: int, *, mode: str = "valid",
                   element: str | None = None, profile: str = "typical",
                   v2gtp: bool = False) -> list[tuple[bytes, str]]:
    """``count`` streams and what each one is; the whole list follows from ``seed``."""
    from iso15118.testing import lenient, mutate
    from iso15118.testing.generate import UngeneratableError, generator_for

    if mode not in MODES:
        raise Iso15118Error(f"mode must be one of {', '.join(MODES)}")
    gen = generator_for(protocol)
    jobs = [gen.find_job(element)] if element else list(gen.jobs)
    rng = random.Random(seed)
    out: list[tuple[bytes, str]] = []
    attempts = 0
    i = 0
    while len(out) < count:
        attempts += 1
        if attempts > 20 * count + 100:
            raise Iso15118Error(f"cannot produce {mode} messages for {element or protocol}")
        job = jobs[i % len(jobs)]
        i += 1
        try:
            doc = gen.generate(job, seed=rng.getrandbits(64), profile=profile)
        except UngeneratableError:
            continue
        what = f"{job.name} seed={doc.seed} profile={profile}"
        if mode == "valid":
            data = doc.to_bytes()
        elif mode == "mutated":
            m = mutate.mutate(doc.to_bytes(), rng)
            data, what = m.data, f"{what}: {m.description}"
        else:
            value, done = lenient.violate(doc.value, protocol, rng, element=doc.element)
            if not done:
                continue  # nothing faceted in this message: the next one
            data = lenient.encode(value, protocol, element=doc.element)
            what = f"{what}: {done[0]}"
        if v2gtp:
            data = _frame(protocol, data)
        out.append((data, what))
    return out


def _frame(protocol: str, data: bytes) -> bytes:
    from iso15118.v2gtp import PAYLOAD_TYPE_PROTOCOLS, PayloadType, encode_frame

    for ptype, name in PAYLOAD_TYPE_PROTOCOLS.items():
        if name == protocol:
            return encode_frame(ptype, data)
    return encode_frame(PayloadType.SAP_ISO2_DIN, data)


def _run(args: argparse.Namespace) -> int:
    protocol = protocols.get(args.protocol).name
    if args.list:
        from iso15118.testing.generate import generator_for

        for job in generator_for(protocol).jobs:
            print(job.name)
        return 0
    if args.count < 0:
        raise Iso15118Error("-n must not be negative")
    seed = args.seed
    if seed is None:
        seed = secrets.randbits(32)
        print(f"seed: {seed} (repeat with --seed {seed})", file=sys.stderr)
    lines = generate_lines(protocol, args.count, seed, mode=args.mode, element=args.element,
                           profile=args.profile, v2gtp=args.v2gtp)
    for n, (data, what) in enumerate(lines):
        print(data.hex())
        if args.explain:
            print(f"{n}: {what}", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m iso15118.cli_fuzz``: this command on its own."""
    ap = argparse.ArgumentParser(prog="iso15118 fuzz")
    sub = ap.add_subparsers(dest="command", required=True)
    add_subparser(sub)
    args = ap.parse_args(["fuzz", *(sys.argv[1:] if argv is None else argv)])
    try:
        return int(args.func(args))
    except Iso15118Error as e:
        print(f"error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
