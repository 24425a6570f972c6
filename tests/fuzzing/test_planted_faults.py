"""The fuzzer against a charger with planted faults (``planted_target.py``, a real process
on ::1): each fault is found, classified right and minimised within a stated number of
cases, and a correct charger yields no finding at all."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from fuzz_targets import Planted

from iso15118.fuzzing import Campaign, FindingClass, Layer, Options, Report, Target
from iso15118.fuzzing.driver import run_case

#: the stated budgets: each fault is found within this many cases of the given seed
CRASH_CASES = 90  # seed 11 crashes it at case 82
HANG_CASES = 10
SDP_CASES = 10
LEAK_CASES = 50


def campaign(p: Planted, out: Path, states: tuple[str, ...] | None, cases: int, seed: int,
             **extra: Any) -> Report:
    target = Target("ev", "::1", p.port, deadline=0.5, sdp_port=p.sdp_port)
    options = Options(target, ("iso2-dc",), states, cases, seed, out, rate=1000.0,
                      **extra)

    async def go() -> Report:
        c = Campaign(options)
        await c.setup()
        return await c.run()

    return asyncio.run(go())


def test_a_crash_on_a_field_value_is_found_classified_and_minimised(
        planted: Any, tmp_path: Path) -> None:
    p = planted("crash")
    report = campaign(p, tmp_path, ("CurrentDemand",), CRASH_CASES, 11, target_pid=p.pid,
                      restart=p.restart)
    crashes = [f for f in report.findings if f.cls is FindingClass.CRASH]
    assert len(crashes) == 1, report.summary()
    (crash,) = crashes
    assert crash.state == "CurrentDemand" and crash.layer is Layer.EXI
    assert crash.case.number < CRASH_CASES
    # minimised to steps that still kill it, no more than the case had
    assert 1 <= len(crash.minimised_steps) <= len(crash.case.steps)
    assert set(crash.minimised_steps) <= set(crash.case.steps)
    folder = Path(crash.dir)
    for name in ("case.json", "finding.json", "input.bin", "transcript.json",
                 "session.pcap", "verdict.json"):
        assert (folder / name).exists(), name
    # the minimised case alone kills a fresh target again
    pid = p.start()
    run = asyncio.run(run_case(Target("ev", "::1", p.port, deadline=0.5),
                               crash.case.with_steps(crash.minimised_steps)))
    assert run.reached
    assert p.proc is not None and p.proc.wait(timeout=10) == 70, pid
    # and the only other findings are what a crashing target also shows (none expected)
    assert {f.cls for f in report.findings} == {FindingClass.CRASH}, report.summary()


def test_a_hang_on_an_all_zero_session_id_is_found(planted: Any, tmp_path: Path) -> None:
    p = planted("hang")
    report = campaign(p, tmp_path, ("ChargeParameterDiscovery",), HANG_CASES, 1)
    hangs = [f for f in report.findings if f.cls is FindingClass.HANG]
    assert [(f.state, f.layer, f.case.corpus) for f in hangs] == [
        ("ChargeParameterDiscovery", Layer.SESSION, "CVE-2025-68140")], report.summary()
    assert hangs[0].minimised_steps == hangs[0].case.steps  # one step: already minimal
    assert len(report.findings) == 1, report.summary()


def test_a_silent_sdp_death_is_a_liveness_finding(planted: Any, tmp_path: Path) -> None:
    p = planted("sdp")
    report = campaign(p, tmp_path, ("SDP",), SDP_CASES, 1, restart=p.restart)
    dead = [f for f in report.findings if f.cls is FindingClass.LIVENESS]
    assert dead and all(f.service == "sdp" and f.state == "SDP" and f.layer is Layer.SDP
                        for f in dead), report.summary()
    assert dead[0].case.number < SDP_CASES
    assert {f.cls for f in report.findings} == {FindingClass.LIVENESS}
    assert report.to_json()["findings"][0]["service"] == "sdp"


def test_an_fd_leak_is_found(planted: Any, tmp_path: Path) -> None:
    p = planted("leak")
    report = campaign(p, tmp_path, None, LEAK_CASES, 2, target_pid=p.pid, leak_warmup=10,
                      leak_fd_growth=16)
    leaks = [f for f in report.findings if f.cls is FindingClass.LEAK]
    assert len(leaks) == 1 and leaks[0].extra["resource"] == "fd", report.summary()
    assert leaks[0].case.number < LEAK_CASES
    assert {f.cls for f in report.findings} == {FindingClass.LEAK}, report.summary()


def test_a_correct_charger_yields_no_finding(planted: Any, tmp_path: Path) -> None:
    p = planted("none")
    report = campaign(p, tmp_path, None, 60, 5, target_pid=p.pid)
    assert report.findings == [], report.summary()
    assert report.cases_run == 60
    assert report.not_reached == 0, report.summary()
