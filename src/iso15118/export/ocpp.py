"""OCPP JSON logs -> message records: the ISO 15118 EXI that OCPP carries as base64.

OCPP 2.0.1 and 2.1 carry the EV's CertificateInstallationReq (or -20's
CertificateInstallation) as ``exiRequest`` and the answer as ``exiResponse`` of
``Get15118EVCertificate`` (and ``exiRequest`` of 2.0's ``Update15118EVCertificate``);
OCPP 1.6 with the Plug & Charge extension wraps the same fields in a ``DataTransfer``
whose ``data`` is a JSON string. The namespace in ``iso15118SchemaVersion`` names the
protocol; a response carries none, so it takes its request's (matched by the OCPP
message id, the second element of every OCPP-J frame).

Every string field whose key starts with ``exi`` (``exiRequest``, ``exiResponse``, and
any later field named that way) anywhere in a frame's payload is decoded, so EXI other
messages carry is found without a list of actions here.

Price schedules travel as JSON modelled on the ISO 15118 types (K15-K18:
``chargingSchedule.salesTariff`` for -2; 2.1's ``absolutePriceSchedule`` and
``priceLevelSchedule`` for -20, signed by the eMSP through ``signatureId`` and
``digestValue``). Each such ``chargingSchedule`` (in SetChargingProfile,
NotifyEVChargingSchedule, anywhere in a payload) becomes a record of the -2 SalesTariff or
the -20 AbsolutePriceSchedule / PriceLevelSchedule, converted by
:func:`iso15118.ocpp.prices.price_schedule_from` (the OCPP bridge's one conversion), with
the element's EXI fragment as payload: the bytes the signature's digest covers. A digest
that does not match, or JSON that does not convert, is a row with the reason in ``error``.

A log line holds one OCPP-J frame ``[2, id, action, payload]`` / ``[3, id, payload]``,
possibly after a timestamp and other text, or a JSON object holding such a frame under
any key (a JSON Lines log). The time is the object's ``timestamp``/``time`` field or the
text before the frame. Lines with no frame are skipped.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from iso15118 import codec, protocols
from iso15118.detect import ALL_CANDIDATES, detect
from iso15118.errors import Iso15118Error
from iso15118.export.layouts import parse_time
from iso15118.export.lines import iter_lines
from iso15118.export.records import EV_TO_EVSE, EVSE_TO_EV, ExportInputError, MessageRecord
from iso15118.summary import message_name

__all__ = ["read_ocpp"]

_BY_NAMESPACE = {p.namespace: p.name for p in protocols.PROTOCOLS.values()}
_CALL, _RESULT = 2, 3
#: OCPP frames carry whole certificate chains (exiResponse is up to 17,000 characters in
#: OCPP 2.0.1); several megabytes is no OCPP frame.
MAX_OCPP_LINE_BYTES = 4 << 20
_DECODER = json.JSONDecoder()


def _frame_in(text: str) -> tuple[list[Any] | None, float | None]:
    """The OCPP-J frame of a line and the line's time, if it holds one."""
    start = text.find("{") if text.lstrip().startswith("{") else text.find("[")
    if start < 0:
        return None, None
    try:
        obj, _ = _DECODER.raw_decode(text, start)
    except ValueError:
        return None, None
    if isinstance(obj, list):
        return (obj if _is_frame(obj) else None), _leading_time(text[:start])
    if isinstance(obj, dict):
        when = parse_time(str(obj.get("timestamp") or obj.get("time") or ""))
        for v in obj.values():
            if isinstance(v, str) and v.lstrip().startswith("["):
                try:
                    v = json.loads(v)
                except ValueError:
                    continue
            if isinstance(v, list) and _is_frame(v):
                return v, when
    return None, None


def _leading_time(prefix: str) -> float | None:
    """The time at the start of a log line's prefix: the whole prefix, its first
    token, or its first two (``2025-01-01 10:00:00.5 CS->CSMS``)."""
    tokens = prefix.replace("[", " ").replace("]", " ").replace("|", " ").split()
    for n in (len(tokens), 1, 2):
        found = parse_time(" ".join(tokens[:n])) if 0 < n <= len(tokens) else None
        if found is not None:
            return found
    return None


def _is_frame(obj: list[Any]) -> bool:
    return len(obj) >= 3 and obj[0] in (_CALL, _RESULT) and isinstance(obj[1], str)


def _exi_fields(payload: Any, depth: int = 0) -> Iterator[tuple[str, str]]:
    """(key, base64 text) for every ``exi*`` string field; a
    ``data`` string that is itself JSON (OCPP 1.6 DataTransfer) is looked into."""
    if depth > 6:
        return
    if isinstance(payload, dict):
        for k, v in payload.items():
            if isinstance(v, str) and k.startswith("exi") and k[3:4].isupper():
                yield k, v
            elif isinstance(v, str) and k == "data" and v.lstrip().startswith("{"):
                try:
                    inner = json.loads(v)
                except ValueError:
                    continue
                yield from _exi_fields(inner, depth + 1)
            elif isinstance(v, dict | list):
                yield from _exi_fields(v, depth + 1)
    elif isinstance(payload, list):
        for v in payload:
            yield from _exi_fields(v, depth + 1)


def _schema_version(payload: Any, depth: int = 0) -> str | None:
    if depth > 6:
        return None
    if isinstance(payload, dict):
        for k, v in payload.items():
            if k in ("iso15118SchemaVersion", "15118SchemaVersion") and isinstance(v, str):
                return v
            if k == "data" and isinstance(v, str) and v.lstrip().startswith("{"):
                try:
                    found = _schema_version(json.loads(v), depth + 1)
                except ValueError:
                    found = None
                if found:
                    return found
            elif isinstance(v, dict):
                found = _schema_version(v, depth + 1)
                if found:
                    return found
    return None


