"""The charger's session (SECC), sans-IO: requests in, responses and events out.

One :class:`SeccSession` per V2G connection. The caller (an asyncio runner, a test on a
virtual clock, a fuzzer) feeds it each received V2GTP payload with the time
(:meth:`~SeccSession.receive`), calls :meth:`~SeccSession.tick` at the deadline it gives,
and passes the application's decisions in (:meth:`~SeccSession.authorize`,
:meth:`~SeccSession.finish_cable_check`, :meth:`~SeccSession.set_schedules`). The
response to every request is composed at once from the :class:`EVSEState` the
application keeps up to date, so the SECC meets its performance times by construction;
what is not decided yet is answered ``EVSEProcessing=Ongoing``.

The rules come from the protocol's table (:mod:`.rules_din`, :mod:`.rules_iso2`): a
request the table does not allow next is answered FAILED_SequenceError, a wrong
SessionID FAILED_UnknownSession, and any FAILED response ends the session (the connection
closes after it). Undecodable input ends the session without a response (there is no
request to answer).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from iso15118 import codec
from iso15118.errors import Iso15118Error
from iso15118.messages import apphand
from iso15118.session import handshake
from iso15118.session.core import Step, Timers
from iso15118.session.dialects import SeccDialect, secc_dialect
from iso15118.session.endpoint import SessionEndpoint
from iso15118.session.events import (
    AuthorizationRequested,
    CableCheckRequested,
    ChargeLoop,
    ChargeParametersReceived,
    MessageReceived,
    MeteringReceiptReceived,
    Outcome,
    PowerDeliveryRequested,
    PreChargeRequested,
    ProtocolNegotiated,
    SessionEnded,
    SessionStarted,
    SessionStopRequested,
    TimerExpired,
)
from iso15118.session.evse_state import EVSEState
from iso15118.session.rules import state_after
from iso15118.session.secc_iso20 import handle_iso20
from iso15118.session.values import (
    IsolationLevel,
    Notification,
    Payment,
    Processing,
    Progress,
    Schedule,
    StopKind,
)
from iso15118.session.views import VehicleInfo

__all__ = ["DEFER", "PausedSessions", "SeccConfig", "SeccSession"]

#: A hook that may change a response before it is encoded: (step, request body,
#: response body) -> response body. Protocol-specific fields, test variations and the
#: live fuzzer attach here.
ResponseHook = Callable[[str, Any, Any], Any]

_BEFORE_AUTHORIZATION = frozenset({
    "Handshake", "Idle", "SessionSetup", "ServiceDiscovery", "ServiceDetail",
    "PaymentServiceSelection.EIM", "PaymentServiceSelection.PnC", "CertificateInstallation",
    "CertificateUpdate", "PaymentDetails", "Authorization.Ongoing"})

#: what a handler returns when the application (a backend) will answer later through
#: :meth:`SeccSession.complete`
DEFER = "DEFER"


@dataclass
class SeccConfig:
    """How a charger's sessions behave (defaults: what a public DC charger does)."""

    #: protocols accepted in supportedAppProtocol (the EV's priority decides among them)
    protocols: tuple[str, ...] = ("iso2", "din")
    #: answer Authorization at once with the EVSE's default decision, without waiting
    #: for :meth:`SeccSession.authorize` (free charging, or EIM done before plug-in)
    auto_authorize: bool = True
    #: answer CableCheck Finished at once with ``EVSEState.isolation`` (or Valid)
    auto_cable_check: bool = True
    #: answer ChargeParameterDiscovery Ongoing until :meth:`SeccSession.set_schedules`
    await_schedules: bool = False
    #: real cars send SessionStopReq from any state (e.g. after a failed authorization);
    #: accept it everywhere after SessionSetup rather than answering a sequence error
    accept_session_stop_anywhere: bool = True
    #: real cars send PowerDeliveryReq(Stop) without having charged (after CableCheck,
    #: after authorization): accept it in any state once authorized
    accept_power_delivery_stop_anywhere: bool = True
    #: SessionID length in bytes (1..8); 8 unless a peer needs otherwise
    session_id_length: int = 8
    #: override the table's V2G_SECC_Sequence_Timeout / the SECC's ongoing limit
    sequence_timeout: float | None = None
    ongoing_limit: float | None = None
    #: override the table's silence limit inside the ISO 15118-20 charge loop (0.5 s):
    #: a host that runs many simulated chargers on one event loop may stall longer than
    #: that without any vehicle being silent (the EV's side: ``EvccConfig.timeout_scale``)
    charge_loop_timeout: float | None = None
    response_hook: ResponseHook | None = None
    #: PnC: contract chain / signature checks and the certificate backend (see pnc.py)
    pnc: Any = None
    #: -20 over TLS only when the vehicle presented its certificate (mutual authentication);
    #: without it such an EV gets the next common protocol. Off: TLS 1.3 suffices, as on
    #: the dSPACE test system. (A TLS context that requires the certificate enforces it
    #: before the session starts.)
    require_vehicle_certificate: bool = False


