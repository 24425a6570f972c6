"""Events a session hands its application: small immutable records to ``match`` on.

Both sides report every message (:class:`MessageReceived`, :class:`MessageSent`: the raw
typed message, so protocol-specific data stays reachable), the protocol chosen, the
session's start and end. The SECC adds the moments a charger acts on (authorization
asked, cable check asked, power asked for); the EVCC the moments a vehicle acts on (EVSE
limits known, charging started, the EVSE's notifications). Every event has the session
time ``time`` it happened at (the ``now`` the caller passed in).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from iso15118.session.values import (
    EnergyMode,
    IsolationLevel,
    Notification,
    Payment,
    Progress,
    StopKind,
)
from iso15118.session.views import ChargerInfo, VehicleInfo

__all__ = [
    "AuthorizationRequested",
    "CableCheckRequested",
    "ChargeLoop",
    "ChargeParametersReceived",
    "ChargingStarted",
    "ChargingStopped",
    "CertificateInstallationRequested",
    "Event",
    "EVSENotified",
    "EVSEParametersReceived",
    "MessageReceived",
    "MessageSent",
    "MeteringReceiptReceived",
    "Outcome",
    "PowerDeliveryRequested",
    "PreChargeRequested",
    "ProtocolNegotiated",
    "SessionEnded",
    "SessionStarted",
    "TimerExpired",
]


class Outcome(str, enum.Enum):
    COMPLETED = "completed"  # SessionStop(Terminate) answered OK
    PAUSED = "paused"  # SessionStop(Pause) answered OK; resumable by SessionID
    FAILED = "failed"  # anything else: the reason says what


@dataclass(frozen=True, slots=True)
class Event:
    time: float


@dataclass(frozen=True, slots=True)
class MessageReceived(Event):
    protocol: str
    name: str  # e.g. "CurrentDemandReq", "supportedAppProtocolReq"
    message: Any


@dataclass(frozen=True, slots=True)
class MessageSent(Event):
    protocol: str
    name: str
    message: Any


@dataclass(frozen=True, slots=True)
class ProtocolNegotiated(Event):
    protocol: str  # "din", "iso2", "iso20"
    namespace: str
    schema_id: int
    #: what carries the session: "TCP", or the TLS version ("TLSv1.3"; "TLS" when the
    #: caller did not say which)
    link: str = "TCP"


@dataclass(frozen=True, slots=True)
class SessionStarted(Event):
    session_id: bytes
    resumed: bool  # OK_OldSessionJoined: a paused session continues


@dataclass(frozen=True, slots=True)
class SessionEnded(Event):
    """The last event of a session. ``response_code`` is the FAILED code sent or received,
    if one ended it; ``session_id`` lets a paused session be resumed."""

    outcome: Outcome
    reason: str
    response_code: str | None = None
    session_id: bytes | None = None


@dataclass(frozen=True, slots=True)
class TimerExpired(Event):
    """A timer of the table ran out (the session ends after this event)."""

    timer: str  # e.g. "secc_sequence", "ev_message:CurrentDemand", "evcc_cable_check"
    seconds: float


# ---------------------------------------------------------------------- SECC side


@dataclass(frozen=True, slots=True)
class AuthorizationRequested(Event):
    """The EV asks to be authorized (first AuthorizationReq of the phase). The session
    answers Ongoing until :meth:`SeccSession.authorize` decides (unless auto-authorize)."""

    payment: Payment
    emaid: str | None
    contract_chain: tuple[bytes, ...]


@dataclass(frozen=True, slots=True)
class ChargeParametersReceived(Event):
    """ChargeParameterDiscoveryReq: the EV's needs. With ``await_schedules`` the session
    answers Ongoing until :meth:`SeccSession.set_schedules`."""

    energy_mode: EnergyMode
    ev: VehicleInfo
    renegotiation: bool


@dataclass(frozen=True, slots=True)
class CableCheckRequested(Event):
    """Start the isolation test; the session answers Ongoing until
    :meth:`SeccSession.finish_cable_check` (unless auto)."""


@dataclass(frozen=True, slots=True)
class PreChargeRequested(Event):
    target_voltage: float
    target_current: float


@dataclass(frozen=True, slots=True)
class PowerDeliveryRequested(Event):
    """Close (Start) or open (Stop) the contactors, or renegotiate."""

    progress: Progress
    schedule_id: int | None


@dataclass(frozen=True, slots=True)
class ChargeLoop(Event):
    """One CurrentDemandReq (DC) or ChargingStatusReq (AC): what the EV asks now."""

    target_voltage: float | None
    target_current: float | None
    soc: float | None
    charging_complete: bool | None


@dataclass(frozen=True, slots=True)
class MeteringReceiptReceived(Event):
    meter_id: str | None
    energy_wh: int | None
    signed: bool


@dataclass(frozen=True, slots=True)
class CertificateInstallationRequested(Event):
    """A CertificateInstallationReq/CertificateUpdateReq to pass to a backend (its EXI
    without the V2GTP header, as OCPP's Get15118EVCertificate carries it)."""

    action: str  # "Install" or "Update"
    exi: bytes
    namespace: str


@dataclass(frozen=True, slots=True)
class SessionStopRequested(Event):
    kind: StopKind


# ---------------------------------------------------------------------- EVCC side


@dataclass(frozen=True, slots=True)
class EVSEParametersReceived(Event):
    """ChargeParameterDiscoveryRes (Finished): the EVSE's limits and schedules."""

    evse: ChargerInfo
    schedule_id: int | None


@dataclass(frozen=True, slots=True)
class CableCheckFinished(Event):
    isolation: IsolationLevel | None


@dataclass(frozen=True, slots=True)
class ChargingStarted(Event):
    """PowerDeliveryRes OK to Start: energy flows from now on."""


@dataclass(frozen=True, slots=True)
class ChargeLoopStatus(Event):
    """One CurrentDemandRes / ChargingStatusRes / -20 ChargeLoopRes: what the EVSE delivers
    now. ``power`` (W, negative: fed back) where the exchange states it (DC: voltage x
    current; -20 AC: the power agreed), None for -2 AC (the EV draws what PWM allows)."""

    present_voltage: float | None
    present_current: float | None
    requested_current: float | None
    evse: ChargerInfo
    power: float | None = None


@dataclass(frozen=True, slots=True)
class EVSENotified(Event):
    """The EVSE asked for StopCharging or ReNegotiation in its status."""

    notification: Notification
    max_delay: int


@dataclass(frozen=True, slots=True)
class ChargingStopped(Event):
    """PowerDeliveryRes to Stop/Renegotiate: energy no longer flows."""

    reason: str
