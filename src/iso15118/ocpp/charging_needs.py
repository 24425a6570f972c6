"""The EV's charging needs for the CSMS: NotifyEVChargingNeedsRequest.

* K15 (2.0.1 and 2.1, DIN 70121 / ISO 15118-2): :func:`charging_needs_iso2` and
  :func:`charging_needs_din` from the EV's ChargeParameterDiscoveryReq.
* K18/K19 and Q (2.1, ISO 15118-20 scheduled and dynamic control, V2X):
  :func:`charging_needs_iso20` from ServiceSelectionReq + ChargeParameterDiscoveryReq +
  ScheduleExchangeReq, as ``v2xChargingParameters`` with ``controlMode`` and
  ``mobilityNeedsMode``.

Conversion rules (each function restates the ones it applies):

* departureTime: the EV sends seconds from now; OCPP wants an instant, so it is
  ``now + DepartureTime`` (``now`` is the caller's, timezone-aware: the session's clock,
  not this module's).
* 2.0.1 integers (A, V, W, Wh): maxima are rounded down, minima up, amounts and
  capacities to the nearest (halves up), so a limit sent to the CSMS is never looser
  than the EV's own. 2.1 carries the numbers as they are.
* 2.1 V2X limits against the EVSE's (the schema's own definitions): a maximum is
  min(EV, EVSE), a minimum max(EV, EVSE), when the EVSE's limits are given.

Call point: the SECC's :class:`~iso15118.session.events.MessageReceived` events carry the
typed requests (``ChargeParameterDiscoveryReq``; for -20 also ``ServiceSelectionReq``
and ``ScheduleExchangeReq``, the last one completing the needs); with ``await_schedules``
the session answers Ongoing until the CSMS's profile arrives.
"""

from __future__ import annotations

import datetime as _dt
import math
from typing import Any

from iso15118.ocpp._json import iso_time, whole
from iso15118.ocpp.errors import OcppConversionError
from iso15118.ocpp.schemas import V21, V201
from iso15118.session.evse_state import ACLimits, DCLimits
from iso15118.session.values import ControlMode, EnergyService

__all__ = [
    "charging_needs_din",
    "charging_needs_iso2",
    "charging_needs_iso20",
    "requested_energy_transfer",
]

#: -2/DIN EnergyTransferMode -> OCPP EnergyTransferModeEnumType (DIN's DC_* all are DC)
_TRANSFER = {
    "AC_single_phase_core": "AC_single_phase",
    "AC_three_phase_core": "AC_three_phase",
    "DC_core": "DC", "DC_extended": "DC", "DC_combo_core": "DC", "DC_unique": "DC",
}
#: -20 energy service -> OCPP 2.1 EnergyTransferModeEnumType (AC: by the connector's phases)
_SERVICE_TRANSFER = {
    EnergyService.DC: "DC", EnergyService.DC_BPT: "DC_BPT", EnergyService.AC_BPT: "AC_BPT",
    EnergyService.DC_ACDP: "DC_ACDP", EnergyService.DC_ACDP_BPT: "DC_ACDP_BPT",
    EnergyService.WPT: "WPT",
}


def _num(value: Any, name: str) -> float | None:
    if value is None:
        return None
    try:
        x = float(value)
    except (TypeError, ValueError, ArithmeticError) as exc:
        raise OcppConversionError(f"{name}: not a number ({exc})") from None
    if not math.isfinite(x):
        raise OcppConversionError(f"{name}: not a finite number")
    return x


def _int_max(x: float) -> int:
    return math.floor(x)


def _int_min(x: float) -> int:
    return math.ceil(x)


def requested_energy_transfer(mode: Any) -> str:
    """OCPP's requestedEnergyTransfer for a -2/DIN EnergyTransferMode (enum or name)."""
    name = getattr(mode, "value", mode)
    try:
        return _TRANSFER[str(name)]
    except KeyError:
        raise OcppConversionError(f"requestedEnergyTransfer: {name!r} has no OCPP "
                                  "counterpart") from None


