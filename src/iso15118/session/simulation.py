"""Simulated power electronics and battery: the applications behind the CLI simulators.

:class:`SimulatedCharger` plays a charger's hardware and backend for a
:class:`SeccSession`: it ramps the converter's voltage in PreCharge, follows the EV's
current request within the EVSE's limits, takes ``cable_check_s`` for the isolation test
and ``authorization_delay_s`` to authorize, and meters the energy. :class:`SimulatedVehicle`
plays a battery for an :class:`EvccSession`: its SoC rises with the energy delivered, its
voltage with the SoC, and it asks for less current above its bulk SoC.

Both are driven by the session's events and brought up to date lazily (``refresh(now)``,
called by the session before it handles a request or composes one), so they run the same
on a virtual clock (tests, :func:`iso15118.session.pair.run_pair`) and on asyncio.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from iso15118.session.ev_state import EVState
from iso15118.session.evcc import EvccSession
from iso15118.session.events import (
    AuthorizationRequested,
    CableCheckRequested,
    ChargeLoop,
    ChargeLoopStatus,
    ChargingStarted,
    ChargingStopped,
    Event,
    EVSEParametersReceived,
    PowerDeliveryRequested,
    PreChargeRequested,
    SessionEnded,
)
from iso15118.session.evse_state import EVSEState
from iso15118.session.secc import SeccConfig, SeccSession
from iso15118.session.values import IsolationLevel, MeterReading, Notification, Progress

__all__ = ["ChargerBehaviour", "SimulatedCharger", "SimulatedVehicle", "VehicleBehaviour"]


@dataclass
class ChargerBehaviour:
    """How the simulated charger's hardware and backend behave (all times in seconds)."""

    cable_check_s: float = 0.5
    authorization_delay_s: float = 0.0
    authorize: bool = True
    #: converter slew rates
    voltage_ramp_v_per_s: float = 400.0
    current_ramp_a_per_s: float = 200.0
    isolation: IsolationLevel = IsolationLevel.Valid
    meter_id: str = "SIM-METER-1"
    #: ISO 15118-20 dynamic mode: this many seconds into charging the "grid" asks for
    #: ``grid_power`` W (negative: discharge a BPT vehicle); None: never
    grid_request_after_s: float | None = None
    grid_power: float = -10_000.0
    #: ISO 15118-20: ask a vehicle in standby to come back (EVSENotification ExitStandby)
    #: after this many seconds; None: never
    exit_standby_after_s: float | None = None

    def session_config(self, base: SeccConfig | None = None) -> SeccConfig:
        """``base`` with the decisions this simulator makes left to it."""
        config = replace(base) if base is not None else SeccConfig()
        config.auto_cable_check = config.auto_cable_check and self.cable_check_s <= 0
        config.auto_authorize = config.auto_authorize and self.authorization_delay_s <= 0 \
            and self.authorize
        return config


@dataclass
class _Converter:
    target_voltage: float = 0.0
    current_limit: float = 0.0
    closed: bool = False


