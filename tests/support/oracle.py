"""Find, set up and start the EXI reference oracle (EXIficient) for tests and tools.

Why: the oracle is the ground truth for every encoding test, but it lives outside this
repository (``<repo>/../shared/tools/exi-oracle``, or ``$V2G_SHARED/tools/exi-oracle``) and needs
Java plus a one-off ``setup.sh`` that fills ``$ORACLE_HOME`` (default ``~/.cache/exi-oracle``).
Tests must not fail on machines without it. ``get_oracle()`` therefore returns
``(oracle, "")`` or ``(None, reason)``, and the pytest fixtures turn the reason into a skip.

One JVM is started per process and reused (starting it takes about 0.6 s, a request takes
microseconds to milliseconds). It is closed at interpreter exit.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib.util
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from types import ModuleType
from typing import Any

__all__ = [
    "SCHEMA_FILES",
    "get_oracle",
    "load_oracle_module",
    "oracle_home",
    "repo_root",
    "schemas_dir",
    "shared_dir",
]

#: Oracle schema name -> XSD path relative to the ``schemas/`` directory (same layout here and in
#: the oracle's copy).
SCHEMA_FILES: dict[str, str] = {
    "appHand": "V2G_CI_AppProtocol.xsd",
    "din": "din_spec/V2G_CI_MsgDef.xsd",
    "iso2": "iso15118_2/V2G_CI_MsgDef.xsd",
    "iso20-common": "iso15118_20/V2G_CI_CommonMessages.xsd",
    "iso20-ac": "iso15118_20/V2G_CI_AC.xsd",
    "iso20-dc": "iso15118_20/V2G_CI_DC.xsd",
    "iso20-wpt": "iso15118_20/V2G_CI_WPT.xsd",
    "iso20-acdp": "iso15118_20/V2G_CI_ACDP.xsd",
    "xmldsig": "xmldsig-core-schema.xsd",
}

XMLDSIG_NS = "http://www.w3.org/2000/09/xmldsig#"
_MODULE_NAME = "_v2g_shared_exi_oracle"
_SETUP_TIMEOUT = 900.0

_lock = threading.Lock()
_cached: tuple[Any | None, str] | None = None


def repo_root() -> Path:
    """The repository root (this file is ``<root>/tests/support/oracle.py``)."""
    return Path(__file__).resolve().parents[2]


def schemas_dir() -> Path:
    """The repository's copy of the XSDs."""
    return repo_root() / "schemas"


def shared_dir() -> Path | None:
    """The shared tools directory: ``$V2G_SHARED`` if set, else ``<repo>/../shared``.

    None when neither holds ``tools/exi-oracle/oracle.py``.
    """
    candidates = []
    env = os.environ.get("V2G_SHARED")
    if env:
        candidates.append(Path(env).expanduser())
    candidates.append(repo_root().parent / "shared")
    for cand in candidates:
        if (cand / "tools" / "exi-oracle" / "oracle.py").is_file():
            return cand.resolve()
    return None


def oracle_home() -> Path:
    """Where setup.sh puts the jar, the compiled helper and the XSD copy."""
    env = os.environ.get("ORACLE_HOME")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "exi-oracle"


def _java(tool: str) -> str | None:
    java_home = os.environ.get("JAVA_HOME")
    if java_home:
        path = Path(java_home) / "bin" / tool
        return str(path) if path.exists() else None
    return shutil.which(tool)


def load_oracle_module(shared: Path | None = None) -> ModuleType:
    """Import the shared ``oracle.py`` by path (it is not an installed package)."""
    existing = sys.modules.get(_MODULE_NAME)
    if existing is not None:
        return existing
    shared = shared or shared_dir()
    if shared is None:
        raise FileNotFoundError("shared dir with tools/exi-oracle/oracle.py not found")
    path = shared / "tools" / "exi-oracle" / "oracle.py"
    spec = importlib.util.spec_from_file_location(_MODULE_NAME, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[_MODULE_NAME] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[_MODULE_NAME]
        raise
    return module


def _is_set_up(home: Path) -> bool:
    return all((home / p).exists() for p in ("classes/Oracle.class", "EXICodec.jar", "schemas"))


def _run_setup(shared: Path, home: Path) -> str:
    """Run setup.sh once (serialised by a lock file); returns "" or a failure reason."""
    setup = shared / "tools" / "exi-oracle" / "setup.sh"
    if not setup.is_file():
        return f"{setup} missing"
    if _java("javac") is None:
        return "javac not found (setup.sh needs a JDK >= 11)"
    home.mkdir(parents=True, exist_ok=True)
    lock_path = home.parent / f".{home.name}.setup.lock"
    with open(lock_path, "w") as lock_file:
        with contextlib.suppress(ImportError, OSError):
            import fcntl

            fcntl.flock(lock_file, fcntl.LOCK_EX)  # another process may be setting up
        if _is_set_up(home):
            return ""
        env = dict(os.environ, ORACLE_HOME=str(home))
        try:
            proc = subprocess.run(
                ["bash", str(setup)],
                env=env,
                capture_output=True,
                text=True,
                timeout=_SETUP_TIMEOUT,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return f"setup.sh timed out after {_SETUP_TIMEOUT:.0f} s"
        if proc.returncode != 0 or not _is_set_up(home):
            tail = (proc.stderr or proc.stdout or "")[-800:]
            return f"setup.sh failed (exit {proc.returncode}): {tail}"
    return ""


def _start() -> tuple[Any | None, str]:
    if _java("java") is None:
        return None, "java not found on PATH (or $JAVA_HOME)"
    shared = shared_dir()
    if shared is None:
        return None, (
            "shared tools not found: set V2G_SHARED or put shared/tools/exi-oracle "
            f"next to {repo_root()}"
        )
    home = oracle_home()
    if not _is_set_up(home):
        reason = _run_setup(shared, home)
        if reason:
            return None, reason
    try:
        module = load_oracle_module(shared)
        oracle = module.Oracle(home=home)
        oracle.info()  # starts the JVM and proves it answers
    except Exception as exc:  # any failure means "no oracle", with the reason
        return None, f"oracle did not start: {type(exc).__name__}: {exc}"
    atexit.register(oracle.close)
    return oracle, ""


def get_oracle() -> tuple[Any | None, str]:
    """The process-wide started ``Oracle``, or ``(None, reason)`` when it cannot run."""
    global _cached
    with _lock:
        if _cached is None or (_cached[0] is None and not _cached[1]):
            _cached = _start()
        return _cached
