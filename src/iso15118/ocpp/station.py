"""A charging station on one OCPP 2.0.1 / 2.1 connection for the SECC sessions of its EVSEs.

Item 2 of issue 15, first slice: :class:`ChargingStation` joins the session layer's events
and hooks (:class:`~iso15118.session.runner.Charger`'s per-EVSE ``application``) to a CSMS
over a WebSocket, with the pure functions of this package for every ISO 15118 payload:

=============================================  =============================================
session event / hook                           OCPP
=============================================  =============================================
start                                          BootNotification, StatusNotification Available
SessionStarted / SessionEnded                  TransactionEvent Started / Ended,
                                               StatusNotification Occupied / Available
PowerDeliveryRequested Start / Stop            TransactionEvent Updated (chargingState)
AuthorizationRequested (PnC)                   Authorize with hash data -> C07 ->
                                               ``SeccSession.authorize``
CertificateInstallationRequested               Get15118EVCertificate -> ``SeccSession.complete``
ChargeParameterDiscoveryReq (DIN, -2)          NotifyEVChargingNeeds (once per negotiation)
-20 ServiceSelection + CPD + ScheduleExchange  NotifyEVChargingNeeds (2.1)
PowerDeliveryReq with a profile (-2, -20)      NotifyEVChargingSchedule
MeteringReceiptReq / MeteringConfirmationReq   TransactionEvent Updated (SignedDataReceived)
SetChargingProfile (from the CSMS)             ``EVSEState.schedules``; ``set_schedules`` while
                                               the EV waits, ``request_renegotiation`` while
                                               it charges; -20 dynamic mode:
                                               ``EVSEState.target_power``
UpdateDynamicSchedule (2.1, from the CSMS)     the Dynamic profile's period in force ->
PullDynamicScheduleUpdate (2.1, to the CSMS;   ``EVSEState.target_power`` and, DC, the
every dynUpdateInterval)                       maximum charge / discharge power
Install/Delete/GetInstalledCertificate(Ids)    :class:`~iso15118.ocpp.station_certs.TrustStore`,
                                               ``SeccPnc.contract_roots``
request_secc_certificate / CertificateSigned   SignCertificate; the chain into the SECC's
                                               live ``ssl.SSLContext``
=============================================  =============================================

The ``ocpp`` package carries the frames (its ``ChargePoint`` parses them, correlates calls
and results) but not the payloads: its camelCase/snake_case conversion changes 43 keys of
2.1, so :class:`OcppLink` replaces the two methods that convert (``call`` and
``_handle_call``) with ones that pass camelCase dicts through and validate them with
:func:`iso15118.ocpp.schemas.validate`. Needs the ``ocpp`` extra and ``websockets``.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as _dt
import logging
import ssl
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509
from ocpp.charge_point import ChargePoint
from ocpp.exceptions import (
    FormatViolationError,
    OCPPError,
)
from ocpp.exceptions import (
    NotImplementedError as OcppNotImplemented,
)
from ocpp.messages import Call, MessageType

from iso15118.errors import Iso15118Error
from iso15118.ocpp._json import iso_time
from iso15118.ocpp.authorize import (
    AuthorizationDecision,
    authorization_decision,
    authorize_request,
)
from iso15118.ocpp.certificates import ev_certificate_response, get_15118_ev_certificate_request
from iso15118.ocpp.charging_needs import (
    charging_needs_din,
    charging_needs_iso2,
    charging_needs_iso20,
)
from iso15118.ocpp.dynamic_control import (
    DynamicTarget,
    anchored,
    apply_schedule_update,
    dynamic_target,
    next_change,
    pull_due,
    pull_dynamic_schedule_update_request,
    read_pull_dynamic_schedule_update_response,
    read_update_dynamic_schedule,
)
from iso15118.ocpp.errors import OcppConversionError, OcppError, OcppPayloadError
from iso15118.ocpp.ev_schedule import ev_charging_schedule_iso2, ev_charging_schedule_iso20
from iso15118.ocpp.metering import meter_value_iso2, meter_value_iso20
from iso15118.ocpp.schemas import V21, V201, validate
from iso15118.ocpp.smart_charging import (
    EV_PURPOSES,
    STATION_PURPOSES,
    ElectricalBasis,
    schedules_from_profiles,
    tuple_ids,
)
from iso15118.ocpp.station_certs import (
    SigningKey,
    TrustStore,
    certificate_signed,
    load_secc_certificate,
    sign_certificate_request,
)
from iso15118.session.events import (
    AuthorizationRequested,
    CertificateInstallationRequested,
    Event,
    MessageReceived,
    MessageSent,
    PowerDeliveryRequested,
    ProtocolNegotiated,
    SessionEnded,
    SessionStarted,
)
from iso15118.session.evse_state import EVSEState
from iso15118.session.secc import SeccSession
from iso15118.session.values import ControlMode, Payment, Progress

__all__ = ["ChargingStation", "OcppCallError", "OcppLink", "StationEvse"]

logger = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any]], "dict[str, Any] | Awaitable[dict[str, Any]]"]


class OcppCallError(OcppError):
    """The CSMS answered a call with a CALLERROR (``code`` as OCPP names it)."""

    def __init__(self, action: str, code: str, description: str) -> None:
        super().__init__(f"{action}: {code}: {description}")
        self.action, self.code, self.description = action, code, description


class OcppLink(ChargePoint):
    """The ``ocpp`` package's connection handling with camelCase payloads end to end."""

    def __init__(self, station_id: str, connection: Any, version: str,
                 handlers: dict[str, Handler], response_timeout: float = 30) -> None:
        super().__init__(station_id, connection, response_timeout=response_timeout)
        self._ocpp_version = version
        self.handlers = handlers

    async def call_json(self, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Send ``action`` with ``payload`` (validated first) and return the CSMS's
        validated answer; a CALLERROR raises :class:`OcppCallError`."""
        validate(f"{action}Request", payload, self._ocpp_version)
        call = Call(unique_id=str(uuid.uuid4()), action=action, payload=payload)
        async with self._call_lock:
            await self._send(call.to_json())
            response = await self._get_specific_response(call.unique_id,
                                                         self._response_timeout)
        if response.message_type_id == MessageType.CallError:
            raise OcppCallError(action, response.error_code, response.error_description)
        answer: dict[str, Any] = response.payload
        validate(f"{action}Response", answer, self._ocpp_version)
        return answer

    async def _handle_call(self, msg: Any) -> None:
        handler = self.handlers.get(msg.action)
        if handler is None:
            raise OcppNotImplemented(f"{msg.action} is not supported by this station")
        try:
            validate(f"{msg.action}Request", msg.payload, self._ocpp_version)
        except OcppPayloadError as exc:
            raise FormatViolationError(f"{exc.field}: {exc.reason}"[:255]) from None
        try:
            result = handler(msg.payload)
            answer = await result if asyncio.iscoroutine(result) else result
        except OCPPError:
            raise
        except Exception as exc:  # the CSMS gets InternalError, the station goes on
            logger.exception("handling %s", msg.action)
            await self._send(msg.create_call_error(exc).to_json())
            return
        validate(f"{msg.action}Response", answer, self._ocpp_version)
        await self._send(msg.create_call_result(answer).to_json())


@dataclass
class StationEvse:
    """One EVSE of the station: its SECC state and what OCPP needs to know about it."""

    evse_id: int
    evse: EVSEState
    connector_id: int = 1
    #: the EVSE's power limit (W) and how A becomes W (SetChargingProfile)
    max_power: float = 50_000.0
    basis: ElectricalBasis = field(default_factory=lambda: ElectricalBasis(dc=True,
                                                                           dc_voltage=500.0))
    session: SeccSession | None = None
    protocol: str | None = None
    transaction_id: str | None = None
    charging: bool = False
    #: TransactionEvent seqNo, counted per transaction
    seq_no: int = 0
    #: the C07 decision of the last PnC Authorize, with the CSMS's reasons (-2's
    #: AuthorizationRes can only say FAILED)
    authorization: AuthorizationDecision | None = None
    profile: dict[str, Any] | None = None
    schedule_time_base: _dt.datetime | None = None
    #: NotifyEVChargingNeeds goes once per negotiation, not per Ongoing repetition
    needs_sent: bool = False
    #: -20: the requests the charging needs are made of, as they arrive
    iso20_requests: dict[str, Any] = field(default_factory=dict)
    #: the EVSE's discharge maximum (W) for -20 BPT dynamic mode (default: the
    #: EVSEState's, DC or AC as ``basis`` says)
    max_discharge_power: float | None = None
    #: 2.1 Dynamic profile: when it (or its last update) arrived, for dynUpdateInterval
    profile_updated_at: _dt.datetime | None = None
    #: the task that pulls updates of the Dynamic profile and evaluates its next period
    pull_task: asyncio.Task[Any] | None = None

    def __post_init__(self) -> None:
        if self.max_discharge_power is None:
            self.max_discharge_power = self.evse.dc.max_discharge_power if self.basis.dc \
                else self.evse.ac.max_discharge_power


class ChargingStation:
    """The OCPP side of a charger: one connection, several :class:`StationEvse`.

    ``application(evse_id, hardware)`` is the factory an ``EVSEEndpoint`` takes; it passes
    every event to ``hardware`` (the power stage, e.g. the simulated charger) and to the
    OCPP side. For PnC the endpoint's ``SeccConfig`` should leave authorization to the
    application (``auto_authorize=False``) and its ``SeccPnc.certificate_backend`` should
    defer (return None): the CSMS decides both. ``clock`` gives OCPP's timestamps."""

    def __init__(self, station_id: str, evses: list[StationEvse], *, version: str = V201,
                 trust: TrustStore | None = None, pnc: Any = None,
                 secc_context: ssl.SSLContext | None = None,
                 vendor: str = "v2g-iso15118", model: str = "SECC",
                 clock: Callable[[], float] = time.time) -> None:
        self.station_id = station_id
        self.version = version
        self.evses = {e.evse_id: e for e in evses}
        self.trust = trust or TrustStore()
        self.pnc = pnc
        #: the SECC's TLS server context: a CertificateSigned chain is loaded into it
        self.secc_context = secc_context
        #: ChargingStationMaxProfile / ExternalConstraints in force (limits of every schedule)
        self.station_profiles: list[dict[str, Any]] = []
        self._csr_key: Any = None
        self._csr_iso20 = False
        self.vendor, self.model = vendor, model
        self.clock = clock
        self.link: OcppLink | None = None
        self.errors: list[BaseException] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        self._socket: Any = None
        self._reader: asyncio.Task[Any] | None = None

    # ------------------------------------------------------------------ connection

    def _now(self) -> _dt.datetime:
        return _dt.datetime.fromtimestamp(self.clock(), _dt.timezone.utc)

    async def connect(self, url: str) -> None:
        """Open the WebSocket (``url/station_id``, subprotocol ``ocpp2.0.1``/``ocpp2.1``),
        boot, and report every connector Available. The identity is the URL's last path
        segment, percent-encoded (OCPP-J 2.0.1 section 3.1.1: an identity may hold
        characters a path cannot, such as ``/`` or a space)."""
        import urllib.parse

        import websockets

        identity = urllib.parse.quote(self.station_id, safe="")
        target = f"{url.rstrip('/')}/{identity}"
        try:
            self._socket = await websockets.connect(target, subprotocols=[
                websockets.Subprotocol(f"ocpp{self.version}")])
        except (OSError, asyncio.TimeoutError, websockets.WebSocketException) as exc:
            raise OcppError(f"cannot connect to the CSMS at {target}: {exc}") from exc
        self.link = OcppLink(self.station_id, self._socket, self.version, {
            "SetChargingProfile": self._on_set_charging_profile,
            "InstallCertificate": self._on_install_certificate,
            "GetInstalledCertificateIds": self._on_installed_ids,
            "DeleteCertificate": self._on_delete_certificate,
            "CertificateSigned": self._on_certificate_signed,
            **({"UpdateDynamicSchedule": self._on_update_dynamic_schedule}
               if self.version == V21 else {}),
        })
        self._reader = asyncio.ensure_future(self.link.start())
        try:
            await self.call("BootNotification", {
                "reason": "PowerUp", "chargingStation": {"model": self.model,
                                                         "vendorName": self.vendor}})
            for evse in self.evses.values():
                await self._status(evse, "Available")
        except (OSError, asyncio.TimeoutError, websockets.WebSocketException) as exc:
            # a CSMS that closes or goes silent: nothing of this connection is left running
            await self.close()
            raise OcppError(f"the CSMS at {target} did not take the station's boot: "
                            f"{exc}") from exc

    async def close(self) -> None:
        for evse in self.evses.values():
            if evse.pull_task is not None:
                evse.pull_task.cancel()
                with contextlib.suppress(BaseException):
                    await evse.pull_task
        for task in list(self._tasks):
            with contextlib.suppress(BaseException):
                await task
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(BaseException):
                await self._reader
        if self._socket is not None:
            await self._socket.close()

    async def call(self, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        if self.link is None:
            raise OcppError("not connected: call connect() first")
        return await self.link.call_json(action, payload)

    def _spawn(self, work: Awaitable[Any]) -> None:
        async def guarded() -> None:
            try:
                await work
            except (Iso15118Error, OCPPError, OSError, asyncio.TimeoutError) as exc:
                logger.warning("OCPP: %s", exc)
                self.errors.append(exc)
            except Exception as exc:  # a bug: kept for the application, not lost in a task
                logger.exception("OCPP work failed")
                self.errors.append(exc)
        task = asyncio.ensure_future(guarded())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ------------------------------------------------------------------ session side

    def application(self, evse_id: int,
                    hardware: Callable[[SeccSession], Callable[[Event, float], None]]
                    | None = None) -> Callable[[SeccSession], Callable[[Event, float], None]]:
        """The ``EVSEEndpoint.application`` factory for EVSE ``evse_id``."""
        evse = self.evses[evse_id]

        def factory(session: SeccSession) -> Callable[[Event, float], None]:
            inner = hardware(session) if hardware is not None else None
            evse.session = session

            def on_event(event: Event, now: float) -> None:
                if inner is not None:
                    inner(event, now)
                self.on_event(evse, session, event, now)
            return on_event
        return factory

    def on_event(self, evse: StationEvse, session: SeccSession, event: Event,
                 now: float) -> None:
        """One session event (called from the session's task; OCPP work is spawned)."""
        match event:
            case ProtocolNegotiated(protocol=protocol):
                evse.protocol = protocol
            case SessionStarted():
                evse.transaction_id = str(uuid.uuid4())
                evse.seq_no = 0
                evse.needs_sent = False
                evse.authorization = None
                evse.iso20_requests.clear()
                self._spawn(self._transaction(evse, "Started", "EVDetected", "EVConnected"))
                self._spawn(self._status(evse, "Occupied"))
            case PowerDeliveryRequested(progress=progress):
                if progress is Progress.START and evse.profile is not None \
                        and evse.profile.get("chargingProfileKind") == "Dynamic" \
                        and session.ev.control_mode is ControlMode.DYNAMIC:
                    # a Dynamic profile that came before the EV chose Dynamic mode (CSMSs
                    # send it as the transaction starts) holds from the first loop on
                    self._set_dynamic(evse, evse.profile)
                    if evse.pull_task is None or evse.pull_task.done():
                        evse.profile_updated_at = evse.profile_updated_at or self._now()
                        self._schedule_dynamic(evse, evse.profile)
                if progress is Progress.START and not evse.charging:
                    evse.charging = True
                    self._spawn(self._transaction(evse, "Updated", "ChargingStateChanged",
                                                  "Charging"))
                elif progress is Progress.STOP and evse.charging:
                    evse.charging = False
                    self._spawn(self._transaction(evse, "Updated", "ChargingStateChanged",
                                                  "EVConnected"))
                elif progress is Progress.RENEGOTIATE:
                    evse.needs_sent = False  # the EV states its needs again
            case AuthorizationRequested(payment=Payment.PNC, emaid=emaid,
                                        contract_chain=chain):
                self._spawn(self._authorize(evse, session, emaid or "", chain))
            case CertificateInstallationRequested(exi=exi):
                self._spawn(self._certificate(evse, session, exi))
            case MessageReceived(name="ChargeParameterDiscoveryReq", protocol=protocol,
                                 message=message) if not evse.needs_sent:
                evse.needs_sent = True
                body = message.body.body_element
                self._spawn(self._charging_needs(evse, protocol, body))
            case MessageReceived(name=("ServiceSelectionReq" | "DC_ChargeParameterDiscoveryReq"
                                       | "AC_ChargeParameterDiscoveryReq") as name,
                                 message=message):
                evse.iso20_requests[name.split("_")[-1]] = message
            case MessageReceived(name="ScheduleExchangeReq", message=message) \
                    if not evse.needs_sent and self.version == V21:
                evse.needs_sent = True
                self._spawn(self._charging_needs_iso20(evse, message))
            case MessageSent(name="ChargeParameterDiscoveryRes"):
                evse.schedule_time_base = self._now()
            case MessageReceived(name="PowerDeliveryReq", protocol=protocol, message=message):
                self._spawn(self._ev_schedule(evse, protocol, message))
            case MessageReceived(name="MeteringReceiptReq", protocol="iso2", message=message):
                self._spawn(self._metering(evse, meter_value_iso2(
                    message.body.body_element, self._now(), self.version)))
            case MessageReceived(name="MeteringConfirmationReq", message=message):
                self._spawn(self._metering(evse, meter_value_iso20(
                    message, self._now(), self.version)))
            case SessionEnded():
                evse.charging = False
                self._spawn(self._transaction(evse, "Ended", "EVDeparted", "Idle"))
                self._spawn(self._status(evse, "Available"))
                evse.session = None
                self._end_tx_profile(evse)

    async def _status(self, evse: StationEvse, status: str) -> None:
        await self.call("StatusNotification", {
            "timestamp": iso_time(self._now()), "connectorStatus": status,
            "evseId": evse.evse_id, "connectorId": evse.connector_id})

    async def _transaction(self, evse: StationEvse, kind: str, trigger: str, state: str,
                           meter_value: dict[str, Any] | None = None,
                           id_token: dict[str, Any] | None = None) -> None:
        info: dict[str, Any] = {"transactionId": evse.transaction_id or "none",
                                "chargingState": state}
        payload: dict[str, Any] = {
            "eventType": kind, "timestamp": iso_time(self._now()), "triggerReason": trigger,
            "seqNo": evse.seq_no, "transactionInfo": info,
            "evse": {"id": evse.evse_id, "connectorId": evse.connector_id}}
        evse.seq_no += 1
        if kind == "Ended":
            info["stoppedReason"] = "EVDisconnected"
        if meter_value is not None:
            payload["meterValue"] = [meter_value]
        if id_token is not None:
            payload["idToken"] = id_token
        await self.call("TransactionEvent", payload)

    async def _authorize(self, evse: StationEvse, session: SeccSession, emaid: str,
                         chain: tuple[bytes, ...]) -> None:
        try:
            request = authorize_request(emaid, chain, self.version,
                                        roots=self.trust.contract_roots())
            answer = await self.call("Authorize", request)
            decision = authorization_decision(answer, self.version,
                                              "iso20" if evse.protocol == "iso20" else "iso2")
            evse.authorization = decision
        except Exception as exc:
            # no answer from the CSMS is no authorization (C07: the station may not
            # authorize a contract it could not check); whatever failed, the EV is answered
            logger.warning("Authorize failed: %s", exc)
            session.authorize(False, None)
            raise
        session.authorize(bool(decision.accepted), None if decision.accepted
                          else decision.response_code)
        if decision.accepted:
            # the transaction started at SessionSetup without a token: now the CSMS learns
            # whose it is (E01/E03: TransactionEvent Updated, triggerReason Authorized)
            await self._transaction(evse, "Updated", "Authorized",
                                    "Charging" if evse.charging else "EVConnected",
                                    id_token=request["idToken"])

    async def _certificate(self, evse: StationEvse, session: SeccSession, exi: bytes) -> None:
        loop = asyncio.get_running_loop()
        try:
            request = get_15118_ev_certificate_request(exi, self.version)
            answer = await self.call("Get15118EVCertificate", request)
            result = ev_certificate_response(answer, self.version,
                                             "iso20" if evse.protocol == "iso20" else "iso2")
        except Exception:
            # whatever failed, the EV gets its answer now rather than Ongoing until the
            # SECC's limit (found end to end: an AttributeError left it waiting 55 s)
            session.complete(loop.time(), "FAILED_NoCertificateAvailable")
            raise
        session.complete(loop.time(), result.response_code, result.response,
                         signature=result.signature)

    async def _charging_needs(self, evse: StationEvse, protocol: str, body: Any) -> None:
        convert = charging_needs_din if protocol == "din" else charging_needs_iso2
        await self.call("NotifyEVChargingNeeds",
                        convert(body, evse.evse_id, self._now(), self.version))

    async def _charging_needs_iso20(self, evse: StationEvse, schedule_exchange: Any) -> None:
        got = evse.iso20_requests
        if "ServiceSelectionReq" not in got or "ChargeParameterDiscoveryReq" not in got:
            raise OcppConversionError("ScheduleExchangeReq before ServiceSelection and "
                                      "ChargeParameterDiscovery")
        limits = evse.evse.dc if evse.basis.dc else evse.evse.ac
        await self.call("NotifyEVChargingNeeds", charging_needs_iso20(
            got["ServiceSelectionReq"], got["ChargeParameterDiscoveryReq"], schedule_exchange,
            evse.evse_id, self._now(), evse=limits,
            ac_phases=evse.evse.ac.phases))

    async def _ev_schedule(self, evse: StationEvse, protocol: str, message: Any) -> None:
        ids = tuple_ids(evse.profile) if evse.profile else None
        if protocol == "iso2":
            payload = ev_charging_schedule_iso2(
                message.body.body_element, evse.evse_id, evse.schedule_time_base or self._now(),
                self.version, ids)
        elif protocol.startswith("iso20"):
            payload = ev_charging_schedule_iso20(message, evse.evse_id, self.version, ids)
        else:
            return  # DIN's PowerDeliveryReq carries no profile
        if payload is not None:
            await self.call("NotifyEVChargingSchedule", payload)

    async def _metering(self, evse: StationEvse, meter_value: dict[str, Any]) -> None:
        await self._transaction(evse, "Updated", "SignedDataReceived",
                                "Charging" if evse.charging else "EVConnected", meter_value)

    # ------------------------------------------------------------------ CSMS side

    def _on_set_charging_profile(self, payload: dict[str, Any]) -> dict[str, Any]:
        """K01/K15: a TxProfile for one EVSE, a TxDefaultProfile for one or (evseId 0) all,
        a station-wide ChargingStationMaxProfile / ExternalConstraints kept as the limit of
        every schedule made from then on."""
        profile = payload["chargingProfile"]
        purpose = profile["chargingProfilePurpose"]
        if purpose in STATION_PURPOSES:
            self.station_profiles = [p for p in self.station_profiles
                                     if p["id"] != profile["id"]] + [profile]
            return {"status": "Accepted"}
        if purpose not in EV_PURPOSES:
            return {"status": "Rejected", "statusInfo": {
                "reasonCode": "UnsupportedRequest",
                "additionalInfo": f"{purpose} does not reach the EV"}}
        if payload["evseId"] == 0 and purpose == "TxDefaultProfile":
            targets = list(self.evses.values())
        else:
            found = self.evses.get(payload["evseId"])
            targets = [found] if found is not None else []
        if not targets:
            return {"status": "Rejected", "statusInfo": {"reasonCode": "UnknownEVSE"}}
        for evse in targets:
            answer = self._apply_profile(evse, profile)
            if answer is not None:
                return answer
        return {"status": "Accepted"}

    def _apply_profile(self, evse: StationEvse, profile: dict[str, Any]
                       ) -> dict[str, Any] | None:
        """The profile into one EVSE's schedules (or dynamic target); a Rejected answer
        when it cannot be carried, else None."""
        session = evse.session
        # 2.1: a Dynamic schedule without startSchedule starts on arrival; pinned here so
        # that its later periods come into force at their times
        profile = anchored(profile, self._now())
        try:
            if session is not None and session.ev.control_mode is ControlMode.DYNAMIC:
                # -20 dynamic mode (K19/K28): no schedule to renegotiate; the EVSE asks for
                # the power of the period in force, evaluated again when the next period
                # starts, on UpdateDynamicSchedule and after each pull
                self._set_dynamic(evse, profile)
                evse.profile = profile
                evse.profile_updated_at = self._now()
                self._schedule_dynamic(evse, profile)
                return None
            departure = session.ev.departure_time if session is not None else None
            schedules = schedules_from_profiles(
                profile, self._now(), protocol=evse.protocol or "iso2",
                max_power=evse.max_power, basis=evse.basis, departure_s=departure,
                station_profiles=self.station_profiles)
        except OcppConversionError as exc:
            return {"status": "Rejected", "statusInfo": {"reasonCode": "InvalidSchedule",
                                                         "additionalInfo": str(exc)[:512]}}
        evse.profile = profile
        evse.evse.schedules = schedules
        if session is not None and session.ended is None:
            if evse.charging:
                session.request_renegotiation()  # the EV asks again and gets these
            else:
                session.set_schedules(schedules)
        return None

    def _end_tx_profile(self, evse: StationEvse) -> None:
        """A TxProfile ends with its transaction (K01): no more pulls, and a dynamic one's
        target and limits give way to the EVSE's own (else the next session would inherit
        the last session's dynamic charge limit)."""
        if evse.profile is None or evse.profile["chargingProfilePurpose"] != "TxProfile":
            return
        if evse.pull_task is not None:
            evse.pull_task.cancel()
            evse.pull_task = None
        if evse.profile.get("chargingProfileKind") == "Dynamic":
            evse.evse.target_power = None
            if evse.basis.dc:
                evse.evse.dc.max_power = evse.max_power
                evse.evse.dc.max_discharge_power = evse.max_discharge_power or 0.0
            else:
                evse.evse.ac.max_discharge_power = evse.max_discharge_power or 0.0
        evse.profile = None

    def _dynamic_target(self, evse: StationEvse, profile: dict[str, Any]
                        ) -> DynamicTarget | None:
        return dynamic_target(profile, self._now(), max_power=evse.max_power,
                              max_discharge_power=evse.max_discharge_power or 0.0,
                              basis=evse.basis)

    def _set_dynamic(self, evse: StationEvse, profile: dict[str, Any]) -> None:
        """The profile's period in force into what the next -20 dynamic ChargeLoopRes
        states: the target power (AC: EVSETargetActivePower; DC: the power the converter
        delivers) and, DC, the maximum charge / discharge power."""
        target = self._dynamic_target(evse, profile)
        if target is None:  # no period in force: the EVSE's own limits again
            evse.evse.target_power = None
            target = DynamicTarget(evse.max_power, evse.max_power,
                                   evse.max_discharge_power or 0.0)
        else:
            evse.evse.target_power = target.target_power
        if evse.basis.dc:
            evse.evse.dc.max_power = target.max_charge_power
            evse.evse.dc.max_discharge_power = target.max_discharge_power
        else:
            evse.evse.ac.max_discharge_power = target.max_discharge_power

    def _on_update_dynamic_schedule(self, payload: dict[str, Any]) -> dict[str, Any]:
        """K (2.1) UpdateDynamicSchedule: new limit / setpoint values for the period in
        force of an installed Dynamic profile, into the running -20 dynamic session's
        next ChargeLoopRes. An unknown or non-Dynamic profile is Rejected."""
        profile_id, update = read_update_dynamic_schedule(payload, self.version)
        evse = next((e for e in self.evses.values()
                     if e.profile is not None and e.profile["id"] == profile_id), None)
        if evse is None or evse.profile is None:
            return {"status": "Rejected", "statusInfo": {
                "reasonCode": "UnknownProfile",
                "additionalInfo": f"no charging profile {profile_id} in force"}}
        return self._update_profile(evse, evse.profile, update)

    def _update_profile(self, evse: StationEvse, profile: dict[str, Any],
                        update: dict[str, Any]) -> dict[str, Any]:
        try:
            updated = apply_schedule_update(profile, update, self._now())
            self._dynamic_target(evse, updated)  # refuses what cannot be carried
        except OcppConversionError as exc:
            return {"status": "Rejected", "statusInfo": {"reasonCode": "InvalidSchedule",
                                                         "additionalInfo": str(exc)[:512]}}
        evse.profile, evse.profile_updated_at = updated, self._now()
        session = evse.session
        if session is not None and session.ended is None \
                and session.ev.control_mode is ControlMode.DYNAMIC:
            self._set_dynamic(evse, updated)
        return {"status": "Accepted"}

    async def pull_dynamic_schedule_update(self, evse_id: int) -> dict[str, Any]:
        """K (2.1) PullDynamicScheduleUpdate for the Dynamic profile of EVSE ``evse_id``;
        an Accepted update is applied as UpdateDynamicSchedule's. Returns the CSMS's
        answer. Sent by itself every dynUpdateInterval while the profile is in force."""
        evse = self.evses[evse_id]
        if evse.profile is None or evse.profile.get("chargingProfileKind") != "Dynamic":
            raise OcppError(f"EVSE {evse_id} has no Dynamic charging profile")
        profile = evse.profile
        answer = await self.call("PullDynamicScheduleUpdate",
                                 pull_dynamic_schedule_update_request(profile["id"],
                                                                      self.version))
        update = read_pull_dynamic_schedule_update_response(answer, self.version)
        if update is not None and evse.profile is profile:
            result = self._update_profile(evse, profile, update)
            if result["status"] != "Accepted":
                raise OcppConversionError(f"PullDynamicScheduleUpdate: "
                                          f"{result['statusInfo']['additionalInfo']}")
        elif evse.profile is profile:
            evse.profile_updated_at = self._now()  # asked; the next pull an interval on
        return answer

    def _schedule_dynamic(self, evse: StationEvse, profile: dict[str, Any]) -> None:
        """While the Dynamic ``profile`` is the EVSE's in a running session: evaluate it
        again when its next period starts (:func:`~iso15118.ocpp.dynamic_control.
        next_change`) and, under 2.1 with dynUpdateInterval, pull updates when due
        (:func:`~iso15118.ocpp.dynamic_control.pull_due`). The asyncio side of those pure
        functions: one task per EVSE, sleeping until the earlier of the two."""

        def current() -> bool:
            return evse.profile is not None and evse.profile["id"] == profile["id"] \
                and evse.session is not None and evse.session.ended is None

        async def work() -> None:
            while current():
                assert evse.profile is not None
                now = self._now()
                pull = pull_due(evse.profile, evse.profile_updated_at or now) \
                    if self.version == V21 else None
                change = next_change(evse.profile, now)
                wake = min((t for t in (pull, change) if t is not None), default=None)
                if wake is None:
                    return
                await asyncio.sleep(max(0.0, (wake - self._now()).total_seconds()))
                if not current():
                    return
                assert evse.profile is not None and evse.session is not None
                # what is due now (an update may have moved the pull while we slept)
                due = pull_due(evse.profile, evse.profile_updated_at or self._now()) \
                    if self.version == V21 else None
                if due is not None and due <= self._now():
                    await self.pull_dynamic_schedule_update(evse.evse_id)
                if current() and evse.session.ev.control_mode is ControlMode.DYNAMIC:
                    self._set_dynamic(evse, evse.profile)  # the period in force now

        async def guarded() -> None:
            try:
                await work()
            except (Iso15118Error, OCPPError, OSError, asyncio.TimeoutError) as exc:
                logger.warning("OCPP: %s", exc)
                self.errors.append(exc)
        if evse.pull_task is not None:
            evse.pull_task.cancel()
        evse.pull_task = asyncio.ensure_future(guarded())

    async def request_secc_certificate(self, key: SigningKey, *, common_name: str,
                                       organization: str, country: str,
                                       iso20: bool = False) -> dict[str, Any]:
        """SignCertificate for a new SECC certificate with ``key`` (A02/A03); the CSMS's
        CertificateSigned that follows is checked against it and, accepted, loaded into
        ``secc_context`` (new TLS handshakes present it; no restart)."""
        request = sign_certificate_request(key, self.version, common_name=common_name,
                                           organization=organization, country=country,
                                           iso20=iso20)
        self._csr_key, self._csr_iso20 = key, iso20
        return await self.call("SignCertificate", request)

    def _on_certificate_signed(self, payload: dict[str, Any]) -> dict[str, Any]:
        if self._csr_key is None:
            return {"status": "Rejected", "statusInfo": {
                "reasonCode": "NoCSR", "additionalInfo": "no SignCertificate outstanding"}}
        try:
            result = certificate_signed(payload, self.version, key=self._csr_key,
                                        v2g_roots=self.trust.roots.get("V2GRootCertificate",
                                                                       []),
                                        iso20=self._csr_iso20, at=self._now())
        except OcppConversionError as exc:
            return {"status": "Rejected", "statusInfo": {"reasonCode": "UnsupportedRequest",
                                                         "additionalInfo": str(exc)[:512]}}
        if result.chain is None:
            return result.response
        if self.secc_context is not None:
            load_secc_certificate(self.secc_context, result.chain, self._csr_key)
        self.trust.secc_chain = tuple(x509.load_der_x509_certificate(c) for c in result.chain)
        self._csr_key = None
        return result.response

    def _refresh_trust(self) -> None:
        if self.pnc is not None:
            self.pnc.contract_roots = self.trust.contract_roots()

    def _on_install_certificate(self, payload: dict[str, Any]) -> dict[str, Any]:
        answer = self.trust.install(payload, self.version)
        self._refresh_trust()
        return answer

    def _on_installed_ids(self, payload: dict[str, Any]) -> dict[str, Any]:
        return self.trust.installed_ids(payload, self.version)

    def _on_delete_certificate(self, payload: dict[str, Any]) -> dict[str, Any]:
        answer = self.trust.delete(payload, self.version)
        self._refresh_trust()
        return answer
