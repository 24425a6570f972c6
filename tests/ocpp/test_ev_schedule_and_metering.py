"""NotifyEVChargingSchedule from real PowerDeliveryReq (dSPACE -2 and -20, libiso15118 -20),
TransactionEvent meter values from real MeteringReceiptReq, and the ConnectedEV report from
real supportedAppProtocolReq (vehicles and test systems)."""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from ocpp_vectors import decoded

from iso15118.messages import iso2
from iso15118.messages import iso20_common as common
from iso15118.ocpp import (
    OcppConversionError,
    connected_ev_report,
    ev_charging_schedule_iso2,
    ev_charging_schedule_iso20,
    iso15118_ctrlr_report,
    meter_value_iso2,
    meter_value_iso20,
)

NOW = dt.datetime(2026, 12, 7, 12, 0, 0, tzinfo=dt.timezone.utc)
VERSIONS = ["2.0.1", "2.1"]
Valid = Callable[[str, Any, str], None]


def _bodies(rows: list[dict[str, Any]], message: str, protocol: str) -> list[Any]:
    seen, out = set(), []
    for r in rows:
        if r.get("message") == message and r["protocol"] == protocol and r["hex"] not in seen:
            seen.add(r["hex"])
            out.append(decoded(r))
    return out


@pytest.mark.parametrize("version", VERSIONS)
def test_real_iso2_power_delivery(real_rows: list[dict[str, Any]], valid: Valid,
                                  version: str) -> None:
    bodies = _bodies(real_rows, "PowerDeliveryReq", "iso2")
    with_profile = [b for b in bodies if b.charging_profile is not None]
    assert with_profile and len(with_profile) < len(bodies)
    for body in bodies:
        out = ev_charging_schedule_iso2(body, 1, NOW, version, schedule_ids={1: 42})
        if body.charging_profile is None:
            assert out is None
            continue
        assert out is not None
        valid("NotifyEVChargingScheduleRequest", out, version)
        periods = out["chargingSchedule"]["chargingSchedulePeriod"]
        entries = sorted(body.charging_profile.profile_entry,
                         key=lambda e: e.charging_profile_entry_start)
        assert [p["startPeriod"] for p in periods] == [
            e.charging_profile_entry_start for e in entries]
        assert [p["limit"] for p in periods] == [
            float(e.charging_profile_entry_max_power) for e in entries]
        assert out["chargingSchedule"]["id"] == body.sa_schedule_tuple_id
        if version == "2.1":
            assert out["selectedChargingScheduleId"] == (
                42 if body.sa_schedule_tuple_id == 1 else body.sa_schedule_tuple_id)