class SimulatedCharger:
    """The hardware and backend of one EVSE, for one session at a time."""

    def __init__(self, evse: EVSEState, behaviour: ChargerBehaviour | None = None) -> None:
        self.evse = evse
        self.behaviour = behaviour or ChargerBehaviour()
        self.session: SeccSession | None = None
        self._converter = _Converter()
        self._last: float | None = None
        self._cable_check_due: float | None = None
        self._authorize_due: float | None = None
        self._charging_since: float | None = None
        self._exit_standby_due: float | None = None
        self.energy_wh = 0.0  # net: charged minus discharged
        self.imported_wh = 0.0  # what the meter shows
        self.sessions_ended: list[SessionEnded] = []

    def attach(self, session: SeccSession) -> None:
        """Serve ``session`` (its refresh hook and decisions come from here)."""
        self.session = session
        session.refresh = self.refresh
        self._converter = _Converter()
        self._cable_check_due = self._authorize_due = self._charging_since = None
        self._exit_standby_due = None
        self.evse.present_voltage = self.evse.present_current = 0.0
        self.evse.isolation = IsolationLevel.Invalid

    def on_event(self, event: Event, now: float) -> None:
        self.refresh(now)
        b, conv = self.behaviour, self._converter
        if isinstance(event, AuthorizationRequested) and self.session is not None:
            if self.session.authorization is None:
                self._authorize_due = now + b.authorization_delay_s
        elif isinstance(event, CableCheckRequested):
            self._cable_check_due = now + b.cable_check_s
            conv.target_voltage, conv.current_limit = 500.0 if self.evse.dc.max_voltage >= 500 \
                else self.evse.dc.max_voltage, 0.0
        elif isinstance(event, PreChargeRequested):
            conv.target_voltage = min(event.target_voltage, self.evse.dc.max_voltage)
            conv.current_limit = min(event.target_current, 2.0)
        elif isinstance(event, PowerDeliveryRequested):
            conv.closed = event.progress is Progress.START
            self._exit_standby_due = None
            if event.progress is Progress.STANDBY and b.exit_standby_after_s is not None:
                self._exit_standby_due = now + b.exit_standby_after_s
            if not conv.closed:
                conv.current_limit = 0.0
                conv.target_voltage = 0.0
        elif isinstance(event, ChargeLoop):
            if self._charging_since is None:
                self._charging_since = now
            lim = self.evse.dc
            voltage = min(event.target_voltage or 0.0, lim.max_voltage)
            if event.target_current is None and self.session is not None:
                # -20 dynamic: the charger decides the current within the EV's limits
                current = self._dynamic_current(voltage)
            else:
                current = min(event.target_current or 0.0, lim.max_current)
            if voltage > 0:
                current = min(current, lim.max_power / voltage)
            # discharge only in a session that agreed on it (a -20 BPT service), not
            # because the EVSE could: a DIN/ISO-2 EV asking for a negative current (a
            # valid short) gets none
            floor = -lim.max_discharge_current if self._discharging_allowed() else 0.0
            conv.target_voltage, conv.current_limit = voltage, max(floor, current)
        elif isinstance(event, SessionEnded):
            conv.closed = False
            conv.current_limit = conv.target_voltage = 0.0
            self.sessions_ended.append(event)

    def _discharging_allowed(self) -> bool:
        service = self.session.ev.energy_service if self.session is not None else None
        return self.evse.bidirectional and service is not None and service.bidirectional

    def _dynamic_current(self, voltage: float) -> float:
        assert self.session is not None
        ev, lim = self.session.ev, self.evse.dc
        power = self.evse.target_power if self.evse.target_power is not None else lim.max_power
        power = min(power, ev.max_power or power)
        if power < 0 and ev.max_discharge_power is not None:
            power = max(power, -ev.max_discharge_power)
        current = power / voltage if voltage > 0 else 0.0
        if ev.max_current is not None:
            current = min(current, ev.max_current)
        if ev.max_discharge_current is not None:
            current = max(current, -ev.max_discharge_current)
        return current

    def refresh(self, now: float) -> None:
        """Advance the converter, the meter and the pending decisions to ``now``."""
        last, self._last = self._last, now
        evse, conv, b = self.evse, self._converter, self.behaviour
        dt = 0.0 if last is None else max(0.0, now - last)
        evse.present_voltage = _toward(evse.present_voltage, conv.target_voltage,
                                       b.voltage_ramp_v_per_s * dt)
        target_current = conv.current_limit if conv.closed else 0.0
        evse.present_current = _toward(evse.present_current, target_current,
                                       b.current_ramp_a_per_s * dt)
        if b.grid_request_after_s is not None and self._charging_since is not None \
                and now - self._charging_since >= b.grid_request_after_s:
            evse.target_power = b.grid_power  # the "grid" asks (dynamic mode follows it)
        delta = evse.present_voltage * evse.present_current * dt / 3600.0
        self.energy_wh += delta
        # the meter is an import register (MeterReading is an unsignedLong): energy fed
        # back by a BPT vehicle lowers energy_wh, never the reading
        self.imported_wh += max(0.0, delta)
        evse.meter = MeterReading(b.meter_id, int(self.imported_wh))
        session = self.session
        if session is None:
            return
        if self._cable_check_due is not None and now >= self._cable_check_due:
            self._cable_check_due = None
            session.finish_cable_check(b.isolation)
            conv.target_voltage = 0.0
        if self._exit_standby_due is not None and now >= self._exit_standby_due:
            self._exit_standby_due = None
            session.notification = Notification.EXIT_STANDBY
        if self._authorize_due is not None and now >= self._authorize_due:
            self._authorize_due = None
            session.authorize(b.authorize)


