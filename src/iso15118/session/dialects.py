"""How each protocol spells the session's neutral facts: the interface and its registry.

A dialect turns a request into neutral facts (:class:`VehicleInfo` fields, and a small
dict of step-specific extras) and composes a response from the charger's state (SECC
side); or composes a request from the vehicle's state and reads a response into
:class:`ChargerInfo` (EVCC side). The session cores hold the logic; the dialects hold
the spelling. DIN 70121: :mod:`.din_dialect`; ISO 15118-2: :mod:`.iso2_dialect`.
"""

from __future__ import annotations

import decimal
import importlib
from typing import TYPE_CHECKING, Any, Protocol

from iso15118.errors import Iso15118Error
from iso15118.session.rules import ProtocolRules
from iso15118.session.values import (
    EVErrorCode,
    EVSEStatusCode,
    IsolationLevel,
    Notification,
    Processing,
)
from iso15118.session.views import ChargerInfo, VehicleInfo

if TYPE_CHECKING:
    from iso15118.session.evcc import EvccSession
    from iso15118.session.secc import SeccSession

__all__ = ["DialectBase", "EvccDialect", "SeccDialect", "evcc_dialect", "number", "physical",
           "read_dc_ev_status", "secc_dialect"]


class _Common(Protocol):
    protocol: str
    rules: ProtocolRules
    charge_service_id: int

    def body(self, message: Any) -> Any: ...

    def element_name(self, body: Any) -> str: ...

    def session_id(self, message: Any) -> bytes | None: ...

    def wrap(self, body: Any, session_id: bytes, signature: Any = None) -> Any: ...


class SeccDialect(_Common, Protocol):
    def evcc_id(self, body: Any) -> bytes | None: ...

    def read(self, step: str, body: Any, ev: VehicleInfo) -> dict[str, Any]: ...

    def compose(self, step: str, secc: SeccSession, code: str, extras: dict[str, Any]) -> Any: ...


class EvccDialect(_Common, Protocol):
    def request(self, step: str, evcc: EvccSession) -> Any: ...

    def read_response(self, step: str, body: Any, evse: ChargerInfo) -> dict[str, Any]: ...


def secc_dialect(protocol: str) -> SeccDialect:
    module = importlib.import_module(f"iso15118.session.{protocol}_dialect")
    dialect: SeccDialect = module.DIALECT
    return dialect


def evcc_dialect(protocol: str) -> EvccDialect:
    module = importlib.import_module(f"iso15118.session.{protocol}_dialect")
    dialect: EvccDialect = module.DIALECT
    return dialect


def physical(cls: Any, value: float | None, unit: Any) -> Any:
    """``value`` as the protocol's PhysicalValueType, rounded to what it can carry.

    Measured and computed quantities are floats; rounding them to the message's
    resolution is the intent here. Values beyond the type's range are clamped to it
    (a 1 MW limit is still "more than you can use" at the type's maximum)."""
    v = 0.0 if value is None else float(value)
    try:
        return cls.from_number(v, unit, rounding=decimal.ROUND_HALF_EVEN)
    except Iso15118Error:
        top = 32767 * 10 ** cls._scale_range[1]
        return cls.from_number(max(-top, min(top, v)), unit, rounding=decimal.ROUND_HALF_EVEN)


def number(value: Any) -> float | None:
    """A received PhysicalValue as a float; None when absent or not a number (a peer's
    nil or incomplete value must not crash the session)."""
    if value is None:
        return None
    try:
        return float(value)
    except (Iso15118Error, TypeError, ValueError, AttributeError):
        return None


def enum_value(enum_cls: Any, value: Any, default: Any = None) -> Any:
    """Map a protocol enum member onto ``enum_cls`` by value (None/unknown: default)."""
    raw = getattr(value, "value", value)
    try:
        return enum_cls(raw)
    except ValueError:
        return default


class DialectBase:
    """What DIN and ISO-2 spell alike: the V2G_Message frame, the DC status blocks, the
    first fields of every response. Subclasses set ``protocol``, ``rules`` and
    ``names`` (body model class -> element name)."""

    protocol: str
    rules: ProtocolRules
    charge_service_id = 1
    names: dict[type, str]

    def body(self, message: Any) -> Any:
        body = getattr(message, "body", None)
        return getattr(body, "body_element", None)

    def element_name(self, body: Any) -> str:
        return self.names.get(type(body), type(body).__name__)

    def session_id(self, message: Any) -> bytes | None:
        sid = getattr(getattr(message, "header", None), "session_id", None)
        return sid if isinstance(sid, bytes) else None

    def evcc_id(self, body: Any) -> bytes | None:
        value = getattr(body, "evcc_id", None)
        return value if isinstance(value, bytes) else None

    def read_common(self, body: Any, evse: ChargerInfo) -> dict[str, Any]:
        """ResponseCode and EVSEProcessing of a response, as the extras every step has."""
        extras: dict[str, Any] = {}
        code = getattr(body, "response_code", None)
        extras["code"] = getattr(code, "value", "FAILED")
        processing = getattr(body, "evse_processing", None)
        if processing is not None:
            evse.processing = enum_value(Processing, processing, Processing.ONGOING)
            extras["processing"] = evse.processing
        return extras

    def _read_dc_status(self, status: Any, evse: ChargerInfo) -> None:
        """DC_EVSEStatus (DIN and ISO-2 have the same fields)."""
        if status is None:
            return
        evse.notification = enum_value(Notification, status.evse_notification,
                                       Notification.NONE)
        evse.notification_max_delay = status.notification_max_delay or 0
        evse.isolation = enum_value(IsolationLevel, status.evse_isolation_status)
        evse.status = enum_value(EVSEStatusCode, status.evse_status_code)


def read_dc_ev_status(status: Any, ev: VehicleInfo) -> None:
    """DC_EVStatus (EVReady, EVErrorCode, EVRESSSOC) into what the SECC knows of the EV."""
    if status is None:
        return
    ev.ready = status.ev_ready if isinstance(status.ev_ready, bool) else None
    ev.error = enum_value(EVErrorCode, status.ev_error_code)
    ev.soc = status.evress_soc if isinstance(status.evress_soc, int) else None
