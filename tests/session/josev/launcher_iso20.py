"""ISO 15118-20 knobs of the Josev launcher (``run_josev.py`` imports this file).

Like ``run_josev.py`` it runs in Josev's own venv and imports nothing from this project.
Josev 0.31.2 (EcoG-io/iso15118) runs -20 sessions (SessionSetup to SessionStop, AC and DC,
Scheduled and Dynamic, BPT) but has no setting for most -20 choices; what this file adds,
each as a mixin for Josev's simulated controllers or a wrapper around one of its states
(the installed package is never edited):

- charger: the energy transfer service offered (Josev offers DC+DC_BPT or AC+AC_BPT), the
  control mode offered, ServiceRenegotiationSupported, an EVSEStatus notification
  (ServiceRenegotiation / Terminate) in the N-th ChargeLoopRes, AC session limits that
  name either a charge or a discharge power (Josev's simulator names both and logs an
  ERROR per loop), plausible DC limits with ``realistic_dc``;
- vehicle: the control mode chosen, a deterministic EVProcessing in PowerDeliveryReq (Josev
  tosses a coin), BPT discharge, EIM although PnC is offered, and the session-level
  actions Josev's EV never takes or gets wrong: pause, EV-initiated service
  renegotiation, Standby, the ChargingSession value after DC welding detection (always
  Terminate in Josev) and the ServiceDiscoveryReq after a renegotiating SessionStopRes
  (Josev sends nothing and fails).
"""

from __future__ import annotations

import dataclasses
import json
import time
from typing import Any

MARK = "@@josev-harness "

#: JSON of messages Josev's codec encodes and decodes before ``ready`` (the first of a -20
#: session, and the charge loop, where Josev's EV waits only 0.5 s for a response).
_HEADER = {"SessionID": "0011223344556677", "TimeStamp": 1796623475}
_RATIONAL = {"Exponent": 3, "Value": 20}
WARMUP_ISO20 = {
    "urn:iso:std:iso:15118:-20:CommonMessages": [
        {"SessionSetupReq": {"Header": _HEADER, "EVCCID": "WMIV1234567890ABCDEX"}},
    ],
    "urn:iso:std:iso:15118:-20:DC": [
        {"DC_ChargeLoopReq": {
            "Header": _HEADER, "DisplayParameters": {"PresentSOC": 10},
            "MeterInfoRequested": False, "EVPresentVoltage": _RATIONAL,
            "Scheduled_DC_CLReqControlMode": {
                "EVTargetCurrent": _RATIONAL, "EVTargetVoltage": _RATIONAL},
        }},
        {"DC_ChargeLoopRes": {
            "Header": _HEADER, "ResponseCode": "OK", "EVSEPresentCurrent": _RATIONAL,
            "EVSEPresentVoltage": _RATIONAL, "EVSEPowerLimitAchieved": False,
            "EVSECurrentLimitAchieved": False, "EVSEVoltageLimitAchieved": False,
            "Scheduled_DC_CLResControlMode": {"EVSEMaximumChargePower": _RATIONAL},
        }},
    ],
    "urn:iso:std:iso:15118:-20:AC": [
        {"AC_ChargeLoopReq": {
            "Header": _HEADER, "DisplayParameters": {"PresentSOC": 10},
            "MeterInfoRequested": False,
            "Scheduled_AC_CLReqControlMode": {"EVPresentActivePower": _RATIONAL},
        }},
        {"AC_ChargeLoopRes": {
            "Header": _HEADER, "ResponseCode": "OK",
            "Scheduled_AC_CLResControlMode": {"EVSETargetActivePower": _RATIONAL},
        }},
    ],
}  # fmt: skip
#: Energy transfer service IDs of ISO 15118-20 (Table 204).
SERVICE_IDS = {"AC": 1, "DC": 2, "AC_BPT": 5, "DC_BPT": 6}
CONTROL_MODES = {"scheduled": 1, "dynamic": 2}


def emit(event: str, **fields: Any) -> None:
    print(MARK + json.dumps({"event": event, "t": time.time(), **fields}), flush=True)


def warmup_messages() -> dict[str, list[str]]:
    return {ns: [json.dumps(m) for m in msgs] for ns, msgs in WARMUP_ISO20.items()}


def _is_iso20(controller: Any) -> bool:
    protocol = controller.get_selected_protocol()
    return protocol is not None and protocol.name.startswith("ISO_15118_20")


def _negative(number: Any) -> Any:
    """A RationalNumber with the same magnitude, negative."""
    return type(number)(exponent=number.exponent, value=-abs(number.value))


def _control_mode_of(parameter_set: Any) -> int | None:
    for parameter in parameter_set.parameters:
        if parameter.name == "ControlMode":
            return int(parameter.int_value)
    return None


