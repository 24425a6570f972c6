"""OCPP 2.1 dynamic control of an ISO 15118-20 session in Dynamic mode (use case K, 2.1).

A 2.1 charging profile of kind ``Dynamic`` gives the EVSE, for the period in force, a
``setpoint`` the EV should follow (negative: discharge), a charging ``limit`` and a
``dischargeLimit`` (negative or zero). The CSMS changes these values without a new profile:

* UpdateDynamicSchedule (CSMS -> station): ``chargingProfileId`` + ``scheduleUpdate``
  (:func:`read_update_dynamic_schedule`);
* PullDynamicScheduleUpdate (station -> CSMS), due ``dynUpdateInterval`` seconds after the
  last update (:func:`pull_dynamic_schedule_update_request`, :func:`pull_due`,
  :func:`read_pull_dynamic_schedule_update_response`).

The profile stays the one source of truth: :func:`apply_schedule_update` writes the
update's values into the profile's period in force (and ``dynUpdateTime``), and
:func:`dynamic_target` evaluates a profile into what -20's dynamic mode carries in the next
ChargeLoopRes (:class:`DynamicTarget`: ``EVSEState.target_power``, the EVSE's maximum
charge and discharge power).

Conversion rules (the A -> W rule is :mod:`.smart_charging`'s):

* an update *replaces* the period's limit / dischargeLimit / setpoint fields it names (with
  their _L2/_L3 companions); fields it leaves out keep their values (assumed: the 2.1
  schema makes every field optional, so an update naming only the setpoint must not lift
  the limit);
* ``setpoint`` (+ setpoint_L2/L3) in W, negative to discharge; without one the EVSE asks
  for as much as the limit allows (``target_power`` = the charge limit);
* ``limit`` caps charging at min(limit, the EVSE's maximum); a negative ``limit`` (2.1
  keeps it for older systems that spelt a discharge limit so) means no charging and that
  discharge limit; ``dischargeLimit`` caps discharging at min(-dischargeLimit, the EVSE's
  discharge maximum);
* the setpoint is clipped into [-discharge cap, charge cap] (2.1: "the overshoot when
  following setpoint must remain within these values");
* reactive power setpoints are not carried (the -20 charger here sends active power only);
* a Dynamic schedule without startSchedule starts when the station receives it (2.1);
  :func:`anchored` writes that instant into the station's copy, so that later periods
  come into force at their times (:func:`next_change` says when to evaluate again).
"""

from __future__ import annotations

import datetime as _dt
import math
from dataclasses import dataclass
from typing import Any

from iso15118.ocpp._json import iso_time, parse_time
from iso15118.ocpp.errors import OcppConversionError
from iso15118.ocpp.schemas import V21, validate
from iso15118.ocpp.smart_charging import ElectricalBasis, _period_watts, _schedule_start

__all__ = [
    "DynamicTarget",
    "anchored",
    "apply_schedule_update",
    "dynamic_target",
    "next_change",
    "pull_due",
    "pull_dynamic_schedule_update_request",
    "read_pull_dynamic_schedule_update_response",
    "read_update_dynamic_schedule",
]

#: the fields of ChargingScheduleUpdateType that a period carries too, by group
_GROUPS = {
    "limit": ("limit", "limit_L2", "limit_L3"),
    "dischargeLimit": ("dischargeLimit", "dischargeLimit_L2", "dischargeLimit_L3"),
    "setpoint": ("setpoint", "setpoint_L2", "setpoint_L3"),
    "setpointReactive": ("setpointReactive", "setpointReactive_L2", "setpointReactive_L3"),
}


@dataclass(frozen=True)
class DynamicTarget:
    """What the EVSE states in -20's dynamic mode: the power it asks for (W, negative:
    discharge; AC: EVSETargetActivePower) and its maximum charge / discharge power (W, both
    >= 0; DC: EVSEMaximumChargePower / EVSEMaximumDischargePower)."""

    target_power: float
    max_charge_power: float
    max_discharge_power: float


def _need_21(version: str, action: str) -> None:
    if version != V21:
        raise OcppConversionError(f"{action} is an OCPP 2.1 message, not {version}")


def read_update_dynamic_schedule(payload: dict[str, Any], version: str = V21
                                 ) -> tuple[int, dict[str, Any]]:
    """UpdateDynamicScheduleRequest -> (chargingProfileId, scheduleUpdate), validated."""
    _need_21(version, "UpdateDynamicSchedule")
    validate("UpdateDynamicScheduleRequest", payload, version)
    return int(payload["chargingProfileId"]), dict(payload["scheduleUpdate"])


def pull_dynamic_schedule_update_request(profile_id: int, version: str = V21
                                         ) -> dict[str, Any]:
    """PullDynamicScheduleUpdateRequest for the Dynamic profile ``profile_id``."""
    _need_21(version, "PullDynamicScheduleUpdate")
    payload = {"chargingProfileId": profile_id}
    validate("PullDynamicScheduleUpdateRequest", payload, version)
    return payload


def read_pull_dynamic_schedule_update_response(payload: dict[str, Any], version: str = V21
                                               ) -> dict[str, Any] | None:
    """The scheduleUpdate of a PullDynamicScheduleUpdateResponse; None when Rejected or
    Accepted without one (nothing changes)."""
    _need_21(version, "PullDynamicScheduleUpdate")
    validate("PullDynamicScheduleUpdateResponse", payload, version)
    if payload["status"] != "Accepted":
        return None
    update = payload.get("scheduleUpdate")
    return dict(update) if update else None


