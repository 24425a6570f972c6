"""Start-up shared by the atheris harnesses in this directory.

Two things make fuzzing this library different from fuzzing plain Python:

* The EXI decoder is a Cython extension. atheris instruments Python bytecode only, so
  without help libFuzzer sees the few Python lines around the decoder and nothing of the
  grammar walk. ``--native`` loads a copy of the extension compiled with clang's
  SanitizerCoverage (``build_native.py``), so libFuzzer gets edge coverage of the core.
  The copy's coverage callbacks are resolved against the libFuzzer inside atheris, which
  is why that library is loaded with ``RTLD_GLOBAL`` before the copy, and why atheris is
  told to use it (``internal_libfuzzer=True``) rather than look for another one.
  ``--native-asan`` loads the AddressSanitizer build instead; there ASan and libFuzzer
  come preloaded together (``LD_PRELOAD``), and atheris finds that libFuzzer itself.
* The harnesses take options of their own (``--protocol``), which must not reach
  libFuzzer: it would read an unknown ``--flag`` as a warning and its value as a corpus
  directory.

The contract every harness checks is the library's: bad input raises
:class:`iso15118.errors.Iso15118Error` (or, from the generic codec,
:class:`exi_codec.errors.ExiError`); anything else escapes the harness and atheris reports
it as a crash with the input that caused it.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import glob
import importlib.machinery
import importlib.util
import json
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import atheris

HERE = Path(__file__).resolve().parent
NATIVE_DIR = HERE / "build" / "native"
NATIVE_ASAN_DIR = HERE / "build" / "native-asan"


def parse_args(add: Callable[[argparse.ArgumentParser], None] | None = None,
               argv: Sequence[str] | None = None) -> tuple[argparse.Namespace, list[str]]:
    """Our options, and the rest of argv (libFuzzer's flags and corpus paths)."""
    ap = argparse.ArgumentParser(add_help=False)
    ap.add_argument("--native", action="store_true",
                    help="load the SanitizerCoverage build of the EXI core (build_native.py)")
    ap.add_argument("--native-asan", action="store_true",
                    help="load the ASan build (build_native.py --asan); needs LD_PRELOAD of "
                    "fuzz/build/native-asan/asan_with_fuzzer.so")
    ap.add_argument("--allow-known", action="store_true",
                    help="tolerate, and count, what the harness documents as known")
    ap.add_argument("--known-log", type=Path,
                    help="where --allow-known writes its counts (JSON), for campaign.py")
    if add is not None:
        add(ap)
    args, rest = ap.parse_known_args(list(sys.argv[1:] if argv is None else argv))
    return args, [sys.argv[0], *rest]


def _load_native_core(asan: bool) -> str:
    """Make the instrumented ``exi_codec._core`` the one every later import gets."""
    directory = NATIVE_ASAN_DIR if asan else NATIVE_DIR
    built = sorted(directory.glob("_core*.so"))
    if not built:
        flag = " --asan" if asan else ""
        raise SystemExit(f"no instrumented core in {directory}: run fuzz/build_native.py{flag}")
    if asan:
        if "asan_with_fuzzer" not in os.environ.get("LD_PRELOAD", ""):
            raise SystemExit(f"--native-asan needs LD_PRELOAD={directory}/asan_with_fuzzer.so")
    else:
        # the copy's coverage callbacks resolve against the libFuzzer inside atheris
        libfuzzer = glob.glob(os.path.join(os.path.dirname(atheris.__file__),
                                           "core_with_libfuzzer*.so"))
        if not libfuzzer:
            raise SystemExit("this atheris has no bundled libFuzzer (core_with_libfuzzer)")
        ctypes.CDLL(libfuzzer[0], mode=os.RTLD_NOW | os.RTLD_GLOBAL)
    path = str(built[-1])
    loader = importlib.machinery.ExtensionFileLoader("exi_codec._core", path)
    spec = importlib.util.spec_from_file_location("exi_codec._core", path, loader=loader)
    if spec is None:
        raise SystemExit(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules["exi_codec._core"] = module
    loader.exec_module(module)
    return path


_known: dict[str, int] = {}


def known(args: argparse.Namespace, finding: str) -> bool:
    """Whether to tolerate an occurrence of a known finding; counts it if so."""
    if not args.allow_known:
        return False
    _known[finding] = _known.get(finding, 0) + 1
    if args.known_log is not None:
        # rewritten on every hit: libFuzzer ends the process without running atexit
        args.known_log.write_text(json.dumps(_known, sort_keys=True))
    return True


@contextlib.contextmanager
def instrumented(args: argparse.Namespace) -> Iterator[None]:
    """Import the library inside this block: Python coverage for iso15118/exi_codec, and
    the native core first when ``--native`` was given."""
    if args.native or args.native_asan:
        core = _load_native_core(args.native_asan)
        print(f"INFO: instrumented EXI core {core}", file=sys.stderr)
    with atheris.instrument_imports(include=["iso15118", "exi_codec"]):
        yield


def fuzz(args: argparse.Namespace, argv: list[str], test_one_input: Callable[[bytes], Any]
         ) -> None:
    """Hand over to libFuzzer (does not return)."""
    if args.native:
        atheris.Setup(argv, test_one_input, internal_libfuzzer=True)
    else:  # with --native-asan the preloaded libFuzzer is found and used
        atheris.Setup(argv, test_one_input)
    atheris.Fuzz()
