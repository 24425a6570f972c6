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


def test_a_watched_vehicle_that_dies_is_a_crash_and_is_restarted(tmp_path: Path) -> None:
    """As the charger, a ``--target-pid`` vehicle that is gone when the next case waits for
    it is a crash (not a vehicle staying away, liveness); the restart hook brings it back
    and the campaign runs to its last case. The watched process stands for the vehicle
    (a ``sleep``), the vehicle itself runs in this event loop and dies with it."""
    import subprocess

    from iso15118.fuzzing import FindingClass

    port = free_port()
    target = Target("evse", "::1", port, deadline=1.0, accept_timeout=3)
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
        if done == 5 and procs[0].poll() is None:  # the first vehicle dies after case 4
            stops[0].set()
            procs[0].kill()
            procs[0].wait()

    async def go() -> Report:
        pid = spawn()
        campaign = Campaign(Options(target, ("iso2-ac",), None, 12, 3, tmp_path, rate=1000.0,
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
    assert [f.cls for f in report.findings] == [FindingClass.CRASH], report.summary()
    assert report.findings[0].case.number == 4  # the case before the one left waiting
    assert report.cases_run == 12 and report.stopped is None, report.summary()
    assert report.restarts >= 1 and len(procs) == 1 + report.restarts