def _period_in_force(profile: dict[str, Any], now: _dt.datetime,
                     transaction_start: _dt.datetime | None = None
                     ) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """(schedule, period) in force now, the first schedule that has one."""
    for schedule in profile["chargingSchedule"]:
        start = _schedule_start(profile, schedule, now, transaction_start)
        elapsed = (now - start).total_seconds()
        if "duration" in schedule and elapsed >= schedule["duration"]:
            continue
        current = None
        for period in sorted(schedule["chargingSchedulePeriod"],
                             key=lambda p: p["startPeriod"]):
            if period["startPeriod"] <= elapsed:
                current = period
        if current is not None:
            return schedule, current
    return None


def apply_schedule_update(profile: dict[str, Any], update: dict[str, Any],
                          now: _dt.datetime) -> dict[str, Any]:
    """A copy of the Dynamic ``profile`` with ``update`` written into its period in force
    and ``dynUpdateTime`` = now. A profile that is not Dynamic, or has no period in force,
    raises :class:`OcppConversionError` (the CSMS gets Rejected)."""
    if profile.get("chargingProfileKind") != "Dynamic":
        raise OcppConversionError(f"chargingProfile {profile.get('id')} is "
                                  f"{profile.get('chargingProfileKind')}, not Dynamic")
    copy: dict[str, Any] = {**profile, "chargingSchedule": [
        {**s, "chargingSchedulePeriod": [dict(p) for p in s["chargingSchedulePeriod"]]}
        for s in profile["chargingSchedule"]]}
    found = _period_in_force(copy, now)
    if found is None:
        raise OcppConversionError(f"chargingProfile {profile['id']}: no period in force")
    _, period = found
    for names in _GROUPS.values():
        if any(n in update for n in names):
            for name in names:
                period.pop(name, None)
                if name in update:
                    period[name] = update[name]
    copy["dynUpdateTime"] = iso_time(now)
    return copy


def _watts(period: dict[str, Any], group: str, unit: str, basis: ElectricalBasis
           ) -> float | None:
    """One group of a period (limit, dischargeLimit, setpoint) in W, by the limit rule."""
    names = _GROUPS[group]
    if names[0] not in period:
        return None
    as_limit = {"limit": period[names[0]]}
    for phase, name in zip(("limit_L2", "limit_L3"), names[1:], strict=True):
        if name in period:
            as_limit[phase] = period[name]
    if "numberPhases" in period:
        as_limit["numberPhases"] = period["numberPhases"]
    return _period_watts(as_limit, unit, basis)


def dynamic_target(profile: dict[str, Any], now: _dt.datetime, *, max_power: float,
                   max_discharge_power: float = 0.0,
                   basis: ElectricalBasis | None = None,
                   transaction_start: _dt.datetime | None = None) -> DynamicTarget | None:
    """The :class:`DynamicTarget` of the profile's period in force (rules in the module
    docstring); None when no period is in force."""
    found = _period_in_force(profile, now, transaction_start)
    if found is None:
        return None
    schedule, period = found
    unit, basis = schedule["chargingRateUnit"], basis or ElectricalBasis()
    charge, discharge = max_power, max_discharge_power
    limit = _watts(period, "limit", unit, basis)
    if limit is not None:
        if limit < 0:  # 2.1: a negative limit is an old spelling of a discharge limit
            charge, discharge = 0.0, min(discharge, -limit)
        else:
            charge = min(charge, limit)
    discharge_limit = _watts(period, "dischargeLimit", unit, basis)
    if discharge_limit is not None:
        discharge = min(discharge, -discharge_limit)
    setpoint = _watts(period, "setpoint", unit, basis)
    target = charge if setpoint is None else max(-discharge, min(charge, setpoint))
    if not all(math.isfinite(v) for v in (target, charge, discharge)):
        raise OcppConversionError(f"chargingProfile {profile['id']}: not a finite power")
    return DynamicTarget(target, charge, max(0.0, discharge))


def anchored(profile: dict[str, Any], received_at: _dt.datetime) -> dict[str, Any]:
    """A copy of a Dynamic ``profile`` whose schedules without startSchedule start at
    ``received_at`` (when the station got it); other profiles are returned as they are."""
    if profile.get("chargingProfileKind") != "Dynamic":
        return profile
    return {**profile, "chargingSchedule": [
        s if "startSchedule" in s else {**s, "startSchedule": iso_time(received_at)}
        for s in profile["chargingSchedule"]]}


def next_change(profile: dict[str, Any], now: _dt.datetime) -> _dt.datetime | None:
    """The next instant after ``now`` at which another period (or none) comes into force:
    a schedule's start, a period's startPeriod, a schedule's end (duration); None when
    nothing changes any more. Recurrences are not unrolled (Dynamic profiles have none)."""
    out: list[_dt.datetime] = []
    for schedule in profile["chargingSchedule"]:
        start = _schedule_start(profile, schedule, now, None)
        offsets = [p["startPeriod"] for p in schedule["chargingSchedulePeriod"]]
        if "duration" in schedule:
            offsets.append(schedule["duration"])
        out += [t for t in (start + _dt.timedelta(seconds=o) for o in [0, *offsets])
                if t > now]
    return min(out, default=None)


def pull_due(profile: dict[str, Any], received_at: _dt.datetime) -> _dt.datetime | None:
    """When the station next sends PullDynamicScheduleUpdate for ``profile``:
    ``dynUpdateInterval`` seconds after the last update (``dynUpdateTime`` when the profile
    has one, else ``received_at``, when the station got the profile or its last update);
    None when the profile asks for no pulls (interval absent or 0)."""
    interval = profile.get("dynUpdateInterval") or 0
    if interval <= 0:
        return None
    last = parse_time(profile["dynUpdateTime"], "dynUpdateTime") \
        if "dynUpdateTime" in profile else received_at
    return last + _dt.timedelta(seconds=interval)
