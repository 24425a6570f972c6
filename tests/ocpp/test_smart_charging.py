"""K15-K17 / K18-K20: SetChargingProfile into the EV's schedules, table-driven, then through
real sessions on the virtual clock (DIN, -2, -20 scheduled): what the vehicle receives is
the profile, re-based, in W, capped and covering the departure time."""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from session.session_harness import simulate

from iso15118 import codec, xmldsig
from iso15118.messages import iso2
from iso15118.messages import iso20_common as common
from iso15118.ocpp import (
    ElectricalBasis,
    OcppConversionError,
    OcppPayloadError,
    absolute_price_schedule_from,
    absolute_price_schedule_to_json,
    dynamic_setpoint,
    schedules_from_profiles,
    schedules_from_set_charging_profile,
    tuple_ids,
)
from iso15118.ocpp._json import iso_time
from iso15118.session import EnergyMode, EvccConfig, EVSEState, EVState, SeccConfig
from iso15118.session.simulation import ChargerBehaviour
from iso15118.session.values import ControlMode, ScheduleEntry

NOW = dt.datetime(2026, 12, 7, 12, 0, 0, tzinfo=dt.timezone.utc)
Valid = Callable[[str, Any, str], None]


def at(seconds: float) -> str:
    return iso_time(NOW + dt.timedelta(seconds=seconds))


def profile(periods: list[tuple[int, float]] | list[dict[str, Any]], *, unit: str = "W",
            kind: str = "Absolute", start: float | None = 0, purpose: str = "TxProfile",
            schedule_id: int = 1, **extra: Any) -> dict[str, Any]:
    schedule: dict[str, Any] = {
        "id": schedule_id, "chargingRateUnit": unit,
        "chargingSchedulePeriod": [p if isinstance(p, dict) else
                                   {"startPeriod": p[0], "limit": p[1]} for p in periods]}
    if start is not None:
        schedule["startSchedule"] = at(start)
    schedule.update(extra.pop("schedule", {}))
    return {"id": 10, "stackLevel": 0, "chargingProfilePurpose": purpose,
            "chargingProfileKind": kind, "chargingSchedule": [schedule], **extra}


def entries(p: dict[str, Any], protocol: str = "iso2", max_power: float = 22_000,
            **kw: Any) -> list[tuple[int, float, int | None]]:
    [s] = schedules_from_profiles(p, NOW, protocol=protocol, max_power=max_power, **kw)
    return [(e.start, e.max_power, e.duration) for e in s.entries]


DAY = 86_400
CASES: list[tuple[str, dict[str, Any], dict[str, Any], list[tuple[int, float, int]]]] = [
    ("started half an hour ago: the period in force starts at 0",
     profile([(0, 11_000), (3600, 7_000), (7200, 22_000)], start=-1800), {},
     [(0, 11_000, 1800), (1800, 7_000, 3600), (5400, 22_000, DAY - 5400)]),
    ("starts in an hour: until then the station's limit",
     profile([(0, 5_000)], start=3600), {}, [(0, 22_000, 3600), (3600, 5_000, DAY - 3600)]),
    ("A to W with three phases by default (16 A x 230 V x 3)",
     profile([(0, 16)], unit="A"), {}, [(0, 11_040, DAY)]),
    ("A to W with numberPhases",
     profile([{"startPeriod": 0, "limit": 16, "numberPhases": 1}], unit="A"), {},
     [(0, 3_680, DAY)]),
    ("2.1 per-phase limits add up",
     profile([{"startPeriod": 0, "limit": 10, "limit_L2": 8, "limit_L3": 6}], unit="A"),
     {"basis": ElectricalBasis(ac_voltage=240)}, [(0, 5_760, DAY)]),
    ("DC in A needs the DC voltage",
     profile([(0, 50)], unit="A"), {"basis": ElectricalBasis(dc=True, dc_voltage=400),
                                    "max_power": 50_000}, [(0, 20_000, DAY)]),
    ("a profile that ends falls back to the station's limit",
     profile([(0, 4_000)], schedule={"duration": 1800}), {},
     [(0, 4_000, 1800), (1800, 22_000, DAY - 1800)]),
    ("validTo cuts the profile",
     profile([(0, 4_000)], validTo=at(600)), {}, [(0, 4_000, 600), (600, 22_000, DAY - 600)]),
    ("validFrom delays it",
     profile([(0, 4_000)], validFrom=at(600)), {}, [(0, 22_000, 600), (600, 4_000, DAY - 600)]),
    ("the departure time ends the schedule (not 24 h)",
     profile([(0, 4_000), (3600, 8_000)]), {"departure_s": 5400},
     [(0, 4_000, 3600), (3600, 8_000, 1800)]),
    ("Relative counts from the transaction's start",
     profile([(0, 3_000), (900, 6_000)], kind="Relative", start=None),
     {"transaction_start": NOW - dt.timedelta(seconds=600)},
     [(0, 3_000, 300), (300, 6_000, DAY - 300)]),
    ("Recurring Daily from three days ago at 08:00 (now 12:00)",
     profile([(0, 5_000), (14_400, 11_000)], kind="Recurring", start=-3 * DAY - 4 * 3600,
             recurrencyKind="Daily"), {},
     [(0, 11_000, 72_000), (72_000, 5_000, DAY - 72_000)]),
    ("Recurring Daily with a duration: each day's schedule ends after it",
     profile([(0, 5_000)], kind="Recurring", start=-3600, recurrencyKind="Daily",
             schedule={"duration": 7200}), {},
     [(0, 5_000, 3600), (3600, 22_000, 79_200), (82_800, 5_000, 3600)]),
    ("the EVSE's maximum caps the profile",
     profile([(0, 50_000)]), {}, [(0, 22_000, DAY)]),
    ("a station-wide maximum profile caps it too, on its own timeline",
     profile([(0, 11_000)]),
     {"station_profiles": [profile([(0, 8_000), (1200, 30_000)],
                                   purpose="ChargingStationMaxProfile")]},
     [(0, 8_000, 1200), (1200, 11_000, DAY - 1200)]),
    ("a negative limit is no power, not feed-back",
     profile([(0, -5)]), {}, [(0, 0, DAY)]),
]


