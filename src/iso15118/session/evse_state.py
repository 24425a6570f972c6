"""What a charger application tells the SECC session: its EVSE as it is now.

The application owns the power electronics, the meter and the backend; it keeps one
:class:`EVSEState` per EVSE up to date (present voltage and current, isolation, status,
limits, schedules) and the session composes every response from it, in DIN 70121 or
ISO 15118-2 terms (and -20 later). Nothing here is protocol-specific: the dialect
modules translate. Decisions that take time (authorization, the isolation test,
schedules from a backend) are not fields here but calls on the session
(:meth:`iso15118.session.secc.SeccSession.authorize` and friends), because they belong
to one session, while this object can outlive many.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from iso15118.session.values import (
    ControlMode,
    EnergyMode,
    EnergyService,
    EVSEStatusCode,
    IsolationLevel,
    MeterReading,
    Notification,
    Payment,
    Schedule,
    ScheduleEntry,
    ValueAddedService,
)

__all__ = ["ACLimits", "DCLimits", "EVSEState"]


@dataclass
class DCLimits:
    """DC output capability (DC_EVSEChargeParameter, CurrentDemandRes limits)."""

    max_voltage: float = 500.0
    max_current: float = 125.0
    max_power: float = 50_000.0
    min_voltage: float = 150.0
    min_current: float = 0.0
    peak_current_ripple: float = 2.0
    current_regulation_tolerance: float | None = None
    energy_to_be_delivered: float | None = None
    #: ISO 15118-20 bidirectional (DC_BPT): what the EVSE can take back from the EV
    max_discharge_power: float = 50_000.0
    max_discharge_current: float = 125.0


@dataclass
class ACLimits:
    """AC supply (AC_EVSEChargeParameter): nominal voltage, max current per phase."""

    nominal_voltage: float = 230.0
    max_current: float = 32.0
    min_current: float = 6.0  # DIN's EVSEMinCurrent; ISO 15118-2 has none
    phases: int = 3
    nominal_frequency: float = 50.0  # ISO 15118-20
    max_discharge_power: float = 11_000.0  # ISO 15118-20 AC_BPT

    @property
    def max_power(self) -> float:
        """ISO 15118-20 states AC limits as power: all phases at the maximum current."""
        return self.nominal_voltage * self.max_current * self.phases


def _default_schedules() -> list[Schedule]:
    return [Schedule(1, (ScheduleEntry(0, 50_000.0, 86_400),))]


@dataclass
class EVSEState:
    """One EVSE (charge point connector) as the application sees it, kept up to date.

    The session reads these fields each time it composes a response; the application
    writes them from its measurements and decisions. ``notification`` asks the EV to stop
    or renegotiate (EVSE-initiated), within ``notification_max_delay`` seconds.
    """

    evse_id: str = "DE*V2G*E0001*1"
    energy_modes: tuple[EnergyMode, ...] = (EnergyMode.DC_extended,)
    payment_options: tuple[Payment, ...] = (Payment.EIM,)
    free_service: bool = False
    dc: DCLimits = field(default_factory=DCLimits)
    ac: ACLimits = field(default_factory=ACLimits)
    present_voltage: float = 0.0
    present_current: float = 0.0
    isolation: IsolationLevel = IsolationLevel.Invalid
    status: EVSEStatusCode = EVSEStatusCode.EVSE_Ready
    notification: Notification = Notification.NONE
    notification_max_delay: int = 0
    rcd: bool = False  # AC: residual current device tripped
    schedules: list[Schedule] = field(default_factory=_default_schedules)
    services: list[ValueAddedService] = field(default_factory=list)
    meter: MeterReading | None = None
    #: PnC: ask the EV to sign a MeteringReceipt for the meter reading (ReceiptRequired)
    receipt_required: bool = False
    #: ISO 15118-20: the control modes offered, bidirectional power transfer (the BPT
    #: services beside AC and DC), and in dynamic mode the power the EVSE asks for now
    #: (W, negative: discharge; None: as much as the limits allow)
    control_modes: tuple[ControlMode, ...] = (ControlMode.SCHEDULED, ControlMode.DYNAMIC)
    bidirectional: bool = False
    target_power: float | None = None
    #: ISO 15118-20: whether SessionStop(ServiceRenegotiation) is accepted
    service_renegotiation: bool = True

    def energy_services(self) -> tuple[EnergyService, ...]:
        """The ISO 15118-20 energy transfer services this EVSE offers."""
        out: list[EnergyService] = []
        if any(not m.is_dc for m in self.energy_modes):
            out.append(EnergyService.AC)
        if any(m.is_dc for m in self.energy_modes):
            out.append(EnergyService.DC)
        if self.bidirectional:
            out += [EnergyService.AC_BPT if s is EnergyService.AC else EnergyService.DC_BPT
                    for s in list(out)]
        return tuple(out)

    def dc_limit_achieved(self, target_voltage: float, target_current: float
                          ) -> tuple[bool, bool, bool]:
        """(current, voltage, power) limit achieved flags for CurrentDemandRes."""
        lim = self.dc
        return (target_current >= lim.max_current,
                target_voltage >= lim.max_voltage,
                target_voltage * target_current >= lim.max_power)