def _decode(data: bytes, namespace: str | None) -> tuple[str | None, str | None, Any,
                                                         str | None, str | None]:
    """(protocol, element, value, error, note) for an EXI document from OCPP."""
    proto = _BY_NAMESPACE.get(namespace or "")
    if proto is not None and proto != "apphand":
        try:
            element, value = codec.decode_element(data, proto)
        except Iso15118Error as e:
            return proto, None, None, f"{proto}: {' '.join(str(e).split())}", None
        return proto, element, value, None, None
    found = detect(data, candidates=ALL_CANDIDATES)
    why = f"schema version {namespace!r} unknown" if namespace else "no schema version"
    if found.matches:
        p = found.matches[0]
        element, value = found.decoded[p]
        return p, element, value, None, f"protocol detected ({why})"
    reasons = "; ".join(f"{p}: {r}" for p, r in found.rejected.items())
    return None, None, None, f"no protocol decodes it ({reasons})", None


def read_ocpp(path: str | Path, source: str | None = None) -> Iterator[MessageRecord]:
    """The EXI messages carried by the OCPP frames of a log, in file order."""
    p = Path(path)
    src = source if source is not None else str(path)
    versions: dict[str, str | None] = {}  # OCPP message id -> iso15118SchemaVersion
    try:
        with p.open("rb") as f:
            for here, raw_line in iter_lines(f, 0, limit=MAX_OCPP_LINE_BYTES):
                if raw_line is None:
                    yield MessageRecord(src, "ocpp", None, None, None, None, "exi", None, None,
                                        b"", "(undecodable)", error=f"offset {here}: line "
                                        f"longer than {MAX_OCPP_LINE_BYTES} bytes, skipped",
                                        offset=here)
                    continue
                frame, when = _frame_in(raw_line.decode("utf-8", "replace"))
                if frame is None:
                    continue
                msg_id = frame[1]
                payload = frame[3] if frame[0] == _CALL and len(frame) > 3 else frame[2]
                if frame[0] == _CALL:
                    versions[msg_id] = _schema_version(payload)
                namespace = versions.get(msg_id) if frame[0] == _RESULT else \
                    _schema_version(payload)
                for key, text in _exi_fields(payload):
                    yield _record(src, here, when, key, text, namespace, frame[0] == _CALL)
                for schedule in _price_schedules(payload):
                    yield _price_record(src, here, when, schedule)
    except OSError as e:
        raise ExportInputError(f"{src}: {e.strerror or e}") from None


def _record(src: str, offset: int, when: float | None, key: str, text: str,
            namespace: str | None, is_call: bool) -> MessageRecord:
    # exiRequest is the EV's message (the station forwards it); exiResponse goes to the EV
    direction = EVSE_TO_EV if "Response" in key or (not is_call and "Request" not in key) \
        else EV_TO_EVSE
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as e:
        return MessageRecord(src, "ocpp", None, None, when, direction, "exi", None, None, b"",
                             "(undecodable)", error=f"{key}: not base64 ({e})", offset=offset)
    proto, element, value, error, note = _decode(data, namespace)
    if error is not None or element is None or proto is None:
        return MessageRecord(src, "ocpp", None, None, when, direction, "exi", proto, None,
                             data, "(undecodable)", None, None, f"{key}: {error}", note,
                             offset)
    return MessageRecord(src, "ocpp", None, None, when, direction, "exi", proto, None, data,
                         message_name(proto, element, value), element, value, None, note,
                         offset)


_PRICE_KEYS = {"salesTariff": ("iso2", "SalesTariff"),
               "absolutePriceSchedule": ("iso20-common", "AbsolutePriceSchedule"),
               "priceLevelSchedule": ("iso20-common", "PriceLevelSchedule")}


def _price_schedules(payload: Any, depth: int = 0) -> Iterator[dict[str, Any]]:
    """Every object holding a price schedule key (a ``chargingSchedule``)."""
    if depth > 8:
        return
    if isinstance(payload, dict):
        if any(isinstance(payload.get(k), dict) for k in _PRICE_KEYS):
            yield payload
        for v in payload.values():
            if isinstance(v, dict | list):
                yield from _price_schedules(v, depth + 1)
    elif isinstance(payload, list):
        for v in payload:
            yield from _price_schedules(v, depth + 1)


def _price_record(src: str, offset: int, when: float | None,
                  schedule: dict[str, Any]) -> MessageRecord:
    from iso15118.ocpp.prices import price_schedule_from

    key = next(k for k in _PRICE_KEYS if isinstance(schedule.get(k), dict))
    proto, name = _PRICE_KEYS[key]
    signed = "digestValue" in schedule
    note = (f"from OCPP {key} (JSON); "
            + ("digestValue matches the EXI fragment" if signed else "not signed"))
    try:
        value = price_schedule_from(schedule, proto)
        payload = codec.encode_fragment(name, value, proto)
    except (Iso15118Error, KeyError, TypeError, ValueError, AttributeError) as e:
        reason = " ".join(str(e).split()) or type(e).__name__
        return MessageRecord(src, "ocpp", None, None, when, EVSE_TO_EV, "exi", proto, None, b"",
                             "(undecodable)", error=f"{key}: {reason}", offset=offset)
    element = f"{{{protocols.get(proto).namespace}}}{name}"
    return MessageRecord(src, "ocpp", None, None, when, EVSE_TO_EV, "exi", proto, None, payload,
                         name, element, value, None, note, offset, fragment=True)
