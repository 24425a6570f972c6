"""A decoded message -> the typed columns of the messages table.

The walk is generic, like :mod:`iso15118.summary`: a model's members are visited through
their ``_exi_members`` metadata and looked up by XSD name in :data:`.schema.PHYSICAL_FIELDS`
and :data:`.schema.TEXT_FIELDS`, so DIN 70121, ISO 15118-2 and every -20 namespace share
one table. The first occurrence of a name wins. Lists (schedules, certificate chains,
service lists) are not entered: their elements are not values of the message itself.

Physical values are DIN/-2 ``PhysicalValueType`` (Value x 10^Multiplier) or -20
``RationalNumberType`` (Value x 10^Exponent); the unit is the column's (the schema puts
the same quantity in the same base unit, V, A, W, Wh, s, in every protocol).
"""

from __future__ import annotations

import enum
from typing import Any, Final

from exi_codec.model import Model, Nil
from iso15118.export.schema import PHYSICAL_FIELDS, TEXT_FIELDS

__all__ = ["extract", "number_of"]

_MAX_DEPTH: Final = 5
#: -20 energy services by ServiceID (the same table as iso15118.session.values.EnergyService).
_SERVICES: Final = {1: "AC", 2: "DC", 3: "WPT", 4: "DC_ACDP", 5: "AC_BPT", 6: "DC_BPT",
                    7: "DC_ACDP_BPT"}


_SCALE_ATTR: dict[type, str | None] = {}


def _scale_attr(cls: type) -> str | None:
    """``multiplier``/``exponent`` when instances of ``cls`` are physical values."""
    try:
        return _SCALE_ATTR[cls]
    except KeyError:
        pass
    names = {m[1]: m[0] for m in getattr(cls, "_exi_members", ())}
    found = (names.get("Multiplier") or names.get("Exponent")) if "Value" in names else None
    _SCALE_ATTR[cls] = found
    return found


def number_of(obj: Any) -> float | None:
    """A physical value or plain number as a float in its base unit, else None."""
    if isinstance(obj, bool):
        return None
    if isinstance(obj, int | float):
        return float(obj)
    if not isinstance(obj, Model):
        return None
    scale = _scale_attr(type(obj))
    if scale is None:
        return None
    value, exponent = getattr(obj, "value", None), getattr(obj, scale, None)
    if not isinstance(value, int) or isinstance(value, bool):
        return None
    if exponent is None:
        exponent = 0
    if not isinstance(exponent, int) or not -40 <= exponent <= 40:
        return None  # nil or absurd scale: only a damaged stream has one
    try:  # dividing by an exact power of ten rounds 20003 x 10^-2 to 200.03 exactly
        return float(value) / 10.0 ** -exponent if exponent < 0 else float(value) * 10.0 ** exponent
    except OverflowError:
        return None


def _text(obj: Any, column: str) -> Any:
    if isinstance(obj, Nil):
        return None
    if column == "ev_ready":
        return obj if isinstance(obj, bool) else None
    if isinstance(obj, enum.Enum):
        return str(obj.value)
    if isinstance(obj, bool):
        return "true" if obj else "false"
    if isinstance(obj, bytes):
        return obj.hex().upper()
    if isinstance(obj, Model):
        service = getattr(obj, "service_id", None)  # -20 SelectedEnergyTransferService
        if isinstance(service, int):
            return _SERVICES.get(service, str(service))
        return None
    return str(obj)


def _walk(obj: Any, depth: int, out: dict[str, Any]) -> None:
    for attr, xml, _kind, is_list, _ns in obj._exi_members:
        if is_list:
            continue
        value = getattr(obj, attr, None)
        if value is None:
            continue
        column = PHYSICAL_FIELDS.get(xml)
        if column is not None:
            if column not in out:
                number = number_of(value)
                if number is not None:
                    out[column] = number
            continue
        column = TEXT_FIELDS.get(xml)
        if column is not None:
            if column not in out:
                text = _text(value, column)
                if text is not None:
                    out[column] = text
            continue
        if depth < _MAX_DEPTH and isinstance(value, Model):
            _walk(value, depth + 1, out)


def extract(value: Any) -> dict[str, Any]:
    """Column name -> value for the typed columns a decoded message fills."""
    out: dict[str, Any] = {}
    if isinstance(value, Model):
        _walk(value, 0, out)
    return out
