"""DIN SPEC 70121 spelling of the session: DC with external identification.

Differences from ISO 15118-2 the session sees through this module: ServicePaymentSelection
and ContractAuthentication; one EVSE energy transfer type in ServiceDiscoveryRes;
PowerDeliveryReq's ReadyToChargeState instead of ChargeProgress; SessionStopReq without a
ChargingSession; PMax as a plain short (the schema's PMaxType; chargers in the shared
captures send 32767 for "no limit", so the EVCC does not read it as a power cap) and a
PMaxScheduleID; DC_EVStatus with the cabin/RESS conditioning flags; a mandatory
SAScheduleList even while Ongoing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from iso15118.messages import din
from iso15118.session.dc_common import DcDialect
from iso15118.session.dialects import enum_value
from iso15118.session.rules_din import RULES
from iso15118.session.values import (
    EnergyMode,
    Notification,
    Payment,
    Processing,
    Progress,
    Schedule,
    ScheduleEntry,
    StopKind,
)
from iso15118.session.views import ChargerInfo, VehicleInfo

if TYPE_CHECKING:
    from iso15118.session.evcc import EvccSession
    from iso15118.session.secc import SeccSession

__all__ = ["DIALECT", "DinDialect"]

_NAMES: dict[type, str] = {
    cls: key.rsplit("}", 1)[1] for key, cls in din.GLOBAL_ELEMENTS.items()
    if key.startswith("{urn:din:70121:2012:MsgBody}")
}
_CODE_ALIASES = {"FAILED_WrongEnergyTransferMode": "FAILED_WrongEnergyTransferType"}
#: DIN's PMax is a short; 32767 is what chargers send for "no limit"
_PMAX_TOP = 32767


def _code(code: str) -> din.ResponseCodeType:
    try:
        return din.ResponseCodeType[_CODE_ALIASES.get(code, code)]
    except KeyError:
        return din.ResponseCodeType.FAILED


class DinDialect(DcDialect):
    m = din
    names = _NAMES
    protocol = "din"
    rules = RULES

    def wrap(self, body: Any, session_id: bytes, signature: Any = None) -> din.V2G_Message:
        return din.V2G_Message(header=din.MessageHeaderType(session_id=session_id),
                               body=din.BodyType(body_element=body))

    # ------------------------------------------------------------------ SECC: requests

    def read(self, step: str, body: Any, ev: VehicleInfo) -> dict[str, Any]:
        extras: dict[str, Any] = {}
        if step == "SessionSetup":
            ev.evcc_id = self.evcc_id(body)
        elif step == "PaymentServiceSelection":
            extras["payment"] = enum_value(Payment, body.selected_payment_option)
            services = getattr(body.selected_service_list, "selected_service", None) or []
            ev.selected_services = tuple((s.service_id, s.parameter_set_id) for s in services)
        elif step == "ChargeParameterDiscovery":
            ev.energy_mode = enum_value(EnergyMode, body.ev_requested_energy_transfer_type)
            param = body.ev_charge_parameter
            if isinstance(param, din.DC_EVChargeParameterType):
                extras["dc_parameters"] = True
                self.read_dc_charge_parameter(param, ev)
        elif self.read_dc_request(step, body, ev):
            pass
        elif step == "PowerDelivery":
            extras["progress"] = Progress.START if body.ready_to_charge_state is True \
                else Progress.STOP
            profile = body.charging_profile
            extras["schedule_id"] = getattr(profile, "sa_schedule_tuple_id", None)
            extras["charging_profile"] = profile
            self.read_dc_power_delivery(body.ev_power_delivery_parameter, ev)
        elif step == "SessionStop":
            extras["stop_kind"] = StopKind.TERMINATE
        return extras

    # ------------------------------------------------------------------ SECC: responses

    def compose(self, step: str, secc: SeccSession, code: str, extras: dict[str, Any]) -> Any:
        rc = _code(code)
        evse = secc.evse
        processing = din.EVSEProcessingType(
            "Finished" if extras["processing"] is Processing.FINISHED else "Ongoing")
        dc = self.compose_dc(step, secc, rc, processing)
        if dc is not None:
            return dc
        if step == "SessionSetup":
            return din.SessionSetupResType(response_code=rc, evse_id=_evse_id_bytes(evse.evse_id))
        if step == "ServiceDiscovery":
            mode = next((m for m in evse.energy_modes if m.is_dc), EnergyMode.DC_extended)
            return din.ServiceDiscoveryResType(
                response_code=rc,
                payment_options=din.PaymentOptionsType(
                    payment_option=[din.PaymentOptionType.ExternalPayment]),
                charge_service=din.ServiceChargeType(
                    service_tag=din.ServiceTagType(
                        service_id=self.charge_service_id,
                        service_category=din.ServiceCategoryType.EVCharging),
                    free_service=evse.free_service,
                    energy_transfer_type=din.EVSESupportedEnergyTransferType(mode.value)))
        if step == "PaymentServiceSelection":
            return din.ServicePaymentSelectionResType(response_code=rc)
        if step == "Authorization":
            return din.ContractAuthenticationResType(response_code=rc, evse_processing=processing)
        if step == "ChargeParameterDiscovery":
            schedules = evse.schedules or [Schedule(1, (ScheduleEntry(0, _PMAX_TOP, 86_400),))]
            return din.ChargeParameterDiscoveryResType(
                response_code=rc, evse_processing=processing,
                sa_schedules=din.SAScheduleListType(sa_schedule_tuple=[
                    _schedule_tuple(s) for s in schedules[:3]]),
                evse_charge_parameter=self.dc_evse_charge_parameter(secc))
        if step == "PowerDelivery":
            return din.PowerDeliveryResType(response_code=rc, evse_status=self._dc_status(secc))
        if step == "CurrentDemand":
            return din.CurrentDemandResType(**self.current_demand_fields(secc, rc))
        if step == "SessionStop":
            return din.SessionStopResType(response_code=rc)
        raise AssertionError(step)  # pragma: no cover

    def _dc_status(self, secc: SeccSession) -> din.DC_EVSEStatusType:
        evse = secc.evse
        isolation = evse.isolation.value
        return din.DC_EVSEStatusType(
            evse_isolation_status=din.IsolationLevelType(
                "Invalid" if isolation == "No_IMD" else isolation),
            evse_status_code=din.DC_EVSEStatusCodeType(evse.status.value),
            notification_max_delay=evse.notification_max_delay,
            evse_notification=din.EVSENotificationType(
                "None" if secc.current_notification is Notification.NONE
                or secc.current_notification is Notification.RENEGOTIATION
                else secc.current_notification.value))

    # ------------------------------------------------------------------ EVCC: requests

    def request(self, step: str, evcc: EvccSession) -> Any:
        ev = evcc.ev
        dc = self.dc_request(step, evcc)
        if dc is not None:
            return dc
        if step == "SessionSetup":
            return din.SessionSetupReqType(evcc_id=ev.evcc_id)
        if step == "ServiceDiscovery":
            return din.ServiceDiscoveryReqType()
        if step == "PaymentServiceSelection":
            return din.ServicePaymentSelectionReqType(
                selected_payment_option=din.PaymentOptionType.ExternalPayment,
                selected_service_list=din.SelectedServiceListType(selected_service=[
                    din.SelectedServiceType(service_id=evcc.evse.charge_service_id or 1)]))
        if step == "Authorization":
            return din.ContractAuthenticationReqType()
        if step == "ChargeParameterDiscovery":
            return din.ChargeParameterDiscoveryReqType(
                ev_requested_energy_transfer_type=din.EVRequestedEnergyTransferType(
                    ev.energy_mode.value),
                ev_charge_parameter=self.dc_ev_charge_parameter(evcc))
        if step == "PowerDelivery":
            start = evcc.progress is Progress.START
            profile = None
            schedule = evcc.chosen_schedule()
            if start and schedule is not None and schedule.entries:
                profile = din.ChargingProfileType(
                    sa_schedule_tuple_id=schedule.schedule_id,
                    profile_entry=[din.ProfileEntryType(
                        charging_profile_entry_start=e.start,
                        charging_profile_entry_max_power=int(min(e.max_power, _PMAX_TOP)))
                        for e in schedule.entries[:24]])
            return din.PowerDeliveryReqType(
                ready_to_charge_state=start, charging_profile=profile,
                ev_power_delivery_parameter=self.dc_power_delivery_parameter(evcc))
        if step == "SessionStop":
            return din.SessionStopType()
        raise AssertionError(step)  # pragma: no cover

    def _ev_status(self, evcc: EvccSession) -> din.DC_EVStatusType:
        ev = evcc.ev
        return din.DC_EVStatusType(
            ev_ready=ev.ready, ev_cabin_conditioning=ev.cabin_conditioning,
            evress_conditioning=ev.ress_conditioning,
            ev_error_code=din.DC_EVErrorCodeType(ev.error.value),
            evress_soc=max(0, min(100, round(ev.soc))))

    # ------------------------------------------------------------------ EVCC: responses

    def read_response(self, step: str, body: Any, evse: ChargerInfo) -> dict[str, Any]:
        extras = self.read_common(body, evse)
        if self.read_dc_response(step, body, evse):
            pass
        elif step == "SessionSetup":
            evse.evse_id = body.evse_id.hex() if isinstance(body.evse_id, bytes) else None
        elif step == "ServiceDiscovery":
            options = getattr(body.payment_options, "payment_option", None) or []
            evse.payment_options = tuple(p for p in (enum_value(Payment, o) for o in options)
                                         if p is not None)
            service = body.charge_service
            tag = getattr(service, "service_tag", None)
            evse.charge_service_id = getattr(tag, "service_id", None)
            evse.free_service = getattr(service, "free_service", None)
            evse.energy_modes = _modes(getattr(service, "energy_transfer_type", None))
        elif step == "ChargeParameterDiscovery":
            param = body.evse_charge_parameter
            if isinstance(param, din.DC_EVSEChargeParameterType):
                self.read_dc_evse_charge_parameter(param, evse)
            tuples = getattr(body.sa_schedules, "sa_schedule_tuple", None) or []
            evse.schedules = tuple(_read_schedule(t) for t in tuples)
        elif step == "PowerDelivery":
            status = body.evse_status
            if isinstance(status, din.DC_EVSEStatusType):
                self._read_dc_status(status, evse)
        return extras


def _evse_id_bytes(evse_id: str) -> bytes:
    """DIN's EVSEID is hexBinary (up to 32 bytes): an ID given as hex is sent as is,
    anything else as its ASCII bytes."""
    try:
        raw = bytes.fromhex(evse_id)
    except ValueError:
        raw = evse_id.encode("ascii", "replace")
    return raw[:32] or b"\x00"


def _modes(value: Any) -> tuple[EnergyMode, ...]:
    raw = getattr(value, "value", None)
    if not isinstance(raw, str):
        return ()
    direct = enum_value(EnergyMode, raw)
    if direct is not None:
        return (direct,)
    # combined types (AC_single_DC_core, DC_dual...) offer the DC modes their name says
    return tuple(m for m in EnergyMode if m.is_dc and m.value.split("_", 1)[1] in raw) or \
        (EnergyMode.DC_core,)


def _schedule_tuple(schedule: Schedule) -> din.SAScheduleTupleType:
    entries = [din.PMaxScheduleEntryType(
        time_interval=din.RelativeTimeIntervalType(start=e.start, duration=e.duration),
        p_max=int(max(0, min(e.max_power, _PMAX_TOP)))) for e in schedule.entries[:12]]
    return din.SAScheduleTupleType(
        sa_schedule_tuple_id=schedule.schedule_id,
        p_max_schedule=din.PMaxScheduleType(p_max_schedule_id=schedule.schedule_id,
                                            p_max_schedule_entry=entries))


def _read_schedule(t: Any) -> Schedule:
    # DIN's PMax is not read as a power limit (see the module docstring)
    return Schedule(t.sa_schedule_tuple_id if isinstance(t.sa_schedule_tuple_id, int) else 0, ())


DIALECT = DinDialect()