# ---------------------------------------------------------------------------------------
# SECC
# ---------------------------------------------------------------------------------------


def evse_controller_mixin(spec: dict[str, Any]) -> type:
    """Methods for the harness's subclass of Josev's SimEVSEController (-20 only)."""
    from iso15118.shared.messages.iso15118_20.common_messages import Service, ServiceList
    from iso15118.shared.messages.iso15118_20.common_types import RationalNumber

    energy = str(spec.get("energy") or "DC")
    control_mode = CONTROL_MODES.get(str(spec.get("control_mode")))
    realistic_dc = bool(spec.get("realistic_dc"))
    discharge = bool(spec.get("bpt_discharge"))
    renegotiation = bool(spec.get("service_renegotiation"))

    class Iso20EVSEMixin:
        #: Set by the ChargeLoop wrappers for one ChargeLoopRes.
        pending_status_v20: Any = None

        async def get_energy_service_list(self) -> Any:
            return ServiceList(services=[Service(service_id=SERVICE_IDS[energy],
                                                 free_service=False)])  # fmt: skip

        async def get_service_parameter_list(self, service_id: int) -> Any:
            offered = await super().get_service_parameter_list(service_id)  # type: ignore[misc]
            if control_mode is not None and offered is not None:
                offered.parameter_sets = [
                    s for s in offered.parameter_sets if _control_mode_of(s) == control_mode
                ]
            return offered

        async def service_renegotiation_supported(self) -> bool:
            return renegotiation

        async def get_evse_status(self) -> Any:
            # Josev's SECC sends EVSEStatus only to notify (-20 has no "None" notification).
            status, self.pending_status_v20 = self.pending_status_v20, None
            return status

        async def get_dc_charge_params_v20(self, energy_service: Any) -> Any:
            params = await super().get_dc_charge_params_v20(energy_service)  # type: ignore[misc]
            if realistic_dc:
                # Josev's simulator: 1 kW, 10-100 A, 10-500 V; the same 150 kW / 300 A /
                # 50-600 V charger as realistic_dc gives in -2, discharging as much.
                rational = RationalNumber.get_rational_repr
                values = {
                    "evse_max_charge_power": 150_000, "evse_min_charge_power": 0,
                    "evse_max_charge_current": 300, "evse_min_charge_current": 0,
                    "evse_max_voltage": 600, "evse_min_voltage": 50,
                    "evse_max_discharge_power": 150_000, "evse_min_discharge_power": 0,
                    "evse_max_discharge_current": 300, "evse_min_discharge_current": 0,
                }  # fmt: skip
                for name, value in values.items():
                    if hasattr(params, name):
                        setattr(params, name, rational(value))
            return params

        async def get_ac_charge_loop_params_v20(self, control: Any, service: Any) -> Any:
            # Josev targets the charge power if its session limits name one, else the
            # negated discharge power; its simulator names both (and logs an ERROR).
            limits = self.evse_data_context.session_limits.ac_limits  # type: ignore[attr-defined]
            charge, dis = (0.0, 11_000.0) if discharge else (11_000.0, 0.0)
            limits.max_charge_power, limits.max_discharge_power = charge, dis
            limits.max_charge_power_l2 = limits.max_charge_power_l3 = charge / 3 or None
            limits.max_discharge_power_l2 = limits.max_discharge_power_l3 = dis / 3 or None
            for phase in ("", "_l2", "_l3"):
                setattr(limits, f"max_charge_reactive_power{phase}", None)
                setattr(limits, f"max_discharge_reactive_power{phase}", None)
            return await super().get_ac_charge_loop_params_v20(control, service)  # type: ignore[misc]

    return Iso20EVSEMixin


def patch_secc_states(spec: dict[str, Any]) -> None:
    """EVSEStatus with a notification in the N-th AC/DC ChargeLoopRes."""
    from iso15118.secc.states import iso15118_20_states as s20
    from iso15118.shared.messages.iso15118_20.ac import ACChargeLoopReq
    from iso15118.shared.messages.iso15118_20.common_types import EVSENotification, EVSEStatus
    from iso15118.shared.messages.iso15118_20.dc import DCChargeLoopReq

    plan: dict[int, EVSENotification] = {}
    if spec.get("renegotiate_after"):
        plan[int(spec["renegotiate_after"])] = EVSENotification.SERVICE_RENEGOTIATION
    if spec.get("stop_charging_after"):
        plan[int(spec["stop_charging_after"])] = EVSENotification.TERMINATE
    if not plan:
        return
    counter = {"loop": 0}
    for cls in (s20.ACChargeLoop, s20.DCChargeLoop):
        original = cls.process_message

        async def process_message(
            self: Any, message: Any, message_exi: Any = None, _orig: Any = original
        ) -> None:
            if isinstance(message, (ACChargeLoopReq, DCChargeLoopReq)):
                counter["loop"] += 1
                note = plan.get(counter["loop"])
                if note is not None:
                    emit("evse_notification", notification=note.value, loop=counter["loop"])
                    self.comm_session.evse_controller.pending_status_v20 = EVSEStatus(
                        notification_max_delay=0, evse_notification=note
                    )
            await _orig(self, message, message_exi)

        cls.process_message = process_message


