"""Price schedules between OCPP JSON and ISO 15118 models (K15-K17 -2 SalesTariff; K18 and
2.1's signed -20 AbsolutePriceSchedule / PriceLevelSchedule).

Conversion rules:

* member by member, camelCase to the XSD's names (``priceScheduleID`` ->
  PriceScheduleID, ``taxRules`` -> TaxRules/TaxRule, ``priceRuleStacks`` ->
  PriceRuleStacks/PriceRuleStack, ``overstayRuleList`` -> OverstayRules,
  ``additionalSelectedServices`` -> AdditionalSelectedServices/AdditionalService);
  -20's list wrappers are the only structural difference;
* RationalNumber ``{exponent, value}`` stays the same pair (no float in between, so the
  EXI is the one the CSMS signed); ``timeAnchor`` (date-time) -> seconds since the
  epoch (UTC), and back;
* -2 costKind: OCPP ``RelativePricePercentage`` is -2's ``relativePricePercentage``
  (the XSD spells it lower-case); consumption cost ``startValue`` and ``cost.amount`` as
  PhysicalValue / integers as the XSD has them;
* the element's ``Id`` (what a signature references) is ``id_prefix + signatureId``
  (``"ID" + signatureId``, assumed: OCPP gives a number, xs:ID needs a name);
* ``digestValue`` (base64) is checked against the digest of the element's EXI fragment
  (-2 SHA-256, -20 SHA-512, as the XML signature layer computes it): a mismatch raises
  :class:`OcppConversionError` instead of sending an EV a schedule its signature does not
  cover.
"""

from __future__ import annotations

import datetime as _dt
import hmac
from typing import Any

from iso15118 import codec, xmldsig
from iso15118.errors import Iso15118Error
from iso15118.messages import iso2
from iso15118.messages import iso20_common as common
from iso15118.ocpp._json import b64decode, iso_time, parse_time
from iso15118.ocpp.errors import OcppConversionError
from iso15118.xmldsig.algorithms import default_digest

__all__ = [
    "ID_PREFIX",
    "absolute_price_schedule_from",
    "absolute_price_schedule_to_json",
    "price_level_schedule_from",
    "price_schedule_from",
    "sales_tariff_from",
]

ID_PREFIX = "ID"
_COST_KIND = {"RelativePricePercentage": iso2.CostKindType.relativePricePercentage,
              "RenewableGenerationPercentage": iso2.CostKindType.RenewableGenerationPercentage,
              "CarbonDioxideEmission": iso2.CostKindType.CarbonDioxideEmission}


def _rn(value: dict[str, Any]) -> common.RationalNumberType:
    return common.RationalNumberType(exponent=value["exponent"], value=value["value"])


def _opt_rn(value: dict[str, Any] | None) -> common.RationalNumberType | None:
    return None if value is None else _rn(value)


def _rn_json(value: Any) -> dict[str, int] | None:
    if value is None:
        return None
    return {"exponent": value.exponent, "value": value.value}


def _anchor(text: str, field: str) -> int:
    return int(parse_time(text, field).timestamp())


