"""OCPP 2.1 dynamic control end to end: a -20 vehicle in Dynamic mode follows the setpoints
the CSMS sends (SetChargingProfile Dynamic, UpdateDynamicSchedule, PullDynamicScheduleUpdate).

Our EVCC and charger on loopback, the station adapter and a CSMS on the ``ocpp`` package
over a real WebSocket. AC_BPT: the setpoint is the EVSETargetActivePower of the next
AC_ChargeLoopRes the vehicle reads, negative to discharge; DC_BPT: the limits of the next
DC_ChargeLoopRes and the power the (simulated) converter then delivers, negative when the
setpoint asks the vehicle to feed back.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

pytest.importorskip("ocpp")
websockets = pytest.importorskip("websockets")

from ocpp.routing import on  # noqa: E402
from test_station_e2e import make_csms  # noqa: E402

from iso15118.ocpp.smart_charging import ElectricalBasis  # noqa: E402
from iso15118.ocpp.station import ChargingStation, StationEvse  # noqa: E402
from iso15118.session import (  # noqa: E402
    EvccConfig,
    EvccSession,
    EVSEState,
    EVState,
    Outcome,
    SeccConfig,
)
from iso15118.session.events import ChargeLoopStatus  # noqa: E402
from iso15118.session.runner import Charger, EVSEEndpoint, drive  # noqa: E402
from iso15118.session.secc import SeccSession  # noqa: E402
from iso15118.session.simulation import ChargerBehaviour, SimulatedCharger  # noqa: E402
from iso15118.session.values import ControlMode, EnergyMode  # noqa: E402

PROFILE_ID = 21


def make_csms21() -> Any:
    """The tests' 2.1 CSMS, answering PullDynamicScheduleUpdate from a queue of updates."""
    from ocpp.v21 import call_result

    class Csms(make_csms("2.1")):  # type: ignore[misc]
        pulls: list[dict[str, Any]]

        @on("PullDynamicScheduleUpdate")
        def pull(self, charging_profile_id: int, **kw: Any) -> Any:
            self.seen["PullDynamicScheduleUpdate"].append({"id": charging_profile_id})
            if charging_profile_id != PROFILE_ID:
                return call_result.PullDynamicScheduleUpdate(
                    status="Rejected", status_info={"reason_code": "UnknownProfile"})
            if self.pulls:
                return call_result.PullDynamicScheduleUpdate(
                    status="Accepted", schedule_update=self.pulls.pop(0))
            return call_result.PullDynamicScheduleUpdate(status="Accepted")

    return Csms


def dynamic_profile(**period: float) -> dict[str, Any]:
    return {"id": PROFILE_ID, "stack_level": 0, "charging_profile_purpose": "TxProfile",
            "charging_profile_kind": "Dynamic", "dyn_update_interval": 1,
            "charging_schedule": [{"id": 1, "charging_rate_unit": "W",
                                   "charging_schedule_period": [{"start_period": 0,
                                                                 **period}]}]}


async def _session(mode: EnergyMode, steps: Any, *, loops: int, pulls: list[dict[str, Any]],
                   early: bool = False) -> dict[str, Any]:
    """One -20 Dynamic session; ``steps`` run once the transaction charges (``early``:
    before the vehicle connects)."""
    from ocpp.v21 import call

    Csms = make_csms21()
    box: list[Any] = []

    async def on_connect(ws: Any) -> None:
        cp = Csms(ws.request.path.strip("/"), ws, None, set())
        cp.pulls = list(pulls)
        box.append(cp)
        await cp.start()

    server = await websockets.serve(on_connect, "127.0.0.1", 0, subprotocols=["ocpp2.1"])
    port = server.sockets[0].getsockname()[1]
    dc = mode.is_dc
    evse = EVSEState(energy_modes=(mode,), bidirectional=True)
    limit = evse.dc.max_power if dc else evse.ac.max_power
    station = ChargingStation("CS-DYN", [StationEvse(
        1, evse, max_power=limit,
        basis=ElectricalBasis(dc=True, dc_voltage=400.0) if dc else ElectricalBasis())],
        version="2.1")
    await station.connect(f"ws://127.0.0.1:{port}")
    csms = box[0]
    csms.station = station  # for the steps that look at the station's side
    sim = SimulatedCharger(evse, ChargerBehaviour(cable_check_s=0.2, current_ramp_a_per_s=1e4))

    def hardware(session: SeccSession) -> Any:
        sim.attach(session)
        return sim.on_event

    ep = EVSEEndpoint(None, evse, SeccConfig(protocols=("iso20",)), host="::1",
                      application=station.application(1, hardware))
    seen: list[ChargeLoopStatus] = []
    answers: list[Any] = []

    async def wait_for(check: Any) -> None:
        while not seen or not check(seen[-1]):
            await asyncio.sleep(0.01)

    async def csms_side() -> None:
        if not early:
            await csms.charging.wait()
        for step in steps:
            answers.append(await step(csms, call, wait_for))

    driver = asyncio.ensure_future(csms_side())
    if early:
        await driver
    async with Charger([ep]):
        conn = await open_connection_v6(ep)
        ev = EVState(energy_mode=mode, control_mode=ControlMode.DYNAMIC, bidirectional=True,
                     soc=50)
        if not dc:
            ev.max_current, ev.max_voltage, ev.max_power = 32.0, 400.0, 22_000.0
        evcc = EvccSession(ev, EvccConfig(protocols=("iso20",), loops=loops,
                                          loop_interval=0.05))
        ended = await drive(conn, evcc, lambda e, now: seen.append(e)
                            if isinstance(e, ChargeLoopStatus) else None)
        await conn.close()
    done = driver.done()
    driver.cancel()
    await station.close()
    server.close()
    await server.wait_closed()
    return {"ended": ended, "seen": seen, "csms": csms, "station": station, "evcc": evcc,
            "answers": answers, "done": done}


