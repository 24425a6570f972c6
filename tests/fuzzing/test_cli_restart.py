"""``fuzz-live --restart-cmd``: a target that dies is brought back by a shell command, so
the finding is minimised from the CLI and the campaign goes on to its ``--cases``.

The target is the planted-fault charger (``planted_target.py``) as a real process; the
command is ``restart_planted.py``, which ends the chargers it started before, starts a
new one in the background and prints its pid, the new ``--target-pid``. The fuzzer runs
as a real process too, as a user starts it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fuzz_targets import HERE, Planted, env, free_port
from test_cli_fuzz_live import FINDING, fuzz_live

from iso15118.fuzzing import Case, Target
from iso15118.fuzzing.driver import run_case

#: seed 11 kills the crash charger at case 82 (a facet step and trailing bytes; the
#: facet alone kills it); the campaign must go on after it to case 89
CRASH_SEED, CRASH_CASE, CRASH_CASES = 11, 82, 90
SDP_CASES = 10


class Restarter:
    """The ``--restart-cmd`` of one test and every pid it ever started."""

    def __init__(self, tmp: Path, fault: str) -> None:
        self.pidfile = tmp / "pids"
        self.port = free_port()
        self.sdp_port = free_port(socket.SOCK_DGRAM)
        self.command = shlex.join([
            sys.executable, str(HERE / "restart_planted.py"), "--pidfile", str(self.pidfile),
            "--", "--port", str(self.port), "--sdp-port", str(self.sdp_port),
            "--fault", fault])

    def start(self) -> int:
        """The first target, started by the same command (its last line is the pid)."""
        out = subprocess.run(self.command, shell=True, capture_output=True, text=True,
                             timeout=60, env=env())
        assert out.returncode == 0, out.stderr
        return int(out.stdout.split()[-1])

    def pids(self) -> list[int]:
        return [int(p) for p in self.pidfile.read_text().split()] if \
            self.pidfile.exists() else []

    def stop(self) -> None:
        for pid in self.pids():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


@pytest.fixture
def restarter(tmp_path: Path) -> Iterator[Callable[[str], Restarter]]:
    made: list[Restarter] = []

    def make(fault: str) -> Restarter:
        r = Restarter(tmp_path, fault)
        made.append(r)
        return r

    yield make
    for r in made:
        r.stop()


def _run(r: Restarter, out: Path, *args: str) -> subprocess.CompletedProcess[str]:
    pid = r.start()
    return fuzz_live("--role", "ev", "--address", "::1", "--port", str(r.port),
                     "--sdp-port", str(r.sdp_port), "--protocol", "iso2-dc",
                     "--out", str(out), "--deadline-ms", "500", "--rate", "1000",
                     "--target-pid", str(pid), "--restart-cmd", r.command,
                     "--restart-timeout", "30", *args, timeout=180)


def test_a_crash_is_minimised_and_the_campaign_goes_on(restarter: Callable[[str], Restarter],
                                                       tmp_path: Path) -> None:
    r = restarter("crash")
    out = tmp_path / "run"
    result = _run(r, out, "--state", "CurrentDemand", "--cases", str(CRASH_CASES),
                  "--seed", str(CRASH_SEED))
    assert result.returncode == 1, result.stderr
    lines = result.stdout.splitlines()
    assert [FINDING.match(line).groups()[1:] for line in lines] == [  # type: ignore[union-attr]
        ("crash", "CurrentDemand", "exi", str(CRASH_CASE))], result.stdout
    report = json.loads((out / "report.json").read_text())
    assert report["cases_run"] == CRASH_CASES and report["stopped"] is None, result.stderr
    # back once for minimising, once after the rerun that killed it again
    assert report["restarts"] >= 2 and len(r.pids()) == 1 + report["restarts"]
    (crash,) = report["findings"]
    folder = Path(crash["dir"])
    finding = json.loads((folder / "finding.json").read_text())
    assert len(finding["minimised_mutations"]) < len(finding["mutations"]), finding
    assert crash["minimised_hex"] != crash["input_hex"]
    # the minimised case alone kills a fresh charger again (no rerun against a dead
    # target passed for a reproduction)
    minimal = Case.from_json(json.loads((folder / "minimised.json").read_text()))
    fresh = Planted("crash")
    fresh.start()
    try:
        run = asyncio.run(run_case(Target("ev", "::1", fresh.port, deadline=0.5), minimal))
        assert run.reached
        assert fresh.proc is not None and fresh.proc.wait(timeout=10) == 70
    finally:
        fresh.stop()


def test_a_silent_sdp_death_is_restarted_and_the_campaign_goes_on(
        restarter: Callable[[str], Restarter], tmp_path: Path) -> None:
    r = restarter("sdp")
    out = tmp_path / "run"
    result = _run(r, out, "--state", "SDP", "--cases", str(SDP_CASES), "--seed", "1")
    assert result.returncode == 1, result.stderr
    assert re.fullmatch(r"FINDING F001 liveness state=SDP layer=sdp case=\d+\n",
                        result.stdout), result.stdout
    report = json.loads((out / "report.json").read_text())
    assert report["cases_run"] == SDP_CASES and report["stopped"] is None, result.stderr
    (dead,) = report["findings"]
    assert dead["service"] == "sdp"
    assert report["restarts"] >= 1 and len(r.pids()) == 1 + report["restarts"]
    finding = json.loads((Path(dead["dir"]) / "finding.json").read_text())
    # the first SDP case is the CVE-2025-68137 corpus case: one step, minimal already
    assert 1 <= len(finding["minimised_mutations"]) <= len(finding["mutations"])


def test_without_restart_cmd_a_dead_service_still_ends_the_campaign(
        restarter: Callable[[str], Restarter], tmp_path: Path) -> None:
    r = restarter("sdp")
    pid = r.start()
    out = tmp_path / "run"
    result = fuzz_live("--role", "ev", "--address", "::1", "--port", str(r.port),
                       "--sdp-port", str(r.sdp_port), "--protocol", "iso2-dc",
                       "--state", "SDP", "--cases", str(SDP_CASES), "--seed", "1",
                       "--out", str(out), "--target-pid", str(pid))
    assert result.returncode == 1, result.stderr
    report = json.loads((out / "report.json").read_text())
    (dead,) = report["findings"]
    assert dead["class"] == "liveness" and report["stopped"] == "sdp stopped answering"
    assert report["cases_run"] == 1 and report["restarts"] == 0


def test_a_restart_cmd_that_fails_stops_the_campaign_with_the_reason(
        restarter: Callable[[str], Restarter], tmp_path: Path) -> None:
    r = restarter("sdp")
    pid = r.start()
    out = tmp_path / "run"
    result = fuzz_live("--role", "ev", "--address", "::1", "--port", str(r.port),
                       "--sdp-port", str(r.sdp_port), "--protocol", "iso2-dc",
                       "--state", "SDP", "--cases", "5", "--seed", "1", "--out", str(out),
                       "--target-pid", str(pid), "--restart-cmd", "echo no; exit 3")
    assert result.returncode == 1, result.stderr
    report = json.loads((out / "report.json").read_text())
    assert "exited with status 3" in report["stopped"]
    assert fuzz_live("--role", "ev", "--address", "::1", "--port", "1", "--protocol", "din",
                     "--out", str(out), "--restart-cmd", "true", "--restart-timeout", "0"
                     ).returncode == 2
