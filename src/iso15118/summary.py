"""One-line summaries of decoded messages: the name and the values a test engineer scans.

A timeline of a charging session is read for a handful of values (the response codes,
the EV's targets and the EVSE's present voltage and current, the state of charge, the
processing state), not for the whole message. Which fields those are is a table of XSD
names below; finding them in a message is generic: the members of the message are
walked through their ``_exi_members`` metadata, so the same table serves DIN 70121,
ISO 15118-2 and every ISO 15118-20 namespace.

Physical values are shown as numbers with units: DIN and -2 ``PhysicalValueType`` is
Value x 10^Multiplier with a Unit; -20 ``RationalNumberType`` is Value x 10^Exponent,
and its unit follows from the field name (ISO 15118-20 defines none in the type).
"""

from __future__ import annotations

import enum
from decimal import Decimal
from functools import cache
from typing import Any, Final

from exi_codec.model import Model, Nil
from iso15118 import codec

__all__ = ["KEY_FIELDS", "key_values", "message_name", "physical_value"]

#: XSD element names worth a place in a one-line summary, in no particular order (the
#: message's own member order decides the output order).
KEY_FIELDS: Final[frozenset[str]] = frozenset({
    "ResponseCode", "EVSEProcessing", "Processing", "ChargeProgress", "EVProcessing",
    "EVTargetVoltage", "EVTargetCurrent", "EVTargetPower", "EVTargetEnergyRequest",
    "EVPresentVoltage", "EVPresentActivePower", "EVPresentSOC", "PresentSOC", "EVRESSSOC",
    "EVSEPresentVoltage", "EVSEPresentCurrent", "EVSEPresentActivePower",
    "EVSEMaximumVoltageLimit", "EVSEMaximumCurrentLimit", "EVSEMaximumPowerLimit",
    "EVMaximumVoltageLimit", "EVMaximumCurrentLimit", "EVMaximumChargeCurrent",
    "EVMaximumChargeVoltage", "EVMaximumChargePower",
    "EVReady", "EVErrorCode", "EVSEStatusCode", "EVSENotification", "EVSEIsolationStatus",
    "BulkChargingComplete", "ChargingComplete", "EVCCID", "EVSEID", "EVSEID_OrNot",
    "SelectedPaymentOption", "SelectedAuthorizationService", "SelectedEnergyTransferService",
    "RequestedEnergyTransferMode", "SchemaID", "ChargingSession", "EVMinimumVoltageLimit",
})
# Values that only restate the normal case; leaving them out makes anomalies stand out.
_QUIET: Final = frozenset({("EVSENotification", "None"), ("EVErrorCode", "NO_ERROR")})
# Containers worth looking into for the fields above (status blocks, parameter sets).
_DESCEND_DEPTH: Final = 3
_UNITS_BY_NAME: Final = (("Voltage", "V"), ("Current", "A"), ("Energy", "Wh"),
                         ("Power", "W"), ("SOC", "%"))


@cache
def _element_names(protocol: str) -> dict[type, str]:
    """Model class -> the global element of that type (DIN/-2 body elements)."""
    c = codec.get_codec(protocol)
    names: dict[type, str] = {}
    for q, t in c.tables["element_types"].items():
        klass = c.classes[t]
        if klass is not None:
            names.setdefault(klass, str(c.grammar.qname_of(q)).rsplit("}", 1)[-1])
    return names


def body_of(value: Any) -> Any:
    """The message proper: the Body element of a ``V2G_Message``, else the value itself."""
    body = getattr(value, "body", None)
    inner = getattr(body, "body_element", None)
    return inner if inner is not None else value


def message_name(protocol: str, element: str, value: Any) -> str:
    """``CurrentDemandReq`` for a DIN/-2 V2G_Message, the document element otherwise."""
    local = element.rsplit("}", 1)[-1]
    if local != "V2G_Message":
        return local
    inner = body_of(value)
    if inner is value:
        return "V2G_Message (empty Body)"
    return _element_names(protocol).get(type(inner), type(inner).__name__.removesuffix("Type"))