@pytest.mark.parametrize(("name", "prof", "kwargs", "expected"), CASES,
                         ids=[c[0] for c in CASES])
def test_profile_to_schedule(valid: Valid, name: str, prof: dict[str, Any],
                             kwargs: dict[str, Any], expected: list[tuple[int, float, int]]
                             ) -> None:
    version = "2.1" if name.startswith("2.1") or prof.get("validTo") else "2.0.1"
    if "negative" not in name:
        valid("SetChargingProfileRequest", {"evseId": 1, "chargingProfile": prof}, version)
    assert entries(prof, **kwargs) == expected
    # the entries are contiguous from 0 to the horizon
    got = entries(prof, **kwargs)
    assert got[0][0] == 0
    assert all(a[0] + a[2] == b[0] for a, b in zip(got, got[1:], strict=False))


def test_din_pmax_is_whole_watts() -> None:
    assert entries(profile([(0, 1234.7)]), protocol="din") == [(0, 1234.0, DAY)]
    assert entries(profile([(0, 1234.7)]), protocol="iso2") == [(0, 1234.7, DAY)]


@pytest.mark.parametrize(("ids", "expected"), [
    ([1, 2, 3], [1, 2, 3]),
    ([0, 300, 2], [1, 3, 2]),  # the valid 2 is kept; the others take the lowest free ones
    ([7, 7, 255], [7, 1, 255]),  # duplicates get new ones
])
def test_tuple_ids_1_to_255(ids: list[int], expected: list[int]) -> None:
    p = profile([(0, 1000)])
    p["chargingSchedule"] = [dict(p["chargingSchedule"][0], id=i) for i in ids]
    got = schedules_from_profiles(p, NOW, protocol="iso2", max_power=22_000)
    assert [s.schedule_id for s in got] == expected
    assert tuple_ids(p) == dict(zip(expected, ids, strict=True))


@pytest.mark.parametrize(("prof", "kwargs", "match"), [
    (profile([(0, 50)], unit="A"), {"basis": ElectricalBasis(dc=True)}, "DC voltage"),
    (profile([(0, 1)], purpose="ChargingStationMaxProfile"), {}, "not for the EV"),
    (profile([(0, 1)], kind="Recurring", recurrencyKind="Daily", start=None), {},
     "startSchedule"),
    (profile([(0, 1)], kind="Recurring"), {}, "recurrencyKind"),
    (profile([(i, 1000 + i % 2) for i in range(0, 2000)]), {"protocol": "iso2"}, "1024"),
])
def test_profiles_that_cannot_be_sent(prof: dict[str, Any], kwargs: dict[str, Any],
                                      match: str) -> None:
    kwargs = {"protocol": "iso2", "max_power": 50_000, **kwargs}
    with pytest.raises(OcppConversionError, match=match):
        schedules_from_profiles(prof, NOW, **kwargs)


