"""The EV's own charging profile for the CSMS: NotifyEVChargingSchedule (K15/K17 with
ISO 15118-2, K18 with ISO 15118-20).

Call point: the SECC's :class:`~iso15118.session.events.MessageReceived` for
PowerDeliveryReq (ChargeProgress Start or Renegotiate) carries the profile.

Conversion rules: ``timeBase`` is the instant the EV's times count from: -2's
ChargingProfileEntryStart counts from the schedule's time base (the caller's
``time_base``: when ChargeParameterDiscoveryRes gave the EV its schedules, [V2G2-293]),
-20's EVPowerProfile has its own TimeAnchor (seconds since the epoch). One
chargingSchedulePeriod per entry, in W: -2 ChargingProfileEntryStart -> startPeriod,
ChargingProfileEntryMaxPower -> limit, ChargingProfileEntryMaxNumberOfPhasesInUse ->
numberPhases; -20 entries are durations, so startPeriod is their running sum, a
positive Power the limit, a negative one (the EV feeds back) ``dischargeLimit`` with
limit 0 (2.1; 2.0.1 has no discharge and gets limit 0). The chargingSchedule's ``id`` is
the SAScheduleTupleID / SelectedScheduleTupleID the EV follows (1 in dynamic mode, which
selects none); 2.1 also gets ``selectedChargingScheduleId`` and
``powerToleranceAcceptance``.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping
from typing import Any

from iso15118.messages import iso2
from iso15118.messages import iso20_common as common
from iso15118.ocpp._json import iso_time
from iso15118.ocpp.errors import OcppConversionError
from iso15118.ocpp.schemas import V21

__all__ = ["ev_charging_schedule_iso2", "ev_charging_schedule_iso20"]

_MAX_PERIODS = 1024


def _watts(value: Any, name: str) -> float:
    try:
        return float(value)
    except (TypeError, ValueError, ArithmeticError) as exc:
        raise OcppConversionError(f"{name}: {exc}") from None


def ev_charging_schedule_iso2(body: Any, evse_id: int, time_base: _dt.datetime,
                              version: str, schedule_ids: Mapping[int, int] | None = None
                              ) -> dict[str, Any] | None:
    """NotifyEVChargingScheduleRequest from a -2 PowerDeliveryReq (None: no profile).

    ``schedule_ids`` maps tuple IDs back to the CSMS's chargingSchedule ids
    (:func:`iso15118.ocpp.smart_charging.tuple_ids`); without it they are the same."""
    if not isinstance(body, iso2.PowerDeliveryReqType):
        raise OcppConversionError(f"not a -2 PowerDeliveryReq: {type(body).__name__}")
    profile = body.charging_profile
    if profile is None or not profile.profile_entry:
        return None
    periods = []
    for entry in sorted(profile.profile_entry, key=lambda e: e.charging_profile_entry_start):
        period: dict[str, Any] = {
            "startPeriod": entry.charging_profile_entry_start,
            "limit": _watts(entry.charging_profile_entry_max_power,
                            "ChargingProfileEntryMaxPower"),
        }
        phases = entry.charging_profile_entry_max_number_of_phases_in_use
        if isinstance(phases, int):
            period["numberPhases"] = phases
        periods.append(period)
    schedule = {"id": body.sa_schedule_tuple_id, "chargingRateUnit": "W",
                "chargingSchedulePeriod": periods[:_MAX_PERIODS]}
    out: dict[str, Any] = {"timeBase": iso_time(time_base), "evseId": evse_id,
                           "chargingSchedule": schedule}
    if version == V21:
        out["selectedChargingScheduleId"] = (schedule_ids or {}).get(
            body.sa_schedule_tuple_id, body.sa_schedule_tuple_id)
    return out


def ev_charging_schedule_iso20(body: Any, evse_id: int, version: str,
                               schedule_ids: Mapping[int, int] | None = None
                               ) -> dict[str, Any] | None:
    """NotifyEVChargingScheduleRequest from a -20 PowerDeliveryReq (None: no profile)."""
    if not isinstance(body, common.PowerDeliveryReqType):
        raise OcppConversionError(f"not a -20 PowerDeliveryReq: {type(body).__name__}")
    profile = body.ev_power_profile
    if profile is None:
        return None
    entries = profile.ev_power_profile_entries.ev_power_profile_entry or []
    periods = []
    start = 0
    for entry in entries[:_MAX_PERIODS]:
        power = _watts(entry.power, "Power")
        period: dict[str, Any] = {"startPeriod": start, "limit": max(power, 0.0)}
        if power < 0 and version == V21:
            period["dischargeLimit"] = power
        if version == V21:
            for phase in ("l2", "l3"):
                value = getattr(entry, f"power_{phase}", None)
                if value is not None:
                    period[f"limit_{phase.upper()}"] = max(_watts(value, "Power"), 0.0)
        periods.append(period)
        start += entry.duration
    if not periods:
        return None
    scheduled = profile.scheduled_evppt_control_mode
    tuple_id = scheduled.selected_schedule_tuple_id if scheduled is not None else 1
    out: dict[str, Any] = {
        "timeBase": iso_time(_dt.datetime.fromtimestamp(profile.time_anchor, _dt.timezone.utc)),
        "evseId": evse_id,
        "chargingSchedule": {"id": tuple_id, "chargingRateUnit": "W",
                             "chargingSchedulePeriod": periods},
    }
    if version == V21 and scheduled is not None:
        out["selectedChargingScheduleId"] = (schedule_ids or {}).get(tuple_id, tuple_id)
        acceptance = scheduled.power_tolerance_acceptance
        if acceptance is not None:
            out["powerToleranceAcceptance"] = acceptance.value == "PowerToleranceConfirmed"
    return out
