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
