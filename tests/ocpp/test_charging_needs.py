"""K15 / K18: NotifyEVChargingNeeds from real ChargeParameterDiscoveryReq (DIN vehicles
recorded by pyPLC and the Ioniq investigations, ISO 15118-2 and -20 from the dSPACE test
system) and from constructed edge cases."""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import pytest
from ocpp_vectors import decoded

from iso15118.messages import iso2
from iso15118.messages import iso20_common as common
from iso15118.messages import iso20_dc as dc
from iso15118.ocpp import (
    OcppConversionError,
    charging_needs_din,
    charging_needs_iso2,
    charging_needs_iso20,
)
from iso15118.ocpp._json import whole
from iso15118.session.evse_state import ACLimits, DCLimits

NOW = dt.datetime(2026, 12, 7, 12, 0, 0, tzinfo=dt.timezone.utc)
VERSIONS = ["2.0.1", "2.1"]
Valid = Callable[[str, Any, str], None]


def _cpd(rows: list[dict[str, Any]], protocol: str) -> list[Any]:
    seen, out = set(), []
    for r in rows:
        if r.get("message") == "ChargeParameterDiscoveryReq" and r["protocol"] == protocol \
                and r["hex"] not in seen:
            seen.add(r["hex"])
            out.append(decoded(r))
    return out


@pytest.mark.parametrize("version", VERSIONS)
def test_every_real_din_request(real_rows: list[dict[str, Any]], valid: Valid,
                                version: str) -> None:
    bodies = _cpd(real_rows, "din")
    assert len(bodies) >= 20  # pyPLC, Ioniq, dSPACE
    for body in bodies:
        needs = charging_needs_din(body, 1, NOW, version)
        valid("NotifyEVChargingNeedsRequest", needs, version)
        param = body.ev_charge_parameter
        dcp = needs["chargingNeeds"]["dcChargingParameters"]
        assert needs["chargingNeeds"]["requestedEnergyTransfer"] == "DC"
        max_current = float(param.ev_maximum_current_limit)
        assert dcp["evMaxCurrent"] == (math.floor(max_current) if version == "2.0.1"
                                       else max_current)
        assert dcp["stateOfCharge"] == param.dc_ev_status.evress_soc


@pytest.mark.parametrize("version", VERSIONS)
def test_every_real_iso2_request(real_rows: list[dict[str, Any]], valid: Valid,
                                 version: str) -> None:
    bodies = _cpd(real_rows, "iso2")
    kinds = {type(b.ev_charge_parameter).__name__ for b in bodies}
    assert kinds == {"AC_EVChargeParameterType", "DC_EVChargeParameterType"}
    for body in bodies:
        needs = charging_needs_iso2(body, 2, NOW, version)
        valid("NotifyEVChargingNeedsRequest", needs, version)
        param, cn = body.ev_charge_parameter, needs["chargingNeeds"]
        if isinstance(param, iso2.AC_EVChargeParameterType):
            assert cn["requestedEnergyTransfer"] == "AC_three_phase"
            assert cn["acChargingParameters"]["energyAmount"] == (
                whole(float(param.e_amount)) if version == "2.0.1" else float(param.e_amount))
        else:
            assert cn["requestedEnergyTransfer"] == "DC"
        if param.departure_time is not None:
            assert cn["departureTime"] == (NOW + dt.timedelta(
                seconds=param.departure_time)).strftime("%Y-%m-%dT%H:%M:%SZ")
        if body.max_entries_sa_schedule_tuple is not None:
            assert needs["maxScheduleTuples"] == body.max_entries_sa_schedule_tuple
        assert ("timestamp" in needs) == (version == "2.1")


def _pv(value: float, unit: iso2.UnitSymbolType) -> iso2.PhysicalValueType:
    return iso2.PhysicalValueType.from_number(value, unit)


def _ac(max_current: float, min_current: float, energy: float) -> Any:
    return iso2.ChargeParameterDiscoveryReqType(
        requested_energy_transfer_mode=iso2.EnergyTransferModeType.AC_single_phase_core,
        ev_charge_parameter=iso2.AC_EVChargeParameterType(
            departure_time=0, e_amount=_pv(energy, iso2.UnitSymbolType.Wh),
            ev_max_voltage=_pv(400, iso2.UnitSymbolType.V),
            ev_max_current=_pv(max_current, iso2.UnitSymbolType.A),
            ev_min_current=_pv(min_current, iso2.UnitSymbolType.A)))