def test_set_charging_profile_is_validated_first(schemas_available: None) -> None:
    bad = {"evseId": 1, "chargingProfile": profile([(0, 1)], unit="kW")}
    with pytest.raises(OcppPayloadError) as info:
        schedules_from_set_charging_profile(bad, "2.0.1", NOW, protocol="iso2", max_power=1)
    assert info.value.field == "chargingProfile.chargingSchedule[0].chargingRateUnit"
    good = {"evseId": 1, "chargingProfile": profile([(0, 7000)])}
    [s] = schedules_from_set_charging_profile(good, "2.0.1", NOW, protocol="iso2",
                                              max_power=11_000)
    assert s.entries == (ScheduleEntry(0, 7000.0, DAY),)


# ------------------------------------------------------------------- prices


def _aps() -> common.AbsolutePriceScheduleType:
    rn = common.RationalNumberType
    return common.AbsolutePriceScheduleType(
        id="ID7", time_anchor=1_796_644_800, price_schedule_id=7,
        price_schedule_description="night", currency="EUR", language="ENG",
        price_algorithm="urn:iso:std:iso:15118:-20:PriceAlgorithm:1-Power",
        minimum_cost=rn(exponent=-2, value=50), maximum_cost=rn(exponent=1, value=9),
        tax_rules=common.TaxRuleListType(tax_rule=[common.TaxRuleType(
            tax_rule_id=1, tax_rule_name="VAT", tax_rate=rn(exponent=-2, value=19),
            tax_included_in_price=True, applies_to_energy_fee=True,
            applies_to_parking_fee=False, applies_to_overstay_fee=False,
            applies_minimum_maximum_cost=True)]),
        price_rule_stacks=common.PriceRuleStackListType(price_rule_stack=[
            common.PriceRuleStackType(duration=0, price_rule=[
                common.PriceRuleType(energy_fee=rn(exponent=-3, value=389),
                                     parking_fee=rn(exponent=-2, value=5),
                                     parking_fee_period=600, carbon_dioxide_emission=12,
                                     renewable_generation_percentage=80,
                                     power_range_start=rn(exponent=0, value=0)),
                common.PriceRuleType(energy_fee=rn(exponent=-3, value=459),
                                     power_range_start=rn(exponent=3, value=50))]),
            common.PriceRuleStackType(duration=3600, price_rule=[common.PriceRuleType(
                energy_fee=rn(exponent=-2, value=29), power_range_start=rn(exponent=0,
                                                                             value=0))])]),
        overstay_rules=common.OverstayRuleListType(
            overstay_time_threshold=1800, overstay_power_threshold=rn(exponent=2, value=5),
            overstay_rule=[common.OverstayRuleType(
                overstay_rule_description="blocking", start_time=0,
                overstay_fee=rn(exponent=-1, value=1), overstay_fee_period=60)]),
        additional_selected_services=common.AdditionalServiceListType(additional_service=[
            common.AdditionalServiceType(service_name="WiFi",
                                         service_fee=rn(exponent=0, value=1))]))


def test_absolute_price_schedule_round_trip_is_byte_exact(valid: Valid) -> None:
    """The CSMS's JSON of a signed -20 price schedule becomes the same EXI the CSMS
    hashed: every member survives, the digest matches, and SetChargingProfile accepts it."""
    model = _aps()
    exi = codec.encode_fragment("AbsolutePriceSchedule", model, "iso20-common")
    digest = xmldsig.digest_reference("AbsolutePriceSchedule", model, "iso20-common",
                                      xmldsig.DIGEST_SHA512)
    data = absolute_price_schedule_to_json(model)
    back = absolute_price_schedule_from(data, "ID7")
    assert codec.encode_fragment("AbsolutePriceSchedule", back, "iso20-common") == exi
    p = profile([(0, 11_000)], schedule={"absolutePriceSchedule": data, "signatureId": 7,
                                         "digestValue": base64.b64encode(digest).decode()})
    valid("SetChargingProfileRequest", {"evseId": 1, "chargingProfile": p}, "2.1")
    [s] = schedules_from_profiles(p, NOW, protocol="iso20", max_power=22_000)
    assert isinstance(s.sales_tariff, common.AbsolutePriceScheduleType)
    assert codec.encode_fragment("AbsolutePriceSchedule", s.sales_tariff,
                                 "iso20-common") == exi


