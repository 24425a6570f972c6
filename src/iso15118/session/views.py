"""What each side has learnt about the other, in protocol-neutral terms.

The SECC keeps a :class:`VehicleInfo` (filled from the EV's requests), the EVCC a
:class:`ChargerInfo` (filled from the EVSE's responses). Applications read them from the
session (``session.ev`` / ``session.evse``) and from events; the raw messages stay
reachable through :class:`iso15118.session.events.MessageReceived`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from iso15118.session.values import (
    ControlMode,
    EnergyMode,
    EnergyService,
    EVErrorCode,
    EVSEStatusCode,
    IsolationLevel,
    MeterReading,
    Notification,
    Payment,
    Processing,
    Schedule,
    ValueAddedService,
)

__all__ = ["ChargerInfo", "VehicleInfo"]


@dataclass
class VehicleInfo:
    """The EV as the SECC knows it from its requests (None: not said yet)."""

    evcc_id: bytes | None = None
    energy_mode: EnergyMode | None = None
    payment: Payment | None = None
    selected_services: tuple[tuple[int, int | None], ...] = ()
    ready: bool | None = None
    error: EVErrorCode | None = None
    soc: float | None = None
    target_voltage: float | None = None
    target_current: float | None = None
    max_voltage: float | None = None
    max_current: float | None = None
    max_power: float | None = None
    min_current: float | None = None
    energy_capacity_wh: float | None = None
    energy_request_wh: float | None = None
    full_soc: float | None = None
    bulk_soc: float | None = None
    departure_time: int | None = None
    charging_complete: bool | None = None
    bulk_charging_complete: bool | None = None
    remaining_time_to_full_soc: float | None = None
    remaining_time_to_bulk_soc: float | None = None
    schedule_id: int | None = None
    emaid: str | None = None
    #: DER certificates of the contract chain (leaf first), PnC
    contract_chain: tuple[bytes, ...] = ()
    max_schedule_tuples: int | None = None
    # ISO 15118-20
    energy_service: EnergyService | None = None
    control_mode: ControlMode | None = None
    parameter_set_id: int | None = None
    present_voltage: float | None = None
    min_voltage: float | None = None
    min_power: float | None = None
    max_discharge_power: float | None = None
    max_discharge_current: float | None = None
    target_energy_wh: float | None = None
    max_energy_wh: float | None = None
    min_energy_wh: float | None = None
    present_power: float | None = None  # AC: what the EV draws (negative: feeds back)
    ev_processing: Processing | None = None


@dataclass
class ChargerInfo:
    """The EVSE as the EVCC knows it from its responses (None: not said yet)."""

    evse_id: str | None = None
    payment_options: tuple[Payment, ...] = ()
    energy_modes: tuple[EnergyMode, ...] = ()
    charge_service_id: int | None = None
    free_service: bool | None = None
    services: tuple[ValueAddedService, ...] = ()
    processing: Processing | None = None
    present_voltage: float | None = None
    present_current: float | None = None
    isolation: IsolationLevel | None = None
    status: EVSEStatusCode | None = None
    notification: Notification = Notification.NONE
    notification_max_delay: int = 0
    max_voltage: float | None = None
    max_current: float | None = None
    max_power: float | None = None
    min_voltage: float | None = None
    min_current: float | None = None
    nominal_voltage: float | None = None
    peak_current_ripple: float | None = None
    current_limit_achieved: bool | None = None
    voltage_limit_achieved: bool | None = None
    power_limit_achieved: bool | None = None
    schedules: tuple[Schedule, ...] = ()
    meter: MeterReading | None = None
    receipt_required: bool = False
    gen_challenge: bytes | None = None
    rcd: bool | None = None
    service_parameters: dict[int, tuple[int, ...]] = field(default_factory=dict)
    # ISO 15118-20
    energy_services: tuple[EnergyService, ...] = ()
    #: ServiceID -> ((ParameterSetID, {name: value}), ...) from ServiceDetailRes
    parameter_sets: dict[int, tuple[tuple[int, dict[str, object]], ...]] = field(
        default_factory=dict)
    auth_services: tuple[Payment, ...] = ()
    certificate_installation: bool | None = None
    service_renegotiation: bool | None = None
    target_power: float | None = None  # dynamic mode: what the EVSE asks for now
    max_discharge_power: float | None = None
    max_discharge_current: float | None = None