@pytest.mark.parametrize("version", VERSIONS)
def test_real_iso20_power_delivery(real_rows: list[dict[str, Any]], valid: Valid,
                                   version: str) -> None:
    bodies = _bodies(real_rows, "PowerDeliveryReq", "iso20-common")
    with_profile = [b for b in bodies if b.ev_power_profile is not None]
    assert with_profile
    for body in with_profile:
        out = ev_charging_schedule_iso20(body, 1, version)
        assert out is not None
        valid("NotifyEVChargingScheduleRequest", out, version)
        entries = body.ev_power_profile.ev_power_profile_entries.ev_power_profile_entry
        starts = [sum(e.duration for e in entries[:i]) for i in range(len(entries))]
        assert [p["startPeriod"] for p in out["chargingSchedule"]["chargingSchedulePeriod"]] \
            == starts[:1024]
        assert out["timeBase"] == dt.datetime.fromtimestamp(
            body.ev_power_profile.time_anchor, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _iso20_pd(powers: list[float], scheduled: bool) -> Any:
    rn = common.RationalNumberType.from_number
    return common.PowerDeliveryReqType(
        header=common.MessageHeaderType(session_id=bytes(8), time_stamp=0),
        ev_processing=common.ProcessingType.Finished,
        charge_progress=common.ChargeProgressType.Start,
        ev_power_profile=common.EVPowerProfileType(
            time_anchor=1_796_644_800,
            scheduled_evppt_control_mode=common.Scheduled_EVPPTControlModeType(
                selected_schedule_tuple_id=3,
                power_tolerance_acceptance=common.PowerToleranceAcceptanceType
                .PowerToleranceConfirmed) if scheduled else None,
            dynamic_evppt_control_mode=None if scheduled
            else common.Dynamic_EVPPTControlModeType(),
            ev_power_profile_entries=common.EVPowerProfileEntryListType(
                ev_power_profile_entry=[common.PowerScheduleEntryType(duration=600, power=rn(p))
                                        for p in powers])))


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("scheduled", [True, False])
def test_iso20_discharge_and_selection(valid: Valid, version: str, scheduled: bool) -> None:
    out = ev_charging_schedule_iso20(_iso20_pd([11_000, -7_000], scheduled), 2, version)
    assert out is not None
    valid("NotifyEVChargingScheduleRequest", out, version)
    first, second = out["chargingSchedule"]["chargingSchedulePeriod"]
    assert first == {"startPeriod": 0, "limit": 11_000}
    assert second["startPeriod"] == 600 and second["limit"] == 0
    assert second.get("dischargeLimit") == (-7_000 if version == "2.1" else None)
    assert out["chargingSchedule"]["id"] == (3 if scheduled else 1)
    if version == "2.1" and scheduled:
        assert out["selectedChargingScheduleId"] == 3 and out["powerToleranceAcceptance"]


def test_wrong_message_is_a_typed_error() -> None:
    with pytest.raises(OcppConversionError):
        ev_charging_schedule_iso2(_iso20_pd([1], True), 1, NOW, "2.0.1")
    with pytest.raises(OcppConversionError):
        ev_charging_schedule_iso20(iso2.SessionStopReqType(
            charging_session=iso2.ChargingSessionType.Terminate), 1, "2.0.1")


def _transaction_event(meter_value: dict[str, Any]) -> dict[str, Any]:
    return {"eventType": "Updated", "timestamp": "2026-12-07T12:00:00Z",
            "triggerReason": "SignedDataReceived", "seqNo": 3,
            "transactionInfo": {"transactionId": "tx-1"}, "meterValue": [meter_value]}


@pytest.mark.parametrize("version", VERSIONS)
def test_real_metering_receipts(real_rows: list[dict[str, Any]], valid: Valid,
                                version: str) -> None:
    bodies = _bodies(real_rows, "MeteringReceiptReq", "iso2")
    assert bodies
    for body in bodies:
        mv = meter_value_iso2(body, NOW, version, signing_method="ECDSA-secp256r1-SHA256")
        valid("TransactionEventRequest", _transaction_event(mv), version)
        [sv] = mv["sampledValue"]
        assert sv["value"] == body.meter_info.meter_reading
        assert sv["measurand"] == "Energy.Active.Import.Register"
        if body.meter_info.sig_meter_reading:
            assert base64.b64decode(sv["signedMeterValue"]["signedMeterData"]) == \
                body.meter_info.sig_meter_reading
        if body.meter_info.t_meter:
            assert mv["timestamp"] != "2026-12-07T12:00:00Z"


@pytest.mark.parametrize("version", VERSIONS)
def test_iso20_metering_confirmation(valid: Valid, version: str) -> None:
    body = common.MeteringConfirmationReqType(
        header=common.MessageHeaderType(session_id=bytes(8), time_stamp=0),
        signed_metering_data=common.SignedMeteringDataType(
            id="ID1", session_id=bytes(8), meter_info=common.MeterInfoType(
                meter_id="M1", charged_energy_reading_wh=12_345,
                bpt_discharged_energy_reading_wh=678, capacitive_energy_reading_varh=9,
                meter_signature=b"\x01\x02\x03", meter_timestamp=1_796_644_800),
            dynamic_smdt_control_mode=common.Dynamic_SMDTControlModeType()))
    mv = meter_value_iso20(body, NOW, version)
    valid("TransactionEventRequest", _transaction_event(mv), version)
    assert [(s["measurand"], s["value"]) for s in mv["sampledValue"]] == [
        ("Energy.Active.Import.Register", 12_345), ("Energy.Active.Export.Register", 678),
        ("Energy.Reactive.Import.Register", 9)]
    signed = mv["sampledValue"][0]["signedMeterValue"]
    assert base64.b64decode(signed["signedMeterData"]) == b"\x01\x02\x03"
    # 2.0.1 requires signingMethod and publicKey; 2.1 leaves out what is not known
    assert ("publicKey" in signed) == (version == "2.0.1")
    assert mv["timestamp"] == "2026-12-07T12:00:00Z"


def test_meter_without_reading_is_a_typed_error() -> None:
    body = iso2.MeteringReceiptReqType(session_id=bytes(8),
                                       meter_info=iso2.MeterInfoType(meter_id="M"))
    with pytest.raises(OcppConversionError, match="MeterReading"):
        meter_value_iso2(body, NOW, "2.0.1")


def _report(items: list[dict[str, Any]]) -> dict[str, Any]:
    return {"requestId": 1, "generatedAt": "2026-12-07T12:00:00Z", "seqNo": 0,
            "reportData": items}


@pytest.mark.parametrize("version", VERSIONS)
def test_connected_ev_from_real_handshakes(real_rows: list[dict[str, Any]], valid: Valid,
                                           version: str) -> None:
    bodies = _bodies(real_rows, "supportedAppProtocolReq", "appHand")
    assert len(bodies) >= 5
    for body in bodies:
        offered = body.app_protocol
        items = connected_ev_report(1, supported=offered, agreed=offered[0],
                                    evcc_id=bytes.fromhex("0a1b2c3d4e5f"))
        valid("NotifyReportRequest", _report(items), version)
        supported = [i for i in items if i["variable"]["name"] == "ProtocolSupportedByEV"]
        assert len(supported) == len(offered)
        assert {i["variable"]["instance"] for i in supported} == {
            str(p.priority) for p in offered}
        agreed = [i for i in items if i["variable"]["name"] == "ProtocolAgreed"][0]
        p = offered[0]
        assert agreed["variableAttribute"][0]["value"] == (
            f"{p.protocol_namespace},{p.version_number_major},{p.version_number_minor}")
        vid = [i for i in items if i["variable"]["name"] == "VehicleID"][0]
        assert vid["variableAttribute"][0]["value"] == "0A1B2C3D4E5F"


@pytest.mark.parametrize("version", VERSIONS)
def test_iso15118_ctrlr_report(valid: Valid, version: str) -> None:
    items = iso15118_ctrlr_report(1, pnc_enabled=True, v2g_certificate_installation=True,
                                  contract_certificate_installation=False,
                                  secc_id="DE*ABC*E1", max_schedule_entries=1024,
                                  organization_name="ACME", country_name="DE")
    valid("NotifyReportRequest", _report(items), version)
    values = {i["variable"]["name"]: i["variableAttribute"][0]["value"] for i in items}
    assert values["PnCEnabled"] == "true"
    assert values["ContractCertificateInstallationEnabled"] == "false"
    assert values["MaxScheduleEntries"] == "1024"
