"""OCPP charging profiles into the EV's schedules: SetChargingProfile -> SAScheduleList /
ScheduleExchangeRes / dynamic setpoints (K15-K17 for -2 and DIN, K18-K20 and K28 for -20).

:func:`schedules_from_profiles` turns the CSMS's TxProfile or TxDefaultProfile (with the
station's own limits: ChargingStationMaxProfile and ChargingStationExternalConstraints)
into at most three :class:`~iso15118.session.values.Schedule` objects, the session's
one representation of an SAScheduleTuple (-2, DIN) and a -20 ScheduleTuple: the session's
dialects encode them (``SeccSession.set_schedules``, ``EVSEState.schedules`` for a
renegotiation). :func:`dynamic_setpoint` gives the power of the period in force for
-20's dynamic control mode (``EVSEState.target_power``).

Conversion rules:

* one Schedule per chargingSchedule (at most three, as -2's SAScheduleList and
  -20's ScheduleTuples allow); its ID is the chargingSchedule's ``id`` when that is
  1..255, else the first free number of 1..255 (IDs stay unique);
* times re-based to "seconds from now": the schedule's start instant is startSchedule
  (Absolute; 2.1 Dynamic; ``now`` without one), the transaction's start (Relative;
  ``now`` without one), or the latest
  recurrence at or before now (Recurring, Daily 86 400 s / Weekly 604 800 s); validFrom /
  validTo cut it; periods that ended are dropped, the one in force starts at 0;
* A to W: ``limit x voltage x phases`` with phases = numberPhases (3 when absent, as
  OCPP says) and the AC nominal voltage; 2.1's per-phase limit_L2/limit_L3 add their
  phases' power; a DC schedule in A needs the DC voltage (the EV's maximum voltage is
  the safe one) and is ``limit x voltage``; W is taken as it is;
* the station's limits: at every instant the smallest of the Tx profile's limit, each
  station-wide profile's limit and ``max_power``;
* coverage ([V2G2-303]/[V2G2-304], -20 likewise): entries run from 0 to the departure
  time (at most :data:`MAX_HORIZON`), or 24 h when the EV gave none; time not covered
  by the Tx profile is at the station's limit (what OCPP applies when a profile ends);
* DIN's PMax is a bare integer (W, no multiplier): values are rounded down to whole
  watts; -2 and -20 carry what their scaled numbers can (the dialects round);
* prices: salesTariff (-2), absolutePriceSchedule / priceLevelSchedule (-20) converted
  by :mod:`iso15118.ocpp.prices`; a signed one (2.1 ``signatureId`` + ``digestValue``)
  must hash to its digest or :class:`OcppConversionError` is raised: the EV checks the
  same digest, so a price schedule that is not byte-exact must never be sent.
"""

from __future__ import annotations

import datetime as _dt
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from iso15118.ocpp._json import parse_time
from iso15118.ocpp.errors import OcppConversionError
from iso15118.ocpp.prices import price_schedule_from
from iso15118.ocpp.schemas import validate
from iso15118.session.values import Schedule, ScheduleEntry

__all__ = [
    "DEFAULT_HORIZON",
    "EV_PURPOSES",
    "STATION_PURPOSES",
    "ElectricalBasis",
    "Segment",
    "dynamic_setpoint",
    "limit_segments",
    "schedules_from_profiles",
    "schedules_from_set_charging_profile",
    "tuple_ids",
]

#: [V2G2-304]: without a departure time the schedule covers 24 h
DEFAULT_HORIZON = 86_400
#: the longest schedule sent: -2's RelativeTimeInterval start is at most 16 777 214 s
#: (about 194 days); an EV's DepartureTime beyond it (the field allows 136 years) is cut
MAX_HORIZON = 16_777_214
#: segments one chargingSchedule may expand to (recurrences included) before it is
#: refused: the EV takes 1024 entries, so more than this could never be sent
_MAX_SEGMENTS = 4 * 1024
EV_PURPOSES = ("TxProfile", "TxDefaultProfile")
STATION_PURPOSES = ("ChargingStationMaxProfile", "ChargingStationExternalConstraints")
_RECURRENCE = {"Daily": 86_400, "Weekly": 604_800}
_MAX_ENTRIES = 1024
_INF = math.inf


@dataclass(frozen=True)
class ElectricalBasis:
    """What turns amperes into watts at this EVSE: the AC nominal voltage and whether
    the supply is DC (then ``dc_voltage`` is the voltage an A limit is multiplied by)."""

    ac_voltage: float = 230.0
    dc: bool = False
    dc_voltage: float | None = None


@dataclass(frozen=True)
class Segment:
    """A limit in W from ``start`` to ``end`` seconds from now (``end`` may be inf)."""

    start: float
    end: float
    limit: float | None  # None: this schedule sets no limit here


