"""A ``--restart-cmd`` for the fuzzer's tests: starts the planted-fault charger again, in
the background, and prints its pid as the last line (what ``fuzz-live`` reads).

    python restart_planted.py --pidfile FILE -- --port P --sdp-port Q --fault crash

Everything after ``--`` goes to ``planted_target.py``. Like ``systemctl restart``, it
first ends the chargers it started before (listed in ``FILE``) that still run: after a
liveness finding the old process lives on with its TCP port. The new pid is appended to
``FILE``, so that the test ends every charger started this way. The charger's stdout is
read until it says ``ready`` (it writes nothing more), so the pid is printed only once it
serves.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _end(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
            stat = Path(f"/proc/{pid}/stat").read_text()
        except (ProcessLookupError, OSError):
            return
        if stat.rsplit(")", 1)[-1].split()[0] == "Z":  # ended; its parent reaps it
            return
        time.sleep(0.01)


def main() -> int:
    argv = sys.argv[1:]
    split = argv.index("--")
    pidfile = Path(argv[argv.index("--pidfile") + 1])
    if pidfile.exists():
        for pid in pidfile.read_text().split():
            _end(int(pid))
    proc = subprocess.Popen([sys.executable, str(HERE / "planted_target.py"),
                             *argv[split + 1:]],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, start_new_session=True)
    with pidfile.open("a") as f:
        f.write(f"{proc.pid}\n")
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if line.strip() != "ready":
        print(f"planted target did not start: {line!r}", file=sys.stderr)
        return 1
    print(proc.pid, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