def _toward(value: float, target: float, step: float) -> float:
    if value < target:
        return min(target, value + step)
    return max(target, value - step)


@dataclass
class VehicleBehaviour:
    """The simulated battery (voltages at 0 % and 100 % SoC, linear in between)."""

    empty_voltage: float = 330.0
    full_voltage: float = 420.0
    phases: int = 3  # AC


@dataclass
class SimulatedVehicle:
    """A battery that charges with what the EVSE delivers."""

    ev: EVState
    behaviour: VehicleBehaviour = field(default_factory=VehicleBehaviour)
    bulk_current_fraction: float = 1.0
    energy_wh: float = 0.0
    _last: float | None = None
    _power: float = 0.0
    _max_current: float | None = None
    _ac_voltage: float | None = None
    _session: EvccSession | None = None

    def __post_init__(self) -> None:
        self._update_voltage()

    @property
    def power(self) -> float:
        """What the battery takes now (W; negative: it discharges), as of the last
        charge-loop answer: what a meter at the vehicle's inlet would show."""
        return self._power

    def attach(self, session: EvccSession) -> None:
        self._session = session
        session.refresh = self.refresh

    def on_event(self, event: Event, now: float) -> None:
        self.refresh(now)
        ev = self.ev
        if isinstance(event, EVSEParametersReceived):
            self._max_current = event.evse.max_current
            self._ac_voltage = event.evse.nominal_voltage
        elif isinstance(event, ChargeLoopStatus):
            if event.power is not None:
                self._power = event.power
            elif ev.energy_mode.is_dc:
                self._power = (event.present_voltage or 0.0) * (event.present_current or 0.0)
            else:
                current = min(ev.max_current, event.evse.max_current or ev.max_current)
                phases = self.behaviour.phases if ev.energy_mode.name.startswith(
                    "AC_three") else 1
                self._power = (self._ac_voltage or 230.0) * current * phases
                # the on-board charger keeps to the schedule's PMax (ISO 15118-2 AC: the
                # EV follows the SAScheduleTuple it chose; the EVSE does not enforce it)
                pmax = self._schedule_pmax(now)
                if pmax is not None:
                    self._power = min(self._power, pmax)
        elif isinstance(event, ChargingStarted):
            self._power = 0.0
        elif isinstance(event, (ChargingStopped, SessionEnded)):
            self._power = 0.0

    def _schedule_pmax(self, now: float) -> float | None:
        session = self._session
        if session is None or session.charging_since is None:
            return None
        schedule = session.chosen_schedule()
        if schedule is None:
            return None
        return schedule.max_power_at(now - session.charging_since)

    def refresh(self, now: float) -> None:
        last, self._last = self._last, now
        if last is None or now <= last:
            return
        ev = self.ev
        delivered = self._power * (now - last) / 3600.0
        self.energy_wh += delivered
        if ev.capacity_wh > 0:
            ev.soc = min(100.0, ev.soc + delivered / ev.capacity_wh * 100.0)
        self._update_voltage()

    def _update_voltage(self) -> None:
        ev, b = self.ev, self.behaviour
        ev.battery_voltage = b.empty_voltage + (b.full_voltage - b.empty_voltage) * ev.soc / 100
        # constant current to the bulk SoC, then tapering to a tenth at 100 %
        bulk = ev.bulk_soc if ev.bulk_soc is not None else 80
        if ev.soc > bulk and bulk < 100:
            fraction = 1.0 - 0.9 * (ev.soc - bulk) / (100 - bulk)
            ev.target_current = ev.max_current * max(0.1, fraction)
        else:
            ev.target_current = ev.max_current
