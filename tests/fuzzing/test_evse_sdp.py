"""SDP cases as the charger against real vehicles between two network namespaces (SDP is
link-local multicast, which ``lo`` does not carry): ``iso15118 fuzz-live --role evse
--interface IF`` in one namespace, the vehicle in the other.

* our own ``iso15118 evcc``, restarted whenever it exits (a car plugged in again), gives
  no finding on SDP cases, alone or mixed with session cases, and keeps charging;
* planted-fault vehicles (``planted_vehicle.py``) are found and classified: one that
  connects wherever any datagram's port bytes point (``violation``), one that dies on a
  short datagram (``crash`` with ``--target-pid``), one whose discovery stops for good
  on a datagram with a wrong V2GTP length (``liveness``, service ``sdp``).
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fuzz_targets import HERE, env
from support.netns import (
    NetnsPair,
    in_netns,
    netns_pair_or_skip,
)

pytestmark = pytest.mark.netns

CLI = [sys.executable, "-m", "iso15118"]


@pytest.fixture
def link() -> Iterator[NetnsPair]:
    with netns_pair_or_skip() as pair:
        yield pair


def _fuzz(pair: NetnsPair, out: Path, state: str, cases: int, *extra: str, seed: int = 1,
          timeout: float = 120) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    result = subprocess.run(
        in_netns(pair.secc_ns, *CLI, "fuzz-live", "--role", "evse", "--interface",
                 pair.secc_if, "--protocol", "iso2-dc", "--state", state, "--cases",
                 str(cases), "--seed", str(seed), "--out", str(out), "--deadline-ms", "1000",
                 *extra),
        capture_output=True, text=True, timeout=timeout, env=env())
    assert result.returncode in (0, 1), result.stderr
    report = json.loads((out / "report.json").read_text())
    return result, report


class _Evcc:
    """``iso15118 evcc`` in the vehicle namespace, started again whenever it exits."""

    def __init__(self, pair: NetnsPair) -> None:
        self.pair, self.runs, self.completed = pair, 0, 0
        self.stop = threading.Event()
        self.proc: subprocess.Popen[str] | None = None
        self.thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while not self.stop.is_set():
            self.proc = subprocess.Popen(
                in_netns(self.pair.evcc_ns, *CLI, "evcc", "-i", self.pair.evcc_if,
                         "--protocols", "iso2", "--loops", "2"),
                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env())
            self.runs += 1
            self.proc.communicate()
            self.completed += self.proc.returncode == 0  # 0 only after a complete session

    def __enter__(self) -> _Evcc:
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop.set()
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
        self.thread.join(timeout=30)


def _vehicle(pair: NetnsPair, fault: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        in_netns(pair.evcc_ns, sys.executable, str(HERE / "planted_vehicle.py"),
                 "--interface", pair.evcc_if, "--fault", fault),
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env())
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    return proc


def test_our_vehicle_ignores_damaged_answers_and_keeps_charging(link: NetnsPair,
                                                              tmp_path: Path) -> None:
    with _Evcc(link) as evcc:
        started = time.monotonic()
        # seed 6: 11 kinds of damage in 20 cases, port 0, :: and ff02::1 among them
        result, report = _fuzz(link, tmp_path / "sdp", "SDP", 20, seed=6)
        sdp_only = time.monotonic() - started
        result2, mixed = _fuzz(link, tmp_path / "mixed", "SDP,SessionSetup,CurrentDemand,"
                               "PowerDelivery", 12)
        both = time.monotonic() - started
        charged_before = evcc.completed
        # after the campaigns the vehicle still finds a charger and charges
        deadline = time.monotonic() + 20
        check = subprocess.Popen(
            in_netns(link.secc_ns, *CLI, "secc", "-i", link.secc_if, "--sessions", "1"),
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env())
        try:
            while evcc.completed == charged_before and time.monotonic() < deadline:
                time.sleep(0.1)
        finally:
            check.kill()
            check.wait()
    print(f"20 SDP cases in {sdp_only:.1f} s, then 12 mixed in {both - sdp_only:.1f} s; "
          f"vehicle runs {evcc.runs}, complete {evcc.completed}")
    for r, rep, n in ((result, report, 20), (result2, mixed, 12)):
        assert r.returncode == 0, r.stderr
        assert rep["cases_run"] == n and rep["findings"] == [], r.stderr
        assert rep["not_reached"] == 0, r.stderr
        assert r.stdout == ""
    verdicts = report["verdicts"]
    assert isinstance(verdicts, dict)
    # every unusable answer ignored (a process restarted after acting on one cannot be
    # told from a retransmission by its timing: the next test runs our stack in one
    # process for that)
    assert set(verdicts) <= {"sdp-ignore-malformed", "sdp-tolerated"}, verdicts
    assert verdicts.get("sdp-ignore-malformed", 0) >= 10
    assert any(k.startswith(("ev-", "v2gtp-")) for k in mixed["verdicts"])  # type: ignore[union-attr]
    assert evcc.completed > charged_before, "the vehicle no longer charges"


def test_our_discovery_keeps_asking_past_answers_no_connection_can_follow(
        link: NetnsPair, tmp_path: Path) -> None:
    """Our vehicle stack in one process (run_vehicle in a loop, as planted_vehicle.py
    ``none`` runs it): an answer naming port 0, :: or ff02::1 is ignored and the request
    retransmitted 250 ms later, not acted on (a failed connect, then discovery started
    over at once, which the oracle tells apart by the timing: "sdp-retry")."""
    vehicle = _vehicle(link, "none")
    try:
        result, report = _fuzz(link, tmp_path, "SDP", 20, seed=6)
    finally:
        vehicle.kill()
        vehicle.wait()
    assert result.returncode == 0 and report["findings"] == [], result.stderr
    assert set(report["verdicts"]) <= {"sdp-ignore-malformed", "sdp-tolerated"}, \
        report["verdicts"]


def test_a_vehicle_that_trusts_any_datagram_is_a_violation(link: NetnsPair,
                                                           tmp_path: Path) -> None:
    vehicle = _vehicle(link, "trust-any")
    try:
        result, report = _fuzz(link, tmp_path, "SDP", 6)
    finally:
        vehicle.kill()
        vehicle.wait()
    findings = report["findings"]
    assert isinstance(findings, list) and findings, result.stderr
    assert {(f["class"], f["state"], f["layer"]) for f in findings} == \
        {("violation", "SDP", "sdp")}
    assert all(f["rule"] == "sdp-ignore-malformed" for f in findings)
    assert result.returncode == 1
    assert result.stdout.splitlines()[0].startswith("FINDING F001 violation state=SDP "
                                                    "layer=sdp case=")
    first = findings[0]
    assert bytes.fromhex(first["input_hex"])[:2] == b"\x01\xfe" or \
        bytes.fromhex(first["input_hex"])[:1] != b"\x01"
    # the finding replays: the same damage against the same vehicle is taken again
    vehicle = _vehicle(link, "trust-any")
    try:
        replay = subprocess.run(
            in_netns(link.secc_ns, *CLI, "fuzz-live", "--role", "evse", "--interface",
                     link.secc_if, "--out", str(tmp_path / "replay"), "--deadline-ms",
                     "1000", "--replay", first["dir"]),
            capture_output=True, text=True, timeout=60, env=env())
    finally:
        vehicle.kill()
        vehicle.wait()
    assert replay.returncode == 1, replay.stdout + replay.stderr
    assert replay.stdout.startswith("REPRODUCED")


def test_a_vehicle_dying_on_a_short_datagram_is_a_crash(link: NetnsPair,
                                                        tmp_path: Path) -> None:
    vehicle = _vehicle(link, "short-crash")
    try:
        result, report = _fuzz(link, tmp_path, "SDP", 30, "--target-pid", str(vehicle.pid))
    finally:
        vehicle.kill()
        vehicle.wait()
    findings = report["findings"]
    assert isinstance(findings, list) and len(findings) == 1, result.stderr
    crash = findings[0]
    assert (crash["class"], crash["state"], crash["layer"]) == ("crash", "SDP", "sdp")
    assert len(bytes.fromhex(crash["input_hex"])) < 28  # the short datagram did it
    assert report["stopped"] == "the target process exited"
    assert result.returncode == 1


def test_a_vehicle_whose_discovery_dies_is_a_liveness_finding(link: NetnsPair,
                                                              tmp_path: Path) -> None:
    vehicle = _vehicle(link, "sdp-dies")
    try:
        result, report = _fuzz(link, tmp_path, "SDP", 30, "--vehicle-wait", "3")
    finally:
        vehicle.kill()
        vehicle.wait()
    findings = report["findings"]
    assert isinstance(findings, list) and len(findings) == 1, result.stderr
    gone = findings[0]
    assert (gone["class"], gone["state"], gone["layer"], gone["service"]) == \
        ("liveness", "SDP", "sdp", "sdp")
    data = bytes.fromhex(gone["input_hex"])
    assert int.from_bytes(data[4:8], "big") != len(data) - 8  # what stopped it
    assert result.stdout.startswith("FINDING F001 liveness state=SDP layer=sdp case=")
    assert report["stopped"]  # no restart hook on the command line: the campaign ends
