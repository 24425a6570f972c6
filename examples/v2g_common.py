"""The little that the example EV (``ev.py``) and EVSE (``evse.py``) share.

The physical-value helpers every DC message needs, and the one-line summary both sides
print per message so their logs can be read side by side. (Messages travel through
:class:`iso15118.messaging.MessageChannel`.)

Not part of the library: the examples import it from beside themselves.
"""

from __future__ import annotations

import decimal
import enum
from typing import Any

from exi_codec.model import Model
from iso15118 import Iso15118Error, codec, protocols
from iso15118.messages import iso2

#: The namespaces announced in supportedAppProtocolReq (ISO 15118-2 clause 8.2).
ISO2_NAMESPACE = protocols.get("iso2").namespace
DIN_NAMESPACE = protocols.get("din").namespace


class SessionError(Exception):
    """The peer did something a complete session does not allow; the message says what."""


def warm_up() -> None:
    """Compile the codecs now (a few hundred ms each) rather than inside the first timed
    exchange, where they would eat into the peer's 2 s message timeout."""
    for protocol in ("apphand", "iso2"):
        codec.get_codec(protocol)


def physical(value: float, unit: iso2.UnitSymbolType) -> iso2.PhysicalValueType:
    """``value`` as ISO-2's Value x 10^Multiplier. The simulated quantities are computed
    floats (ramps, limits), so rounding to what the message can carry is the intent here;
    a real charger would pass exact readings and let ``from_number`` refuse the rest."""
    return iso2.PhysicalValueType.from_number(value, unit, rounding=decimal.ROUND_HALF_EVEN)


def value_of(pv: iso2.PhysicalValueType | None) -> float:
    if pv is None:
        raise SessionError("a required physical value is missing")
    try:
        return float(pv)
    except Iso15118Error as e:  # a decoded value without its number
        raise SessionError(f"a physical value is incomplete: {e}") from None


#: Fields left out of the summaries: they never change in this example's session.
QUIET = frozenset(
    {
        "ev_ready",
        "ev_error_code",
        "notification_max_delay",
        "evse_notification",
        "evse_isolation_status",
        "evse_current_limit_achieved",
        "evse_voltage_limit_achieved",
        "evse_power_limit_achieved",
    }
)


def _fields(model: Model) -> list[str]:
    """Scalar fields of a message, nested ones flattened: the values a log reader wants.
    Lists show the first field of each item (enough to tell app protocols or schedules)."""
    parts: list[str] = []
    for name, *_ in model._exi_members:
        value = getattr(model, name)
        if value is None or value == [] or name in QUIET:
            continue
        if isinstance(value, iso2.PhysicalValueType):
            unit = value.unit.value if value.unit is not None else ""
            parts.append(f"{name}={value_of(value):g}{unit}")
        elif isinstance(value, Model):
            parts.extend(_fields(value))
        elif isinstance(value, list):
            items = [_brief(item) for item in value]
            parts.append(f"{name}=[{', '.join(items)}]")
        else:
            parts.append(f"{name}={_brief(value)}")
    return parts


def _brief(value: Any) -> str:
    if isinstance(value, Model):
        first = getattr(value, value._exi_members[0][0]) if value._exi_members else None
        return _brief(first)
    if isinstance(value, enum.Enum):
        return str(value.value)
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


def describe(message: Model) -> str:
    """``SessionSetupRes response_code=OK_NewSessionEstablished evse_id=...``."""
    body, extra = message, []
    if isinstance(message, iso2.V2G_Message) and message.body is not None:
        body = message.body.body_element or message.body
        if isinstance(body, iso2.SessionSetupResType) and message.header is not None:
            extra.append(f"session_id={_brief(message.header.session_id)}")
    name = type(body).__name__.removesuffix("Type")
    return " ".join([name, *_fields(body), *extra])


def show(side: str, arrow: str, message: Model) -> None:
    print(f"{side} {arrow} {describe(message)}", flush=True)
