"""Launcher that runs Josev's (EcoG-io/iso15118 0.31.2) SECC or EVCC for the test harness.

It runs inside Josev's own venv (Josev's import name ``iso15118`` clashes with ours), so it
imports nothing from this project. ``harness.py`` prepares a work directory with Josev's own
configuration (``.env``, and ``evcc_config.json`` for the EVCC) plus ``harness.json`` with
the scenario knobs Josev has no setting for, then starts, in that directory::

    python run_josev.py harness.json

What this file adds to Josev, and why (every change lives here; the installed package is
never edited):

- machine-readable progress lines on stdout, ``@@josev-harness {json}``: ``ready`` (SECC:
  UDP server listening), ``session_end`` (the verdict of each V2G communication session:
  Josev's own stop reason and whether it was a successful stop), ``session_closed`` (Josev
  closed TCP, which it does 5 s after the verdict) and ``resume`` (EVCC: a new SDP cycle
  resuming a paused session);
- a subclass of Josev's simulated EVSE controller with the charger knobs: the energy
  transfer modes offered, ``EVSEProcessing=Ongoing`` for a time in CableCheck and
  Authorization, and an EVSENotification (ReNegotiation / StopCharging) in the N-th
  ChargingStatusRes / CurrentDemandRes;
- wrappers around a few of Josev's EVCC states for what its EV simulator cannot do:
  SessionStop with ChargingSession=Pause, resuming with the paused SessionID (Josev has the
  ``RESUME_SESSION_ID`` hook but nothing sets it), an EV-initiated renegotiation, and
  choosing EIM although the SECC offers PnC;
- optionally a shorter post-stop linger (Josev waits 2 s + 3 s after the last message
  before it closes TCP) so that tests which do not check that linger run faster.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import sys
import time
from pathlib import Path
from typing import Any

import launcher_iso20  # next to this file (the script's directory is on sys.path)

MARK = "@@josev-harness "
EXPECTED_VERSION = "0.31.2"


def emit(event: str, **fields: Any) -> None:
    """One progress line for the harness (stdout, flushed at once)."""
    print(MARK + json.dumps({"event": event, "t": time.time(), **fields}), flush=True)


# ---------------------------------------------------------------------------------------
# Hooks shared by both roles
# ---------------------------------------------------------------------------------------


class _ScaledAsyncio:
    """Stands in for the ``asyncio`` module inside Josev's comm_session module only, so
    that the two sleeps of ``V2GCommunicationSession.stop`` (2 s, 3 s) shrink; everything
    else passes through to the real module."""

    def __init__(self, real: Any, scale: float) -> None:
        self._real = real
        self._scale = scale

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    async def sleep(self, delay: float, result: Any = None) -> Any:
        return await self._real.sleep(delay * self._scale, result)


class SessionLog:
    """What the session hooks learnt (the EVCC's resume needs the paused session)."""

    last_paused: dict[str, Any] | None = None


def install_session_hooks(spec: dict[str, Any]) -> None:
    from iso15118.shared import comm_session as cs
    from iso15118.shared.states import Pause, State

    floor = spec.get("min_response_timeout")
    if floor:
        # Every state passes the time to wait for the peer's next message here.
        original_create = State.create_next_message

        def create_next_message(
            self: Any, next_state: Any, next_msg: Any, next_msg_timeout: float,
            *args: Any, **kwargs: Any,
        ) -> None:  # fmt: skip
            timeout = max(float(next_msg_timeout), float(floor))
            original_create(self, next_state, next_msg, timeout, *args, **kwargs)

        State.create_next_message = create_next_message

    linger = spec.get("stop_linger")
    if linger is not None:
        cs.asyncio = _ScaledAsyncio(asyncio, float(linger) / 5.0)

    original_stop = cs.V2GCommunicationSession.stop

    async def stop(self: Any, reason: str) -> None:
        note = self.stop_reason
        ok = bool(note is not None and note.successful and note.reason == reason)
        paused = self.current_state.next_state is Pause  # the SECC's view (-2)
        note_action = getattr(note, "stop_action", None)  # the SECC's view (-20)
        if str(getattr(note_action, "value", note_action)) == "pause":
            paused = True
        for name in ("charging_session_stop_v2", "charging_session_stop_v20"):  # the EVCC's
            stop = getattr(self, name, None)
            if stop is not None and str(getattr(stop, "value", stop)) == "Pause":
                paused = True
        fields = {
            "ok": ok,
            "reason": reason,
            "state": str(self.current_state),
            "session_id": self.session_id,
            "protocol": getattr(self.protocol, "name", str(self.protocol)),
            "paused": paused and ok,
        }
        emit("session_end", **fields)
        if paused and ok:
            SessionLog.last_paused = {
                "session_id": self.session_id,
                "auth": getattr(self, "selected_auth_option", None),
            }
        await original_stop(self, reason)
        emit("session_closed", session_id=self.session_id)

    cs.V2GCommunicationSession.stop = stop

    original_init = cs.V2GCommunicationSession.__init__

    def init(self: Any, transport: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, transport, *args, **kwargs)
        tls = transport[1].get_extra_info("ssl_object")
        if tls is not None:  # the handshake is over when Josev's session starts
            peer = tls.getpeercert(binary_form=True)
            emit(
                "tls", version=tls.version(), cipher=tls.cipher()[0],
                peer_cert_sha256=hashlib.sha256(peer).hexdigest() if peer else None,
            )  # fmt: skip

    cs.V2GCommunicationSession.__init__ = init


def make_codec(spec: dict[str, Any]) -> Any:
    """Josev's EXI codec (a JVM through py4j), warmed up.

    A cold EXIficient takes 0.3-1.5 s for its first message of a schema (measured on a
    2-CPU runner), longer than Josev's own 2 s response timeouts allow when the other side
    is cold too; from the second message on it takes 40-150 ms. So both sides encode and
    decode the first and the most time-critical messages of every schema once before they
    report ``ready``.
    """
    from iso15118.shared.exificient_exi_codec import ExificientEXICodec
    from py4j.java_gateway import JavaGateway

    extra = [str(option) for option in spec.get("jvm_options") or ()]
    if extra:
        # Josev launches its JVM with fixed options; append ours (speed only, e.g. no C2
        # compiler, whose threads starve a 2-CPU runner).
        launch = JavaGateway.launch_gateway

        def launch_gateway(*args: Any, **kwargs: Any) -> Any:
            kwargs["javaopts"] = [*kwargs.get("javaopts", ()), *extra]
            return launch(*args, **kwargs)

        JavaGateway.launch_gateway = staticmethod(launch_gateway)
    codec = ExificientEXICodec()
    protocols = spec.get("config", {}).get("protocols", ["DIN", "ISO-2"])
    warmup = {"urn:iso:15118:2:2010:AppProtocol": WARMUP["urn:iso:15118:2:2010:AppProtocol"]}
    if "ISO-2" in protocols:
        warmup["urn:iso:15118:2:2013:MsgDef"] = WARMUP["urn:iso:15118:2:2013:MsgDef"]
    if "DIN" in protocols:
        warmup["urn:din:70121:2012:MsgDef"] = WARMUP["urn:din:70121:2012:MsgDef"]
    if any(str(p).startswith("ISO-20") for p in protocols):
        warmup |= launcher_iso20.warmup_messages()
    started = time.monotonic()
    for _ in range(int(spec.get("warmup_rounds", 1))):
        for namespace, messages in warmup.items():
            for message in messages:
                codec.decode(codec.encode(message, namespace), namespace)
    emit("warmed_up", seconds=round(time.monotonic() - started, 3))
    return codec


def _v2g(body: dict[str, Any]) -> str:
    return json.dumps({"V2G_Message": {"Header": {"SessionID": "0011223344556677"}, "Body": body}})


def _pv(value: int, unit: str, multiplier: int = 0) -> dict[str, Any]:
    return {"Value": value, "Multiplier": multiplier, "Unit": unit}


_DC_EVSE_STATUS = {
    "NotificationMaxDelay": 0, "EVSENotification": "None",
    "EVSEIsolationStatus": "Valid", "EVSEStatusCode": "EVSE_Ready",
}  # fmt: skip
_CURRENT_DEMAND_REQ = {
    "DC_EVStatus": {"EVReady": True, "EVErrorCode": "NO_ERROR", "EVRESSSOC": 50},
    "EVTargetCurrent": _pv(10, "A"), "EVMaximumVoltageLimit": _pv(500, "V"),
    "ChargingComplete": False, "EVTargetVoltage": _pv(400, "V"),
}  # fmt: skip
_CURRENT_DEMAND_RES = {
    "ResponseCode": "OK", "DC_EVSEStatus": _DC_EVSE_STATUS,
    "EVSEPresentVoltage": _pv(400, "V"), "EVSEPresentCurrent": _pv(10, "A"),
    "EVSECurrentLimitAchieved": False, "EVSEVoltageLimitAchieved": False,
    "EVSEPowerLimitAchieved": False,
}  # fmt: skip
_SAP_REQ = {
    "AppProtocol": [
        {
            "ProtocolNamespace": "urn:iso:15118:2:2013:MsgDef",
            "VersionNumberMajor": 2, "VersionNumberMinor": 0, "SchemaID": 1, "Priority": 1,
        }
    ]
}  # fmt: skip
_ISO2_CURRENT_DEMAND_RES = {
    **_CURRENT_DEMAND_RES, "EVSEID": "DE*ABC*E1", "SAScheduleTupleID": 1,
    "ReceiptRequired": False,
}  # fmt: skip
#: Per schema, messages Josev's codec encodes and decodes before ``ready``: the first of a
#: session and the one with the shortest timeout (CurrentDemand: 250 ms in Josev's DIN EV).
WARMUP = {
    "urn:iso:15118:2:2010:AppProtocol": [json.dumps({"supportedAppProtocolReq": _SAP_REQ})],
    "urn:iso:15118:2:2013:MsgDef": [
        _v2g({"SessionSetupReq": {"EVCCID": "0A1B2C3D4E5F"}}),
        _v2g({"CurrentDemandReq": _CURRENT_DEMAND_REQ}),
        _v2g({"CurrentDemandRes": _ISO2_CURRENT_DEMAND_RES}),
    ],
    "urn:din:70121:2012:MsgDef": [
        _v2g({"SessionSetupReq": {"EVCCID": "0A1B2C3D4E5F"}}),
        _v2g({"CurrentDemandReq": _CURRENT_DEMAND_REQ}),
        _v2g({"CurrentDemandRes": _CURRENT_DEMAND_RES}),
    ],
}


# ---------------------------------------------------------------------------------------
# SECC
# ---------------------------------------------------------------------------------------


def make_evse_controller(spec: dict[str, Any]) -> Any:
    from iso15118.secc.controller.interface import AuthorizationResponse, ServiceStatus
    from iso15118.secc.controller.simulator import SimEVSEController
    from iso15118.shared.messages.datatypes import (
        EVSENotification,
        PVEVSEMaxCurrentLimit,
        PVEVSEMaxPowerLimit,
        PVEVSEMaxVoltageLimit,
        PVEVSEMinCurrentLimit,
        PVEVSEMinVoltageLimit,
        PVEVSEPeakCurrentRipple,
    )
    from iso15118.shared.messages.enums import (
        AuthorizationStatus,
        EnergyTransferModeEnum,
        Protocol,
    )

    energy_modes = spec.get("energy_modes")
    realistic_dc = bool(spec.get("realistic_dc"))
    cable_check_s = float(spec.get("cable_check_seconds") or 0)
    auth_s = float(spec.get("authorization_seconds") or 0)

    iso20_mixin = launcher_iso20.evse_controller_mixin(spec)

    class HarnessEVSEController(iso20_mixin, SimEVSEController):  # type: ignore[misc,valid-type]
        """Josev's simulated charger with the harness's knobs."""

        def __init__(self) -> None:
            super().__init__()
            self._cable_check_started: float | None = None
            self._auth_started: float | None = None
            # Set by the state wrappers for one ChargingStatusRes/CurrentDemandRes.
            self.pending_notification: EVSENotification | None = None

        async def set_status(self, status: ServiceStatus) -> None:
            await super().set_status(status)
            if status == ServiceStatus.READY:
                emit("ready", role="secc")

        async def get_supported_energy_transfer_modes(
            self, protocol: Protocol
        ) -> list[EnergyTransferModeEnum]:
            if energy_modes and protocol != Protocol.DIN_SPEC_70121:
                return [EnergyTransferModeEnum(m) for m in energy_modes]
            return await super().get_supported_energy_transfer_modes(protocol)

        async def start_cable_check(self) -> None:
            self._cable_check_started = time.monotonic()
            if realistic_dc:  # no output current while the isolation is tested (also
                # after a DC renegotiation, where Josev checks it in PreCharge)
                self.evse_data_context.present_current = 0
            await super().start_cable_check()

        async def get_cable_check_status(self) -> Any:
            started = self._cable_check_started
            if cable_check_s and started is not None:
                if time.monotonic() - started < cable_check_s:
                    return None  # Josev answers EVSEProcessing=Ongoing while None
            return await super().get_cable_check_status()

        async def send_charging_command(
            self,
            ev_target_voltage: float | None,
            ev_target_current: float | None,
            is_precharge: bool = False,
            is_session_bpt: bool = False,
        ) -> None:
            await super().send_charging_command(
                ev_target_voltage, ev_target_current, is_precharge, is_session_bpt
            )
            if realistic_dc:
                # Josev's simulator stays at 1 V / 1 A whatever the EV asks for.
                context = self.evse_data_context
                # Josev's -20 charge loop passes is_session_bpt where is_precharge goes
                # (its -20 pre-charge passes a target current of 0 instead).
                precharge = is_precharge and not launcher_iso20._is_iso20(self)
                if ev_target_voltage is not None:
                    context.present_voltage = ev_target_voltage
                if ev_target_current is not None:
                    context.present_current = 0 if precharge else ev_target_current

        async def stop_charger(self) -> None:
            await super().stop_charger()
            if realistic_dc:
                self.evse_data_context.present_current = 0
                self.evse_data_context.present_voltage = 0

        async def get_dc_charge_parameters(self) -> Any:
            params = await super().get_dc_charge_parameters()
            if realistic_dc:
                # Josev's simulator offers 40 V / 40 A / 2.3 kW (multiplier 1 on 4, 4, 230).
                params.evse_maximum_power_limit = PVEVSEMaxPowerLimit(
                    multiplier=3, value=150, unit="W"
                )
                params.evse_maximum_current_limit = PVEVSEMaxCurrentLimit(
                    multiplier=0, value=300, unit="A"
                )
                params.evse_maximum_voltage_limit = PVEVSEMaxVoltageLimit(
                    multiplier=0, value=600, unit="V"
                )
                params.evse_minimum_current_limit = PVEVSEMinCurrentLimit(
                    multiplier=0, value=0, unit="A"
                )
                params.evse_minimum_voltage_limit = PVEVSEMinVoltageLimit(
                    multiplier=0, value=50, unit="V"
                )
                params.evse_peak_current_ripple = PVEVSEPeakCurrentRipple(
                    multiplier=0, value=5, unit="A"
                )
            return params

        async def get_evse_max_power_limit(self) -> Any:
            if realistic_dc:  # Josev's simulator: 10 kW in CurrentDemandRes
                return PVEVSEMaxPowerLimit(multiplier=3, value=150, unit="W")
            return await super().get_evse_max_power_limit()

        async def is_authorized(self, *args: Any, **kwargs: Any) -> Any:
            if auth_s:
                if self._auth_started is None:
                    self._auth_started = time.monotonic()
                if time.monotonic() - self._auth_started < auth_s:
                    return AuthorizationResponse(authorization_status=AuthorizationStatus.ONGOING)
            return await super().is_authorized(*args, **kwargs)

        async def get_ac_evse_status(self) -> Any:
            status = await super().get_ac_evse_status()
            return self._with_notification(status)

        async def get_dc_evse_status(self) -> Any:
            status = await super().get_dc_evse_status()
            return self._with_notification(status)

        def _with_notification(self, status: Any) -> Any:
            if self.pending_notification is not None:
                status.evse_notification = self.pending_notification
                self.pending_notification = None
            return status

    return HarnessEVSEController()


def patch_secc_states(spec: dict[str, Any]) -> None:
    """Put an EVSENotification into the N-th ChargingStatusRes / CurrentDemandRes (ISO-2)."""
    from iso15118.secc.states import iso15118_2_states as s2
    from iso15118.shared.messages.datatypes import EVSENotification

    plan: dict[int, EVSENotification] = {}
    if spec.get("renegotiate_after"):
        plan[int(spec["renegotiate_after"])] = EVSENotification.RE_NEGOTIATION
    if spec.get("stop_charging_after"):
        plan[int(spec["stop_charging_after"])] = EVSENotification.STOP_CHARGING
    launcher_iso20.patch_secc_states(spec)
    if not plan:
        return
    counter = {"loop": 0}

    for cls, request in ((s2.ChargingStatus, "charging_status_req"),
                         (s2.CurrentDemand, "current_demand_req")):  # fmt: skip
        original = cls.process_message

        async def process_message(
            self: Any, message: Any, message_exi: Any = None, _orig: Any = original,
            _request: str = request,
        ) -> None:  # fmt: skip
            body = getattr(message, "body", None)
            if body is not None and getattr(body, _request, None) is not None:
                counter["loop"] += 1
                note = plan.get(counter["loop"])
                if note is not None:
                    emit("evse_notification", notification=note.value, loop=counter["loop"])
                    self.comm_session.evse_controller.pending_notification = note
            await _orig(self, message, message_exi)

        cls.process_message = process_message


async def run_secc(spec: dict[str, Any]) -> None:
    from iso15118.secc import SECCHandler
    from iso15118.secc.controller.interface import ServiceStatus
    from iso15118.secc.secc_settings import Config

    config = Config()
    config.load_envs()
    config.print_settings()
    codec = make_codec(spec)
    controller = make_evse_controller(spec)
    await controller.set_status(ServiceStatus.STARTING)
    await SECCHandler(exi_codec=codec, evse_controller=controller, config=config).start(
        config.iface
    )


# ---------------------------------------------------------------------------------------
# EVCC
# ---------------------------------------------------------------------------------------


def patch_evcc_states(spec: dict[str, Any]) -> None:
    from iso15118.evcc.states import iso15118_2_states as e2
    from iso15118.shared.messages.enums import AuthEnum, Namespace
    from iso15118.shared.messages.iso15118_2.body import (
        ChargingStatusRes,
        CurrentDemandRes,
        PowerDeliveryReq,
    )
    from iso15118.shared.messages.iso15118_2.datatypes import ChargeProgress, ChargingSession
    from iso15118.shared.messages.iso15118_2.timeouts import Timeouts

    launcher_iso20.patch_evcc_states(spec)
    auth = spec.get("auth")
    if auth:
        # Josev's EV takes PnC whenever it is offered over TLS; narrow what it sees.
        wanted = AuthEnum.PNC_V2 if auth == "PnC" else AuthEnum.EIM_V2
        original_select = e2.ServiceDiscovery.select_auth_mode

        def select_auth_mode(self: Any, auth_option_list: list[Any]) -> None:
            narrowed = [a for a in auth_option_list if a == wanted] or auth_option_list
            original_select(self, narrowed)

        e2.ServiceDiscovery.select_auth_mode = select_auth_mode

    if spec.get("pause"):
        # Josev's EV always stops with ChargingSession=Terminate ("TODO ... pausing"). The
        # first session pauses; the resumed one ends as a car's does, terminated.
        paused_once = {"done": False}
        for cls in (e2.ChargingStatus, e2.CurrentDemand):
            original_stop = cls.stop_charging

            async def stop_charging(self: Any, _orig: Any = original_stop) -> None:
                await _orig(self)
                if not paused_once["done"]:
                    paused_once["done"] = True
                    self.comm_session.charging_session_stop_v2 = ChargingSession.PAUSE

            cls.stop_charging = stop_charging

    if spec.get("renegotiate_after"):
        # Josev's EV never asks for a renegotiation by itself.
        after = int(spec["renegotiate_after"])
        counter = {"loop": 0, "done": False}
        for cls, res_type in ((e2.ChargingStatus, ChargingStatusRes),
                              (e2.CurrentDemand, CurrentDemandRes)):  # fmt: skip
            original = cls.process_message

            async def process_message(
                self: Any, message: Any, message_exi: Any = None, _orig: Any = original,
                _res: Any = res_type,
            ) -> None:  # fmt: skip
                counter["loop"] += 1
                if counter["done"] or counter["loop"] != after:
                    await _orig(self, message, message_exi)
                    return
                msg = self.check_msg_v2(message, _res)
                if not msg:
                    return
                counter["done"] = True
                session = self.comm_session
                session.renegotiation_requested = True
                dc_param = None
                if not session.selected_charging_type_is_ac:
                    dc_param = await session.ev_controller.get_dc_ev_power_delivery_parameter()
                emit("ev_renegotiation", loop=counter["loop"])
                self.create_next_message(
                    e2.PowerDelivery,
                    PowerDeliveryReq(
                        charge_progress=ChargeProgress.RENEGOTIATE,
                        sa_schedule_tuple_id=session.selected_schedule,
                        dc_ev_power_delivery_parameter=dc_param,
                    ),
                    Timeouts.POWER_DELIVERY_REQ,
                    Namespace.ISO_V2_MSG_DEF,
                )

            cls.process_message = process_message


def load_evcc_config(path: str) -> Any:
    """Josev's ``load_from_file`` silently falls back to defaults on any error; be strict."""
    from iso15118.evcc.evcc_config import EVCCConfig

    config = EVCCConfig(**json.loads(Path(path).read_text()))
    config.load_raw_values()
    return config


async def run_evcc(spec: dict[str, Any]) -> None:
    from iso15118.evcc import EVCCHandler, evcc_settings
    from iso15118.evcc.controller.simulator import SimEVController
    from iso15118.evcc.evcc_settings import Config

    iso20_mixin = launcher_iso20.ev_controller_mixin(spec)

    class HarnessEVController(iso20_mixin, SimEVController):  # type: ignore[misc,valid-type]
        """Josev's simulated EV with the harness's knobs."""

    config = Config()
    config.load_envs()
    codec = make_codec(spec)
    resume_after = spec.get("resume_after")
    if spec.get("resume_session_id"):
        evcc_settings.RESUME_SESSION_ID = spec["resume_session_id"]
    emit("ready", role="evcc")
    resumed = False
    while True:
        SessionLog.last_paused = None
        evcc_config = load_evcc_config(config.ev_config_file_path)
        await EVCCHandler(
            evcc_config=evcc_config,
            iface=config.iface,
            exi_codec=codec,
            ev_controller=HarnessEVController(evcc_config),
        ).start()
        paused = SessionLog.last_paused
        if paused is None or resume_after is None or resumed:
            return
        resumed = True
        await asyncio.sleep(float(resume_after))
        # Josev reads these when the next session starts (SAP state, ServiceDiscovery);
        # RESUME_REQUESTED_ENERGY_MODE is left alone: setting it skips the AC/DC flag.
        evcc_settings.RESUME_SESSION_ID = paused["session_id"]
        evcc_settings.RESUME_SELECTED_AUTH_OPTION = paused["auth"]
        emit("resume", session_id=paused["session_id"])


# ---------------------------------------------------------------------------------------


def main() -> int:
    spec = json.loads(Path(sys.argv[1]).read_text())
    import iso15118

    version = getattr(iso15118, "__version__", "?")
    if version != EXPECTED_VERSION and not spec.get("allow_other_version"):
        print(f"run_josev: Josev {EXPECTED_VERSION} expected, found {version}", file=sys.stderr)
        return 2
    install_session_hooks(spec)
    try:
        if spec["role"] == "secc":
            patch_secc_states(spec)
            asyncio.run(run_secc(spec))
        else:
            patch_evcc_states(spec)
            asyncio.run(run_evcc(spec))
    except KeyboardInterrupt:
        pass
    emit("exit")
    return 0


if __name__ == "__main__":
    sys.exit(main())