def _period_watts(period: dict[str, Any], unit: str, basis: ElectricalBasis) -> float | None:
    limit = period.get("limit")
    if limit is None:
        return None  # 2.1: a period with only a setpoint sets no limit
    if unit == "W":
        return float(limit) + float(period.get("limit_L2", 0)) + float(period.get("limit_L3", 0))
    if basis.dc:
        if basis.dc_voltage is None:
            raise OcppConversionError("chargingRateUnit A on a DC EVSE needs the DC voltage")
        return float(limit) * basis.dc_voltage
    if "limit_L2" in period or "limit_L3" in period:
        amps = float(limit) + float(period.get("limit_L2", 0)) + float(period.get("limit_L3", 0))
        return amps * basis.ac_voltage
    phases = period.get("numberPhases", 3) or 3
    return float(limit) * basis.ac_voltage * phases


def _schedule_start(profile: dict[str, Any], schedule: dict[str, Any], now: _dt.datetime,
                    transaction_start: _dt.datetime | None) -> _dt.datetime:
    kind = profile["chargingProfileKind"]
    where = f"chargingProfile {profile['id']} schedule {schedule['id']}"
    if kind == "Relative":
        return transaction_start or now
    if "startSchedule" not in schedule:
        if kind in ("Absolute", "Dynamic"):
            # OCPP leaves it to the station (2.1 Dynamic: from its arrival); the profile's
            # arrival is the only instant known
            return now
        raise OcppConversionError(f"{where}: a Recurring profile needs startSchedule")
    start = parse_time(schedule["startSchedule"], f"{where} startSchedule")
    if kind == "Recurring":
        period = _RECURRENCE.get(profile.get("recurrencyKind", ""))
        if period is None:
            raise OcppConversionError(f"{where}: Recurring without Daily/Weekly recurrencyKind")
        if start <= now:
            cycles = int((now - start).total_seconds() // period)
            start += _dt.timedelta(seconds=cycles * period)
    return start


def limit_segments(profile: dict[str, Any], schedule: dict[str, Any], now: _dt.datetime,
                   basis: ElectricalBasis, horizon: float,
                   transaction_start: _dt.datetime | None = None) -> list[Segment]:
    """One chargingSchedule as W limits over [0, horizon) seconds from ``now``."""
    start = _schedule_start(profile, schedule, now, transaction_start)
    offset = (start - now).total_seconds()
    unit = schedule["chargingRateUnit"]
    periods = sorted(schedule["chargingSchedulePeriod"], key=lambda p: p["startPeriod"])
    end_of_schedule = offset + schedule["duration"] if "duration" in schedule else _INF
    lo, hi = 0.0, float(horizon)
    if "validFrom" in profile:
        lo = max(lo, (parse_time(profile["validFrom"], "validFrom") - now).total_seconds())
    if "validTo" in profile:
        hi = min(hi, (parse_time(profile["validTo"], "validTo") - now).total_seconds())
    cycle = _RECURRENCE.get(profile.get("recurrencyKind", "")) \
        if profile["chargingProfileKind"] == "Recurring" else None
    out: list[Segment] = []
    base = offset
    while True:
        # a schedule's duration bounds each recurrence of a Recurring one, the whole else
        until = base + min(cycle, schedule.get("duration", cycle)) if cycle else end_of_schedule
        for i, period in enumerate(periods):
            s = base + period["startPeriod"]
            e = base + periods[i + 1]["startPeriod"] if i + 1 < len(periods) else until
            e = min(e, until)
            s, e = max(s, lo), min(e, hi)
            if e > s:
                out.append(Segment(s, e, _period_watts(period, unit, basis)))
        if len(out) > _MAX_SEGMENTS:
            raise OcppConversionError(f"chargingProfile {profile['id']}: more than "
                                      f"{_MAX_SEGMENTS} periods before the departure time; "
                                      "the EV takes at most 1024 entries")
        if cycle is None:
            break
        base += cycle
        if base >= hi:
            break
    return out


def _combine(tx: list[Segment], station: list[list[Segment]], max_power: float,
             horizon: float) -> list[tuple[int, float]]:
    """(start s, W) steps over [0, horizon): the minimum of every limit at each instant.

    One sweep over the sorted cut points with a cursor per timeline (each timeline's
    segments are sorted and do not overlap), so the cost is linear in the segments."""
    timelines = [sorted(tx, key=lambda s: s.start),
                 *(sorted(lst, key=lambda s: s.start) for lst in station)]
    cuts = sorted({0.0, *(x for lst in timelines for seg in lst for x in (seg.start, seg.end)
                          if 0 <= x < horizon)})
    cursors = [0] * len(timelines)
    steps: list[tuple[int, float]] = []
    for t in cuts:
        limits = [max_power]
        for i, lst in enumerate(timelines):
            while cursors[i] < len(lst) and lst[cursors[i]].end <= t:
                cursors[i] += 1
            if cursors[i] < len(lst):
                seg = lst[cursors[i]]
                if seg.start <= t and seg.limit is not None:
                    limits.append(seg.limit)
        watts = max(0.0, min(limits))
        start = int(math.floor(t))
        if steps and steps[-1][1] == watts:
            continue
        if steps and steps[-1][0] == start:
            steps[-1] = (start, watts)
        else:
            steps.append((start, watts))
    return steps


def _entries(steps: list[tuple[int, float]], horizon: int, protocol: str) -> tuple[
        ScheduleEntry, ...]:
    if len(steps) > _MAX_ENTRIES:
        raise OcppConversionError(f"the profile needs {len(steps)} schedule entries; "
                                  f"the EV takes at most {_MAX_ENTRIES}")
    out = []
    for i, (start, watts) in enumerate(steps):
        end = steps[i + 1][0] if i + 1 < len(steps) else horizon
        value = float(math.floor(watts)) if protocol == "din" else watts
        out.append(ScheduleEntry(start, value, end - start))
    return tuple(out)


def _tuple_ids(schedules: Sequence[dict[str, Any]]) -> list[int]:
    """IDs 1..255: each schedule keeps its own id when it is one and not taken by an
    earlier schedule; the others get the lowest numbers no schedule keeps."""
    kept: list[int | None] = []
    used: set[int] = set()
    for s in schedules:
        ident = s["id"]
        if 1 <= ident <= 255 and ident not in used:
            kept.append(ident)
            used.add(ident)
        else:
            kept.append(None)
    free = (i for i in range(1, 256) if i not in used)
    return [k if k is not None else next(free) for k in kept]


def tuple_ids(profile: dict[str, Any]) -> dict[int, int]:
    """SAScheduleTupleID / ScheduleTupleID -> the chargingSchedule ``id`` it came from
    (what 2.1's NotifyEVChargingSchedule ``selectedChargingScheduleId`` names)."""
    schedules = profile["chargingSchedule"][:3]
    return {t: s["id"] for t, s in zip(_tuple_ids(schedules), schedules, strict=True)}


def schedules_from_profiles(profile: dict[str, Any], now: _dt.datetime, *, protocol: str,
                            max_power: float, basis: ElectricalBasis = ElectricalBasis(),
                            departure_s: int | None = None,
                            station_profiles: Sequence[dict[str, Any]] = (),
                            transaction_start: _dt.datetime | None = None) -> list[Schedule]:
    """The EV's schedules from a TxProfile/TxDefaultProfile ``chargingProfile`` object.

    ``protocol`` is ``din``, ``iso2`` or ``iso20``; ``max_power`` the EVSE's maximum (W);
    ``departure_s`` the EV's DepartureTime (seconds from now); ``station_profiles`` the
    station-wide chargingProfile objects in force. See the module for the rules.
    """
    if protocol not in ("din", "iso2", "iso20"):
        raise ValueError(f"protocol must be din, iso2 or iso20, not {protocol!r}")
    if profile["chargingProfilePurpose"] not in EV_PURPOSES:
        raise OcppConversionError(f"chargingProfilePurpose {profile['chargingProfilePurpose']} "
                                  "is not for the EV (TxProfile, TxDefaultProfile)")
    horizon = min(departure_s, MAX_HORIZON) if departure_s is not None and departure_s > 0 \
        else DEFAULT_HORIZON
    station = [limit_segments(p, s, now, basis, horizon, transaction_start)
               for p in station_profiles for s in p["chargingSchedule"]
               if p["chargingProfilePurpose"] in STATION_PURPOSES]
    schedules = profile["chargingSchedule"][:3]
    out = []
    for tuple_id, schedule in zip(_tuple_ids(schedules), schedules, strict=True):
        tx = limit_segments(profile, schedule, now, basis, horizon, transaction_start)
        steps = _combine(tx, station, max_power, horizon)
        tariff = price_schedule_from(schedule, protocol)
        out.append(Schedule(tuple_id, _entries(steps, horizon, protocol), tariff))
    return out


def schedules_from_set_charging_profile(payload: dict[str, Any], version: str,
                                        now: _dt.datetime, **kwargs: Any) -> list[Schedule]:
    """:func:`schedules_from_profiles` for a SetChargingProfileRequest, validated first."""
    validate("SetChargingProfileRequest", payload, version)
    return schedules_from_profiles(payload["chargingProfile"], now, **kwargs)


def dynamic_setpoint(profile: dict[str, Any], now: _dt.datetime, *, max_power: float,
                     basis: ElectricalBasis = ElectricalBasis(),
                     transaction_start: _dt.datetime | None = None) -> float | None:
    """The power (W) the EVSE asks for now in -20's dynamic control mode (K19/K28).

    Rule: the period in force now; its 2.1 ``setpoint`` (+ setpoint_L2/L3, negative to
    discharge) when present, else its ``limit``; capped at ``max_power`` both ways and by
    the period's own limit / dischargeLimit. None when no period is in force (the EVSE then
    asks for its own maximum). The target power of
    :func:`iso15118.ocpp.dynamic_control.dynamic_target`, which also gives the limits."""
    from iso15118.ocpp.dynamic_control import dynamic_target

    target = dynamic_target(profile, now, max_power=max_power, max_discharge_power=max_power,
                            basis=basis, transaction_start=transaction_start)
    return None if target is None else target.target_power