def absolute_price_schedule_from(data: dict[str, Any],
                                 ident: str | None = None) -> common.AbsolutePriceScheduleType:
    """A 2.1 ``absolutePriceSchedule`` object as the -20 AbsolutePriceSchedule."""
    tax = data.get("taxRules")
    overstay = data.get("overstayRuleList")
    services = data.get("additionalSelectedServices")
    return common.AbsolutePriceScheduleType(
        id=ident,
        time_anchor=_anchor(data["timeAnchor"], "absolutePriceSchedule.timeAnchor"),
        price_schedule_id=data["priceScheduleID"],
        price_schedule_description=data.get("priceScheduleDescription"),
        currency=data["currency"], language=data["language"],
        price_algorithm=data["priceAlgorithm"],
        minimum_cost=_opt_rn(data.get("minimumCost")),
        maximum_cost=_opt_rn(data.get("maximumCost")),
        tax_rules=common.TaxRuleListType(tax_rule=[common.TaxRuleType(
            tax_rule_id=t["taxRuleID"], tax_rule_name=t.get("taxRuleName"),
            tax_rate=_rn(t["taxRate"]), tax_included_in_price=t.get("taxIncludedInPrice"),
            applies_to_energy_fee=t["appliesToEnergyFee"],
            applies_to_parking_fee=t["appliesToParkingFee"],
            applies_to_overstay_fee=t["appliesToOverstayFee"],
            applies_minimum_maximum_cost=t["appliesToMinimumMaximumCost"]) for t in tax])
        if tax else None,
        price_rule_stacks=common.PriceRuleStackListType(price_rule_stack=[
            common.PriceRuleStackType(duration=s["duration"], price_rule=[common.PriceRuleType(
                energy_fee=_rn(r["energyFee"]), parking_fee=_opt_rn(r.get("parkingFee")),
                parking_fee_period=r.get("parkingFeePeriod"),
                carbon_dioxide_emission=r.get("carbonDioxideEmission"),
                renewable_generation_percentage=r.get("renewableGenerationPercentage"),
                power_range_start=_rn(r["powerRangeStart"])) for r in s["priceRule"]])
            for s in data["priceRuleStacks"]]),
        overstay_rules=common.OverstayRuleListType(
            overstay_time_threshold=overstay.get("overstayTimeThreshold"),
            overstay_power_threshold=_opt_rn(overstay.get("overstayPowerThreshold")),
            overstay_rule=[common.OverstayRuleType(
                overstay_rule_description=o.get("overstayRuleDescription"),
                start_time=o["startTime"], overstay_fee=_rn(o["overstayFee"]),
                overstay_fee_period=o["overstayFeePeriod"]) for o in overstay["overstayRule"]])
        if overstay else None,
        additional_selected_services=common.AdditionalServiceListType(additional_service=[
            common.AdditionalServiceType(service_name=a["serviceName"],
                                         service_fee=_rn(a["serviceFee"])) for a in services])
        if services else None)


def absolute_price_schedule_to_json(model: common.AbsolutePriceScheduleType) -> dict[str, Any]:
    """The inverse of :func:`absolute_price_schedule_from` (for a CSMS, and for tests that
    prove the round trip is byte-exact)."""
    out: dict[str, Any] = {
        "timeAnchor": iso_time(_dt.datetime.fromtimestamp(model.time_anchor, _dt.timezone.utc)),
        "priceScheduleID": model.price_schedule_id,
        "currency": model.currency, "language": model.language,
        "priceAlgorithm": model.price_algorithm,
        "priceRuleStacks": [{"duration": s.duration, "priceRule": [_strip({
            "energyFee": _rn_json(r.energy_fee), "parkingFee": _rn_json(r.parking_fee),
            "parkingFeePeriod": r.parking_fee_period,
            "carbonDioxideEmission": r.carbon_dioxide_emission,
            "renewableGenerationPercentage": r.renewable_generation_percentage,
            "powerRangeStart": _rn_json(r.power_range_start)}) for r in s.price_rule]}
            for s in model.price_rule_stacks.price_rule_stack],
    }
    if model.price_schedule_description is not None:
        out["priceScheduleDescription"] = model.price_schedule_description
    if model.minimum_cost is not None:
        out["minimumCost"] = _rn_json(model.minimum_cost)
    if model.maximum_cost is not None:
        out["maximumCost"] = _rn_json(model.maximum_cost)
    if model.tax_rules is not None:
        out["taxRules"] = [_strip({
            "taxRuleID": t.tax_rule_id, "taxRuleName": t.tax_rule_name,
            "taxIncludedInPrice": t.tax_included_in_price,
            "appliesToEnergyFee": t.applies_to_energy_fee,
            "appliesToParkingFee": t.applies_to_parking_fee,
            "appliesToOverstayFee": t.applies_to_overstay_fee,
            "appliesToMinimumMaximumCost": t.applies_minimum_maximum_cost,
            "taxRate": _rn_json(t.tax_rate)}) for t in model.tax_rules.tax_rule]
    if model.overstay_rules is not None:
        o = model.overstay_rules
        out["overstayRuleList"] = _strip({
            "overstayTimeThreshold": o.overstay_time_threshold,
            "overstayPowerThreshold": _rn_json(o.overstay_power_threshold),
            "overstayRule": [_strip({
                "overstayRuleDescription": r.overstay_rule_description,
                "startTime": r.start_time, "overstayFee": _rn_json(r.overstay_fee),
                "overstayFeePeriod": r.overstay_fee_period}) for r in o.overstay_rule]})
    if model.additional_selected_services is not None:
        out["additionalSelectedServices"] = [
            {"serviceName": a.service_name, "serviceFee": _rn_json(a.service_fee)}
            for a in model.additional_selected_services.additional_service]
    return out