@pytest.mark.parametrize(("max_current", "min_current", "energy", "expected"), [
    # maxima down, minima up, amounts to the nearest (halves up): never looser than the EV
    (16.0, 6.0, 10000, (16, 6, 10000)),
    (12.5, 5.2, 12.5, (12, 6, 13)),
    (31.9, 0.1, 0.4, (31, 1, 0)),
    (0.0, 0.0, 0.0, (0, 0, 0)),
])
def test_2_0_1_rounding_rule(valid: Valid, max_current: float, min_current: float,
                             energy: float, expected: tuple[int, int, int]) -> None:
    needs = charging_needs_iso2(_ac(max_current, min_current, energy), 1, NOW, "2.0.1")
    valid("NotifyEVChargingNeedsRequest", needs, "2.0.1")
    ac = needs["chargingNeeds"]["acChargingParameters"]
    assert (ac["evMaxCurrent"], ac["evMinCurrent"], ac["energyAmount"]) == expected
    assert needs["chargingNeeds"]["requestedEnergyTransfer"] == "AC_single_phase"
    # DepartureTime 0 is "now", not "no departure time"
    assert needs["chargingNeeds"]["departureTime"] == "2026-12-07T12:00:00Z"
    exact = charging_needs_iso2(_ac(max_current, min_current, energy), 1, NOW, "2.1")
    assert exact["chargingNeeds"]["acChargingParameters"]["evMaxCurrent"] == max_current


def test_departure_time_uses_the_callers_clock() -> None:
    body = _ac(16, 6, 1000)
    body.ev_charge_parameter.departure_time = 7200
    later = NOW + dt.timedelta(days=400)
    needs = charging_needs_iso2(body, 1, later, "2.0.1")
    assert needs["chargingNeeds"]["departureTime"] == "2028-01-11T14:00:00Z"
    with pytest.raises(OcppConversionError, match="timezone"):
        charging_needs_iso2(body, 1, dt.datetime(2026, 1, 1), "2.0.1")


