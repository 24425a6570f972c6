"""What both sides of an ISO 15118-20 session need to spell its messages.

-20 messages are documents of their own (no V2G_Message around them) with a header that
carries the SessionID and a TimeStamp in seconds since the epoch (the one place a session
needs wall-clock time: the dialect takes it from a clock the caller can pin). Numbers are
RationalNumbers (Value x 10^Exponent). Services are numbered (ISO 15118-20 Table 204) and
described by parameter sets (ServiceDetail: Connector, ControlMode, EVSENominalVoltage,
MobilityNeedsMode, Pricing; for BPT also BPTChannel and GeneratorMode; Tables 205-207 as
Josev 0.31.2 transcribes them).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from iso15118.messages import iso20_common as common
from iso15118.messages import iso20_types as types
from iso15118.session.dialects import DialectBase, enum_value, number, physical
from iso15118.session.values import ControlMode, EnergyService, Notification, Processing
from iso15118.session.views import ChargerInfo

__all__ = ["CONTROL_MODE_CODES", "Iso20Base", "rational", "service_parameters"]

_RN = types.RationalNumberType
#: ServiceDetail ControlMode parameter values (Table 205)
CONTROL_MODE_CODES = {ControlMode.SCHEDULED: 1, ControlMode.DYNAMIC: 2}
_CONTROL_MODES = {v: k for k, v in CONTROL_MODE_CODES.items()}
#: -2's neutral notifications in -20 words, and back
_NOTIFICATIONS = {
    Notification.STOP_CHARGING: "Terminate",
    Notification.RENEGOTIATION: "ScheduleRenegotiation",
    Notification.PAUSE: "Pause",
    Notification.EXIT_STANDBY: "ExitStandby",
    Notification.SERVICE_RENEGOTIATION: "ServiceRenegotiation",
    Notification.METERING_CONFIRMATION: "MeteringConfirmation",
}
_FROM_NOTIFICATIONS = {v: k for k, v in _NOTIFICATIONS.items()}


def rational(value: float | None) -> Any:
    """``value`` as a RationalNumber, rounded to what it can carry."""
    return physical(_RN, value, None)


def service_parameters(service: EnergyService, control_mode: ControlMode, *, ac_voltage: int,
                       connector: int = 2, pricing: int = 0) -> dict[str, int]:
    """The parameters of one parameter set of ``service`` (ServiceDetailRes). ``pricing``
    is what ScheduleExchangeRes will carry: 0 none, 1 absolute, 2 price levels."""
    params = {"Connector": connector, "ControlMode": CONTROL_MODE_CODES[control_mode]}
    if not service.is_dc:
        params["EVSENominalVoltage"] = ac_voltage
    params["MobilityNeedsMode"] = 1  # EVCC only
    params["Pricing"] = pricing
    if service.bidirectional:
        params["BPTChannel"] = 1  # unified
        params["GeneratorMode"] = 1  # grid following
    return params


class Iso20Base(DialectBase):
    """Framing and status blocks of the -20 namespaces."""

    protocol = "iso20"
    #: wall-clock seconds for the header TimeStamp (tests pin it)
    clock: Callable[[], float] = staticmethod(time.time)

    def body(self, message: Any) -> Any:
        return message  # a -20 message is its own body

    def element_name(self, body: Any) -> str:
        return type(body).__name__.removesuffix("Type")

    def session_id(self, message: Any) -> bytes | None:
        sid = getattr(getattr(message, "header", None), "session_id", None)
        return sid if isinstance(sid, bytes) else None

    def evcc_id(self, body: Any) -> bytes | None:
        value = getattr(body, "evcc_id", None)
        return value.encode("utf-8", "replace") if isinstance(value, str) else None

    def header(self, session_id: bytes, signature: Any = None) -> Any:
        return common.MessageHeaderType(session_id=session_id.rjust(8, b"\0")[:8],
                                        time_stamp=int(self.clock()), signature=signature)

    def wrap(self, body: Any, session_id: bytes, signature: Any = None) -> Any:
        body.header = self.header(session_id, signature)
        return body

    def namespace_of(self, body: Any) -> str:
        """The grammar (and with it the V2GTP payload type) a message travels in."""
        module = type(body).__module__
        if module.endswith("iso20_dc"):
            return "iso20-dc"
        if module.endswith("iso20_ac"):
            return "iso20-ac"
        return "iso20-common"

    # ------------------------------------------------------------------ status blocks

    def evse_status(self, notification: Notification, max_delay: int) -> Any:
        if notification is Notification.NONE:
            return None
        return common.EVSEStatusType(
            notification_max_delay=max_delay,
            evse_notification=common.EvseNotificationType(_NOTIFICATIONS[notification]))

    def read_evse_status(self, status: Any, evse: ChargerInfo) -> None:
        if status is None:
            evse.notification = Notification.NONE
            return
        raw = getattr(status.evse_notification, "value", None)
        evse.notification = _FROM_NOTIFICATIONS.get(str(raw), Notification.NONE)
        evse.notification_max_delay = status.notification_max_delay or 0

    def read_common(self, body: Any, evse: ChargerInfo) -> dict[str, Any]:
        extras = super().read_common(body, evse)
        return extras

    @staticmethod
    def control_mode_of(params: dict[str, object]) -> ControlMode | None:
        code = params.get("ControlMode")
        return _CONTROL_MODES.get(code) if isinstance(code, int) else None


def processing(value: Processing) -> Any:
    return common.ProcessingType(value.value)


def read_processing(value: Any) -> Processing | None:
    return enum_value(Processing, value)


def parameters_of(parameter_set: Any) -> dict[str, object]:
    """{name: value} of a -20 ParameterSet (whichever value field is set)."""
    out: dict[str, object] = {}
    for p in getattr(parameter_set, "parameter", None) or []:
        for attr in ("int_value", "short_value", "byte_value", "bool_value", "finite_string"):
            value = getattr(p, attr, None)
            if value is not None:
                out[p.name] = value
                break
        else:
            rn = getattr(p, "rational_number", None)
            if rn is not None:
                out[p.name] = number(rn)
    return out
