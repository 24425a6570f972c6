"""Protocol-neutral values the session layer and its applications share.

DIN SPEC 70121 and ISO 15118-2 name the same facts with slightly different types
(``EVSESupportedEnergyTransferType`` vs ``EnergyTransferModeType``,
``ContractAuthentication`` vs ``Authorization``); ISO 15118-20 renames more. An
application states what its charger or vehicle *is* once, in these terms, and each
protocol's dialect module translates them to and from the wire. The member names follow
ISO 15118-2 (the dialects map them by name), so a reader of the standard recognises them.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class EnergyMode(str, enum.Enum):
    """Energy transfer modes (ISO 15118-2 EnergyTransferModeType; DIN 70121 Table 63)."""

    AC_single_phase_core = "AC_single_phase_core"
    AC_three_phase_core = "AC_three_phase_core"
    DC_core = "DC_core"
    DC_extended = "DC_extended"
    DC_combo_core = "DC_combo_core"
    DC_unique = "DC_unique"

    @property
    def is_dc(self) -> bool:
        return self.name.startswith("DC")


class Payment(str, enum.Enum):
    """How the session is paid: external identification (EIM) or Plug & Charge."""

    EIM = "ExternalPayment"
    PNC = "Contract"


class IsolationLevel(str, enum.Enum):
    """DC isolation monitoring result (ISO 15118-2 isolationLevelType)."""

    Invalid = "Invalid"
    Valid = "Valid"
    Warning = "Warning"
    Fault = "Fault"
    No_IMD = "No_IMD"


class EVSEStatusCode(str, enum.Enum):
    """DC EVSE status codes (ISO 15118-2 DC_EVSEStatusCodeType, DIN 70121 the same)."""

    EVSE_NotReady = "EVSE_NotReady"
    EVSE_Ready = "EVSE_Ready"
    EVSE_Shutdown = "EVSE_Shutdown"
    EVSE_UtilityInterruptEvent = "EVSE_UtilityInterruptEvent"
    EVSE_IsolationMonitoringActive = "EVSE_IsolationMonitoringActive"
    EVSE_EmergencyShutdown = "EVSE_EmergencyShutdown"
    EVSE_Malfunction = "EVSE_Malfunction"

    @property
    def stops_charging(self) -> bool:
        """Codes after which an EV must end the power transfer (ISO 15118-2 Table 71)."""
        return self in _STOPPING_CODES


_STOPPING_CODES = frozenset({
    EVSEStatusCode.EVSE_Shutdown,
    EVSEStatusCode.EVSE_UtilityInterruptEvent,
    EVSEStatusCode.EVSE_EmergencyShutdown,
    EVSEStatusCode.EVSE_Malfunction,
})


class Notification(str, enum.Enum):
    """What the EVSE asks of the EV in its status (EVSENotificationType). The -2 values;
    ISO 15118-20 calls STOP_CHARGING "Terminate" and RENEGOTIATION "ScheduleRenegotiation",
    and adds the others."""

    NONE = "None"
    STOP_CHARGING = "StopCharging"
    RENEGOTIATION = "ReNegotiation"
    PAUSE = "Pause"  # -20
    EXIT_STANDBY = "ExitStandby"  # -20
    SERVICE_RENEGOTIATION = "ServiceRenegotiation"  # -20
    METERING_CONFIRMATION = "MeteringConfirmation"  # -20


class EVErrorCode(str, enum.Enum):
    """DC EV error codes (ISO 15118-2 DC_EVErrorCodeType)."""

    NO_ERROR = "NO_ERROR"
    FAILED_RESSTemperatureInhibit = "FAILED_RESSTemperatureInhibit"
    FAILED_EVShiftPosition = "FAILED_EVShiftPosition"
    FAILED_ChargerConnectorLockFault = "FAILED_ChargerConnectorLockFault"
    FAILED_EVRESSMalfunction = "FAILED_EVRESSMalfunction"
    FAILED_ChargingCurrentdifferential = "FAILED_ChargingCurrentdifferential"
    FAILED_ChargingVoltageOutOfRange = "FAILED_ChargingVoltageOutOfRange"
    FAILED_ChargingSystemIncompatibility = "FAILED_ChargingSystemIncompatibility"
    NoData = "NoData"


class Progress(str, enum.Enum):
    """PowerDelivery's ChargeProgress (DIN: ReadyToChargeState true/false)."""

    START = "Start"
    STOP = "Stop"
    RENEGOTIATE = "Renegotiate"  # -20: ScheduleRenegotiation
    STANDBY = "Standby"  # -20


