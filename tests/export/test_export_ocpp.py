"""The OCPP log reader: the EV's CertificateInstallationReq and its answer, as a real
session carried them, wrapped in OCPP 2.0.1 Get15118EVCertificate and OCPP 1.6
DataTransfer frames in the log shapes chargers write."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from export_logs import HAVE_CAPTURES, messages_of

from iso15118.export import read_ocpp
from iso15118.export.tables import build_tables

pytestmark = pytest.mark.skipif(not HAVE_CAPTURES, reason="../shared/vectors/real/pcap absent")

CAPTURE = "ISO-2_DC_PnC_TLS_CertInstallation_DS5366_RiseV2G.pcapng"
NS = "urn:iso:15118:2:2013:MsgDef"


@pytest.fixture(scope="module")
def exi() -> tuple[bytes, bytes]:
    entries = messages_of(CAPTURE)
    req = next(e for e in entries if e.name == "CertificateInstallationReq")
    res = next(e for e in entries if e.name == "CertificateInstallationRes")
    return req.payload, res.payload


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def test_get15118evcertificate_request_and_response(tmp_path: Path,
                                                    exi: tuple[bytes, bytes]) -> None:
    req, res = exi
    call = [2, "a1b2", "Get15118EVCertificate",
            {"iso15118SchemaVersion": NS, "action": "Install", "exiRequest": _b64(req)}]
    result = [3, "a1b2", {"status": "Accepted", "exiResponse": _b64(res)}]
    log = tmp_path / "ocpp.log"
    log.write_text(
        f"2025-10-27T22:02:55.100Z CS->CSMS {json.dumps(call)}\n"
        "2025-10-27T22:02:55.200Z CSMS->CS [3,\"zz\",{}]\n"
        f"2025-10-27T22:02:56.000Z CSMS->CS {json.dumps(result)}\n"
        "2025-10-27T22:02:57.000Z heartbeat [2,\"h1\",\"Heartbeat\",{}]\n")
    records = list(read_ocpp(log))
    assert [(r.name, r.protocol, r.direction, r.error) for r in records] == [
        ("CertificateInstallationReq", "iso2", "EV->EVSE", None),
        ("CertificateInstallationRes", "iso2", "EVSE->EV", None)]
    assert records[0].payload == req and records[1].payload == res
    assert records[0].time_s == pytest.approx(1761602575.1)
    assert records[1].offset == len(log.read_bytes().split(b"\n", 2)[0]) + 1 + len(
        log.read_bytes().split(b"\n")[1]) + 1
    messages, sessions = build_tables(records)
    assert messages.num_rows == 2 and sessions.num_rows == 0  # OCPP names no V2G session
    assert messages.column("response_code").to_pylist() == [None, "OK"]
    assert "CertificateInstallationRes" in messages.column("message_json")[1].as_py()


def test_ocpp16_datatransfer_and_json_lines(tmp_path: Path, exi: tuple[bytes, bytes]) -> None:
    req, res = exi
    data_req = json.dumps({"iso15118SchemaVersion": NS, "exiRequest": _b64(req)})
    call = [2, "77", "DataTransfer", {"vendorId": "org.openchargealliance.iso15118pnc",
                                      "messageId": "Get15118EVCertificate", "data": data_req}]
    result = [3, "77", {"status": "Accepted",
                        "data": json.dumps({"status": "Accepted", "exiResponse": _b64(res)})}]
    log = tmp_path / "ocpp.jsonl"
    log.write_text(json.dumps({"timestamp": "2025-01-01T00:00:00Z", "message": call}) + "\n"
                   + json.dumps({"timestamp": "2025-01-01T00:00:01Z",
                                 "message": json.dumps(result)}) + "\n")
    records = list(read_ocpp(log))
    assert [(r.name, r.protocol, r.direction) for r in records] == [
        ("CertificateInstallationReq", "iso2", "EV->EVSE"),
        ("CertificateInstallationRes", "iso2", "EVSE->EV")]
    assert records[1].time_s == 1735689601.0


def test_bad_base64_or_exi_is_a_row_with_an_error(tmp_path: Path,
                                                  exi: tuple[bytes, bytes]) -> None:
    req, _ = exi
    log = tmp_path / "bad.log"
    log.write_text(
        json.dumps([2, "1", "Get15118EVCertificate", {"iso15118SchemaVersion": NS,
                                                      "exiRequest": "%%not base64%%"}]) + "\n"
        + json.dumps([2, "2", "Get15118EVCertificate", {"iso15118SchemaVersion": NS,
                                                        "exiRequest": _b64(req[:20])}]) + "\n"
        # no schema version: the protocol is detected
        + json.dumps([2, "3", "Get15118EVCertificate", {"exiRequest": _b64(req)}]) + "\n")
    records = list(read_ocpp(log))
    assert [r.name for r in records] == ["(undecodable)", "(undecodable)",
                                         "CertificateInstallationReq"]
    assert "not base64" in (records[0].error or "")
    assert (records[1].error or "").startswith("exiRequest: iso2:")
    assert records[2].note == "protocol detected (no schema version)"
    messages, _ = build_tables(records)
    assert messages.column("error").to_pylist()[2] is None


def _real_price_schedule() -> object:
    """The AbsolutePriceSchedule the dSPACE charger sent in the -20 AC BPT capture, with
    its TimeAnchor in seconds: dSPACE sent microseconds (1761474993000000), which OCPP's
    date-time cannot carry."""
    import copy

    res = next(e for e in messages_of("ISO-20_BPT_AC_DS5366_Josev.pcapng")
               if e.name == "ScheduleExchangeRes")
    tuple_ = res.value.scheduled_se_res_control_mode.schedule_tuple[0]
    schedule = copy.copy(tuple_.charging_schedule.absolute_price_schedule)
    schedule.time_anchor //= 1_000_000
    schedule.id = "ID42"  # the Id OCPP gives the element: "ID" + signatureId
    return schedule


def test_signed_absolute_price_schedule_of_ocpp21(tmp_path: Path) -> None:
    """OCPP 2.1 SetChargingProfile with a -20 absolutePriceSchedule (JSON) and its
    digestValue: the row holds the -20 model, its EXI fragment (what the digest covers) as
    payload; a digest that does not match is an error row."""
    from iso15118 import codec, xmldsig
    from iso15118.ocpp.prices import absolute_price_schedule_to_json

    model = _real_price_schedule()
    assert model is not None
    fragment = codec.encode_fragment("AbsolutePriceSchedule", model, "iso20-common")
    digest = xmldsig.digest_reference("AbsolutePriceSchedule", model, "iso20-common",
                                      xmldsig.DIGEST_SHA512)
    schedule = {"id": 1, "chargingRateUnit": "W",
                "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 11000}],
                "signatureId": 42, "digestValue": _b64(digest),
                "absolutePriceSchedule": absolute_price_schedule_to_json(model)}
    tampered = dict(schedule, digestValue=_b64(bytes(64)))
    frames = [[2, "p1", "SetChargingProfile", {"evseId": 1, "chargingProfile": {
        "id": 7, "stackLevel": 0, "chargingProfilePurpose": "TxProfile",
        "chargingProfileKind": "Absolute", "chargingSchedule": [schedule]}}],
              [2, "p2", "SetChargingProfile", {"evseId": 1, "chargingProfile": {
                  "id": 8, "chargingSchedule": [tampered]}}]]
    log = tmp_path / "csms.log"
    log.write_text("".join(f"2025-10-26T10:00:0{i}Z {json.dumps(f)}\n"
                           for i, f in enumerate(frames)))
    good, bad = list(read_ocpp(log))
    assert (good.name, good.protocol, good.error) == ("AbsolutePriceSchedule", "iso20-common",
                                                      None)
    assert good.payload == fragment
    assert good.note == "from OCPP absolutePriceSchedule (JSON); digestValue matches the " \
                        "EXI fragment"
    assert (bad.name, bad.protocol) == ("(undecodable)", "iso20-common")
    assert "digest" in (bad.error or "").lower()
    messages, _ = build_tables([good, bad])
    text = messages.column("message_json")[0].as_py()
    assert text.startswith('{"AbsolutePriceSchedule": {"Id": "ID42"')


@pytest.mark.parametrize("schedule", [
    {"absolutePriceSchedule": {}},
    {"salesTariff": {"id": "x", "salesTariffEntry": "no"}},
    {"priceLevelSchedule": {"timeAnchor": 5, "priceLevelScheduleEntries": [{}]}},
    {"absolutePriceSchedule": {"timeAnchor": "2025-01-01T00:00:00Z", "priceScheduleID": 1,
                               "currency": "EUR", "language": "en", "priceAlgorithm": "x",
                               "priceRuleStacks": [{"duration": -1, "priceRule": []}]}},
])
def test_price_schedules_that_do_not_convert_are_error_rows(tmp_path: Path,
                                                            schedule: dict[str, object]) -> None:
    log = tmp_path / "bad.log"
    log.write_text(json.dumps([2, "1", "SetChargingProfile", {"chargingProfile": {
        "chargingSchedule": [schedule]}}]) + "\n")
    (record,) = read_ocpp(log)
    assert record.name == "(undecodable)" and record.error
    build_tables([record])
