"""The simulated charger's meter and current in a session that cannot discharge (found by
``iso15118 fuzz-live`` against ``iso15118 secc --energy dc,ac,dc_bpt``: an ISO-2 vehicle
asking for a negative EVTargetCurrent, a valid ``short``, was discharged because the EVSE
*could* do BPT; the meter went below zero and every later CurrentDemandRes carried a
MeterReading an unsignedLong cannot hold, so every later session of that charger failed)."""

from __future__ import annotations

from typing import Any

from session_harness import simulate

from iso15118.messages import iso2
from iso15118.session import EnergyMode, EvccConfig, EVSEState, Outcome
from iso15118.session.simulation import ChargerBehaviour


def _negative_current(step: str, body: Any) -> Any:
    if step == "CurrentDemand":
        body.ev_target_current = iso2.PhysicalValueType(
            multiplier=0, unit=iso2.UnitSymbolType("A"), value=-100)
    return body


def test_an_iso2_vehicle_asking_for_negative_current_is_not_discharged() -> None:
    evse = EVSEState(energy_modes=(EnergyMode.DC_extended,), bidirectional=True)
    run = simulate("iso2", EnergyMode.DC_extended, evse=evse,
                   behaviour=ChargerBehaviour(cable_check_s=0.0),
                   evcc_config=EvccConfig(protocols=("iso2",), loops=5, loop_interval=1.0,
                                          request_hook=_negative_current))
    assert run.secc.ended is not None
    assert run.secc.ended.outcome is Outcome.COMPLETED, run.secc.ended.reason
    assert run.charger.energy_wh >= 0
    assert evse.meter is not None and evse.meter.energy_wh is not None
    assert evse.meter.energy_wh >= 0
