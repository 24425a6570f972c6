"""What a vehicle application tells the EVCC session: its battery and wishes, now.

The application (the BMS, or the simulator in :mod:`iso15118.session.simulation`) keeps
one :class:`EVState` up to date; the EVCC session composes every request from it and
clamps what it asks for to the limits the EVSE announced (ISO 15118-2 [V2G2-...]: the EV
shall not request more than the EVSE's maximum). Wishes that change the session's
course (stop, pause, renegotiate) are calls on the session, not fields here.
"""

from __future__ import annotations

from dataclasses import dataclass

from iso15118.session.values import ControlMode, EnergyMode, EVErrorCode, Payment

__all__ = ["EVState"]


@dataclass
class EVState:
    """The vehicle's side of the charge, as the application sees it."""

    evcc_id: bytes = bytes.fromhex("020000000001")  # the EVCC's MAC address
    energy_mode: EnergyMode = EnergyMode.DC_extended
    payment: Payment = Payment.EIM
    ready: bool = True
    error: EVErrorCode = EVErrorCode.NO_ERROR
    soc: float = 40.0  # percent
    target_soc: float = 100.0
    #: battery voltage now: PreCharge targets it, CurrentDemand asks for it
    battery_voltage: float = 380.0
    #: what the BMS asks for in the charge loop (before the EVSE's limits are applied)
    target_current: float = 100.0
    target_voltage: float | None = None  # None: the battery voltage
    max_voltage: float = 450.0
    max_current: float = 200.0
    max_power: float = 80_000.0
    min_current: float = 6.0  # AC
    capacity_wh: float = 60_000.0
    full_soc: int | None = 100
    bulk_soc: int | None = 80
    departure_time: int | None = None  # seconds from now
    remaining_time_to_full_soc: float | None = None
    remaining_time_to_bulk_soc: float | None = None
    cabin_conditioning: bool | None = None  # DIN only
    ress_conditioning: bool | None = None  # DIN only
    #: ISO 15118-20: the control mode wanted (None: the EVSE's first offer), whether the
    #: EV can feed power back (the BPT services), and what it may give back
    control_mode: ControlMode | None = None
    bidirectional: bool = False
    max_discharge_power: float = 50_000.0
    max_discharge_current: float = 150.0
    min_soc: float = 20.0  # below it the EV does not discharge
    #: ISO 15118-20 EVCCID (a string; by default the MAC address in hex)
    evcc_id_20: str | None = None

    @property
    def energy_request_wh(self) -> float:
        return max(0.0, (self.target_soc - self.soc) / 100.0 * self.capacity_wh)

    @property
    def charging_complete(self) -> bool:
        return self.soc >= self.target_soc

    @property
    def bulk_charging_complete(self) -> bool:
        return self.bulk_soc is not None and self.soc >= self.bulk_soc