async def open_connection_v6(ep: EVSEEndpoint) -> Any:
    from iso15118.transport import open_connection

    return await open_connection("::1", ep.ports.popitem()[1])


def test_ac_bpt_follows_set_update_and_pulled_setpoints() -> None:
    """AC_BPT Dynamic: 5 kW from SetChargingProfile, -3 kW (discharge) from
    UpdateDynamicSchedule, 2 kW from the PullDynamicScheduleUpdate the station sends
    dynUpdateInterval (1 s) after the update; each is the vehicle's next target power.
    An update for a profile the station does not have is Rejected; an invalid one is a
    FormatViolation naming the field."""
    from ocpp.exceptions import FormatViolationError

    def power(value: float) -> Any:
        return lambda s: s.power == value

    async def set_profile(csms: Any, call: Any, wait_for: Any) -> Any:
        answer = await csms.call(call.SetChargingProfile(evse_id=1, charging_profile=(
            dynamic_profile(limit=11_000, discharge_limit=-11_000, setpoint=5_000))))
        await wait_for(power(5_000))
        return answer.status

    async def update(csms: Any, call: Any, wait_for: Any) -> Any:
        answer = await csms.call(call.UpdateDynamicSchedule(
            charging_profile_id=PROFILE_ID, schedule_update={"setpoint": -3_000}))
        await wait_for(power(-3_000))
        return answer.status

    async def pulled(csms: Any, call: Any, wait_for: Any) -> Any:
        await wait_for(power(2_000))
        return "pulled"

    async def unknown(csms: Any, call: Any, wait_for: Any) -> Any:
        answer = await csms.call(call.UpdateDynamicSchedule(
            charging_profile_id=99, schedule_update={"setpoint": 1_000}))
        return answer.status, answer.status_info["reason_code"]

    async def invalid(csms: Any, call: Any, wait_for: Any) -> Any:
        try:
            await csms.call(call.UpdateDynamicSchedule(
                charging_profile_id=PROFILE_ID, schedule_update={"discharge_limit": 500}),
                suppress=False, skip_schema_validation=True)
        except FormatViolationError as exc:
            return exc.description, csms.station.evses[1].profile
        return None

    out = asyncio.run(asyncio.wait_for(_session(
        EnergyMode.AC_three_phase_core, [set_profile, update, pulled, unknown, invalid],
        loops=120, pulls=[{"setpoint": 2_000}]), 90))
    assert out["ended"].outcome is Outcome.COMPLETED, out["ended"].reason
    assert out["done"], "the vehicle did not follow every setpoint"
    assert out["answers"][:3] == ["Accepted", "Accepted", "pulled"]
    assert out["answers"][3] == ("Rejected", "UnknownProfile")
    message, profile = out["answers"][4]
    assert message == "scheduleUpdate.dischargeLimit: 500 is greater than the maximum of 0.0"
    powers = [s.power for s in out["seen"]]
    # in order: the EVSE's maximum before the profile, then each setpoint
    firsts = [powers.index(p) for p in (5_000, -3_000, 2_000)]
    assert powers[0] > 5_000 and firsts == sorted(firsts)
    pulls = out["csms"].seen["PullDynamicScheduleUpdate"]
    assert pulls and all(p == {"id": PROFILE_ID} for p in pulls)
    assert out["station"].errors == []
    # the profile as the station keeps it: the pulled setpoint in its period, the set
    # limits kept, the update's time
    period = profile["chargingSchedule"][0]["chargingSchedulePeriod"][0]
    assert (period["setpoint"], period["limit"], period["dischargeLimit"]) == \
        (2_000, 11_000, -11_000)
    assert "dynUpdateTime" in profile
    assert out["station"].evses[1].profile is None  # a TxProfile ends with its transaction