@pytest.mark.parametrize("tamper", ["digest", "fee", "id"])
def test_a_price_schedule_that_does_not_match_its_digest_is_refused(tamper: str) -> None:
    model = _aps()
    digest = xmldsig.digest_reference("AbsolutePriceSchedule", model, "iso20-common",
                                      xmldsig.DIGEST_SHA512)
    data = absolute_price_schedule_to_json(model)
    sig_id = 7
    if tamper == "digest":
        digest = bytes(64)
    elif tamper == "fee":
        data["priceRuleStacks"][0]["priceRule"][0]["energyFee"]["value"] += 1
    else:
        sig_id = 8
    p = profile([(0, 11_000)], schedule={"absolutePriceSchedule": data, "signatureId": sig_id,
                                         "digestValue": base64.b64encode(digest).decode()})
    with pytest.raises(OcppConversionError, match="digestValue"):
        schedules_from_profiles(p, NOW, protocol="iso20", max_power=22_000)


def test_sales_tariff_for_iso2(valid: Valid) -> None:
    tariff = {"id": 5, "salesTariffDescription": "TOU", "numEPriceLevels": 2,
              "salesTariffEntry": [
                  {"relativeTimeInterval": {"start": 0}, "ePriceLevel": 1},
                  {"relativeTimeInterval": {"start": 3600, "duration": 7200},
                   "consumptionCost": [{"startValue": 0, "cost": [
                       {"costKind": "RelativePricePercentage", "amount": 120,
                        "amountMultiplier": -1}]}]}]}
    p = profile([(0, 11_000)], schedule={"salesTariff": tariff})
    valid("SetChargingProfileRequest", {"evseId": 1, "chargingProfile": p}, "2.0.1")
    [s] = schedules_from_profiles(p, NOW, protocol="iso2", max_power=22_000)
    st = s.sales_tariff
    assert isinstance(st, iso2.SalesTariffType) and st.sales_tariff_id == 5
    cost = st.sales_tariff_entry[1].consumption_cost[0].cost[0]
    # OCPP's RelativePricePercentage is -2's lower-case relativePricePercentage
    assert cost.cost_kind is iso2.CostKindType.relativePricePercentage
    assert codec.encode_fragment("SalesTariff", st, "iso2")
    [din] = schedules_from_profiles(p, NOW, protocol="din", max_power=22_000)
    assert din.sales_tariff is None  # DIN has no tariffs
    bad = dict(tariff, id=0)
    with pytest.raises(OcppConversionError, match="1..255"):
        schedules_from_profiles(profile([(0, 1)], schedule={"salesTariff": bad}), NOW,
                                protocol="iso2", max_power=1)


# ------------------------------------------------------------------- dynamic (-20)


@pytest.mark.parametrize(("period", "unit", "expected"), [
    ({"startPeriod": 0, "limit": 11_000}, "W", 11_000),
    ({"startPeriod": 0, "limit": 11_000, "setpoint": 7_000}, "W", 7_000),
    ({"startPeriod": 0, "limit": 11_000, "setpoint": -5_000}, "W", -5_000),  # discharge
    ({"startPeriod": 0, "setpoint": 10, "setpoint_L2": 10, "setpoint_L3": 10}, "A", 6_900),
    ({"startPeriod": 0, "limit": 99_000}, "W", 22_000),  # capped
    ({"startPeriod": 0, "setpoint": -99_000}, "W", -22_000),
])
def test_dynamic_setpoint(period: dict[str, Any], unit: str, expected: float) -> None:
    p = profile([period], unit=unit, kind="Dynamic" if "setpoint" in period else "Absolute")
    assert dynamic_setpoint(p, NOW, max_power=22_000) == expected


def test_dynamic_setpoint_none_outside_the_profile() -> None:
    p = profile([(0, 5000)], start=600)
    assert dynamic_setpoint(p, NOW, max_power=22_000) is None
    assert dynamic_setpoint(p, NOW + dt.timedelta(seconds=601), max_power=22_000) == 5000


# ------------------------------------------------------------------- through sessions

SESSION_PROFILE = profile([(0, 16), (1800, 10)], unit="A", start=-600)


@pytest.mark.parametrize(("protocol", "mode"), [
    ("din", EnergyMode.DC_extended), ("iso2", EnergyMode.DC_extended),
    ("iso2", EnergyMode.AC_three_phase_core), ("iso20", EnergyMode.DC_extended)])
