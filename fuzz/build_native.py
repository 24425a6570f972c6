"""Build a copy of the EXI core with clang's SanitizerCoverage, for ``--native`` fuzzing.

The regular build (gcc, ``setup.py build_ext``) stays untouched; this writes
``fuzz/build/native/_core<EXT_SUFFIX>`` from the same ``_core.pyx`` with the same Cython
directives. The flags are those of ``-fsanitize=fuzzer-no-link`` minus ``stack-depth``,
whose thread-local counter the libFuzzer inside atheris does not export to extensions:
edge counters with their PC table (coverage), and comparison tracing (so libFuzzer learns
the event codes and lengths the decoder compares against).

    python fuzz/build_native.py [--cc clang-14] [--asan]

``--asan`` adds AddressSanitizer, into ``fuzz/build/native-asan/``, and links the ASan
runtime with clang's libFuzzer into ``asan_with_fuzzer.so`` there (atheris builds the same
library when installed from source; the PyPI wheel does not ship it). Harnesses then run
with ``--native-asan`` under ``LD_PRELOAD`` of that library (campaign.py sets it up);
this needs clang's runtime libraries (Debian: ``libclang-rt-14-dev``).
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
OUT_ASAN = HERE / "build" / "native-asan"
ASAN_RUNTIME = "asan_with_fuzzer.so"
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

    out = OUT_ASAN if args.asan else OUT
    out.mkdir(parents=True, exist_ok=True)
    pyx = out / "_core.pyx"
    shutil.copyfile(ROOT / "src" / "exi_codec" / "_core.pyx", pyx)
    for extra in (ROOT / "src" / "exi_codec").glob("*.pxd"):
        shutil.copyfile(extra, out / extra.name)
    cythonize([str(pyx)], language_level=3, compiler_directives=DIRECTIVES, quiet=True,
              force=True)
    suffix = sysconfig.get_config_var("EXT_SUFFIX")
    target = out / f"_core{suffix}"
    flags = [COVERAGE_FLAGS, "-O1", "-g", "-fno-omit-frame-pointer"]
    if args.asan:
        flags.append("-fsanitize=address")
    cmd = [clang, "-shared", "-fPIC", *flags, f"-I{sysconfig.get_paths()['include']}",
           str(out / "_core.c"), "-o", str(target)]
    print(" ".join(cmd), file=sys.stderr)
    subprocess.run(cmd, check=True)
    if args.asan:
        build_asan_runtime(clang, out)
    print(target)
    return 0


def build_asan_runtime(clang: str, out: Path) -> Path:
    """ASan and libFuzzer in one preloadable library (what atheris builds from source).

    The preload must define libFuzzer's coverage callbacks strongly: ASan's runtime
    has weak stand-ins for them, and a separate libFuzzer loaded later would lose to
    those. ``asan_preinit.o`` is dropped because a shared object may not have a
    ``.preinit_array``.
    """
    resource = subprocess.run([clang, "-print-resource-dir"], capture_output=True, text=True,
                              check=True).stdout.strip()
    lib = Path(resource) / "lib" / "linux"
    needed = [lib / f"libclang_rt.{n}-x86_64.a" for n in ("asan", "asan_cxx", "fuzzer_no_main")]
    missing = [str(p) for p in needed if not p.exists()]
    if missing:
        raise SystemExit(f"missing {missing} (apt-get install libclang-rt-<version>-dev)")
    asan = out / "libasan_nopreinit.a"
    shutil.copyfile(needed[0], asan)
    subprocess.run(["ar", "d", str(asan), "asan_preinit.cpp.o"], check=True)
    target = out / ASAN_RUNTIME
    clangxx = clang.replace("clang", "clang++") if shutil.which(
        clang.replace("clang", "clang++")) else clang
    subprocess.run([clangxx, "-shared", "-o", str(target), "-Wl,--whole-archive", str(asan),
                    str(needed[1]), str(needed[2]), "-Wl,--no-whole-archive", "-lpthread",
                    "-ldl", "-lrt", "-lm", "-lstdc++"], check=True)
    print(target, file=sys.stderr)
    return target


if __name__ == "__main__":
    sys.exit(main())
