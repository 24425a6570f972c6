"""The charger role (``--role evse``) against our own vehicle: an :class:`EvccSession`
that connects to the fuzzer again after every session, as a car plugged in again does.
A correct vehicle gives no finding; every case reaches its state."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import pytest
from fuzz_targets import free_port

from iso15118.fuzzing import Campaign, Options, Report, Target
from iso15118.fuzzing.model import PROFILES
from iso15118.fuzzing.profiles import vehicle_for
from iso15118.session import EvccSession
from iso15118.session.runner import drive
from iso15118.transport import TransportError, open_connection


async def _vehicles(port: int, profile: str, stop: asyncio.Event) -> int:
    """Our vehicle, reconnecting after each session until ``stop``; the sessions run."""
    runs = 0
    while not stop.is_set():
        ev, config = vehicle_for(PROFILES[profile])
        config.timeout_scale = 1.0
        try:
            conn = await open_connection("::1", port, connect_timeout=2)
        except TransportError:
            await asyncio.sleep(0.05)
            continue
        runs += 1
        with contextlib.suppress(Exception):
            await drive(conn, EvccSession(ev, config))
        await conn.close()
    return runs


@pytest.mark.parametrize("profile", ["din", "iso2-dc", "iso2-ac", "iso20-dc", "iso20-ac"])
def test_our_vehicle_gives_no_finding(profile: str, tmp_path: Path) -> None:
    port = free_port()
    target = Target("evse", "::1", port, deadline=1.0, accept_timeout=10)
    options = Options(target, (profile,), None, 15, 3, tmp_path, rate=1000.0)

    async def go() -> Report:
        campaign = Campaign(options)
        await campaign.setup()
        stop = asyncio.Event()
        vehicles = asyncio.ensure_future(_vehicles(port, profile, stop))
        try:
            return await campaign.run()
        finally:
            stop.set()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(vehicles, 10)

    report = asyncio.run(go())
    assert report.cases_run == 15
    assert report.findings == [], report.summary()
    assert report.not_reached == 0, report.summary()


@pytest.mark.parametrize("dies", [True, False])
def test_a_watched_vehicle_that_dies_or_stays_away_is_restarted(tmp_path: Path,
                                                                dies: bool) -> None:
    """As the charger, a ``--target-pid`` vehicle that is gone when the next case waits for
    it is a crash (not a vehicle staying away, liveness); one that is alive but does not
    come back is liveness, which is not minimised (each rerun would wait the whole accept
    time). Either way the restart hook brings it back and the campaign runs to its last
    case. The watched process stands for the vehicle (a ``sleep``), the vehicle itself
    runs in this event loop and stops with it."""
    import subprocess

    from iso15118.fuzzing import FindingClass

    port = free_port()
    # a dead vehicle is noticed at once, however long a live one would be waited for
    target = Target("evse", "::1", port, deadline=1.0, accept_timeout=60 if dies else 3)
    # seed 8's cases 4 and 5 have two steps each; the vehicle is stopped after case 4,
    # but one that reconnected at once may still serve case 5
    LAST = 4  # noqa: N806
    procs: list[subprocess.Popen[bytes]] = []
    stops: list[asyncio.Event] = []
    loops: list[asyncio.Future[int]] = []

    def spawn() -> int:
        procs.append(subprocess.Popen(["sleep", "600"]))
        stops.append(asyncio.Event())
        loops.append(asyncio.ensure_future(_vehicles(port, "iso2-ac", stops[-1])))
        return procs[-1].pid

    async def restart() -> int:
        return spawn()

    def on_progress(done: int, _total: int, _findings: int) -> None:
        if done == LAST + 1 and not stops[0].is_set():  # the first vehicle goes
            stops[0].set()
            if dies:
                procs[0].kill()
                procs[0].wait()

    async def go() -> Report:
        pid = spawn()
        campaign = Campaign(Options(target, ("iso2-ac",), None, 12, 8, tmp_path, rate=1000.0,
                                    target_pid=pid, restart=restart,
                                    on_progress=on_progress))
        await campaign.setup()
        try:
            return await campaign.run()
        finally:
            for stop in stops:
                stop.set()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.gather(*loops), 10)

    try:
        report = asyncio.run(go())
    finally:
        for p in procs:
            p.kill()
            p.wait()
    expected = FindingClass.CRASH if dies else FindingClass.LIVENESS
    assert [f.cls for f in report.findings] == [expected], report.summary()
    (finding,) = report.findings
    assert finding.case.number in (LAST, LAST + 1)  # the case before the one left waiting
    assert len(finding.case.steps) == 2
    if not dies:  # no reruns: each would wait the whole accept time
        assert finding.minimised_steps == finding.case.steps
        assert "minimise_reruns" not in finding.extra
    assert report.cases_run == 12 and report.stopped is None, report.summary()
    if dies:
        assert report.elapsed < 30, report.summary()  # not the 60 s accept time
    assert report.restarts >= 1 and len(procs) == 1 + report.restarts