def _number(value: int, exponent: int) -> str:
    d = Decimal(value).scaleb(exponent)
    text = format(d.normalize(), "f") if d == d.to_integral() or exponent < 0 else str(d)
    return text


def physical_value(obj: Any, name: str = "") -> str | None:
    """``400 V`` for a PhysicalValueType or RationalNumberType, else None."""
    if not isinstance(obj, Model):
        return None
    fields = {m[1] for m in obj._exi_members}
    if "Value" not in fields or not ({"Multiplier", "Exponent"} & fields):
        return None
    value = getattr(obj, "value", None)
    if not isinstance(value, int):
        return None
    exponent = getattr(obj, "multiplier", None) if "Multiplier" in fields else getattr(
        obj, "exponent", None)
    if exponent is not None and not isinstance(exponent, int):
        return None  # a nil scale (xsi:nil in a damaged stream): no number to show
    text = _number(value, int(exponent or 0))
    unit = getattr(obj, "unit", None)
    if isinstance(unit, enum.Enum):
        unit_text = str(unit.value)
    else:
        unit_text = next((u for key, u in _UNITS_BY_NAME if key in name), "")
    return f"{text} {unit_text}".rstrip()


def one_line(text: str) -> str:
    """``text`` with every non-printable character (line breaks, controls) written as a
    Python escape, so a summary stays one line whatever a decoded string holds."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii")
                   for c in text)


def _scalar(value: Any) -> str:
    """The text of a value on one line."""
    if isinstance(value, Nil):
        return "nil"
    if isinstance(value, enum.Enum):
        return one_line(str(value.value))
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, bytes):
        return value.hex().upper()
    if isinstance(value, int):
        try:
            return str(value)
        except ValueError:  # past CPython's 4,300-digit limit: only a damaged stream
            return f"<integer of {value.bit_length()} bits>"
    return one_line(str(value))


def _walk(obj: Any, depth: int, out: list[tuple[str, str]]) -> None:
    for attr, xml, _kind, is_list, _ns in obj._exi_members:
        value = getattr(obj, attr, None)
        if value is None or (is_list and not value):
            continue
        if xml in KEY_FIELDS:
            if is_list:
                out.append((xml, ",".join(_scalar(v) for v in value)))
            elif isinstance(value, Model):
                pv = physical_value(value, xml)
                if pv is not None:
                    out.append((xml, pv))
                elif depth < _DESCEND_DEPTH:
                    _walk(value, depth + 1, out)
            elif (xml, _scalar(value)) not in _QUIET:
                out.append((xml, _scalar(value)))
        elif depth < _DESCEND_DEPTH:
            for item in value if is_list else (value,):
                if isinstance(item, Model) and physical_value(item) is None:
                    _walk(item, depth + 1, out)


def key_values(value: Any) -> list[tuple[str, str]]:
    """The key fields of a decoded message, as ``(XSD name, text)`` in message order."""
    inner = body_of(value)
    if not isinstance(inner, Model):
        return []
    if type(inner).__name__.startswith("supportedAppProtocol"):
        return _app_protocols(inner)
    out: list[tuple[str, str]] = []
    _walk(inner, 0, out)
    return out


def _app_protocols(msg: Any) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for ap in getattr(msg, "app_protocol", None) or []:
        if not isinstance(ap, Model):  # nil in a damaged stream
            out.append(("AppProtocol", _scalar(ap)))
            continue
        ns, major, minor, ident, prio = (_scalar(getattr(ap, a, None)) for a in (
            "protocol_namespace", "version_number_major", "version_number_minor", "schema_id",
            "priority"))
        out.append(("AppProtocol", f"{ns} {major}.{minor} id={ident} prio={prio}"))
    for attr, xml in (("response_code", "ResponseCode"), ("schema_id", "SchemaID")):
        v = getattr(msg, attr, None)
        if v is not None:
            out.append((xml, _scalar(v)))
    return out