def test_the_vehicle_receives_the_profile(protocol: str, mode: EnergyMode) -> None:
    basis = ElectricalBasis(dc=mode.is_dc, dc_voltage=400.0)
    schedules = schedules_from_profiles(SESSION_PROFILE, NOW, protocol=protocol,
                                        max_power=50_000, basis=basis)
    evse = EVSEState(energy_modes=(mode,), schedules=schedules)
    if protocol == "iso20":
        ev = EVState(energy_mode=mode, control_mode=ControlMode.SCHEDULED, soc=60)
        run = simulate("iso20", mode, ev=ev, evse=evse,
                       behaviour=ChargerBehaviour(cable_check_s=0.5),
                       secc_config=SeccConfig(protocols=("iso20",)),
                       evcc_config=EvccConfig(protocols=("iso20",), loops=2, loop_interval=0.1))
    else:
        run = simulate(protocol, mode, evse=evse,
                       evcc_config=EvccConfig(protocols=(protocol,), loops=2))
    assert run.secc.protocol == protocol
    assert run.evcc.ended is not None and run.evcc.ended.outcome.value == "completed"
    [seen] = run.evcc.evse.schedules
    watts = 16 * 400 if mode.is_dc else 16 * 230 * 3
    later = 10 * 400 if mode.is_dc else 10 * 230 * 3
    if protocol == "din":  # DIN reports the tuple ID only; check what the SECC sent
        sent = [b for b in run.sent("secc")
                if type(b).__name__ == "ChargeParameterDiscoveryResType"]
        pmax = sent[-1].sa_schedules.sa_schedule_tuple[0].p_max_schedule.p_max_schedule_entry
        assert [(e.time_interval.start, e.p_max) for e in pmax] == [(0, watts), (1200, later)]
        return
    got = [(e.start, e.max_power) for e in seen.entries]
    if protocol == "iso20":  # -20 entries are durations; the EV adds them up
        starts, t = [], 0
        for e in seen.entries:
            starts.append((t, e.max_power))
            t += e.duration or 0
        got = starts
    assert got == [(0, watts), (1200, later)]


def test_a_far_departure_is_bounded() -> None:
    """DepartureTime is a uint32 (136 years): a daily profile is not unrolled that far."""
    daily = profile([(0, 5_000), (3600, 11_000)], kind="Recurring", start=-DAY,
                    recurrencyKind="Daily")
    got = entries(daily, departure_s=4_000_000_000)
    assert got[-1][0] + got[-1][2] == 16_777_214 and len(got) == 2 * 195
    hourly = profile([(h * 3600, 1000 + h) for h in range(24)], kind="Recurring", start=-DAY,
                     recurrencyKind="Daily")
    with pytest.raises(OcppConversionError, match="1024"):
        schedules_from_profiles(hourly, NOW, protocol="iso2", max_power=22_000,
                                departure_s=4_000_000_000)
    flat = entries(profile([(0, 5_000)]), departure_s=4_000_000_000)
    assert flat == [(0, 5_000, 16_777_214)]


def test_recurrence_over_a_week_is_unrolled() -> None:
    daily = profile([(0, 5_000), (3600, 11_000)], kind="Recurring", start=-DAY,
                    recurrencyKind="Daily")
    got = entries(daily, departure_s=7 * DAY)
    assert len(got) == 14 and got[0] == (0, 5_000, 3600) and got[-1][0] + got[-1][2] == 7 * DAY


@pytest.mark.parametrize(("tariff_change", "protocol"), [
    ({"ePriceLevel": 300}, "iso2"),  # -2's ePriceLevel is an unsignedByte
])
def test_a_tariff_the_xsd_cannot_carry_is_refused(tariff_change: dict[str, Any],
                                                  protocol: str) -> None:
    tariff = {"id": 1, "salesTariffEntry": [{"relativeTimeInterval": {"start": 0},
                                             **tariff_change}]}
    with pytest.raises(OcppConversionError, match="cannot be encoded"):
        schedules_from_profiles(profile([(0, 1)], schedule={"salesTariff": tariff}), NOW,
                                protocol=protocol, max_power=1)


def test_price_rule_value_out_of_range_is_refused() -> None:
    data = absolute_price_schedule_to_json(_aps())
    data["priceRuleStacks"][0]["priceRule"][0]["energyFee"]["value"] = 1_000_000
    with pytest.raises(OcppConversionError, match="cannot be encoded"):
        schedules_from_profiles(profile([(0, 1)], schedule={"absolutePriceSchedule": data}),
                                NOW, protocol="iso20", max_power=1)


def test_2_1_dynamic_kind_starts_on_arrival(valid: Valid) -> None:
    p = profile([{"startPeriod": 0, "limit": 11_000, "setpoint": 4_000}], kind="Dynamic",
                start=None)
    valid("SetChargingProfileRequest", {"evseId": 1, "chargingProfile": p}, "2.1")
    assert dynamic_setpoint(p, NOW, max_power=22_000) == 4_000
    assert entries(p, protocol="iso20") == [(0, 11_000, DAY)]