def _departure(now: _dt.datetime, seconds: Any) -> str | None:
    if seconds is None:
        return None
    if not isinstance(seconds, int) or seconds < 0:
        raise OcppConversionError(f"DepartureTime {seconds!r} is not a number of seconds")
    return iso_time(now + _dt.timedelta(seconds=seconds))


def _dc_parameters(param: Any, version: str) -> dict[str, Any]:
    fields = {
        "evMaxCurrent": (_num(param.ev_maximum_current_limit, "EVMaximumCurrentLimit"), "max"),
        "evMaxVoltage": (_num(param.ev_maximum_voltage_limit, "EVMaximumVoltageLimit"), "max"),
        "evMaxPower": (_num(getattr(param, "ev_maximum_power_limit", None),
                            "EVMaximumPowerLimit"), "max"),
        "evEnergyCapacity": (_num(getattr(param, "ev_energy_capacity", None),
                                  "EVEnergyCapacity"), "amount"),
        "energyAmount": (_num(getattr(param, "ev_energy_request", None), "EVEnergyRequest"),
                         "amount"),
    }
    out: dict[str, Any] = {}
    for key, (value, kind) in fields.items():
        if value is None:
            continue
        if version == V201:
            out[key] = _int_max(value) if kind == "max" else whole(value)
        else:
            out[key] = value
    status = getattr(param, "dc_ev_status", None)
    soc = getattr(status, "evress_soc", None)
    if isinstance(soc, int):
        out["stateOfCharge"] = soc
    for key, attr in (("fullSoC", "full_soc"), ("bulkSoC", "bulk_soc")):
        value = getattr(param, attr, None)
        if isinstance(value, int):
            out[key] = value
    return out


def _ac_parameters(param: Any, version: str) -> dict[str, Any]:
    energy = _num(param.e_amount, "EAmount")
    max_current = _num(param.ev_max_current, "EVMaxCurrent")
    min_current = _num(param.ev_min_current, "EVMinCurrent")
    voltage = _num(param.ev_max_voltage, "EVMaxVoltage")
    assert energy is not None and max_current is not None and min_current is not None \
        and voltage is not None  # required by both schemas, so the decoder gave them
    if version == V201:
        return {"energyAmount": whole(energy), "evMinCurrent": _int_min(min_current),
                "evMaxCurrent": _int_max(max_current), "evMaxVoltage": _int_max(voltage)}
    return {"energyAmount": energy, "evMinCurrent": min_current,
            "evMaxCurrent": max_current, "evMaxVoltage": voltage}


def _needs(body: Any, mode_name: str, param: Any, evse_id: int, now: _dt.datetime,
           version: str, max_tuples: Any) -> dict[str, Any]:
    if version not in (V201, V21):
        raise ValueError(f"OCPP version {version!r}")
    transfer = requested_energy_transfer(mode_name)
    needs: dict[str, Any] = {"requestedEnergyTransfer": transfer}
    if transfer == "DC":
        needs["dcChargingParameters"] = _dc_parameters(param, version)
    else:
        needs["acChargingParameters"] = _ac_parameters(param, version)
    departure = _departure(now, getattr(param, "departure_time", None))
    if departure is not None:
        needs["departureTime"] = departure
    out: dict[str, Any] = {"evseId": evse_id, "chargingNeeds": needs}
    if isinstance(max_tuples, int):
        out["maxScheduleTuples"] = max_tuples
    if version == V21:
        out["timestamp"] = iso_time(now)
    return out


def _charge_parameter(body: Any) -> Any:
    param = body.ev_charge_parameter
    if param is None:
        raise OcppConversionError("ChargeParameterDiscoveryReq carries no EVChargeParameter")
    return param


