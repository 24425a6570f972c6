"""The vehicle's session (EVCC), sans-IO: responses in, requests and events out.

One :class:`EvccSession` per connection. :meth:`~EvccSession.start` gives the
supportedAppProtocolReq; each response fed to :meth:`~EvccSession.receive` gives the next
request (or schedules it: the charge loop and the Ongoing loops are paced by
``loop_interval`` / ``ongoing_interval``, sent from :meth:`~EvccSession.tick` at the
deadline). Every timer of the protocol's table is kept: the message timeout of each
request, V2G_EVCC_CommunicationSetup_Timeout up to SessionSetupRes, the Ongoing limit of
Authorization and ChargeParameterDiscovery, and the CableCheck and PreCharge limits, all
timed (not counted) from the first request of their loop.

The session composes requests from :class:`EVState` and never asks for more than the EVSE
announced (maximum current, voltage and power, and the chosen schedule's PMax); it honours
the EVSE's StopCharging and ReNegotiation notifications and stopping status codes, and
ends on any FAILED response code.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from iso15118.errors import Iso15118Error
from iso15118.messages import apphand
from iso15118.session import handshake
from iso15118.session.core import Step, Timers
from iso15118.session.dialects import EvccDialect, evcc_dialect
from iso15118.session.endpoint import SessionEndpoint
from iso15118.session.ev_state import EVState
from iso15118.session.evcc_iso20 import advance_iso20
from iso15118.session.events import (
    CableCheckFinished,
    ChargeLoopStatus,
    ChargingStarted,
    ChargingStopped,
    EVSENotified,
    EVSEParametersReceived,
    MessageReceived,
    Outcome,
    ProtocolNegotiated,
    SessionEnded,
    SessionStarted,
    TimerExpired,
)
from iso15118.session.values import (
    ControlMode,
    EnergyService,
    IsolationLevel,
    Notification,
    Payment,
    Processing,
    Progress,
    Schedule,
    StopKind,
)
from iso15118.session.views import ChargerInfo

__all__ = ["EvccConfig", "EvccSession"]

#: A hook that may change a request before it is encoded: (step, request body) -> body.
RequestHook = Callable[[str, Any], Any]

_LOOP_TIMERS = {
    "Authorization": "evcc_ongoing",
    "ChargeParameterDiscovery": "evcc_ongoing",
    "ScheduleExchange": "evcc_ongoing",  # -20
    "CertificateInstallation": "evcc_ongoing",  # -20 (EVSEProcessing=Ongoing)
    "CableCheck": "evcc_cable_check",
    "PreCharge": "evcc_pre_charge",
}


#: -20 steps whose WARNING_* codes mean "not done" (a refused contract or challenge, no
#: certificate): nothing this EV can do next, so the session ends
_WARNING_ENDS = frozenset({"Authorization", "CertificateInstallation"})


@dataclass
class EvccConfig:
    """How a vehicle's session behaves (defaults: a plain DC charge to the end)."""

    #: offered in supportedAppProtocol, most preferred first
    protocols: tuple[str, ...] = ("iso2", "din")
    #: end the charge loop after this many CurrentDemand/ChargingStatus requests
    loops: int | None = None
    #: after this many loop requests, pause (SessionStop Pause) instead of stopping
    pause_after: int | None = None
    #: after this many loop requests, renegotiate once (PowerDelivery Renegotiate)
    renegotiate_after: int | None = None
    #: ISO 15118-20: after this many loop requests, go to standby once (PowerDelivery
    #: Standby, the loop goes on at no power) until the EVSE says ExitStandby, the
    #: application calls ``request_standby(False)``, or ``standby_loops`` loop requests
    #: have passed in standby
    standby_after: int | None = None
    standby_loops: int | None = None
    #: seconds between two charge-loop requests, and between Ongoing repeats
    loop_interval: float = 0.0
    ongoing_interval: float = 0.25
    #: PreCharge ends when the EVSE's voltage is this close to the target
    precharge_tolerance: float = 10.0
    precharge_current: float = 2.0
    #: DC: WeldingDetection after stopping, until the voltage is below welding_voltage
    welding_detection: bool = True
    welding_voltage: float = 60.0
    welding_max_requests: int = 10
    max_schedule_tuples: int | None = None
    #: DC: after a renegotiation, go from ChargeParameterDiscovery straight to
    #: PowerDelivery(Start) instead of CableCheck and PreCharge again (the DC sequence, and
    #: Josev's charger, expect the latter)
    skip_cable_check_on_renegotiation: bool = False
    #: value-added services to ask ServiceDetail for, and to select, by ServiceID
    service_details: tuple[int, ...] = ()
    select_services: tuple[int, ...] = ()
    #: SessionID of a paused session to resume (SessionSetupReq carries it)
    resume_session_id: bytes | None = None
    request_hook: RequestHook | None = None
    #: multiplies every V2G_EVCC_Msg_Timeout: 1.0 is the standard; more tolerates a slow
    #: charger (a test bench against a JVM-based SECC under load misses 250 ms)
    timeout_scale: float = 1.0
    #: PnC: contract certificate, signing, certificate installation (see pnc.py)
    pnc: Any = None