class StopKind(str, enum.Enum):
    """SessionStopReq's ChargingSession (DIN has no field: always Terminate)."""

    TERMINATE = "Terminate"
    PAUSE = "Pause"
    SERVICE_RENEGOTIATION = "ServiceRenegotiation"  # -20: the session goes on


class ControlMode(str, enum.Enum):
    """ISO 15118-20's control modes: the EV follows a schedule, or the EVSE sets the
    power during the loop (ServiceDetail parameter ControlMode: 1, 2)."""

    SCHEDULED = "Scheduled"
    DYNAMIC = "Dynamic"


class EnergyService(enum.IntEnum):
    """ISO 15118-20's energy transfer services by their ServiceID (Table 204, as Josev
    0.31.2 transcribes it)."""

    AC = 1
    DC = 2
    WPT = 3
    DC_ACDP = 4
    AC_BPT = 5
    DC_BPT = 6
    DC_ACDP_BPT = 7

    @property
    def is_dc(self) -> bool:
        return self.name.startswith("DC")

    @property
    def bidirectional(self) -> bool:
        return self.name.endswith("BPT")


class Processing(str, enum.Enum):
    """EVSEProcessing of the requests that may take long."""

    FINISHED = "Finished"
    ONGOING = "Ongoing"
    ONGOING_CUSTOMER = "Ongoing_WaitingForCustomerInteraction"


@dataclass(frozen=True)
class ScheduleEntry:
    """One interval of a PMax schedule: from ``start`` s (relative to the schedule's start)
    at most ``max_power`` W, for ``duration`` s (None: until the next entry or the end)."""

    start: int
    max_power: float
    duration: int | None = None


@dataclass(frozen=True)
class Schedule:
    """An SAScheduleTuple (-20: ScheduleTuple): an ID and a PMax schedule. The price is
    carried as the protocol's own model object in ``sales_tariff``: -2's SalesTariff, signed
    or not; -20's AbsolutePriceSchedule or PriceLevelSchedule."""

    schedule_id: int
    entries: tuple[ScheduleEntry, ...]
    sales_tariff: object | None = None

    def max_power_at(self, seconds: float) -> float | None:
        """The limit in force ``seconds`` after the schedule started."""
        current = None
        for entry in self.entries:
            if entry.start <= seconds:
                current = entry
        if current is None:
            return None
        if current.duration is not None and seconds >= current.start + current.duration:
            return None
        return current.max_power


@dataclass(frozen=True)
class ValueAddedService:
    """A service offered beside charging (ServiceList): Internet, certificates, custom.

    ``parameter_sets`` map a ParameterSetID to its parameters (name -> int/str/bool/float),
    sent in ServiceDetailRes."""

    service_id: int
    category: str  # "Internet", "ContractCertificate", "OtherCustom"
    name: str | None = None
    scope: str | None = None
    free: bool = True
    parameter_sets: dict[int, dict[str, object]] = field(default_factory=dict)


@dataclass(frozen=True)
class MeterReading:
    """What a MeterInfo carries (ISO 15118-2 MeterInfoType)."""

    meter_id: str
    energy_wh: int | None = None
    signature: bytes | None = None
    status: int | None = None
    timestamp: int | None = None


#: ISO 15118-2 response codes by neutral name; each dialect maps them onto its enum and
#: falls back to plain FAILED where a protocol lacks the specific one.
RESPONSE_CODES = (
    "OK", "OK_NewSessionEstablished", "OK_OldSessionJoined", "OK_CertificateExpiresSoon",
    "FAILED", "FAILED_SequenceError", "FAILED_ServiceIDInvalid", "FAILED_UnknownSession",
    "FAILED_ServiceSelectionInvalid", "FAILED_PaymentSelectionInvalid",
    "FAILED_CertificateExpired", "FAILED_SignatureError", "FAILED_NoCertificateAvailable",
    "FAILED_CertChainError", "FAILED_ChallengeInvalid", "FAILED_ContractCanceled",
    "FAILED_WrongChargeParameter", "FAILED_PowerDeliveryNotApplied",
    "FAILED_TariffSelectionInvalid", "FAILED_ChargingProfileInvalid",
    "FAILED_MeteringSignatureNotValid", "FAILED_NoChargeServiceSelected",
    "FAILED_WrongEnergyTransferMode", "FAILED_ContactorError",
    "FAILED_CertificateNotAllowedAtThisEVSE", "FAILED_CertificateRevoked",
)