# ---------------------------------------------------------------------------------------
# EVCC
# ---------------------------------------------------------------------------------------


def ev_controller_mixin(spec: dict[str, Any]) -> type:
    """Methods for the harness's subclass of Josev's SimEVController (-20 only)."""
    control_mode = CONTROL_MODES.get(str(spec.get("control_mode")))
    discharge = bool(spec.get("bpt_discharge"))
    ongoing = int(spec.get("power_delivery_ongoing") or 0)

    class Iso20EVMixin:
        _profiles_asked = 0

        async def select_energy_service_v20(self, services: list[Any]) -> Any:
            if control_mode is not None and services:
                top = services[0]
                sets = [s for s in top.parameter_sets if _control_mode_of(s) == control_mode]
                services = [dataclasses.replace(top, parameter_sets=sets or top.parameter_sets)]
            return await super().select_energy_service_v20(services)  # type: ignore[misc]

        async def _profile(self, method: str, params: Any, pause: bool) -> Any:
            self._profiles_asked += 1
            from iso15118.shared.messages.iso15118_20.common_messages import ChargeProgress

            if self._profiles_asked <= ongoing:
                return None, ChargeProgress.START  # EVProcessing=Ongoing
            for _ in range(64):  # Josev's simulator: a coin toss per call
                profile, progress = await getattr(super(), method)(params, pause)
                if profile is not None:
                    break
            if discharge and profile is not None:
                for entry in profile.entry_list.entries:
                    entry.power = _negative(entry.power)
            return profile, progress

        async def process_scheduled_se_params(self, params: Any, pause: bool) -> Any:
            return await self._profile("process_scheduled_se_params", params, pause)

        async def process_dynamic_se_params(self, params: Any, pause: bool) -> Any:
            return await self._profile("process_dynamic_se_params", params, pause)

        async def get_bpt_scheduled_dc_charge_loop_params(self) -> Any:
            params = await super().get_bpt_scheduled_dc_charge_loop_params()  # type: ignore[misc]
            if discharge:
                params.ev_target_current = _negative(params.ev_target_current)
            return params

        async def get_bpt_dynamic_dc_charge_loop_params(self) -> Any:
            params = await super().get_bpt_dynamic_dc_charge_loop_params()  # type: ignore[misc]
            if discharge:  # the EV wants energy out: a negative target energy request
                params.ev_target_energy_request = _negative(params.ev_target_energy_request)
                params.ev_min_energy_request = _negative(params.ev_target_energy_request)
            return params

        async def get_ac_charge_loop_params_v20(self, control: Any, service: Any) -> Any:
            params = await super().get_ac_charge_loop_params_v20(control, service)  # type: ignore[misc]
            if discharge:
                params.ev_present_active_power = _negative(params.ev_present_active_power)
            return params

    return Iso20EVMixin