class EvccSession(SessionEndpoint):
    """One charging session on the vehicle's side."""

    def __init__(self, ev: EVState, config: EvccConfig | None = None, *,
                 tls: bool = False, refresh: Callable[[float], None] | None = None,
                 tls_version: str | None = None) -> None:
        self.ev = ev
        #: the TLS version the link runs (the runner fills it in): a TLS 1.2 link does not
        #: carry ISO 15118-20, so -20 is not offered on it (``handshake.usable``)
        self.tls_version = tls_version
        #: called with the time before each request is composed (a simulated battery
        #: integrates its charge there)
        self.refresh = refresh
        self.config = config or EvccConfig()
        self.tls = tls
        self.protocol: str | None = None
        self.dialect: EvccDialect | None = None
        self.evse = ChargerInfo()
        self.session_id: bytes = bytes(8)
        self.payment = Payment.EIM
        self.ended: SessionEnded | None = None
        self.timers = Timers()
        self.waiting: str | None = None  # step whose response we wait for
        self.pending: str | None = None  # step to send at send_at
        self.send_at: float | None = None
        self.progress = Progress.START
        self.stop_kind = StopKind.TERMINATE
        self.schedule_id: int | None = None
        self.detail_service_id: int | None = None
        self.target_voltage = 0.0
        self.target_current = 0.0
        self.loops = 0
        self.charging_since: float | None = None
        self.renegotiating = False
        self._renegotiated = False
        self._stop_wish: StopKind | None = None
        self.stop_reason: str | None = None
        self._renegotiate_wish = False
        self._standby_wish: bool | None = None
        self._stood_by = False
        self._standby_since = 0
        self._details: list[int] = []
        self._welding = 0
        self._sap_request: apphand.supportedAppProtocolReq | None = None
        # ISO 15118-20
        self.control_mode: ControlMode | None = None
        self.selected_service20: tuple[EnergyService, int] | None = None
        self.ev_processing = Processing.ONGOING
        self.ac_power = 0.0

    # ------------------------------------------------------------------ inputs

    def start(self, now: float, setup_started: float | None = None) -> Step:
        """Connected: send supportedAppProtocolReq. ``setup_started`` is when the
        communication setup began (plug-in or link up, before SDP and TLS):
        V2G_EVCC_CommunicationSetup_Timeout runs from there to SessionSetupRes."""
        step = Step()
        begun = now if setup_started is None else setup_started
        # the value both DIN and -2 give; the protocol is not known yet
        self.timers.arm("evcc_communication_setup", begun, 20.0)
        offered = handshake.usable(self.config.protocols, tls=self.tls,
                                   tls_version=self.tls_version)
        self._sap_request = handshake.offer(offered, self.ev.energy_mode.is_dc)
        self._send(step, self._sap_request, "apphand", now)
        self.waiting = "supportedAppProtocol"
        self.timers.arm("ev_message:supportedAppProtocol", now, 2.0 * self.config.timeout_scale)
        return self._finish(step)

    def receive(self, payload_type: int, payload: bytes, now: float) -> Step:
        step = Step()
        if self.ended is not None:
            return self._finish(step)
        if self.timers.due(now):
            # a timer ran out before this arrived (the caller read it late): the timer
            # decides, as it would have had the caller woken at the deadline
            late = self.tick(now)
            if self.ended is not None:
                return late
            step = late
        message = self._decode(step, payload_type, payload, now, "response")
        if message is None:
            return self._finish(step)
        if self.waiting is None:
            return self._end(step, now, Outcome.FAILED, "a message arrived unasked")
        if self.protocol is None:
            return self._handshake(step, message, now)
        return self._response(step, message, now)

    def tick(self, now: float) -> Step:
        step = Step()
        if self.ended is not None:
            return self._finish(step)
        expired = self.timers.expired(now)
        if expired is not None:
            name, seconds = expired
            step.events.append(TimerExpired(now, name, seconds))
            return self._end(step, now, Outcome.FAILED, f"{name} timer expired ({seconds} s)")
        if self.pending is not None and self.send_at is not None and now >= self.send_at:
            pending, self.pending, self.send_at = self.pending, None, None
            self._send_request(step, pending, now)
        return self._finish(step)

    # -------------------------------------------------- application wishes

    def request_stop(self) -> None:
        """Stop charging at the next charge-loop turn, and end the session."""
        self._stop_wish = StopKind.TERMINATE

    def request_pause(self) -> None:
        """Stop charging at the next turn and pause the session (resumable by its ID)."""
        self._stop_wish = StopKind.PAUSE

    def request_renegotiation(self) -> None:
        self._renegotiate_wish = True

    def request_standby(self, on: bool = True) -> None:
        """ISO 15118-20: go to standby at the next charge-loop turn (PowerDelivery Standby:
        the loop goes on, no energy flows), or with ``on=False`` leave it (PowerDelivery
        Start). DIN and -2 have no standby; there the wish is ignored."""
        self._standby_wish = on

    @property
    def deadline(self) -> float | None:
        if self.ended is not None:
            return None
        due = self.timers.deadline()
        if self.send_at is not None:
            due = self.send_at if due is None else min(due, self.send_at)
        return due

    def selected_services(self) -> list[tuple[int, int | None]]:
        chosen: list[tuple[int, int | None]] = [(self.evse.charge_service_id or 1, None)]
        offered = {s.service_id for s in self.evse.services}
        for sid in self.config.select_services:
            if sid in offered:
                sets = self.evse.service_parameters.get(sid) or (None,)
                chosen.append((sid, sets[0]))
        return chosen

    def chosen_schedule(self) -> Schedule | None:
        for s in self.evse.schedules:
            if s.schedule_id == self.schedule_id:
                return s
        return None

    # ------------------------------------------------------------------ responses

    def _handshake(self, step: Step, message: Any, now: float) -> Step:
        step.events.append(MessageReceived(now, "apphand", type(message).__name__, message))
        self.timers.cancel("ev_message:supportedAppProtocol")
        if not isinstance(message, apphand.supportedAppProtocolRes):
            return self._end(step, now, Outcome.FAILED,
                             f"expected supportedAppProtocolRes, got {type(message).__name__}")
        assert self._sap_request is not None
        chosen = handshake.protocol_of_response(self._sap_request, message)
        if chosen is None:
            return self._end(step, now, Outcome.FAILED, "no common protocol",
                             getattr(message.response_code, "value", None))
        self.protocol = handshake.session_protocol(chosen)
        self.dialect = evcc_dialect(self.protocol)
        namespace = handshake.APP_PROTOCOLS[chosen].namespace
        step.events.append(ProtocolNegotiated(now, self.protocol, namespace,
                                              message.schema_id or 0,
                                              handshake.link(self.tls, self.tls_version)))
        self._send_request(step, "SessionSetup", now)
        return self._finish(step)

    def _response(self, step: Step, message: Any, now: float) -> Step:
        d = self.dialect
        assert d is not None and self.waiting is not None
        body = d.body(message)
        name = d.element_name(body)
        step.events.append(MessageReceived(now, self._grammar(d.protocol, message), name,
                                           message))
        expected = d.rules.exchange(self.waiting)
        if not isinstance(body, expected.response):
            return self._end(step, now, Outcome.FAILED,
                             f"expected {expected.step}Res, got {name}")
        done = self.waiting
        self.waiting = None
        self.timers.cancel(f"ev_message:{done}")
        try:
            extras = d.read_response(done, body, self.evse)
        except (AttributeError, TypeError, ValueError, Iso15118Error) as exc:
            return self._end(step, now, Outcome.FAILED, f"{name} is incomplete: {exc}")
        code: str = extras["code"]
        sid = d.session_id(message)
        if done == "SessionSetup":
            self.timers.cancel("evcc_communication_setup")
            if not code.startswith("FAILED"):
                if not sid or not any(sid):
                    return self._end(step, now, Outcome.FAILED, "the EVSE sent no SessionID")
                self.session_id = sid
                step.events.append(SessionStarted(now, sid, code == "OK_OldSessionJoined"))
        elif sid != self.session_id and not code.startswith("FAILED"):
            return self._end(step, now, Outcome.FAILED,
                             f"{name} carries SessionID {sid.hex() if sid else None}, "
                             f"not {self.session_id.hex()}")
        if code.startswith("FAILED") or (
                code.startswith("WARNING") and done in _WARNING_ENDS):
            return self._end(step, now, Outcome.FAILED, f"{name}: {code}", code)
        return self._advance(step, done, extras, message, now)

    def _advance(self, step: Step, done: str, extras: dict[str, Any], message: Any,
                 now: float) -> Step:
        """Choose the next request after ``done`` completed OK (the session's course)."""
        ev, evse = self.ev, self.evse
        ongoing = extras.get("processing") not in (None, Processing.FINISHED)
        if done in ("CableCheck", "PreCharge") and evse.status is not None \
                and evse.status.stops_charging:
            # (a Compleo answers PreChargeRes OK with EVSE_EmergencyShutdown): give up
            # cleanly, the way the table allows from here
            self.stop_reason = f"EVSE status {evse.status.value} before charging"
            self.timers.cancel(_LOOP_TIMERS[done])
            if done == "PreCharge":
                self.progress = Progress.STOP
                return self._now(step, "PowerDelivery", now)
            return self._now(step, "SessionStop", now)
        if done in _LOOP_TIMERS and done != "PreCharge":
            if ongoing:
                return self._later(step, done, now, self.config.ongoing_interval)
            self.timers.cancel(_LOOP_TIMERS[done])
        if self.protocol == "iso20":
            return advance_iso20(self, step, done, extras, message, now)
        if done == "SessionSetup":
            return self._now(step, "ServiceDiscovery", now)
        if done == "ServiceDiscovery":
            if ev.energy_mode not in evse.energy_modes:
                return self._end(step, now, Outcome.FAILED,
                                 f"the EVSE does not offer {ev.energy_mode.value}")
            payment = self._choose_payment()
            if payment is None:
                return self._end(step, now, Outcome.FAILED, "no acceptable payment option")
            self.payment = payment
            offered = {s.service_id for s in evse.services}
            self._details = [sid for sid in self.config.service_details if sid in offered]
            return self._next_detail(step, now)
        if done == "ServiceDetail":
            return self._next_detail(step, now)
        if done == "PaymentServiceSelection":
            if self.payment is Payment.PNC:
                return self._now(step, self.config.pnc.first_step(self), now)
            return self._now(step, "Authorization", now)
        if done in ("CertificateInstallation", "CertificateUpdate"):
            failure = self.config.pnc.install(self, done, message)
            if failure:
                return self._end(step, now, Outcome.FAILED, failure)
            return self._now(step, "PaymentDetails", now)
        if done == "PaymentDetails":
            return self._now(step, "Authorization", now)
        if done == "Authorization":
            return self._now(step, "ChargeParameterDiscovery", now)
        if done == "ChargeParameterDiscovery":
            return self._charge_parameters(step, now)
        if done == "CableCheck":
            step.events.append(CableCheckFinished(now, evse.isolation))
            # DIN and -2 make the isolation status optional (pyPLC's charger leaves it
            # out); a test that finished with Invalid or Fault is a failed one
            if evse.isolation in (IsolationLevel.Invalid, IsolationLevel.Fault):
                return self._end(step, now, Outcome.FAILED,
                                 f"cable check finished with isolation {evse.isolation}")
            return self._now(step, "PreCharge", now)
        if done == "PreCharge":
            present = evse.present_voltage or 0.0
            if abs(present - self.target_voltage) <= self.config.precharge_tolerance:
                self.timers.cancel("evcc_pre_charge")
                self.progress = Progress.START
                return self._now(step, "PowerDelivery", now)
            return self._later(step, "PreCharge", now, self.config.ongoing_interval)
        if done == "PowerDelivery":
            return self._power_delivered(step, now)
        if done in ("CurrentDemand", "ChargingStatus"):
            return self._loop(step, done, now)
        if done == "MeteringReceipt":
            return self._loop_next(step, now)
        if done == "WeldingDetection":
            self._welding += 1
            voltage = evse.present_voltage or 0.0
            if voltage <= self.config.welding_voltage or \
                    self._welding >= self.config.welding_max_requests:
                return self._now(step, "SessionStop", now)
            return self._later(step, "WeldingDetection", now, self.config.ongoing_interval)
        if done == "SessionStop":
            if self.stop_kind is StopKind.PAUSE:
                return self._end(step, now, Outcome.PAUSED, "paused", None)
            return self._end(step, now, Outcome.COMPLETED, "SessionStop")
        raise AssertionError(done)  # pragma: no cover

    def _choose_payment(self) -> Payment | None:
        offered = self.evse.payment_options
        if self.protocol == "din":
            return Payment.EIM  # DIN 70121: external identification only
        if self.ev.payment is Payment.PNC and Payment.PNC in offered and self.tls \
                and self.config.pnc is not None:
            return Payment.PNC
        if Payment.EIM in offered:
            return Payment.EIM
        return None

    def _next_detail(self, step: Step, now: float) -> Step:
        if self._details:
            self.detail_service_id = self._details.pop(0)
            return self._now(step, "ServiceDetail", now)
        return self._now(step, "PaymentServiceSelection", now)

    def _charge_parameters(self, step: Step, now: float) -> Step:
        evse = self.evse
        if self.schedule_id not in {s.schedule_id for s in evse.schedules}:
            self.schedule_id = evse.schedules[0].schedule_id if evse.schedules else None
        step.events.append(EVSEParametersReceived(now, _copy(evse), self.schedule_id))
        self.progress = Progress.START
        if not self.ev.energy_mode.is_dc or (
                self.renegotiating and self.config.skip_cable_check_on_renegotiation):
            return self._now(step, "PowerDelivery", now)
        return self._now(step, "CableCheck", now)

    def _power_delivered(self, step: Step, now: float) -> Step:
        if self.progress is Progress.START:
            self.renegotiating = False
            self.charging_since = now
            step.events.append(ChargingStarted(now))
            return self._now(step, self._loop_step(), now)
        step.events.append(ChargingStopped(now, self.progress.value))
        if self.progress is Progress.RENEGOTIATE:
            self.renegotiating = True
            return self._now(step, "ChargeParameterDiscovery", now)
        if self.ev.energy_mode.is_dc and self.config.welding_detection:
            self._welding = 0
            return self._now(step, "WeldingDetection", now)
        return self._now(step, "SessionStop", now)

    def _loop_step(self) -> str:
        return "CurrentDemand" if self.ev.energy_mode.is_dc else "ChargingStatus"

    def _loop(self, step: Step, done: str, now: float) -> Step:
        evse = self.evse
        self.loops += 1
        requested = self.target_current if done == "CurrentDemand" else \
            min(self.ev.max_current, evse.max_current or self.ev.max_current)
        step.events.append(ChargeLoopStatus(now, evse.present_voltage, evse.present_current,
                                            requested, _copy(evse)))
        if evse.notification is not Notification.NONE:
            step.events.append(EVSENotified(now, evse.notification, evse.notification_max_delay))
        if evse.receipt_required and self.payment is Payment.PNC:
            return self._now(step, "MeteringReceipt", now)
        return self._loop_next(step, now)

    def _loop_next(self, step: Step, now: float) -> Step:
        """The turn of the charge loop: go on, or stop / pause / renegotiate."""
        evse, cfg = self.evse, self.config
        stop: StopKind | None = self._stop_wish
        reason = "requested"
        if evse.notification is Notification.STOP_CHARGING:
            stop, reason = StopKind.TERMINATE, "the EVSE asked to stop"
        elif evse.status is not None and evse.status.stops_charging:
            stop, reason = StopKind.TERMINATE, f"EVSE status {evse.status.value}"
        elif cfg.pause_after is not None and self.loops >= cfg.pause_after:
            stop = StopKind.PAUSE
        elif cfg.loops is not None and self.loops >= cfg.loops:
            stop = StopKind.TERMINATE
        elif self.ev.charging_complete:
            stop = StopKind.TERMINATE
        if stop is not None:
            self.stop_kind = stop
            self.stop_reason = reason
            self.progress = Progress.STOP
            return self._now(step, "PowerDelivery", now)
        renegotiate = self._renegotiate_wish or evse.notification is Notification.RENEGOTIATION \
            or (cfg.renegotiate_after is not None and self.loops >= cfg.renegotiate_after
                and not self._renegotiated)
        if renegotiate and self.protocol != "din":
            self._renegotiate_wish = False
            self._renegotiated = True
            self.progress = Progress.RENEGOTIATE
            return self._now(step, "PowerDelivery", now)
        return self._later(step, self._loop_step(), now, cfg.loop_interval)

    # ------------------------------------------------------------------ requests

    def _now(self, step: Step, name: str, now: float) -> Step:
        self._send_request(step, name, now)
        return self._finish(step)

    def _later(self, step: Step, name: str, now: float, delay: float) -> Step:
        if delay <= 0:
            return self._now(step, name, now)
        self.pending, self.send_at = name, now + delay
        return self._finish(step)

    def _send_request(self, step: Step, name: str, now: float) -> None:
        d = self.dialect
        assert d is not None
        if self.refresh is not None:
            self.refresh(now)
        loop_timer = _LOOP_TIMERS.get(name)
        if loop_timer is not None:
            self.timers.arm_once(loop_timer, now, d.rules.timer(loop_timer))
        self._targets(name, now)
        if name in ("PaymentDetails", "CertificateInstallation", "CertificateUpdate") or (
                self.payment is Payment.PNC and name in ("Authorization", "MeteringReceipt",
                                                         "MeteringConfirmation")):
            body, signature = self.config.pnc.request(self, name)
        else:
            body, signature = d.request(name, self), None
        hook = self.config.request_hook
        if hook is not None:
            body = hook(name, body)
        sid = self.session_id
        if name == "SessionSetup":
            sid = self.config.resume_session_id or bytes(8)
        message = d.wrap(body, sid, signature)
        self._send(step, message, d.protocol, now)
        self.waiting = name
        self.timers.arm(f"ev_message:{name}", now,
                        d.rules.exchange(name).ev_timeout * self.config.timeout_scale)

    def _targets(self, name: str, now: float) -> None:
        """What to ask for: the EV's wish within every limit the EVSE announced."""
        ev, evse = self.ev, self.evse
        if name == "PreCharge":
            self.target_voltage = ev.battery_voltage
            self.target_current = min(self.config.precharge_current, ev.max_current)
            return
        if name == "ChargeLoop" and not ev.energy_mode.is_dc:
            self.ac_power = self._ac_power(now)
            return
        if name not in ("CurrentDemand", "PowerDelivery", "ChargeLoop"):
            return
        voltage = ev.target_voltage if ev.target_voltage is not None else ev.battery_voltage
        voltage = min(voltage, ev.max_voltage, evse.max_voltage or voltage)
        current = min(ev.target_current, ev.max_current)
        if evse.max_current is not None:
            current = min(current, evse.max_current)
        powers = [ev.max_power]
        if evse.max_power is not None:
            powers.append(evse.max_power)
        schedule = self.chosen_schedule()
        if schedule is not None and self.charging_since is not None and self.protocol != "din":
            pmax = schedule.max_power_at(now - self.charging_since)
            if pmax is not None:
                powers.append(pmax)
        if voltage > 0:
            current = min(current, min(powers) / voltage)
        if ev.charging_complete:
            current = 0.0
        floor = 0.0
        if ev.bidirectional and self.selected_service20 is not None \
                and self.selected_service20[0].bidirectional:
            # BPT: a negative target feeds back, within both sides' discharge limits
            floor = -min(ev.max_discharge_current, evse.max_discharge_current or 0.0)
        self.target_voltage, self.target_current = voltage, max(floor, current)

    def _ac_power(self, now: float) -> float:
        """-20 AC: what the EV draws now (dynamic: the EVSE's setpoint; scheduled: the EV's
        limit within the EVSE's and the schedule's)."""
        ev, evse = self.ev, self.evse
        if self.control_mode is ControlMode.DYNAMIC and evse.target_power is not None:
            power = evse.target_power
        else:
            power = min(ev.max_power, evse.max_power or ev.max_power)
            schedule = self.chosen_schedule()
            if schedule is not None and self.charging_since is not None:
                pmax = schedule.max_power_at(now - self.charging_since)
                if pmax is not None:
                    power = min(power, pmax)
        if ev.charging_complete and power > 0:
            power = 0.0
        return max(-ev.max_discharge_power, min(ev.max_power, power))

    def _end(self, step: Step, now: float, outcome: Outcome, reason: str,
             code: str | None = None) -> Step:
        self.pending = self.send_at = None
        return super()._end(step, now, outcome, reason, code)


def _copy(evse: ChargerInfo) -> ChargerInfo:
    from dataclasses import replace

    return replace(evse)
