"""The pure functions of OCPP 2.1 dynamic control: updates into a Dynamic profile, the
profile into -20's dynamic target, the pull's timing and payloads (validated against the
2.1 schemas)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from iso15118.ocpp import OcppConversionError, OcppPayloadError
from iso15118.ocpp.dynamic_control import (
    DynamicTarget,
    anchored,
    apply_schedule_update,
    dynamic_target,
    next_change,
    pull_due,
    pull_dynamic_schedule_update_request,
    read_pull_dynamic_schedule_update_response,
    read_update_dynamic_schedule,
)
from iso15118.ocpp.smart_charging import ElectricalBasis

NOW = dt.datetime(2026, 12, 7, 12, 0, tzinfo=dt.timezone.utc)
pytestmark = pytest.mark.usefixtures("schemas_available")


def profile(unit: str = "W", **period: Any) -> dict[str, Any]:
    return {"id": 4, "stackLevel": 0, "chargingProfilePurpose": "TxProfile",
            "chargingProfileKind": "Dynamic", "chargingSchedule": [{
                "id": 1, "chargingRateUnit": unit,
                "chargingSchedulePeriod": [{"startPeriod": 0, **period}]}]}


@pytest.mark.parametrize(("period", "unit", "expected"), [
    ({"limit": 11_000}, "W", DynamicTarget(11_000, 11_000, 7_000)),  # as much as allowed
    ({"setpoint": 5_000}, "W", DynamicTarget(5_000, 22_000, 7_000)),
    ({"setpoint": -3_000}, "W", DynamicTarget(-3_000, 22_000, 7_000)),  # discharge
    ({"setpoint": 30_000}, "W", DynamicTarget(22_000, 22_000, 7_000)),  # EVSE maximum
    ({"limit": 4_000, "setpoint": 6_000}, "W", DynamicTarget(4_000, 4_000, 7_000)),
    ({"dischargeLimit": -2_000, "setpoint": -5_000}, "W", DynamicTarget(-2_000, 22_000,
                                                                        2_000)),
    ({"limit": -1_500}, "W", DynamicTarget(0, 0, 1_500)),  # the old discharge spelling
    ({"setpoint": 1_000, "setpoint_L2": 1_000, "setpoint_L3": 1_000}, "W",
     DynamicTarget(3_000, 22_000, 7_000)),
    ({"setpoint": 10}, "A", DynamicTarget(6_900, 22_000, 7_000)),  # 10 A x 230 V x 3
    ({"setpoint": 10, "numberPhases": 1}, "A", DynamicTarget(2_300, 22_000, 7_000)),
])
def test_a_period_in_force_becomes_the_dynamic_target(period: dict[str, Any], unit: str,
                                                     expected: DynamicTarget) -> None:
    got = dynamic_target(profile(unit, **period), NOW, max_power=22_000,
                         max_discharge_power=7_000, basis=ElectricalBasis(ac_voltage=230))
    assert got == expected


def test_dc_amperes_need_the_dc_voltage() -> None:
    with pytest.raises(OcppConversionError, match="DC voltage"):
        dynamic_target(profile("A", setpoint=10), NOW, max_power=50_000,
                       basis=ElectricalBasis(dc=True))
    got = dynamic_target(profile("A", setpoint=-10), NOW, max_power=50_000,
                         max_discharge_power=50_000,
                         basis=ElectricalBasis(dc=True, dc_voltage=400))
    assert got == DynamicTarget(-4_000, 50_000, 50_000)


def test_an_update_replaces_the_groups_it_names_and_keeps_the_others() -> None:
    before = profile(limit=11_000, dischargeLimit=-6_000, setpoint=5_000,
                     setpoint_L2=100)
    after = apply_schedule_update(before, {"setpoint": -2_000}, NOW)
    period = after["chargingSchedule"][0]["chargingSchedulePeriod"][0]
    assert period == {"startPeriod": 0, "limit": 11_000, "dischargeLimit": -6_000,
                      "setpoint": -2_000}  # setpoint_L2 went with its group
    assert after["dynUpdateTime"] == "2026-12-07T12:00:00Z"
    assert before["chargingSchedule"][0]["chargingSchedulePeriod"][0]["setpoint"] == 5_000


def test_only_a_dynamic_profile_in_force_takes_updates() -> None:
    absolute = {**profile(limit=1), "chargingProfileKind": "Absolute"}
    with pytest.raises(OcppConversionError, match="not Dynamic"):
        apply_schedule_update(absolute, {"setpoint": 1}, NOW)
    late = profile(limit=1)
    late["chargingSchedule"][0]["startSchedule"] = "2026-12-07T13:00:00Z"
    with pytest.raises(OcppConversionError, match="no period in force"):
        apply_schedule_update(late, {"setpoint": 1}, NOW)
    assert dynamic_target(late, NOW, max_power=1) is None


def test_pulls_are_due_an_interval_after_the_last_update() -> None:
    assert pull_due(profile(limit=1), NOW) is None
    assert pull_due({**profile(limit=1), "dynUpdateInterval": 0}, NOW) is None
    every = {**profile(limit=1), "dynUpdateInterval": 30}
    assert pull_due(every, NOW) == NOW + dt.timedelta(seconds=30)
    updated = {**every, "dynUpdateTime": "2026-12-07T11:59:50Z"}
    assert pull_due(updated, NOW) == NOW + dt.timedelta(seconds=20)


def test_the_payloads_are_2_1_only_and_validated(valid: Any) -> None:
    request = pull_dynamic_schedule_update_request(4)
    valid("PullDynamicScheduleUpdateRequest", request, "2.1")
    assert request == {"chargingProfileId": 4}
    with pytest.raises(OcppConversionError, match="2.1"):
        pull_dynamic_schedule_update_request(4, "2.0.1")
    with pytest.raises(OcppConversionError, match="2.1"):
        read_update_dynamic_schedule({"chargingProfileId": 4, "scheduleUpdate": {}}, "2.0.1")
    assert read_update_dynamic_schedule(
        {"chargingProfileId": 4, "scheduleUpdate": {"setpoint": -1.5}}) == (4, {"setpoint": -1.5})
    with pytest.raises(OcppPayloadError) as caught:
        read_update_dynamic_schedule({"chargingProfileId": 4,
                                      "scheduleUpdate": {"dischargeLimit": 1}})
    assert caught.value.field == "scheduleUpdate.dischargeLimit"
    assert read_pull_dynamic_schedule_update_response(
        {"status": "Accepted", "scheduleUpdate": {"limit": 3}}) == {"limit": 3}
    assert read_pull_dynamic_schedule_update_response({"status": "Accepted"}) is None
    assert read_pull_dynamic_schedule_update_response(
        {"status": "Rejected", "statusInfo": {"reasonCode": "X"}}) is None
    with pytest.raises(OcppPayloadError) as caught:
        read_pull_dynamic_schedule_update_response({"status": "Maybe"})
    assert caught.value.field == "status"


def test_later_periods_come_into_force_from_the_arrival() -> None:
    """A Dynamic schedule without startSchedule starts when the station gets it; anchored
    there, its second period is in force 60 s later and next_change says when."""
    two = profile(setpoint=5_000)
    two["chargingSchedule"][0]["chargingSchedulePeriod"].append(
        {"startPeriod": 60, "setpoint": -2_000})
    two["chargingSchedule"][0]["duration"] = 120
    pinned = anchored(two, NOW)
    assert pinned["chargingSchedule"][0]["startSchedule"] == "2026-12-07T12:00:00Z"
    assert "startSchedule" not in two["chargingSchedule"][0]  # the CSMS's copy untouched
    at = [NOW + dt.timedelta(seconds=s) for s in (0, 59, 60, 119, 120)]
    targets = [dynamic_target(pinned, t, max_power=22_000, max_discharge_power=7_000)
               for t in at]
    assert [t.target_power if t else None for t in targets] == [5_000, 5_000, -2_000,
                                                                -2_000, None]
    assert [next_change(pinned, t) for t in at] == [
        NOW + dt.timedelta(seconds=60), NOW + dt.timedelta(seconds=60),
        NOW + dt.timedelta(seconds=120), NOW + dt.timedelta(seconds=120), None]
    absolute = {**two, "chargingProfileKind": "Absolute"}
    assert anchored(absolute, NOW) is absolute  # only Dynamic profiles start on arrival