def charging_needs_iso2(body: Any, evse_id: int, now: _dt.datetime,
                        version: str = V201) -> dict[str, Any]:
    """NotifyEVChargingNeedsRequest from an ISO 15118-2 ChargeParameterDiscoveryReq (K15).

    RequestedEnergyTransferMode -> requestedEnergyTransfer (AC_*_core -> AC_*_phase, DC_*
    -> DC); AC_EVChargeParameter -> acChargingParameters (EAmount -> energyAmount, EVMin/
    MaxCurrent, EVMaxVoltage); DC_EVChargeParameter -> dcChargingParameters (the limits,
    EVEnergyCapacity, EVEnergyRequest -> energyAmount, EVRESSSOC -> stateOfCharge,
    FullSOC, BulkSOC); DepartureTime made absolute; MaxEntriesSAScheduleTuple ->
    maxScheduleTuples. 2.0.1 integers rounded as the module says.
    """
    return _needs(body, getattr(body.requested_energy_transfer_mode, "value",
                                body.requested_energy_transfer_mode),
                  _charge_parameter(body), evse_id, now, version,
                  getattr(body, "max_entries_sa_schedule_tuple", None))


def charging_needs_din(body: Any, evse_id: int, now: _dt.datetime,
                       version: str = V201) -> dict[str, Any]:
    """NotifyEVChargingNeedsRequest from a DIN 70121 ChargeParameterDiscoveryReq (K15).

    As :func:`charging_needs_iso2`, with DIN's EVRequestedEnergyTransferType; DIN has no
    MaxEntriesSAScheduleTuple and no DC DepartureTime (its AC one is made absolute)."""
    return _needs(body, getattr(body.ev_requested_energy_transfer_type, "value",
                                body.ev_requested_energy_transfer_type),
                  _charge_parameter(body), evse_id, now, version, None)


def _lim(ev: float | None, evse: float | None, kind: str) -> float | None:
    if ev is None:
        return None
    if evse is None:
        return ev
    return min(ev, evse) if kind == "max" else max(ev, evse)