def _strip(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None}


def price_level_schedule_from(data: dict[str, Any],
                              ident: str | None = None) -> common.PriceLevelScheduleType:
    """A 2.1 ``priceLevelSchedule`` object as the -20 PriceLevelSchedule."""
    return common.PriceLevelScheduleType(
        id=ident, time_anchor=_anchor(data["timeAnchor"], "priceLevelSchedule.timeAnchor"),
        price_schedule_id=data["priceScheduleId"],
        price_schedule_description=data.get("priceScheduleDescription"),
        number_of_price_levels=data["numberOfPriceLevels"],
        price_level_schedule_entries=common.PriceLevelScheduleEntryListType(
            price_level_schedule_entry=[common.PriceLevelScheduleEntryType(
                duration=e["duration"], price_level=e["priceLevel"])
                for e in data["priceLevelScheduleEntries"]]))


def sales_tariff_from(data: dict[str, Any], ident: str | None = None) -> iso2.SalesTariffType:
    """An OCPP ``salesTariff`` object as the -2 SalesTariff (SalesTariffID 1..255)."""
    if not 1 <= data["id"] <= 255:
        raise OcppConversionError(f"salesTariff.id {data['id']} is not a -2 SAIDType (1..255)")
    entries = []
    for e in data["salesTariffEntry"]:
        interval = e["relativeTimeInterval"]
        costs = [iso2.ConsumptionCostType(
            start_value=iso2.PhysicalValueType.from_number(c["startValue"], iso2.UnitSymbolType.W),
            cost=[iso2.CostType(cost_kind=_COST_KIND[k["costKind"]], amount=k["amount"],
                                amount_multiplier=k.get("amountMultiplier"))
                  for k in c["cost"]]) for c in e.get("consumptionCost", [])]
        entries.append(iso2.SalesTariffEntryType(
            time_interval=iso2.RelativeTimeIntervalType(start=interval["start"],
                                                        duration=interval.get("duration")),
            e_price_level=e.get("ePriceLevel"), consumption_cost=costs or None))
    return iso2.SalesTariffType(id=ident, sales_tariff_id=data["id"],
                                sales_tariff_description=data.get("salesTariffDescription"),
                                num_e_price_levels=data.get("numEPriceLevels"),
                                sales_tariff_entry=entries)


def _checked(element: str, model: Any, protocol: str, digest_b64: str | None) -> Any:
    """The model, once its EXI fragment encodes (a value out of the XSD's range must fail
    here, not when the session sends the schedule) and, with a digest, hashes to it."""
    try:
        if digest_b64 is None:
            codec.encode_fragment(element, model, protocol)
            return model
        actual = xmldsig.digest_reference(element, model, protocol, default_digest(protocol))
    except Iso15118Error as exc:
        raise OcppConversionError(f"{element} cannot be encoded: {exc}") from None
    if not hmac.compare_digest(actual, b64decode(digest_b64, "digestValue")):
        raise OcppConversionError(f"{element}: the EXI of the converted schedule does not hash "
                                  "to digestValue; refusing to send a price schedule its "
                                  "signature does not cover")
    return model


def price_schedule_from(schedule: dict[str, Any], protocol: str,
                        id_prefix: str = ID_PREFIX) -> Any:
    """The price part of one ``chargingSchedule`` for ``protocol`` (None without one).

    -2: ``salesTariff``; DIN: none (DIN has no tariffs); -20: ``absolutePriceSchedule``
    or ``priceLevelSchedule``. With 2.1's ``signatureId`` the element gets the Id
    ``id_prefix + signatureId``; with ``digestValue`` its digest is checked."""
    signature_id = schedule.get("signatureId")
    ident = f"{id_prefix}{signature_id}" if signature_id is not None else None
    digest = schedule.get("digestValue")
    if protocol == "din":
        return None
    if protocol == "iso2":
        data = schedule.get("salesTariff")
        if data is None:
            return None
        return _checked("SalesTariff", sales_tariff_from(data, ident), "iso2", digest)
    if "absolutePriceSchedule" in schedule:
        return _checked("AbsolutePriceSchedule", absolute_price_schedule_from(
            schedule["absolutePriceSchedule"], ident), "iso20-common", digest)
    if "priceLevelSchedule" in schedule:
        return _checked("PriceLevelSchedule", price_level_schedule_from(
            schedule["priceLevelSchedule"], ident), "iso20-common", digest)
    return None