@dataclass
class PausedSession:
    session_id: bytes
    protocol: str
    evcc_id: bytes | None
    payment: Payment | None
    paused_at: float


@dataclass
class PausedSessions:
    """Sessions paused with SessionStop(Pause), by SessionID, shared by the connections of
    one EVSE (or charger) so an EV that comes back can resume (OK_OldSessionJoined)."""

    sessions: dict[bytes, PausedSession] = field(default_factory=dict)
    #: at most this many are kept (the oldest goes first): an EVSE that is paused on
    #: again and again, or a peer that pauses on purpose, cannot grow the store
    limit: int = 64

    def add(self, paused: PausedSession) -> None:
        self.sessions[paused.session_id] = paused
        while len(self.sessions) > self.limit:
            del self.sessions[next(iter(self.sessions))]

    def take(self, session_id: bytes) -> PausedSession | None:
        return self.sessions.pop(session_id, None)


class SeccSession(SessionEndpoint):
    """One charging session on the charger's side, from supportedAppProtocol to the end."""

    def __init__(self, evse: EVSEState, config: SeccConfig | None = None, *,
                 tls: bool = False, paused: PausedSessions | None = None,
                 rng: Callable[[int], bytes] = secrets.token_bytes,
                 refresh: Callable[[float], None] | None = None,
                 tls_version: str | None = None,
                 vehicle_certificate: bytes | None = None) -> None:
        self.evse = evse
        #: what the TLS handshake gave (the runner fills them in): -20 is negotiated over
        #: TLS only with TLS 1.3 (and the vehicle's certificate when the config requires
        #: it; ``handshake.usable``)
        self.tls_version = tls_version
        self.vehicle_certificate = vehicle_certificate
        #: called with the time before each request is handled, so an application that
        #: models its hardware (a simulator) can bring the EVSEState up to date lazily
        self.refresh = refresh
        self.config = config or SeccConfig()
        self.tls = tls
        self.paused_store = paused if paused is not None else PausedSessions()
        self._rng = rng
        self.protocol: str | None = None
        self.dialect: SeccDialect | None = None
        self.state = "Handshake"
        self.session_id: bytes = b""
        self.resumed = False
        self.ev = VehicleInfo()
        self.ended: SessionEnded | None = None
        self.timers = Timers()
        #: decisions: None = not decided yet (answer Ongoing)
        self.authorization: bool | None = None
        self.authorization_code: str | None = None
        self.isolation: IsolationLevel | None = None
        self.schedules_ready = not self.config.await_schedules
        self.gen_challenge: bytes | None = None
        self.renegotiating = False
        self.notification: Notification | None = None  # per-session override
        self.charging = False
        #: -20: the EV said PowerDelivery(Standby) and has not left standby since
        self.standby = False
        self._asked: set[str] = set()  # steps whose "requested" event was emitted
        self._ongoing_since: dict[str, float] = {}
        self.last_request_at: float | None = None
        #: the EXI of the request being answered, as the EV sent it (a backend relaying it,
        #: e.g. OCPP Get15118EVCertificate's exiRequest, needs the vehicle's own bytes)
        self.request_payload: bytes | None = None
        self._deferred: tuple[str, Any, dict[str, Any]] | None = None
        #: -20 CertificateInstallation answered Ongoing: the backend's late answer
        #: (code or None, response, header Signature) waits here for the EV's next request
        self.certificate_answer: tuple[str | None, Any, Any] | None = None
        #: -20: what the first AuthorizationReq asked (service, challenge, contract chain);
        #: its Ongoing repeats must ask the same
        self.authorization_request: tuple[Any, ...] | None = None
        #: set by a runner (asyncio ``drive``, ``run_pair``): steps made outside
        #: receive()/tick(), i.e. by :meth:`complete`, go to it instead of the caller
        self.on_step: Callable[[Step], None] | None = None
        self.responses = 0

    # ------------------------------------------------------------------ inputs

    def start(self, now: float) -> Step:
        """The connection is up: wait for supportedAppProtocolReq."""
        step = Step()
        self.timers.arm("secc_sequence", now, self._sequence_timeout())
        return self._finish(step)

    def receive(self, payload_type: int, payload: bytes, now: float) -> Step:
        """One V2GTP payload from the EV."""
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
        message = self._decode(step, payload_type, payload, now, "request")
        if message is None:
            return self._finish(step)
        self.last_request_at = now
        self.request_payload = payload
        if self.refresh is not None:
            self.refresh(now)
        if self.protocol is None:
            return self._handshake(step, message, now)
        return self._request(step, message, now)

    def tick(self, now: float) -> Step:
        """Call at (or after) the deadline: expired timers end the session."""
        step = Step()
        if self.ended is None:
            expired = self.timers.expired(now)
            if expired is not None:
                name, seconds = expired
                step.events.append(TimerExpired(now, name, seconds))
                if self._deferred is not None and name.startswith("secc_performance:"):
                    # the backend did not answer in time: say so rather than fall silent
                    deferred, body, extras = self._deferred
                    self._deferred = None
                    return self._respond(step, deferred, body, "FAILED_NoCertificateAvailable"
                                         if deferred.startswith("Certificate") else "FAILED",
                                         extras, now)
                return self._end(step, now, Outcome.FAILED, f"{name} timer expired ({seconds} s)")
        return self._finish(step)

    # -------------------------------------------------- application decisions

    def authorize(self, accepted: bool = True, code: str | None = None) -> None:
        """Decide the pending authorization; ``code`` overrides the FAILED code sent when
        refused (default FAILED)."""
        self.authorization = accepted
        self.authorization_code = code

    def finish_cable_check(self, isolation: IsolationLevel = IsolationLevel.Valid) -> None:
        """The isolation test is done: CableCheck is answered Finished from now on."""
        self.isolation = isolation
        self.evse.isolation = isolation

    def set_schedules(self, schedules: Sequence[Schedule]) -> None:
        """Schedules for ChargeParameterDiscoveryRes (e.g. from OCPP SetChargingProfile)."""
        self.evse.schedules = list(schedules)
        self.schedules_ready = True

    def request_stop(self) -> None:
        """EVSE-initiated stop: the next status asks the EV to stop (StopCharging)."""
        self.notification = Notification.STOP_CHARGING

    def request_renegotiation(self) -> None:
        """EVSE-initiated renegotiation (ReNegotiation in the next status); the new
        schedules are taken from ``EVSEState.schedules`` when the EV asks."""
        self.notification = Notification.RENEGOTIATION

    def received_exi(self, message: Any, grammar: str) -> bytes | None:
        """The request's EXI as the vehicle sent it, for a backend that relays it (OCPP's
        exiRequest, whose signature the CSMS or MO may check over the vehicle's bytes):
        the payload received, else (a request handed in without bytes) the message as our
        encoder writes it; None if it cannot be written."""
        if self.request_payload is not None:
            return self.request_payload
        try:
            return codec.encode(message, grammar)
        except Iso15118Error:
            return None

    @property
    def current_notification(self) -> Notification:
        n = self.notification if self.notification is not None else self.evse.notification
        if n is Notification.EXIT_STANDBY and not self.standby:
            # ExitStandby calls back a vehicle in standby (ISO 15118-20 EVSENotification);
            # to one that is not in standby it would say nothing, so it is not sent: it
            # stays pending until the vehicle goes to standby
            return Notification.NONE
        return n

    # ------------------------------------------------------------------ handshake

    def _handshake(self, step: Step, message: Any, now: float) -> Step:
        step.events.append(MessageReceived(now, "apphand", type(message).__name__, message))
        if not isinstance(message, apphand.supportedAppProtocolReq):
            return self._end(step, now, Outcome.FAILED,
                             f"expected supportedAppProtocolReq, got {type(message).__name__}")
        response, chosen = handshake.choose(message, handshake.usable(
            self.config.protocols, tls=self.tls, tls_version=self.tls_version,
            vehicle_certificate=self.vehicle_certificate is not None
            or not self.config.require_vehicle_certificate))
        self._send(step, response, "apphand", now)
        if chosen is None:
            return self._end(step, now, Outcome.FAILED, "no common protocol",
                             response.response_code.value)
        self.protocol = handshake.session_protocol(chosen)
        self.dialect = secc_dialect(self.protocol)
        self.state = "Idle"
        assert response.schema_id is not None
        namespace = handshake.APP_PROTOCOLS[chosen].namespace
        step.events.append(ProtocolNegotiated(now, self.protocol, namespace,
                                              response.schema_id,
                                              handshake.link(self.tls, self.tls_version)))
        self.timers.arm("secc_sequence", now, self._sequence_timeout())
        return self._finish(step)

    # ------------------------------------------------------------------ requests

    def _request(self, step: Step, message: Any, now: float) -> Step:
        d = self.dialect
        assert d is not None
        body = d.body(message)
        name = d.element_name(body)
        step.events.append(MessageReceived(now, self._grammar(d.protocol, message), name,
                                           message))
        exchange = d.rules.exchange_of_request(body)
        if exchange is None:
            what = name if body is not None else \
                f"a {type(message).__name__} document (not a V2G_Message)"
            return self._end(step, now, Outcome.FAILED, f"{what} is not a request")
        name_step = exchange.step
        code = "OK"
        # read into a copy: a request that is refused must not change what we know
        seen = replace(self.ev)
        incomplete = None
        try:
            extras: dict[str, Any] = d.read(name_step, body, seen)
        except (AttributeError, TypeError, ValueError, Iso15118Error) as exc:
            # non-strict decoding lets through content a request cannot do without
            extras, incomplete = {}, f"{name} is incomplete: {exc}"
        if self._deferred is not None:
            self._deferred = None  # the EV did not wait for the answer it asked for
            code = "FAILED_SequenceError"
        elif name_step == "SessionSetup":
            if self.state != "Idle":
                code = "FAILED_SequenceError"
            else:
                code = self._session_setup(d.session_id(message), seen.evcc_id, step, now)
        elif self.state == "Idle":
            code = "FAILED_SequenceError"  # no session yet: only SessionSetup may come
        elif d.session_id(message) != self.session_id:
            code = "FAILED_UnknownSession"
        elif not self._allowed_now(name_step, extras):
            code = "FAILED_SequenceError"
        elif incomplete is not None:
            code = "FAILED"
        if not code.startswith("FAILED"):
            vars(self.ev).update(vars(seen))
        if not code.startswith("FAILED") and name_step != "SessionSetup":
            code = self._handle(name_step, extras, message, step, now)
        if code == DEFER:
            exchange = d.rules.exchange(name_step)
            self._deferred = (name_step, body, extras)
            self.timers.cancel("secc_sequence")
            self.timers.arm(f"secc_performance:{name_step}", now, exchange.secc_performance)
            return self._finish(step)
        return self._respond(step, name_step, body, code, extras, now)

    def complete(self, now: float, code: str = "OK", response: Any = None, *,
                 signature: Any = None) -> Step:
        """Answer the request whose response was deferred to the application (a backend
        round trip such as OCPP's Get15118EVCertificate): ``response`` is the body to
        send (e.g. the CertificateInstallationRes the backend made) and ``signature`` the
        header Signature that signs it (ISO 15118-2 signs that response's fragments with
        the CPS key, and the signature lives in the header, not the body), or None with
        a FAILED ``code``. Too late (past the SECC's performance time) it does nothing.
        ISO 15118-20's CertificateInstallation is not deferred but answered Ongoing: there
        the answer (the CertificateInstallationRes model or its EXI, signed in its own
        header) is kept for the EV's next request.
        Returns the step to send, or hands it to :attr:`on_step` when a runner set it
        (then the returned step is empty)."""
        step = Step()
        if self._deferred is None and self.ended is None \
                and self.state == "CertificateInstallation.Ongoing":
            # -20 answers Ongoing instead of deferring: keep the answer for the EV's repeat
            self.certificate_answer = (None if code == "OK" else code, response, signature)
            return self._finish(step)
        if self._deferred is None or self.ended is not None:
            return self._finish(step)
        name, body, extras = self._deferred
        self._deferred = None
        self.timers.cancel(f"secc_performance:{name}")
        if response is not None:
            extras["response"] = response
        if signature is not None:
            extras["signature"] = signature
        step = self._respond(step, name, body, code, extras, now)
        if self.on_step is not None:
            self.on_step(step)  # a runner drives this session: it sends the step
            return self._finish(Step())
        return step

    def _allowed(self) -> tuple[str, ...]:
        """The requests the table allows next, plus what the real-car switches add."""
        assert self.dialect is not None
        allowed = self.dialect.rules.allowed(self.state)
        if self.config.accept_session_stop_anywhere and self.state != "Idle" \
                and "SessionStop" not in allowed:
            allowed = (*allowed, "SessionStop")
        return allowed

    def _allowed_now(self, step: str, extras: dict[str, Any]) -> bool:
        if step in self._allowed():
            return True
        # real cars open the contactors without charging (an Audi Q4 after CableCheck, a
        # Hyundai CCM right after ContractAuthentication): PowerDelivery(Stop) is accepted
        # once authorized, under its switch
        return (step == "PowerDelivery" and extras.get("progress") is Progress.STOP
                and self.config.accept_power_delivery_stop_anywhere
                and self.state not in _BEFORE_AUTHORIZATION)

    def _session_setup(self, header_id: bytes | None, evcc_id: bytes | None, step: Step,
                       now: float) -> str:
        old = self.paused_store.take(header_id) if header_id and any(header_id) else None
        # resume only the same vehicle's session: a SessionID seen on the wire must not
        # let another EVCC take over a paused session
        if old is not None and old.protocol == self.protocol and (
                old.evcc_id is None or old.evcc_id == evcc_id):
            self.session_id = old.session_id
            self.resumed = True
            self.ev.payment = old.payment
            code = "OK_OldSessionJoined"
        else:
            self.session_id = self._new_session_id()
            code = "OK_NewSessionEstablished"
        step.events.append(SessionStarted(now, self.session_id, self.resumed))
        return code

    def _new_session_id(self) -> bytes:
        n = max(1, min(8, self.config.session_id_length))
        while True:
            sid = self._rng(n)
            if any(sid):  # all-zero means "no session" on the wire
                return sid

    def _handle(self, name: str, extras: dict[str, Any], message: Any, step: Step,
                now: float) -> str:
        """Act on an allowed request; returns the response code (and sets extras)."""
        ev = self.ev
        if self.protocol == "iso20":
            code = handle_iso20(self, name, extras, message, step, now)
            if code is not None:
                return code
        if name == "ServiceDiscovery":
            return "OK"
        if name == "ServiceDetail":
            known = {s.service_id for s in self.evse.services}
            return "OK" if extras.get("service_id") in known else "FAILED_ServiceIDInvalid"
        if name == "PaymentServiceSelection":
            payment = extras.get("payment")
            if payment not in self._payment_options():
                return "FAILED_PaymentSelectionInvalid"
            offered = {self.charge_service_id} | {s.service_id for s in self.evse.services}
            chosen = {sid for sid, _ in ev.selected_services}
            if self.charge_service_id not in chosen:
                return "FAILED_NoChargeServiceSelected"
            if not chosen <= offered:
                return "FAILED_ServiceSelectionInvalid"
            ev.payment = payment
            return "OK"
        if name in ("PaymentDetails", "CertificateInstallation", "CertificateUpdate"):
            return self._pnc_step(name, extras, message, step, now)
        if name == "Authorization":
            return self._authorization(extras, message, step, now)
        if name == "ChargeParameterDiscovery":
            return self._charge_parameters(extras, step, now)
        if name == "CableCheck":
            if "CableCheck" not in self._asked:
                self._asked.add("CableCheck")
                step.events.append(CableCheckRequested(now))
                if self.config.auto_cable_check:
                    level = self.evse.isolation
                    if level in (IsolationLevel.Invalid,):
                        level = IsolationLevel.Valid
                    self.finish_cable_check(level)
            extras["processing"] = self._decided("CableCheck", self.isolation is not None, now)
            if extras["processing"] is None:
                return "FAILED"
            return "OK"
        if name == "PreCharge":
            step.events.append(PreChargeRequested(now, ev.target_voltage or 0.0,
                                                  ev.target_current or 0.0))
            return "OK"
        if name == "PowerDelivery":
            return self._power_delivery(extras, step, now)
        if name in ("CurrentDemand", "ChargingStatus"):
            step.events.append(ChargeLoop(now, ev.target_voltage, ev.target_current, ev.soc,
                                          ev.charging_complete))
            return "OK"
        if name == "MeteringReceipt":
            return self._metering_receipt(extras, message, step, now)
        if name == "WeldingDetection":
            return "OK"
        if name == "SessionStop":
            kind = extras.get("stop_kind", StopKind.TERMINATE)
            step.events.append(SessionStopRequested(now, kind))
            if kind is StopKind.SERVICE_RENEGOTIATION and not self.evse.service_renegotiation:
                return "FAILED_NoServiceRenegotiationSupported"
            return "OK"
        raise AssertionError(name)  # pragma: no cover - every step of the tables is handled

    @property
    def charge_service_id(self) -> int:
        assert self.dialect is not None
        return self.dialect.charge_service_id

    def _payment_options(self) -> tuple[Payment, ...]:
        """PnC only over TLS (ISO 15118-2 7.7.4 security; DESIGN: security by default;
        -20 over TLS is TLS 1.3, ``handshake.usable``), and only with a ``SeccConfig.pnc``."""
        options = self.evse.payment_options
        if self.protocol == "din":
            return (Payment.EIM,)  # DIN 70121: external identification only
        if not self.tls or self.config.pnc is None:
            options = tuple(p for p in options if p is not Payment.PNC)
        return options or (Payment.EIM,)

    def _decided(self, name: str, decided: bool, now: float) -> Processing | None:
        """Finished when decided, Ongoing while not and within the ongoing limit, None
        when the limit has passed (the session then fails)."""
        if decided:
            self._ongoing_since.pop(name, None)
            return Processing.FINISHED
        since = self._ongoing_since.setdefault(name, now)
        limit = self.config.ongoing_limit
        if limit is None:
            assert self.dialect is not None
            limit = self.dialect.rules.timer("secc_ongoing")
        if now - since >= limit:
            return None
        return Processing.ONGOING

    def _authorization(self, extras: dict[str, Any], message: Any, step: Step,
                       now: float) -> str:
        ev = self.ev
        if "Authorization" not in self._asked:
            self._asked.add("Authorization")
            if ev.payment is Payment.PNC:
                code = self._pnc_authorization_check(extras, message)
                if code != "OK":
                    return code
            step.events.append(AuthorizationRequested(now, ev.payment or Payment.EIM, ev.emaid,
                                                      ev.contract_chain))
            if self.config.auto_authorize and self.authorization is None:
                self.authorize(True)
        processing = self._decided("Authorization", self.authorization is not None, now)
        if processing is None:
            extras["processing"] = Processing.FINISHED
            return "FAILED"
        extras["processing"] = processing
        if processing is Processing.FINISHED and not self.authorization:
            return self.authorization_code or "FAILED"
        return "OK"

    def _charge_parameters(self, extras: dict[str, Any], step: Step, now: float) -> str:
        ev = self.ev
        mode = ev.energy_mode
        if "ChargeParameterDiscovery" not in self._asked:
            self._asked.add("ChargeParameterDiscovery")
            if mode is not None:
                step.events.append(ChargeParametersReceived(now, mode, _copy(ev),
                                                            self.renegotiating))
        if mode not in self.evse.energy_modes:
            extras["processing"] = Processing.FINISHED
            return "FAILED_WrongEnergyTransferMode"
        processing = self._decided("ChargeParameterDiscovery", self.schedules_ready, now)
        if processing is None:
            extras["processing"] = Processing.FINISHED
            return "FAILED"
        extras["processing"] = processing
        if mode is not None and mode.is_dc != bool(extras.get("dc_parameters")):
            return "FAILED_WrongChargeParameter"
        return "OK"

    def _power_delivery(self, extras: dict[str, Any], step: Step, now: float) -> str:
        progress: Progress = extras["progress"]
        schedule_id = extras.get("schedule_id")
        if progress is Progress.START:
            known = {s.schedule_id for s in self.evse.schedules}
            if schedule_id is not None and known and schedule_id not in known:
                return "FAILED_TariffSelectionInvalid"
            if self.evse.status.stops_charging and self.ev.energy_mode is not None \
                    and self.ev.energy_mode.is_dc:
                return "FAILED_PowerDeliveryNotApplied"
        step.events.append(PowerDeliveryRequested(now, progress, schedule_id))
        return "OK"

    def _metering_receipt(self, extras: dict[str, Any], message: Any, step: Step,
                          now: float) -> str:
        signed = False
        code = "OK"
        if self.ev.payment is Payment.PNC and self.config.pnc is not None:
            code = self.config.pnc.check_metering_receipt(self, message)
            signed = code == "OK"
        meter = extras.get("meter")
        step.events.append(MeteringReceiptReceived(
            now, getattr(meter, "meter_id", None), getattr(meter, "energy_wh", None), signed))
        return code

    def _pnc_step(self, name: str, extras: dict[str, Any], message: Any, step: Step,
                  now: float) -> str:
        pnc = self.config.pnc
        if pnc is None or self.ev.payment is not Payment.PNC:
            return "FAILED"
        result: str = pnc.handle(self, name, extras, message, step, now)
        return result

    def _pnc_authorization_check(self, extras: dict[str, Any], message: Any) -> str:
        pnc = self.config.pnc
        if pnc is None:
            return "FAILED"
        result: str = pnc.check_authorization(self, extras, message)
        return result

    # ------------------------------------------------------------------ responses

    def _respond(self, step: Step, name: str, request: Any, code: str,
                 extras: dict[str, Any], now: float) -> Step:
        d = self.dialect
        assert d is not None
        extras.setdefault("processing", Processing.FINISHED)
        body = d.compose(name, self, code, extras)
        hook = self.config.response_hook
        if hook is not None:
            body = hook(name, request, body)
        # a handler (PnC) may sign the response: the Signature goes into the header
        signature = None if code.startswith("FAILED") else extras.get("signature")
        message = d.wrap(body, self.session_id or bytes(1), signature)
        self._send(step, message, d.protocol, now)
        if self.ended is not None:  # the response could not be written: over
            return self._finish(step)
        self.responses += 1
        if code.startswith("FAILED"):
            return self._end(step, now, Outcome.FAILED, f"{name}: {code}", code)
        kind = extras.get("stop_kind", StopKind.TERMINATE)
        self.state = state_after(
            name, ongoing=extras.get("ongoing", extras["processing"] is not Processing.FINISHED),
            dc=self.ev.energy_mode is None or self.ev.energy_mode.is_dc,
            pnc=self.ev.payment is Payment.PNC,
            progress=extras["progress"].value if "progress" in extras else None,
            renegotiating=self.renegotiating, protocol=self.protocol or "",
            stop_kind=kind.value)
        self._after(name, extras, now)
        if name == "SessionStop" and kind is not StopKind.SERVICE_RENEGOTIATION:
            if kind is StopKind.PAUSE:
                assert self.protocol is not None
                self.paused_store.add(PausedSession(self.session_id, self.protocol,
                                                    self.ev.evcc_id, self.ev.payment, now))
                return self._end(step, now, Outcome.PAUSED, "paused by the EV")
            return self._end(step, now, Outcome.COMPLETED, "SessionStop")
        timeout = self._sequence_timeout()
        if name == "ChargeLoop":  # -20: a silent EV is noticed within the loop's limit
            timeout = self.config.charge_loop_timeout \
                if self.config.charge_loop_timeout is not None \
                else d.rules.timer_or("secc_sequence_charge_loop", timeout)
        self.timers.arm("secc_sequence", now, timeout)
        return self._finish(step)

    def _after(self, name: str, extras: dict[str, Any], now: float) -> None:
        """Bookkeeping once a response went out OK."""
        if name == "PowerDelivery":
            progress = extras["progress"]
            self.charging = progress is Progress.START
            if extras.get("ongoing"):
                return  # -20: the EV is not ready, nothing happened yet
            self.standby = progress is Progress.STANDBY
            if progress is Progress.RENEGOTIATE:
                self.renegotiating = True
                self._asked.discard("ChargeParameterDiscovery")
                self._asked.discard("ScheduleExchange")
                self._asked.discard("CableCheck")  # an EV may check the cable again
                self.isolation = None
                self.schedules_ready = not self.config.await_schedules
                if self.notification is Notification.RENEGOTIATION:
                    self.notification = None
            elif progress is Progress.START:
                self.renegotiating = False
                if self.notification is Notification.EXIT_STANDBY:
                    self.notification = None  # the EV left standby
            if progress is not Progress.START and self.notification in (
                    Notification.STOP_CHARGING, Notification.PAUSE):
                self.notification = None  # the EV did what it was asked
        elif name == "Authorization" and extras["processing"] is Processing.FINISHED:
            self._asked.discard("Authorization")
        elif name == "MeteringConfirmation":  # -20: the EV confirmed what was asked
            if self.notification is Notification.METERING_CONFIRMATION:
                self.notification = None
        elif name == "SessionStop":  # -20 ServiceRenegotiation: the session goes on
            if self.notification is Notification.SERVICE_RENEGOTIATION:
                self.notification = None
            self._asked -= {"ChargeParameterDiscovery", "ScheduleExchange", "CableCheck"}
            self.isolation = None
            self.schedules_ready = not self.config.await_schedules

    def _sequence_timeout(self) -> float:
        if self.config.sequence_timeout is not None:
            return self.config.sequence_timeout
        if self.dialect is not None:
            return self.dialect.rules.timer("secc_sequence")
        return 60.0  # before the handshake: the value both protocols share



def _copy(ev: VehicleInfo) -> VehicleInfo:
    return replace(ev)
