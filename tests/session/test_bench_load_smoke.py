"""benchmarks/bench_session_load.py works: its --quick run (a charger process serving 5
vehicles in another process for 5 s) exits 0 with every session completed on both sides.

A functional check of the benchmark, not a timed test: the figures it measures are
reported, never asserted (they depend on the machine)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_session_load.py"


def _loopback() -> str:
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
        return "::1"
    except OSError:  # a container without IPv6
        return "127.0.0.1"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc for the RSS")
def test_quick_run_completes_every_session_on_both_sides(tmp_path: Path) -> None:
    out = tmp_path / "load.json"
    proc = subprocess.run([sys.executable, str(SCRIPT), "--quick", "--host", _loopback(),
                           "--json", str(out)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    figures = json.loads(out.read_text())
    (vehicles,) = figures["vehicles"]  # one round
    for side in (figures["charger"], vehicles):
        assert side["sessions"] == {"completed": 5, "failed": 0, "reasons": {}}
    assert vehicles["charge_loops"] == {"done": 250, "asked": 250}
    # every response was timed (counted, not judged)
    assert figures["charger"]["response"]["charge_loop"]["n"] == 250