def charging_needs_iso20(service_selection: Any, charge_parameters: Any,
                         schedule_exchange: Any, evse_id: int, now: _dt.datetime, *,
                         evse: DCLimits | ACLimits | None = None, ac_phases: int = 3,
                         mobility_needs_mode: str = "EVCC") -> dict[str, Any]:
    """NotifyEVChargingNeedsRequest (OCPP 2.1) from the -20 session (K18/K19, Q).

    Rules: the selected energy service -> requestedEnergyTransfer (AC -> AC_single_phase
    or AC_three_phase by ``ac_phases``, the connector's; AC_BPT, DC, DC_BPT, ... by name);
    the control-mode element of ScheduleExchangeReq -> controlMode (Scheduled_ ->
    ScheduledControl, Dynamic_ -> DynamicControl); ``mobility_needs_mode`` (the EVSE's
    offer in the chosen parameter set, EVCC or EVCC_SECC) is sent with DynamicControl
    only; DepartureTime made absolute; the CPD limits -> v2xChargingParameters
    (EVMaximumChargePower -> maxChargePower, _L2/_L3 per phase, discharge powers,
    DC currents and voltages, TargetSOC -> targetSoC) with max = min(EV, EVSE) and
    min = max(EV, EVSE) against ``evse``; the energy requests of ScheduleExchangeReq ->
    evTargetEnergyRequest, evMin/MaxEnergyRequest, evMin/MaxV2XEnergyRequest;
    MaximumSupportingPoints is not a number of tuples and is not sent.
    """
    selected = service_selection.selected_energy_transfer_service
    try:
        service = EnergyService(selected.service_id)
    except ValueError:
        raise OcppConversionError(f"ServiceID {selected.service_id} is no energy "
                                  "transfer service") from None
    if service is EnergyService.AC:
        transfer = "AC_three_phase" if ac_phases == 3 else (
            "AC_two_phase" if ac_phases == 2 else "AC_single_phase")
    else:
        transfer = _SERVICE_TRANSFER[service]
    scheduled = schedule_exchange.scheduled_se_req_control_mode
    dynamic = schedule_exchange.dynamic_se_req_control_mode
    mode = scheduled if scheduled is not None else dynamic
    if mode is None:
        raise OcppConversionError("ScheduleExchangeReq carries no control mode")
    control = ControlMode.SCHEDULED if scheduled is not None else ControlMode.DYNAMIC
    cpd = (getattr(charge_parameters, "dc_cpd_req_energy_transfer_mode", None)
           or getattr(charge_parameters, "ac_cpd_req_energy_transfer_mode", None))
    if cpd is None:
        raise OcppConversionError("not a -20 AC/DC ChargeParameterDiscoveryReq")
    phase_power = evse.max_current * evse.nominal_voltage if isinstance(evse, ACLimits) \
        else None
    total_power = evse.max_power if evse is not None else None
    v2x: dict[str, Any] = {}

    def put(key: str, attr: str, kind: str, evse_value: float | None) -> None:
        value = _lim(_num(getattr(cpd, attr, None), attr), evse_value, kind)
        if value is not None:
            v2x[key] = value

    per_phase = getattr(cpd, "ev_maximum_charge_power_l2", None) is not None
    put("maxChargePower", "ev_maximum_charge_power", "max",
        phase_power if per_phase else total_power)
    put("maxChargePower_L2", "ev_maximum_charge_power_l2", "max", phase_power)
    put("maxChargePower_L3", "ev_maximum_charge_power_l3", "max", phase_power)
    put("minChargePower", "ev_minimum_charge_power", "min", None)
    put("minChargePower_L2", "ev_minimum_charge_power_l2", "min", None)
    put("minChargePower_L3", "ev_minimum_charge_power_l3", "min", None)
    put("maxDischargePower", "ev_maximum_discharge_power", "max",
        evse.max_discharge_power if evse is not None else None)
    put("maxDischargePower_L2", "ev_maximum_discharge_power_l2", "max", None)
    put("maxDischargePower_L3", "ev_maximum_discharge_power_l3", "max", None)
    put("minDischargePower", "ev_minimum_discharge_power", "min", None)
    put("minDischargePower_L2", "ev_minimum_discharge_power_l2", "min", None)
    put("minDischargePower_L3", "ev_minimum_discharge_power_l3", "min", None)
    put("maxChargeCurrent", "ev_maximum_charge_current", "max",
        evse.max_current if evse is not None else None)
    put("minChargeCurrent", "ev_minimum_charge_current", "min",
        evse.min_current if evse is not None else None)
    put("maxDischargeCurrent", "ev_maximum_discharge_current", "max",
        evse.max_discharge_current if isinstance(evse, DCLimits) else None)
    put("minDischargeCurrent", "ev_minimum_discharge_current", "min", None)
    put("maxVoltage", "ev_maximum_voltage", "max",
        evse.max_voltage if isinstance(evse, DCLimits) else None)
    put("minVoltage", "ev_minimum_voltage", "min",
        evse.min_voltage if isinstance(evse, DCLimits) else None)
    target_soc = getattr(mode, "target_soc", None)
    if target_soc is None:
        target_soc = getattr(cpd, "target_soc", None)
    if isinstance(target_soc, int):
        v2x["targetSoC"] = target_soc
    for key, attr in (("evTargetEnergyRequest", "ev_target_energy_request"),
                      ("evMinEnergyRequest", "ev_minimum_energy_request"),
                      ("evMaxEnergyRequest", "ev_maximum_energy_request"),
                      ("evMinV2XEnergyRequest", "ev_minimum_v2x_energy_request"),
                      ("evMaxV2XEnergyRequest", "ev_maximum_v2x_energy_request")):
        value = _num(getattr(mode, attr, None), attr)
        if value is not None:
            v2x[key] = value
    needs: dict[str, Any] = {
        "requestedEnergyTransfer": transfer,
        "controlMode": "ScheduledControl" if control is ControlMode.SCHEDULED
        else "DynamicControl",
    }
    if v2x:
        needs["v2xChargingParameters"] = v2x
    if control is ControlMode.DYNAMIC:
        needs["mobilityNeedsMode"] = mobility_needs_mode
    departure = _departure(now, getattr(mode, "departure_time", None))
    if departure is not None:
        needs["departureTime"] = departure
    return {"evseId": evse_id, "chargingNeeds": needs, "timestamp": iso_time(now)}
