"""The depot on one asyncio loop: utility (VTN), CSMS + VEN, stations and vehicles.

:func:`run_depot` starts, on loopback with fixed addressing (no SDP: each vehicle is given
its station's address and port):

- the utility, an OpenADR 2.0b VTN (``openleadr``) that publishes a ``LOAD_DISPATCH``
  setpoint event (the depot's limit in kW) ``event_at`` seconds into the run, active
  ``notice`` seconds later until the end of the run; the VEN polls it every ``poll_s``;
- the CSMS (:mod:`csms`), which is the VEN;
- one charging station per bay: this library's SECC (:class:`~iso15118.session.runner.Charger`
  endpoint with :class:`~iso15118.session.simulation.SimulatedCharger` as its power stage)
  joined to the CSMS by :class:`~iso15118.ocpp.station.ChargingStation`;
- one vehicle per bay: an :class:`~iso15118.session.evcc.EvccSession` with a
  :class:`~iso15118.session.simulation.SimulatedVehicle` battery, arriving over the first
  seconds, charging until ``duration`` and then stopping (SessionStop);

and samples every vehicle's power (what its battery takes, from the charge loop) every
``sample_s``. The result is the dict :mod:`run` prints as JSON.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import socket
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from csms import DepotCsms
from fleet import Bay, fleet

from iso15118.ocpp.smart_charging import ElectricalBasis
from iso15118.ocpp.station import ChargingStation, StationEvse
from iso15118.session import EvccConfig, EvccSession, EVSEState, EVState, SeccConfig
from iso15118.session.events import Outcome, SessionEnded
from iso15118.session.evse_state import ACLimits, DCLimits
from iso15118.session.runner import Charger, EVSEEndpoint, drive
from iso15118.session.secc import SeccSession
from iso15118.session.simulation import ChargerBehaviour, SimulatedCharger, SimulatedVehicle
from iso15118.session.values import ControlMode, EnergyMode, Schedule, ScheduleEntry
from iso15118.transport import open_connection

__all__ = ["DepotOptions", "run_depot"]

HOST = "127.0.0.1"
#: the -20 charge loop's silence limit at the SECC here (the table: 0.5 s), and the factor
#: on every EV message timeout (-20's ChargeLoop: 0.5 s), for a loaded shared host
LOADED_HOST_TIMEOUT_S = 2.0
LOADED_HOST_TIMEOUT_SCALE = 4.0


@dataclass
class DepotOptions:
    vehicles: int
    limit_kw: float
    event_at: float = 20.0
    duration: float = 60.0
    #: how long the event lasts (None: until the end of the run); then the CSMS restores
    #: every station's full rating
    event_duration: float | None = None
    #: the event is published this long before it becomes active (0: at once)
    notice: float = 0.0
    #: seconds between two charge-loop requests of a vehicle
    loop_interval: float = 0.5
    sample_s: float = 0.1
    #: the VEN's poll period, as the VTN asks for it
    poll_s: float = 1.0
    #: vehicles arrive over this many seconds from the start
    arrival_s: float = 5.0
    seed: int = 15118


@dataclass
class _Vehicle:
    bay: Bay
    ev: EVState
    battery: SimulatedVehicle
    session: EvccSession | None = None
    ended: SessionEnded | None = None
    error: str | None = None


@dataclass
class _Record:
    times: list[float] = field(default_factory=list)
    powers: list[list[float]] = field(default_factory=list)  # per sample, per vehicle
    lag: float = 0.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        port: int = s.getsockname()[1]
        return port


def _charger_side(bay: Bay) -> tuple[EVSEState, StationEvse, SeccConfig]:
    if bay.dc:
        evse = EVSEState(evse_id=f"DE*DPT*E{bay.index + 1:04d}*1",
                         energy_modes=(EnergyMode.DC_extended,),
                         dc=DCLimits(max_power=bay.rating_w, max_current=200.0,
                                     max_discharge_power=bay.rating_w),
                         bidirectional=bay.bidirectional)
        basis = ElectricalBasis(dc=True, dc_voltage=400.0)
    else:
        evse = EVSEState(evse_id=f"DE*DPT*E{bay.index + 1:04d}*1",
                         energy_modes=(EnergyMode.AC_three_phase_core,),
                         ac=ACLimits(max_current=bay.ac_current))
        basis = ElectricalBasis(dc=False)
    # the station's own default schedule: its rating for a day
    evse.schedules = [Schedule(1, (ScheduleEntry(0, bay.rating_w, 86_400),))]
    # 100 sessions, 50 OCPP connections and the VTN share one event loop on a shared
    # 2-core host: a stall of a few hundred ms is the host's, not a silent vehicle's, so
    # the -20 charge loop's 0.5 s silence limit is widened (a real charger has its own CPU)
    return evse, StationEvse(1, evse, max_power=bay.rating_w, basis=basis), \
        SeccConfig(protocols=(bay.protocol,), charge_loop_timeout=LOADED_HOST_TIMEOUT_S)


def _vehicle_side(bay: Bay, loop_interval: float) -> tuple[EVState, EvccConfig]:
    ev = EVState(evcc_id=bytes.fromhex(f"02{bay.index + 1:010x}"),
                 soc=bay.soc, capacity_wh=bay.capacity_wh, departure_time=bay.departure_s,
                 bidirectional=bay.bidirectional,
                 control_mode=ControlMode(bay.control) if bay.control else None)
    if bay.dc:
        ev.energy_mode = EnergyMode.DC_extended
        ev.max_power = 150_000.0 if bay.capacity_wh >= 77_000 else 80_000.0
        ev.max_discharge_power = 30_000.0
    else:
        ev.energy_mode = EnergyMode.AC_three_phase_core
        ev.max_current, ev.max_voltage, ev.min_current, ev.max_power = 32.0, 400.0, 6.0, 22_000.0
    if bay.protocol == "iso20":
        # the -20 SECC ends a charge loop after 0.5 s of silence (its sequence timeout in
        # the loop, as Josev): keep well inside it even on a loaded loop
        loop_interval = min(loop_interval, 0.2)
    config = EvccConfig(protocols=(bay.protocol,), loop_interval=loop_interval,
                        ongoing_interval=0.25, timeout_scale=LOADED_HOST_TIMEOUT_SCALE)
    return ev, config


async def run_depot(opts: DepotOptions, note: Callable[[str], None]) -> dict[str, Any]:
    """Run the depot once; returns the measurements (see :mod:`run` for the keys)."""
    from openleadr import OpenADRClient, OpenADRServer

    for name in ("openleadr", "apscheduler"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    loop = asyncio.get_running_loop()
    t0 = loop.time()

    def clock() -> float:
        return loop.time() - t0

    def say(text: str) -> None:
        note(f"[{clock():6.2f} s] {text}")

    bays = fleet(opts.vehicles, opts.seed)
    csms = DepotCsms({b.station_id: (b.ocpp_version, b.rating_w) for b in bays}, clock, say)
    csms_port = await csms.start(HOST)

    # the utility: a VTN, and the CSMS as its VEN
    vtn_port = _free_port()
    vtn = OpenADRServer(vtn_id="utility", http_host=HOST, http_port=vtn_port,
                        requested_poll_freq=dt.timedelta(seconds=opts.poll_s),
                        show_fingerprint=False)

    async def registration(info: dict[str, Any]) -> tuple[str, str]:
        return "ven-depot", "reg-depot"

    vtn.add_handler("on_create_party_registration", registration)
    await vtn.run()
    ven = OpenADRClient(ven_name="depot", vtn_url=f"http://{HOST}:{vtn_port}/OpenADR2/Simple/2.0b",
                        allow_jitter=False)
    ven.add_handler("on_event", csms.on_openadr_event)
    await ven.run()

    # stations, one EVSE each, on the CSMS; their SECCs on loopback
    stations: list[ChargingStation] = []
    endpoints: list[EVSEEndpoint] = []
    for bay in bays:
        evse, station_evse, secc_config = _charger_side(bay)
        station = ChargingStation(bay.station_id, [station_evse], version=bay.ocpp_version)
        await station.connect(f"ws://{HOST}:{csms_port}")
        sim = SimulatedCharger(evse, ChargerBehaviour(cable_check_s=0.5))

        def hardware(session: SeccSession, sim: SimulatedCharger = sim) -> Any:
            sim.attach(session)
            return sim.on_event

        stations.append(station)
        endpoints.append(EVSEEndpoint(None, evse, secc_config, host=HOST,
                                      application=station.application(1, hardware)))
    charger = Charger(endpoints)
    await charger.start()
    say(f"{len(bays)} stations up (OCPP on :{csms_port}, OpenADR VTN on :{vtn_port})")

    vehicles = []
    for bay in bays:
        ev, _ = _vehicle_side(bay, opts.loop_interval)
        vehicles.append(_Vehicle(bay, ev, SimulatedVehicle(ev)))
    record = _Record()
    stop_all = asyncio.Event()

    async def drive_vehicle(v: _Vehicle, ep: EVSEEndpoint, delay: float) -> None:
        await asyncio.sleep(delay)
        ev, config = v.ev, _vehicle_side(v.bay, opts.loop_interval)[1]
        try:
            conn = await open_connection(HOST, next(iter(ep.ports.values())))
            v.session = EvccSession(ev, config)
            v.battery.attach(v.session)
            if stop_all.is_set():
                v.session.request_stop()
            v.ended = await drive(conn, v.session, v.battery.on_event)
            await conn.close()
        except Exception as exc:  # reported in the result, the depot goes on
            v.error = f"{type(exc).__name__}: {exc}"
            say(f"{v.bay.station_id}: {v.error}")

    async def sample() -> None:
        while True:
            record.times.append(clock())
            record.powers.append([v.battery.power for v in vehicles])
            asked = clock() + opts.sample_s
            await asyncio.sleep(opts.sample_s)
            # how late the loop wakes us: the load the one process is under
            record.lag = max(record.lag, clock() - asked)

    async def progress() -> None:
        while True:
            await asyncio.sleep(5.0)
            charging = sum(1 for p in record.powers[-1] if p != 0) if record.powers else 0
            total = sum(record.powers[-1]) / 1e3 if record.powers else 0.0
            say(f"depot {total:7.1f} kW, {charging} vehicles drawing power")

    sampler = asyncio.ensure_future(sample())
    reporter = asyncio.ensure_future(progress())
    spread = min(opts.arrival_s, opts.event_at / 2)
    drivers = [asyncio.ensure_future(drive_vehicle(v, ep, spread * i / max(1, len(vehicles))))
               for i, (v, ep) in enumerate(zip(vehicles, endpoints, strict=True))]

    # the utility's event
    await asyncio.sleep(max(0.0, opts.event_at - opts.notice - clock()))
    start_utc = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=opts.notice)
    event_start = clock() + opts.notice
    # without an end of its own the event outlasts the run (no restoring while stopping)
    event_length = opts.event_duration if opts.event_duration is not None \
        else max(1.0, opts.duration - event_start) + 10.0
    vtn.add_event(ven_id="ven-depot", signal_name="LOAD_DISPATCH", signal_type="setpoint",
                  intervals=[{"dtstart": start_utc,
                              "duration": dt.timedelta(seconds=event_length),
                              "signal_payload": float(opts.limit_kw)}],
                  callback=lambda ven_id, event_id, opt_type: say(f"VTN: VEN {opt_type}"))
    say(f"VTN: load-shed event published, {opts.limit_kw:g} kW from t={event_start:.2f} s "
        f"for {event_length:g} s")

    await asyncio.sleep(max(0.0, opts.duration - clock()))
    say("end of the run: every vehicle stops")
    stop_all.set()
    for v in vehicles:
        if v.session is not None:
            v.session.request_stop()
    await asyncio.wait(drivers, timeout=30.0)
    # the stations' last TransactionEvents
    for _ in range(100):
        if all(view.ended or not view.transaction_id for view in csms.views.values()):
            break
        await asyncio.sleep(0.05)
    sampler.cancel()
    reporter.cancel()
    for task in drivers:
        task.cancel()
    with contextlib.suppress(Exception):
        await ven.stop()
    await vtn.stop()
    for station in stations:
        await station.close()
    await charger.close()
    await csms.close()
    return _results(opts, vehicles, record, csms, (event_start, event_start + event_length),
                    stations, endpoints)


def _results(opts: DepotOptions, vehicles: list[_Vehicle], record: _Record, csms: DepotCsms,
             window: tuple[float, float], stations: list[ChargingStation],
             endpoints: list[EVSEEndpoint]) -> dict[str, Any]:
    limit_w = opts.limit_kw * 1000.0
    event_start, event_end = window
    times, powers = record.times, record.powers
    totals = [sum(p) for p in powers]
    comply_at = next((t for t, total in zip(times, totals, strict=True)
                      if t >= event_start and total <= limit_w), None)
    after = [total for t, total in zip(times, totals, strict=True)
             if comply_at is not None and comply_at <= t < event_end]
    energy = discharge = 0.0
    for i in range(1, len(times)):
        dt_h = (times[i] - times[i - 1]) / 3600.0
        for p in powers[i - 1]:
            if p >= 0:
                energy += p * dt_h
            else:
                discharge -= p * dt_h
    completed = sum(1 for v in vehicles
                    if v.ended is not None and v.ended.outcome is Outcome.COMPLETED)
    shed = csms.shed
    breakdown: dict[str, float | None] = {"openadr_delivery": None, "csms_decision": None,
                                          "ocpp_round_trip": None,
                                          "iso15118_renegotiation": None}
    if comply_at is not None and "answered" in shed:
        # the milestones clipped to [event start, compliance]: the four phases add up
        marks = [event_start]
        for key in ("received", "decided", "answered"):
            marks.append(min(max(shed[key], marks[-1]), comply_at))
        marks.append(comply_at)
        for name, a, b in zip(breakdown, marks, marks[1:], strict=False):
            breakdown[name] = round(b - a, 3)
    per_vehicle = _per_vehicle(vehicles, record, csms)
    return {
        "vehicles": len(vehicles),
        "sessions_completed": completed,
        "event_at_s": round(event_start, 3),
        "limit_kw": opts.limit_kw,
        "seconds_to_comply": None if comply_at is None else round(comply_at - event_start, 3),
        "peak_kw_after_compliance": round(max(after) / 1e3, 2) if after else None,
        "energy_kwh": round(energy / 1e3, 3),
        "discharge_kwh": round(discharge / 1e3, 3),
        "breakdown_s": breakdown,
        "per_vehicle_s": per_vehicle,
        "peak_kw_before_event": round(max((tot for t, tot in zip(times, totals, strict=True)
                                           if t < event_start), default=0.0) / 1e3, 2),
        "discharging_vehicles": sum(1 for a in csms.allocations.values() if a < 0),
        "duration_s": opts.duration,
        "event_end_s": round(min(event_end, opts.duration), 3),
        "loop_lag_max_s": round(record.lag, 3),
        "errors": csms.errors + [f"{v.bay.station_id}: {v.error or v.ended}"
                                 for v in vehicles if v.error or v.ended is None
                                 or v.ended.outcome is not Outcome.COMPLETED]
        + [f"station: {e}" for s in stations for e in s.errors]
        + [f"{v.bay.station_id} charger: {ended.reason} {ended.response_code or ''}"
           for v, ep in zip(vehicles, endpoints, strict=True) for ended in ep.sessions
           if ended.outcome is not Outcome.COMPLETED],
        "samples": {"t": [round(t, 3) for t in times],
                    "kw": [[round(p / 1e3, 2) for p in row] for row in powers],
                    "kinds": [v.bay.kind for v in vehicles],
                    "allocation_kw": [_kw(csms.views[v.bay.station_id].allocation_w)
                                      for v in vehicles]},
    }


def _kw(watts: float | None) -> float | None:
    return None if watts is None else round(watts / 1e3, 3)


def _per_vehicle(vehicles: list[_Vehicle], record: _Record, csms: DepotCsms
                 ) -> dict[str, Any]:
    """Per station: the SetChargingProfile round trip, and from its answer until the
    vehicle's power is at or under what it was given (the ISO 15118 part), by kind."""
    trips: list[float] = []
    settle: dict[str, list[float]] = {}
    for i, v in enumerate(vehicles):
        view = csms.views[v.bay.station_id]
        if view.sent_at is None or view.answered_at is None or view.allocation_w is None:
            continue
        trips.append(view.answered_at - view.sent_at)
        tolerance = max(100.0, 0.01 * abs(view.allocation_w))
        for t, row in zip(record.times, record.powers, strict=True):
            if t >= view.answered_at and row[i] <= view.allocation_w + tolerance:
                settle.setdefault(v.bay.kind, []).append(t - view.answered_at)
                break

    def stats(values: list[float]) -> dict[str, float]:
        return {"median": round(statistics.median(values), 3), "max": round(max(values), 3),
                "n": len(values)} if values else {}

    return {"ocpp_round_trip": stats(trips),
            "iso15118_renegotiation": {kind: stats(vals) for kind, vals in sorted(settle.items())}}
