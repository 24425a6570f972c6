"""Meter values for TransactionEvent and the device model's ISO 15118 variables (J, and
the ConnectedEV / ISO15118Ctrlr components of OCPP 2.0.1 part 2 appendix 3).

* :func:`meter_value_iso2` - a ``meterValue`` item from the MeterInfo the EV confirmed
  in MeteringReceiptReq (-2), with ``signedMeterValue`` when it carries SigMeterReading.
* :func:`meter_value_iso20` - the same from -20's MeteringConfirmationReq
  SignedMeteringData (imported and, with BPT, exported energy; reactive energy).
* :func:`connected_ev_report` / :func:`iso15118_ctrlr_report` - ``reportData`` items of
  NotifyReportRequest.

Conversion rules: readings are registers in Wh (varh for reactive), measurand
Energy.Active.Import.Register / Export / Energy.Reactive.Import / Export; ``timestamp``
is the meter's own (TMeter / MeterTimestamp, seconds since the epoch) when it sent one,
else the caller's ``now``; ``context`` defaults to Sample.Periodic (the receipt is the EV
acknowledging a reading in the loop; Transaction.End for the last one is the caller's
call); ``signedMeterData`` is the base64 of the meter's signature bytes exactly as the EV
echoed them. The signature format is the meter's, not ISO 15118's, so
``signing_method``/``public_key`` are the caller's (empty in 2.0.1, which requires the
members; left out in 2.1, which does not); ``encodingMethod`` defaults to the name of
the ISO 15118 element the bytes came from.

Call point: the SECC's :class:`~iso15118.session.events.MessageReceived` for
MeteringReceiptReq / MeteringConfirmationReq (``MeteringReceiptReceived`` says one
arrived); the result goes into TransactionEvent(Updated, triggerReason
SignedDataReceived).
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Sequence
from typing import Any

from iso15118.messages import iso2
from iso15118.messages import iso20_common as common
from iso15118.ocpp._json import b64encode, iso_time
from iso15118.ocpp.errors import OcppConversionError
from iso15118.ocpp.schemas import V201

__all__ = ["connected_ev_report", "iso15118_ctrlr_report", "meter_value_iso2",
           "meter_value_iso20"]


def _signed(signature: bytes, version: str, encoding: str, signing_method: str,
            public_key: str) -> dict[str, str]:
    out = {"signedMeterData": b64encode(signature), "encodingMethod": encoding}
    if version == V201 or signing_method:
        out["signingMethod"] = signing_method
    if version == V201 or public_key:
        out["publicKey"] = public_key
    return out


def _when(seconds: Any, now: _dt.datetime) -> str:
    if isinstance(seconds, int) and seconds > 0:
        try:
            return iso_time(_dt.datetime.fromtimestamp(seconds, _dt.timezone.utc))
        except (OverflowError, OSError, ValueError):
            raise OcppConversionError(f"meter timestamp {seconds} is out of range") from None
    return iso_time(now)


def meter_value_iso2(body: Any, now: _dt.datetime, version: str, *,
                     context: str = "Sample.Periodic", signing_method: str = "",
                     public_key: str = "") -> dict[str, Any]:
    """A TransactionEvent ``meterValue`` item from a -2 MeteringReceiptReq."""
    if not isinstance(body, iso2.MeteringReceiptReqType):
        raise OcppConversionError(f"not a MeteringReceiptReq: {type(body).__name__}")
    info = body.meter_info
    if info.meter_reading is None:
        raise OcppConversionError("MeterInfo carries no MeterReading")
    sampled: dict[str, Any] = {
        "value": info.meter_reading, "context": context,
        "measurand": "Energy.Active.Import.Register", "unitOfMeasure": {"unit": "Wh"},
    }
    if info.sig_meter_reading:
        sampled["signedMeterValue"] = _signed(info.sig_meter_reading, version,
                                              "ISO15118-2 SigMeterReading", signing_method,
                                              public_key)
    return {"timestamp": _when(info.t_meter, now), "sampledValue": [sampled]}


def meter_value_iso20(body: Any, now: _dt.datetime, version: str, *,
                      context: str = "Sample.Periodic", signing_method: str = "",
                      public_key: str = "") -> dict[str, Any]:
    """A TransactionEvent ``meterValue`` item from a -20 MeteringConfirmationReq.

    The signature goes with the imported-energy register (the first sampled value): the
    meter signs the whole reading, OCPP attaches signed data to one sampled value."""
    if not isinstance(body, common.MeteringConfirmationReqType):
        raise OcppConversionError(f"not a MeteringConfirmationReq: {type(body).__name__}")
    info = body.signed_metering_data.meter_info
    rows = (("charged_energy_reading_wh", "Energy.Active.Import.Register", "Wh"),
            ("bpt_discharged_energy_reading_wh", "Energy.Active.Export.Register", "Wh"),
            ("capacitive_energy_reading_varh", "Energy.Reactive.Import.Register", "varh"),
            ("bpt_inductive_energy_reading_varh", "Energy.Reactive.Export.Register", "varh"))
    sampled = []
    for attr, measurand, unit in rows:
        value = getattr(info, attr, None)
        if value is None:
            continue
        sampled.append({"value": value, "context": context, "measurand": measurand,
                        "unitOfMeasure": {"unit": unit}})
    if info.meter_signature:
        sampled[0]["signedMeterValue"] = _signed(info.meter_signature, version,
                                                 "ISO15118-20 MeterSignature",
                                                 signing_method, public_key)
    return {"timestamp": _when(info.meter_timestamp, now), "sampledValue": sampled}


def _item(component: str, variable: str, value: str, data_type: str, *,
          evse_id: int | None = None, instance: str | None = None,
          mutability: str = "ReadOnly") -> dict[str, Any]:
    comp: dict[str, Any] = {"name": component}
    if evse_id is not None:
        comp["evse"] = {"id": evse_id}
    var: dict[str, Any] = {"name": variable}
    if instance is not None:
        var["instance"] = instance
    return {"component": comp, "variable": var,
            "variableAttribute": [{"type": "Actual", "value": value[:2500],
                                   "mutability": mutability}],
            "variableCharacteristics": {"dataType": data_type, "supportsMonitoring": False}}


def _protocol_text(namespace: str, major: int, minor: int) -> str:
    return f"{namespace},{major},{minor}"


def connected_ev_report(evse_id: int, *, supported: Sequence[Any] = (),
                        agreed: Any = None, evcc_id: bytes | str | None = None
                        ) -> list[dict[str, Any]]:
    """``reportData`` of the ConnectedEV component of one EVSE.

    Rules: ProtocolSupportedByEV has one instance per AppProtocol the EV offered in
    supportedAppProtocolReq, named by its Priority (``"1"``..), valued
    ``"<namespace>,<major>,<minor>"``; ProtocolAgreed the one chosen, same format;
    VehicleID the EVCCID (-2: MAC as 12 upper-case hex digits; -20: the string)."""
    out = []
    for proto in sorted(supported, key=lambda p: p.priority):
        out.append(_item("ConnectedEV", "ProtocolSupportedByEV", _protocol_text(
            proto.protocol_namespace, proto.version_number_major, proto.version_number_minor),
            "string", evse_id=evse_id, instance=str(proto.priority)))
    if agreed is not None:
        out.append(_item("ConnectedEV", "ProtocolAgreed", _protocol_text(
            agreed.protocol_namespace, agreed.version_number_major,
            agreed.version_number_minor), "string", evse_id=evse_id))
    if evcc_id is not None:
        text = evcc_id.hex().upper() if isinstance(evcc_id, bytes) else evcc_id
        out.append(_item("ConnectedEV", "VehicleID", text, "string", evse_id=evse_id))
    return out


def iso15118_ctrlr_report(evse_id: int | None = None, *, pnc_enabled: bool,
                          v2g_certificate_installation: bool,
                          contract_certificate_installation: bool,
                          central_contract_validation: bool = False,
                          contract_validation_offline: bool = False,
                          secc_id: str | None = None, max_schedule_entries: int | None = None,
                          request_metering_receipt: bool = False,
                          organization_name: str | None = None,
                          country_name: str | None = None) -> list[dict[str, Any]]:
    """``reportData`` of the ISO15118Ctrlr component: what this station's ISO 15118 stack
    does (PnCEnabled, V2GCertificateInstallationEnabled, ContractCertificateInstallation-
    Enabled, CentralContractValidationAllowed, ContractValidationOffline, SeccId,
    MaxScheduleEntries, RequestMeteringReceipt, and the CSR's OrganizationName /
    CountryName), booleans as ``"true"``/``"false"``."""
    flag = {True: "true", False: "false"}
    out = [
        _item("ISO15118Ctrlr", "PnCEnabled", flag[pnc_enabled], "boolean", evse_id=evse_id,
              mutability="ReadWrite"),
        _item("ISO15118Ctrlr", "V2GCertificateInstallationEnabled",
              flag[v2g_certificate_installation], "boolean", evse_id=evse_id,
              mutability="ReadWrite"),
        _item("ISO15118Ctrlr", "ContractCertificateInstallationEnabled",
              flag[contract_certificate_installation], "boolean", evse_id=evse_id,
              mutability="ReadWrite"),
        _item("ISO15118Ctrlr", "CentralContractValidationAllowed",
              flag[central_contract_validation], "boolean", evse_id=evse_id,
              mutability="ReadWrite"),
        _item("ISO15118Ctrlr", "ContractValidationOffline", flag[contract_validation_offline],
              "boolean", evse_id=evse_id, mutability="ReadWrite"),
        _item("ISO15118Ctrlr", "RequestMeteringReceipt", flag[request_metering_receipt],
              "boolean", evse_id=evse_id, mutability="ReadWrite"),
    ]
    if secc_id is not None:
        out.append(_item("ISO15118Ctrlr", "SeccId", secc_id, "string", evse_id=evse_id))
    if max_schedule_entries is not None:
        out.append(_item("ISO15118Ctrlr", "MaxScheduleEntries", str(max_schedule_entries),
                         "integer", evse_id=evse_id))
    if organization_name is not None:
        out.append(_item("ISO15118Ctrlr", "OrganizationName", organization_name, "string",
                         evse_id=evse_id, mutability="ReadWrite"))
    if country_name is not None:
        out.append(_item("ISO15118Ctrlr", "CountryName", country_name, "string",
                         evse_id=evse_id, mutability="ReadWrite"))
    return out
