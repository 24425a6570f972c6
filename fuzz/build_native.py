"""Build a copy of the EXI core with clang's SanitizerCoverage, for ``--native`` fuzzing.

The regular build (gcc, ``setup.py build_ext``) stays untouched; this writes
``fuzz/build/native/_core<EXT_SUFFIX>`` from the same ``_core.pyx`` with the same Cython
directives. The flags are those of ``-fsanitize=fuzzer-no-link`` minus ``stack-depth``,
whose thread-local counter the libFuzzer inside atheris does not export to extensions:
edge counters with their PC table (coverage), and comparison tracing (so libFuzzer learns
the event codes and lengths the decoder compares against).

    python fuzz/build_native.py [--cc clang-14] [--asan]

``--asan`` adds AddressSanitizer. Running that build needs a libFuzzer linked into the
ASan runtime (atheris' ``asan_with_fuzzer.so``, which the PyPI wheel does not ship), so it
is offered for machines that have one; the campaign in README.md used coverage only.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
OUT = HERE / "build" / "native"
COVERAGE_FLAGS = "-fsanitize-coverage=inline-8bit-counters,pc-table,trace-cmp"
# the same directives as setup.py: the fuzzed code must be the shipped code
DIRECTIVES = {"boundscheck": False, "wraparound": True, "cdivision": True,
              "initializedcheck": False}


def find_clang(preferred: str | None) -> str:
    for name in ([preferred] if preferred else []) + ["clang", "clang-18", "clang-17",
                                                      "clang-16", "clang-15", "clang-14"]:
        path = shutil.which(name)
        if path:
            return path
    raise SystemExit("clang not found (apt-get install clang); gcc has no libFuzzer coverage")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cc", help="the clang to use (default: the first one on PATH)")
    ap.add_argument("--asan", action="store_true", help="also AddressSanitizer")
    args = ap.parse_args(argv)
    clang = find_clang(args.cc)
    from Cython.Build import cythonize

    OUT.mkdir(parents=True, exist_ok=True)
    pyx = OUT / "_core.pyx"
    shutil.copyfile(ROOT / "src" / "exi_codec" / "_core.pyx", pyx)
    for extra in (ROOT / "src" / "exi_codec").glob("*.pxd"):
        shutil.copyfile(extra, OUT / extra.name)
    cythonize([str(pyx)], language_level=3, compiler_directives=DIRECTIVES, quiet=True,
              force=True)
    suffix = sysconfig.get_config_var("EXT_SUFFIX")
    target = OUT / f"_core{suffix}"
    flags = [COVERAGE_FLAGS, "-O1", "-g", "-fno-omit-frame-pointer"]
    if args.asan:
        flags.append("-fsanitize=address")
    cmd = [clang, "-shared", "-fPIC", *flags, f"-I{sysconfig.get_paths()['include']}",
           str(OUT / "_core.c"), "-o", str(target)]
    print(" ".join(cmd), file=sys.stderr)
    subprocess.run(cmd, check=True)
    print(target)
    return 0


if __name__ == "__main__":
    sys.exit(main())
