"""Our simulators as a test engineer starts them: ``iso15118 secc`` / ``iso15118 evcc`` as
real processes inside a network namespace, and their stdout read back."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from support.netns import in_netns

CLI = [sys.executable, "-m", "iso15118"]


def env() -> dict[str, str]:
    out = dict(os.environ)
    out["PYTHONUNBUFFERED"] = "1"
    return out


def start_charger(namespace: str, interface: str, *args: str,
                  ready_timeout: float = 30) -> subprocess.Popen[str]:
    """``iso15118 secc -i IF ARGS`` in ``namespace``, returned once it says it is ready."""
    proc = subprocess.Popen(in_netns(namespace, *CLI, "secc", "-i", interface, *args),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env())
    assert proc.stderr is not None
    deadline = time.monotonic() + ready_timeout
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if "ready on" in line or not line:
            break
    return proc


def run_vehicle(namespace: str, interface: str, *args: str,
                timeout: float = 90) -> subprocess.CompletedProcess[str]:
    """``iso15118 evcc -i IF ARGS`` in ``namespace``, run to its end."""
    return subprocess.run(in_netns(namespace, *CLI, "evcc", "-i", interface, *args),
                          capture_output=True, text=True, timeout=timeout, env=env())


def names(stdout: str, direction: str | None = None) -> list[str]:
    """Message names of the simulator's lines (``EV->EVSE`` or ``EVSE->EV`` only, if set)."""
    out = []
    for line in stdout.splitlines():
        parts = line.split()
        if len(parts) >= 4 and (direction is None or parts[1] == direction):
            out.append(parts[3])
    return out