def _iso20_sessions(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    sessions: dict[str, dict[str, Any]] = defaultdict(dict)
    for r in rows:
        if not r["id"].startswith("dsv2gshark"):
            continue
        m = r.get("message")
        if m in ("ServiceSelectionReq", "ScheduleExchangeReq", "DC_ChargeParameterDiscoveryReq",
                 "AC_ChargeParameterDiscoveryReq"):
            for path in [r["source_path"], *r.get("seen_in", [])]:
                sessions[path.split("/")[-1]].setdefault(m.split("_")[-1], decoded(r))
    return {k: v for k, v in sessions.items() if len(v) == 3}


def test_real_iso20_sessions(real_rows: list[dict[str, Any]], valid: Valid) -> None:
    sessions = _iso20_sessions(real_rows)
    assert len(sessions) >= 3
    for name, s in sessions.items():
        needs = charging_needs_iso20(s["ServiceSelectionReq"], s["ChargeParameterDiscoveryReq"],
                                     s["ScheduleExchangeReq"], 1, NOW)
        valid("NotifyEVChargingNeedsRequest", needs, "2.1")
        cn = needs["chargingNeeds"]
        service = s["ServiceSelectionReq"].selected_energy_transfer_service.service_id
        assert cn["requestedEnergyTransfer"] == {2: "DC", 5: "AC_BPT", 6: "DC_BPT"}[service], name
        sched = s["ScheduleExchangeReq"].scheduled_se_req_control_mode
        assert cn["controlMode"] == ("ScheduledControl" if sched is not None
                                     else "DynamicControl")
        assert ("mobilityNeedsMode" in cn) == (sched is None)
        cpd = (getattr(s["ChargeParameterDiscoveryReq"], "dc_cpd_req_energy_transfer_mode", None)
               or s["ChargeParameterDiscoveryReq"].ac_cpd_req_energy_transfer_mode)
        assert cn["v2xChargingParameters"]["maxChargePower"] == float(
            cpd.ev_maximum_charge_power)


def _rn(x: float) -> Any:
    return common.RationalNumberType.from_number(x)


def _dc20(**kw: float) -> Any:
    values = dict(max_power=150_000, min_power=0, max_current=300, min_current=0,
                  max_voltage=920, min_voltage=150, max_dis_power=20_000, max_dis_current=50)
    values.update(kw)
    mode = dc.BPT_DC_CPDReqEnergyTransferModeType(
        ev_maximum_charge_power=_rn(values["max_power"]),
        ev_minimum_charge_power=_rn(values["min_power"]),
        ev_maximum_charge_current=_rn(values["max_current"]),
        ev_minimum_charge_current=_rn(values["min_current"]),
        ev_maximum_voltage=_rn(values["max_voltage"]),
        ev_minimum_voltage=_rn(values["min_voltage"]),
        ev_maximum_discharge_power=_rn(values["max_dis_power"]),
        ev_minimum_discharge_power=_rn(0),
        ev_maximum_discharge_current=_rn(values["max_dis_current"]),
        ev_minimum_discharge_current=_rn(0))
    return dc.DC_ChargeParameterDiscoveryReqType(
        header=dc.MessageHeaderType(session_id=bytes(8), time_stamp=0),
        dc_cpd_req_energy_transfer_mode=mode)


def _selection(service: int) -> Any:
    return common.ServiceSelectionReqType(
        header=common.MessageHeaderType(session_id=bytes(8), time_stamp=0),
        selected_energy_transfer_service=common.SelectedServiceType(service_id=service,
                                                                    parameter_set_id=1))


def _dynamic(departure: int) -> Any:
    return common.ScheduleExchangeReqType(
        header=common.MessageHeaderType(session_id=bytes(8), time_stamp=0),
        maximum_supporting_points=1024,
        dynamic_se_req_control_mode=common.Dynamic_SEReqControlModeType(
            departure_time=departure, target_soc=80,
            ev_target_energy_request=_rn(40_000), ev_maximum_energy_request=_rn(60_000),
            ev_minimum_energy_request=_rn(5_000), ev_maximum_v2x_energy_request=_rn(70_000),
            ev_minimum_v2x_energy_request=_rn(1_000)))


@pytest.mark.parametrize(("evse", "expected"), [
    # without the EVSE's limits the EV's own
    (None, {"maxChargePower": 150_000, "maxChargeCurrent": 300, "maxVoltage": 920,
            "minVoltage": 150, "maxDischargePower": 20_000, "maxDischargeCurrent": 50}),
    # max = min(EV, EVSE), min = max(EV, EVSE)
    (DCLimits(max_power=50_000, max_current=125, max_voltage=500, min_voltage=200,
              max_discharge_power=10_000, max_discharge_current=100),
     {"maxChargePower": 50_000, "maxChargeCurrent": 125, "maxVoltage": 500, "minVoltage": 200,
      "maxDischargePower": 10_000, "maxDischargeCurrent": 50}),
])
def test_v2x_limits_against_the_evse(valid: Valid, evse: DCLimits | None,
                                     expected: dict[str, float]) -> None:
    needs = charging_needs_iso20(_selection(6), _dc20(), _dynamic(3600), 3, NOW, evse=evse,
                                 mobility_needs_mode="EVCC_SECC")
    valid("NotifyEVChargingNeedsRequest", needs, "2.1")
    v2x = needs["chargingNeeds"]["v2xChargingParameters"]
    assert {k: v2x[k] for k in expected} == expected
    assert v2x["targetSoC"] == 80 and v2x["evMinV2XEnergyRequest"] == 1000
    cn = needs["chargingNeeds"]
    assert cn["controlMode"] == "DynamicControl" and cn["mobilityNeedsMode"] == "EVCC_SECC"
    assert cn["departureTime"] == "2026-12-07T13:00:00Z"
    assert cn["requestedEnergyTransfer"] == "DC_BPT"


def test_ac_phases_name_the_transfer(valid: Valid) -> None:
    for phases, name in ((1, "AC_single_phase"), (3, "AC_three_phase")):
        needs = charging_needs_iso20(_selection(1), _dc20(), _dynamic(0), 1, NOW,
                                     evse=ACLimits(), ac_phases=phases)
        assert needs["chargingNeeds"]["requestedEnergyTransfer"] == name


def test_iso20_errors() -> None:
    with pytest.raises(OcppConversionError, match="ServiceID 99"):
        charging_needs_iso20(_selection(99), _dc20(), _dynamic(0), 1, NOW)
    empty = _dynamic(0)
    empty.dynamic_se_req_control_mode = None
    with pytest.raises(OcppConversionError, match="control mode"):
        charging_needs_iso20(_selection(2), _dc20(), empty, 1, NOW)
