"""The columns of the *messages* and *sessions* tables: one definition each, with types,
units and meaning. The Arrow schemas (:mod:`.tables`), the value extraction
(:mod:`.columns`) and the README's schema tables are all made from these lists.

Stable means: a column is only ever added at the end, never renamed or retyped; the
schema version is written into each Parquet file's metadata (``iso15118.schema``).
Units are in the names (``_v``, ``_a``, ``_w``, ``_wh``, ``_s``, ``_percent``) and
values are in that unit, whatever multiplier or exponent the message used.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

__all__ = ["MESSAGE_COLUMNS", "PHYSICAL_FIELDS", "SCHEMA_VERSION", "SESSION_COLUMNS",
           "TEXT_FIELDS", "Column", "markdown_table"]

SCHEMA_VERSION: Final = "1"


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # string, int64, int32, float64, bool, timestamp, binary, list<string>
    doc: str
    xsd: tuple[str, ...] = ()  # XSD element names the value is taken from


_M = Column
MESSAGE_COLUMNS: Final[tuple[Column, ...]] = (
    _M("source", "string", "input file as given on the command line"),
    _M("reader", "string", "pcap, hexlog or ocpp"),
    _M("session", "string", "session key (see Sessions); null when the log does not say"),
    _M("seq", "int32", "position of the message within its source chunk (0-based)"),
    _M("frame", "int64", "capture frame number (pcap), else null"),
    _M("offset", "int64", "byte offset of the line in a log file (hexlog, ocpp), else null"),
    _M("time", "timestamp", "UTC time, when the source has absolute times (null otherwise)"),
    _M("time_s", "float64", "the source's time in seconds (epoch, or the log's own origin)"),
    _M("session_time_s", "float64", "seconds since the session's first message"),
    _M("direction", "string", "EV->EVSE or EVSE->EV (from the capture, the log, or the name)"),
    _M("kind", "string", "exi or sdp"),
    _M("protocol", "string", "apphand, din, iso2, iso20-common, iso20-dc, iso20-ac, ..., sdp"),
    _M("payload_type", "int32", "V2GTP payload type, when the source had a header"),
    _M("message", "string", "message name (CurrentDemandReq, ...); (undecodable) when not"),
    _M("error", "string", "why the message did not decode; null when it did"),
    _M("note", "string", "how the protocol was chosen when not by negotiation"),
    _M("response_code", "string", "ResponseCode (OK, FAILED_...)", ("ResponseCode",)),
    _M("session_id", "string", "SessionID in the header, hex", ("SessionID",)),
    _M("evccid", "string", "EVCCID (hex for DIN/-2 bytes, text for -20)", ("EVCCID",)),
    _M("evse_id", "string", "EVSEID", ("EVSEID",)),
    _M("evse_processing", "string", "EVSEProcessing (Finished, Ongoing, ...)",
       ("EVSEProcessing",)),
    _M("ev_ready", "bool", "EVReady", ("EVReady",)),
    _M("ev_error_code", "string", "EVErrorCode", ("EVErrorCode",)),
    _M("evse_status_code", "string", "EVSEStatusCode", ("EVSEStatusCode",)),
    _M("evse_isolation_status", "string", "EVSEIsolationStatus", ("EVSEIsolationStatus",)),
    _M("charge_progress", "string", "ChargeProgress (Start, Stop, Renegotiate)",
       ("ChargeProgress",)),
    _M("energy_transfer_mode", "string",
       "DIN/-2 requested energy transfer mode, -20 selected energy service",
       ("RequestedEnergyTransferMode", "EVRequestedEnergyTransferType",
        "SelectedEnergyTransferService")),
    _M("payment_option", "string", "SelectedPaymentOption (-2/DIN), "
       "SelectedAuthorizationService (-20)",
       ("SelectedPaymentOption", "SelectedAuthorizationService")),
    _M("soc_percent", "float64", "state of charge", ("EVRESSSOC", "PresentSOC")),
    _M("ev_target_voltage_v", "float64", "EV target voltage", ("EVTargetVoltage",)),
    _M("ev_target_current_a", "float64", "EV target (requested) current",
       ("EVTargetCurrent",)),
    _M("ev_target_power_w", "float64", "EV target power (-20 AC: EVTargetActivePower)",
       ("EVTargetPower", "EVTargetActivePower")),
    _M("ev_present_voltage_v", "float64", "EV present voltage (-20 DC)", ("EVPresentVoltage",)),
    _M("ev_present_power_w", "float64", "EV present active power (-20 AC)",
       ("EVPresentActivePower",)),
    _M("evse_present_voltage_v", "float64", "EVSE present (delivered) voltage",
       ("EVSEPresentVoltage",)),
    _M("evse_present_current_a", "float64", "EVSE present (delivered) current",
       ("EVSEPresentCurrent",)),
    _M("evse_present_power_w", "float64", "EVSE present active power (-20 AC)",
       ("EVSEPresentActivePower",)),
    _M("evse_target_power_w", "float64", "EVSE target active power (-20 AC dynamic)",
       ("EVSETargetActivePower",)),
    _M("ev_maximum_voltage_v", "float64", "EV maximum voltage",
       ("EVMaximumVoltageLimit", "EVMaxVoltage", "EVMaximumVoltage")),
    _M("ev_maximum_current_a", "float64", "EV maximum (charge) current",
       ("EVMaximumCurrentLimit", "EVMaxCurrent", "EVMaximumChargeCurrent")),
    _M("ev_maximum_power_w", "float64", "EV maximum (charge) power",
       ("EVMaximumPowerLimit", "EVMaximumChargePower")),
    _M("evse_maximum_voltage_v", "float64", "EVSE maximum voltage",
       ("EVSEMaximumVoltageLimit", "EVSEMaximumVoltage")),
    _M("evse_maximum_current_a", "float64", "EVSE maximum (charge) current",
       ("EVSEMaximumCurrentLimit", "EVSEMaxCurrent", "EVSEMaximumChargeCurrent")),
    _M("evse_maximum_power_w", "float64", "EVSE maximum (charge) power",
       ("EVSEMaximumPowerLimit", "EVSEMaximumChargePower")),
    _M("ev_energy_request_wh", "float64", "energy the EV asks for",
       ("EVEnergyRequest", "EAmount", "EVTargetEnergyRequest")),
    _M("remaining_time_to_full_soc_s", "float64", "RemainingTimeToFullSoC (DIN/-2 DC)",
       ("RemainingTimeToFullSoC",)),
    _M("payload", "binary", "the EXI (or SDP) payload, without V2GTP header"),
    _M("message_json", "string", "the whole decoded message as JSON (as "
       "`iso15118 decode --format json` writes it); SDP as its fields; null if undecodable"),
)

_S = Column
SESSION_COLUMNS: Final[tuple[Column, ...]] = (
    _S("session", "string", "session key: SOURCE#tcp N / SOURCE#tls N for a capture's V2G "
       "TCP connection, SOURCE@OFFSET for a log (byte offset of its first line)"),
    _S("source", "string", "input file"),
    _S("reader", "string", "pcap or hexlog"),
    _S("messages", "int64", "V2G (EXI) messages in the session"),
    _S("sdp_messages", "int64", "SDP messages that led to the session"),
    _S("undecodable", "int64", "messages that did not decode"),
    _S("evccid", "string", "EVCCID (SessionSetupReq)"),
    _S("evse_id", "string", "EVSEID (SessionSetupRes)"),
    _S("session_id", "string", "SessionID the EVSE assigned, hex"),
    _S("protocols_offered", "list<string>", "namespaces in supportedAppProtocolReq"),
    _S("protocol_agreed", "string", "namespace chosen in supportedAppProtocolRes"),
    _S("protocol", "string", "protocol the session's messages were decoded with"),
    _S("start", "timestamp", "UTC time of the first message (null without absolute times)"),
    _S("end", "timestamp", "UTC time of the last message"),
    _S("start_s", "float64", "time of the first message in the source's seconds"),
    _S("duration_s", "float64", "last minus first message"),
    _S("energy_transfer_mode", "string", "requested mode (DIN/-2) or selected service (-20)"),
    _S("payment_option", "string", "ExternalPayment / Contract (DIN/-2), EIM / PnC (-20)"),
    _S("outcome", "string", "failed (a FAILED response code), stopped (SessionStop "
       "answered OK), or incomplete (the log ends without either)"),
    _S("first_failed_code", "string", "the first FAILED response code"),
    _S("first_failed_message", "string", "the response that carried it"),
    _S("last_message", "string", "name of the session's last message"),
    _S("cable_check_s", "float64", "first CableCheckReq to last CableCheckRes of each run "
       "of them, summed (-20: DC_CableCheck)"),
    _S("precharge_s", "float64", "the same for PreCharge (-20: DC_PreCharge)"),
    _S("charge_loop_s", "float64", "the same for the charge loop (CurrentDemand, "
       "ChargingStatus, -20 DC_/AC_ChargeLoop): a renegotiation or pause is not counted"),
    _S("charge_loop_messages", "int64", "requests in the charge loop"),
    _S("soc_start_percent", "float64", "first state of charge reported"),
    _S("soc_end_percent", "float64", "last state of charge reported"),
    _S("ev_target_current_max_a", "float64", "largest EV target current"),
    _S("ev_target_voltage_max_v", "float64", "largest EV target voltage"),
    _S("evse_present_current_max_a", "float64", "largest EVSE present current"),
    _S("evse_present_voltage_max_v", "float64", "largest EVSE present voltage"),
    _S("evse_present_voltage_min_v", "float64", "smallest EVSE present voltage"),
    _S("evse_maximum_power_w", "float64", "largest EVSE maximum power announced"),
)

#: XSD element -> column, for the physical values (PhysicalValueType, RationalNumberType,
#: percentages) and the texts; the walk in :mod:`.columns` looks up these two tables.
PHYSICAL_FIELDS: Final[dict[str, str]] = {
    x: c.name for c in MESSAGE_COLUMNS if c.type == "float64" for x in c.xsd}
TEXT_FIELDS: Final[dict[str, str]] = {
    x: c.name for c in MESSAGE_COLUMNS if c.type in ("string", "bool") for x in c.xsd}


def markdown_table(columns: tuple[Column, ...]) -> str:
    """The columns as a Markdown table (the README's schema section is this output)."""
    rows = ["| column | type | meaning |", "|---|---|---|"]
    rows += [f"| `{c.name}` | {c.type} | {c.doc} |" for c in columns]
    return "\n".join(rows)