def test_dc_bpt_discharges_at_a_negative_setpoint() -> None:
    """DC_BPT Dynamic: UpdateDynamicSchedule with setpoint -8 kW and a 6 kW charge limit:
    the next DC_ChargeLoopRes states 6 kW as the EVSE's maximum charge power and the
    converter feeds back 8 kW, which the vehicle sees as its present power."""

    async def set_profile(csms: Any, call: Any, wait_for: Any) -> Any:
        answer = await csms.call(call.SetChargingProfile(evse_id=1, charging_profile=(
            dynamic_profile(limit=20_000, setpoint=20_000))))
        await wait_for(lambda s: s.power is not None and s.power > 15_000)
        return answer.status

    async def discharge(csms: Any, call: Any, wait_for: Any) -> Any:
        answer = await csms.call(call.UpdateDynamicSchedule(
            charging_profile_id=PROFILE_ID, schedule_update={
                "limit": 6_000, "setpoint": -8_000, "discharge_limit": -10_000}))
        await wait_for(lambda s: s.power is not None and s.power < -7_500)
        return answer.status

    out = asyncio.run(asyncio.wait_for(_session(
        EnergyMode.DC_extended, [set_profile, discharge], loops=80, pulls=[]), 90))
    assert out["ended"].outcome is Outcome.COMPLETED, out["ended"].reason
    assert out["done"] and out["answers"] == ["Accepted", "Accepted"]
    last = out["seen"][-1]
    assert last.power == pytest.approx(-8_000, rel=0.02)
    assert last.evse.max_power == 6_000
    assert out["station"].errors == []
    # the TxProfile ended with the transaction: the next session gets the EVSE's own limits
    after = out["station"].evses[1]
    assert after.profile is None and after.evse.target_power is None
    assert (after.evse.dc.max_power, after.evse.dc.max_discharge_power) == (50_000, 50_000)


def test_a_dynamic_profile_sent_before_the_loop_holds_from_its_first_answer() -> None:
    """Found writing these tests: a Dynamic profile that arrives before the vehicle has
    chosen Dynamic mode (here a TxDefaultProfile for every EVSE, sent before it connects)
    went into schedules only, and the loop asked for the EVSE's maximum. Now the station
    applies it when the vehicle starts charging in Dynamic mode: every ChargeLoopRes asks
    for the setpoint, a discharge."""

    async def set_profile(csms: Any, call: Any, wait_for: Any) -> Any:
        profile = dynamic_profile(limit=11_000, setpoint=-4_000, discharge_limit=-6_000)
        profile["charging_profile_purpose"] = "TxDefaultProfile"
        answer = await csms.call(call.SetChargingProfile(evse_id=0, charging_profile=profile))
        return answer.status

    out = asyncio.run(asyncio.wait_for(_session(
        EnergyMode.AC_three_phase_core, [set_profile], loops=6, pulls=[], early=True), 60))
    assert out["ended"].outcome is Outcome.COMPLETED, out["ended"].reason
    assert out["answers"] == ["Accepted"]
    seen = out["seen"]
    # every AC_ChargeLoopRes asked for the setpoint; the vehicle's draw follows from the
    # second loop on (it sets each request's power from the answer before)
    assert len(seen) >= 3
    assert [s.evse.target_power for s in seen] == [-4_000] * len(seen)
    assert [s.power for s in seen[1:]] == [-4_000] * (len(seen) - 1)
    assert out["station"].errors == []


def test_the_next_period_of_a_dynamic_profile_comes_into_force_on_time() -> None:
    """A Dynamic profile of two periods (5 kW, then -2 kW from 1 s after its arrival): the
    station evaluates it again when the second period starts, without a new message from
    the CSMS, and the vehicle's next target is the discharge."""

    async def set_profile(csms: Any, call: Any, wait_for: Any) -> Any:
        profile = dynamic_profile(limit=11_000, discharge_limit=-6_000, setpoint=5_000)
        del profile["dyn_update_interval"]  # no pulls: only the clock changes the period
        profile["charging_schedule"][0]["charging_schedule_period"].append(
            {"start_period": 1, "setpoint": -2_000, "limit": 11_000,
             "discharge_limit": -6_000})
        answer = await csms.call(call.SetChargingProfile(evse_id=1, charging_profile=profile))
        await wait_for(lambda s: s.evse.target_power == 5_000)
        await wait_for(lambda s: s.evse.target_power == -2_000)
        return answer.status

    out = asyncio.run(asyncio.wait_for(_session(
        EnergyMode.AC_three_phase_core, [set_profile], loops=60, pulls=[]), 60))
    assert out["ended"].outcome is Outcome.COMPLETED, out["ended"].reason
    assert out["done"] and out["answers"] == ["Accepted"]
    targets = [s.evse.target_power for s in out["seen"]]
    first, second = targets.index(5_000), targets.index(-2_000)
    assert first < second and set(targets[second:]) == {-2_000}
    assert out["csms"].seen["PullDynamicScheduleUpdate"] == []
    assert out["station"].errors == []
