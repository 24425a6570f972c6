"""The session layer: sans-IO SECC and EVCC state machines, and what they share.

``SeccSession`` (the charger) and ``EvccSession`` (the vehicle) take received payloads
and the time, and return a :class:`Step` (payloads to send, events, close, deadline).
Applications describe their side with :class:`EVSEState` / :class:`EVState` and react to
the events in :mod:`iso15118.session.events`. The rules (next-request graph, timers) are
the tables in :mod:`.rules_din` and :mod:`.rules_iso2`; asyncio runners are in
:mod:`.runner`.
"""

from iso15118.session.core import Outgoing, Step
from iso15118.session.ev_state import EVState
from iso15118.session.evcc import EvccConfig, EvccSession
from iso15118.session.events import Outcome
from iso15118.session.evse_state import ACLimits, DCLimits, EVSEState
from iso15118.session.secc import PausedSessions, SeccConfig, SeccSession
from iso15118.session.values import (
    EnergyMode,
    EVErrorCode,
    EVSEStatusCode,
    IsolationLevel,
    MeterReading,
    Notification,
    Payment,
    Processing,
    Progress,
    Schedule,
    ScheduleEntry,
    StopKind,
    ValueAddedService,
)
from iso15118.session.views import ChargerInfo, VehicleInfo

__all__ = [
    "ACLimits",
    "ChargerInfo",
    "DCLimits",
    "EVErrorCode",
    "EVSEState",
    "EVSEStatusCode",
    "EVState",
    "EnergyMode",
    "EvccConfig",
    "EvccSession",
    "IsolationLevel",
    "MeterReading",
    "Notification",
    "Outcome",
    "Outgoing",
    "PausedSessions",
    "Payment",
    "Processing",
    "Progress",
    "Schedule",
    "ScheduleEntry",
    "SeccConfig",
    "SeccSession",
    "Step",
    "StopKind",
    "ValueAddedService",
    "VehicleInfo",
]