def patch_evcc_states(spec: dict[str, Any]) -> None:
    from iso15118.evcc.states import evcc_state
    from iso15118.evcc.states import iso15118_20_states as e20
    from iso15118.shared.messages.enums import AuthEnum, ISOV20PayloadTypes, Namespace
    from iso15118.shared.messages.iso15118_20.ac import ACChargeLoopRes
    from iso15118.shared.messages.iso15118_20.common_messages import (
        ChargeProgress,
        ChargingSession,
        PowerDeliveryReq,
        ServiceDiscoveryReq,
        SessionStopReq,
    )
    from iso15118.shared.messages.iso15118_20.common_types import MessageHeader, Processing
    from iso15118.shared.messages.iso15118_20.dc import DCChargeLoopRes
    from iso15118.shared.messages.iso15118_20.timeouts import Timeouts

    def header(session: Any) -> Any:
        return MessageHeader(session_id=session.session_id, timestamp=time.time())

    common = (Namespace.ISO_V20_COMMON_MSG, ISOV20PayloadTypes.MAINSTREAM)

    if spec.get("auth") == "EIM":
        # Josev's EV takes PnC whenever the charger offers it.
        original_setup = e20.AuthorizationSetup.process_message

        async def setup_process(self: Any, message: Any, message_exi: Any = None) -> None:
            services = getattr(message, "auth_services", None)
            if services and AuthEnum.PNC in services and AuthEnum.EIM in services:
                services.remove(AuthEnum.PNC)
            await original_setup(self, message, message_exi)

        e20.AuthorizationSetup.process_message = setup_process

    # --- the SessionStopReq after PowerDeliveryRes(Stop) (AC) or welding detection (DC)
    pause_plan = {"pending": bool(spec.get("pause"))}
    original_stop_charging = evcc_state.StateEVCC.stop_v20_charging

    def stop_v20_charging(self: Any, next_state: Any, renegotiate_requested: bool = False) -> None:
        original_stop_charging(self, next_state, renegotiate_requested)
        if pause_plan["pending"] and not renegotiate_requested:
            # The first session pauses (Josev's EV always terminates); a resumed one ends
            # as a car's does, terminated.
            pause_plan["pending"] = False
            self.comm_session.harness_stop_v20 = ChargingSession.PAUSE

    evcc_state.StateEVCC.stop_v20_charging = stop_v20_charging

    for cls in (e20.PowerDelivery, e20.DCWeldingDetection):
        original = cls.process_message

        async def stop_process(
            self: Any, message: Any, message_exi: Any = None, _orig: Any = original
        ) -> None:
            await _orig(self, message, message_exi)
            session = self.comm_session
            wanted = getattr(session, "harness_stop_v20", None)
            if wanted is None and session.charging_session_stop_v20 == (
                ChargingSession.SERVICE_RENEGOTIATION
            ):
                wanted = ChargingSession.SERVICE_RENEGOTIATION  # DC: Josev says Terminate
            if self.next_state is e20.SessionStop and wanted is not None:
                session.charging_session_stop_v20 = wanted
                session.harness_stop_v20 = None
                request = SessionStopReq(header=header(session), charging_session=wanted)
                self.create_next_message(e20.SessionStop, request, Timeouts.SESSION_STOP_REQ,
                                         *common)  # fmt: skip

        cls.process_message = stop_process

    # --- after SessionStopRes for a service renegotiation: ServiceDiscoveryReq
    original_session_stop = e20.SessionStop.process_message

    async def session_stop_process(self: Any, message: Any, message_exi: Any = None) -> None:
        await original_session_stop(self, message, message_exi)
        if self.next_state is e20.ServiceDiscovery:
            session = self.comm_session
            session.charging_session_stop_v20 = None
            session.matched_services_v20 = []
            session.service_details_to_request = []
            session.stop_reason = None
            emit("service_renegotiation", session_id=session.session_id)
            self.create_next_message(e20.ServiceDiscovery, ServiceDiscoveryReq(
                header=header(session)), Timeouts.SERVICE_DISCOVERY_REQ, *common)  # fmt: skip

    e20.SessionStop.process_message = session_stop_process

    # --- actions in the charge loop: service renegotiation, Standby
    renegotiate_after = spec.get("renegotiate_after")
    standby_after = spec.get("standby_after")
    if not renegotiate_after and not standby_after:
        return
    counter = {"loop": 0}
    for cls, res_type in ((e20.ACChargeLoop, ACChargeLoopRes),
                          (e20.DCChargeLoop, DCChargeLoopRes)):  # fmt: skip
        original = cls.process_message

        async def loop_process(
            self: Any, message: Any, message_exi: Any = None, _orig: Any = original,
            _res: Any = res_type,
        ) -> None:  # fmt: skip
            counter["loop"] += 1
            loop = counter["loop"]
            if loop not in (renegotiate_after, standby_after):
                await _orig(self, message, message_exi)
                return
            if not self.check_msg_v20(message, _res):
                return
            session = self.comm_session
            if loop == renegotiate_after:
                emit("ev_renegotiation", loop=loop)
                self.stop_v20_charging(next_state=e20.PowerDelivery, renegotiate_requested=True)
                return
            emit("ev_standby", loop=loop)
            exchange = session.schedule_exchange_res
            if exchange.scheduled_params is not None:
                profile, _ = await session.ev_controller.process_scheduled_se_params(
                    exchange.scheduled_params, False
                )
            else:
                profile, _ = await session.ev_controller.process_dynamic_se_params(
                    exchange.dynamic_params, False
                )
            request = PowerDeliveryReq(
                header=header(session), ev_processing=Processing.FINISHED,
                charge_progress=ChargeProgress.STANDBY, ev_power_profile=profile,
            )  # fmt: skip
            self.create_next_message(e20.PowerDelivery, request, Timeouts.POWER_DELIVERY_REQ,
                                     *common)  # fmt: skip

        cls.process_message = loop_process
