"""ISO 15118-2 spelling of the session: requests and responses from and to neutral facts.

SECC side: :meth:`Iso2Dialect.read` (request -> :class:`VehicleInfo` + extras) and
:meth:`Iso2Dialect.compose` (EVSEState + decision -> response). EVCC side:
:meth:`Iso2Dialect.request` (EVState -> request) and :meth:`Iso2Dialect.read_response`
(response -> :class:`ChargerInfo` + extras). Every composition is total: a FAILED
response still carries every mandatory field, as clause 8.4.1 asks, whatever the state
holds.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from iso15118.messages import iso2
from iso15118.session.dc_common import DcDialect
from iso15118.session.dialects import enum_value, number, physical
from iso15118.session.rules_iso2 import RULES
from iso15118.session.values import (
    EnergyMode,
    MeterReading,
    Notification,
    Payment,
    Progress,
    Schedule,
    ScheduleEntry,
    StopKind,
    ValueAddedService,
)
from iso15118.session.views import ChargerInfo, VehicleInfo

if TYPE_CHECKING:
    from iso15118.session.evcc import EvccSession
    from iso15118.session.secc import SeccSession

__all__ = ["DIALECT", "Iso2Dialect"]

_NAMES: dict[type, str] = {
    cls: key.rsplit("}", 1)[1] for key, cls in iso2.GLOBAL_ELEMENTS.items()
    if key.startswith("{urn:iso:15118:2:2013:MsgBody}")
}
V, A, W, WH, S = (iso2.UnitSymbolType.V, iso2.UnitSymbolType.A, iso2.UnitSymbolType.W,
                  iso2.UnitSymbolType.Wh, iso2.UnitSymbolType.s)
_PV = iso2.PhysicalValueType
#: placeholders for the mandatory content of a FAILED certificate response
_NO_CERT = b"\x30\x00"


def pv(value: float | None, unit: iso2.UnitSymbolType) -> iso2.PhysicalValueType:
    return physical(_PV, value, unit)


def _code(code: str) -> iso2.ResponseCodeType:
    try:
        return iso2.ResponseCodeType[code]
    except KeyError:
        return iso2.ResponseCodeType.FAILED


class Iso2Dialect(DcDialect):
    m = iso2
    names = _NAMES
    protocol = "iso2"
    rules = RULES

    # ------------------------------------------------------------------ framing

    def wrap(self, body: Any, session_id: bytes, signature: Any = None) -> iso2.V2G_Message:
        return iso2.V2G_Message(
            header=iso2.MessageHeaderType(session_id=session_id, signature=signature),
            body=iso2.BodyType(body_element=body))

    # ------------------------------------------------------------------ SECC: requests

    def read(self, step: str, body: Any, ev: VehicleInfo) -> dict[str, Any]:
        extras: dict[str, Any] = {}
        if step == "SessionSetup":
            ev.evcc_id = self.evcc_id(body)
        elif step == "ServiceDetail":
            extras["service_id"] = body.service_id
        elif step == "PaymentServiceSelection":
            extras["payment"] = enum_value(Payment, body.selected_payment_option)
            services = getattr(body.selected_service_list, "selected_service", None) or []
            ev.selected_services = tuple((s.service_id, s.parameter_set_id) for s in services)
        elif step == "PaymentDetails":
            ev.emaid = body.emaid if isinstance(body.emaid, str) else None
            ev.contract_chain = _chain_der(body.contract_signature_cert_chain)
        elif step == "Authorization":
            extras["id"] = body.id
            extras["gen_challenge"] = body.gen_challenge
        elif step == "ChargeParameterDiscovery":
            ev.energy_mode = enum_value(EnergyMode, body.requested_energy_transfer_mode)
            ev.max_schedule_tuples = body.max_entries_sa_schedule_tuple
            param = body.ev_charge_parameter
            if isinstance(param, iso2.DC_EVChargeParameterType):
                extras["dc_parameters"] = True
                self.read_dc_charge_parameter(param, ev)
            elif isinstance(param, iso2.AC_EVChargeParameterType):
                ev.departure_time = param.departure_time
                ev.energy_request_wh = number(param.e_amount)
                ev.max_voltage = number(param.ev_max_voltage)
                ev.max_current = number(param.ev_max_current)
                ev.min_current = number(param.ev_min_current)
        elif self.read_dc_request(step, body, ev):
            pass
        elif step == "PowerDelivery":
            extras["progress"] = enum_value(Progress, body.charge_progress, Progress.STOP)
            extras["schedule_id"] = body.sa_schedule_tuple_id
            extras["charging_profile"] = body.charging_profile
            ev.schedule_id = body.sa_schedule_tuple_id
            self.read_dc_power_delivery(body.ev_power_delivery_parameter, ev)
        elif step == "MeteringReceipt":
            extras["meter"] = _meter_reading(body.meter_info)
            extras["id"] = body.id
        elif step == "SessionStop":
            extras["stop_kind"] = enum_value(StopKind, body.charging_session, StopKind.TERMINATE)
        return extras

    # ------------------------------------------------------------------ SECC: responses

    def compose(self, step: str, secc: SeccSession, code: str, extras: dict[str, Any]) -> Any:
        rc = _code(code)
        evse = secc.evse
        processing = iso2.EVSEProcessingType(extras["processing"].value)
        dc = self.compose_dc(step, secc, rc, processing)
        if dc is not None:
            return dc
        if step == "SessionSetup":
            return iso2.SessionSetupResType(response_code=rc, evse_id=evse.evse_id)
        if step == "ServiceDiscovery":
            return self._service_discovery(secc, rc)
        if step == "ServiceDetail":
            return self._service_detail(secc, rc, extras.get("service_id"))
        if step == "PaymentServiceSelection":
            return iso2.PaymentServiceSelectionResType(response_code=rc)
        if step == "PaymentDetails":
            return iso2.PaymentDetailsResType(
                response_code=rc, gen_challenge=secc.gen_challenge or bytes(16),
                evse_time_stamp=extras.get("timestamp", 0))
        if step == "Authorization":
            return iso2.AuthorizationResType(response_code=rc, evse_processing=processing)
        if step == "ChargeParameterDiscovery":
            return self._charge_parameters(secc, rc, processing)
        if step == "PowerDelivery":
            return iso2.PowerDeliveryResType(response_code=rc, evse_status=self._status(secc))
        if step == "CurrentDemand":
            return self._current_demand(secc, rc)
        if step == "ChargingStatus":
            return iso2.ChargingStatusResType(
                response_code=rc, evse_id=evse.evse_id,
                sa_schedule_tuple_id=self._schedule_id(secc),
                evse_max_current=pv(evse.ac.max_current, A), meter_info=_meter_info(evse.meter),
                receipt_required=self._receipt_required(secc),
                ac_evse_status=self._ac_status(secc))
        if step == "MeteringReceipt":
            return iso2.MeteringReceiptResType(response_code=rc, evse_status=self._status(secc))
        if step == "SessionStop":
            return iso2.SessionStopResType(response_code=rc)
        if step in ("CertificateInstallation", "CertificateUpdate"):
            made = extras.get("response")
            if made is not None and not code.startswith("FAILED"):
                return made
            return self._failed_certificate(step, rc)
        raise AssertionError(step)  # pragma: no cover

    def _service_discovery(self, secc: SeccSession, rc: Any) -> iso2.ServiceDiscoveryResType:
        evse = secc.evse
        modes = [iso2.EnergyTransferModeType(m.value) for m in evse.energy_modes] or \
            [iso2.EnergyTransferModeType.DC_extended]
        services = [
            iso2.ServiceType(service_id=s.service_id, service_name=s.name,
                             service_category=enum_value(iso2.ServiceCategoryType, s.category,
                                                         iso2.ServiceCategoryType.OtherCustom),
                             service_scope=s.scope, free_service=s.free)
            for s in evse.services]
        return iso2.ServiceDiscoveryResType(
            response_code=rc,
            payment_option_list=iso2.PaymentOptionListType(payment_option=[
                iso2.PaymentOptionType(p.value) for p in secc._payment_options()]),
            charge_service=iso2.ChargeServiceType(
                service_id=self.charge_service_id, service_name="AC_DC_Charging",
                service_category=iso2.ServiceCategoryType.EVCharging,
                free_service=evse.free_service,
                supported_energy_transfer_mode=iso2.SupportedEnergyTransferModeType(
                    energy_transfer_mode=modes)),
            service_list=iso2.ServiceListType(service=services) if services else None)

    def _service_detail(self, secc: SeccSession, rc: Any, service_id: Any
                        ) -> iso2.ServiceDetailResType:
        service = next((s for s in secc.evse.services if s.service_id == service_id), None)
        params = None
        if service is not None and service.parameter_sets:
            params = iso2.ServiceParameterListType(parameter_set=[
                iso2.ParameterSetType(parameter_set_id=set_id, parameter=[
                    _parameter(name, value) for name, value in values.items()])
                for set_id, values in service.parameter_sets.items()])
        return iso2.ServiceDetailResType(
            response_code=rc, service_id=service_id if isinstance(service_id, int) else 0,
            service_parameter_list=params)

    def _charge_parameters(self, secc: SeccSession, rc: Any, processing: Any
                           ) -> iso2.ChargeParameterDiscoveryResType:
        evse = secc.evse
        schedules = None
        if processing is iso2.EVSEProcessingType.Finished and evse.schedules:
            limit = secc.ev.max_schedule_tuples or len(evse.schedules)
            schedules = iso2.SAScheduleListType(sa_schedule_tuple=[
                _schedule_tuple(s) for s in evse.schedules[:max(1, limit)]])
        mode = secc.ev.energy_mode
        param: Any
        if mode is not None and not mode.is_dc:
            param = iso2.AC_EVSEChargeParameterType(
                ac_evse_status=self._ac_status(secc),
                evse_nominal_voltage=pv(evse.ac.nominal_voltage, V),
                evse_max_current=pv(evse.ac.max_current, A))
        else:
            param = self.dc_evse_charge_parameter(secc)
        return iso2.ChargeParameterDiscoveryResType(
            response_code=rc, evse_processing=processing, sa_schedules=schedules,
            evse_charge_parameter=param)

    def _current_demand(self, secc: SeccSession, rc: Any) -> iso2.CurrentDemandResType:
        evse = secc.evse
        return iso2.CurrentDemandResType(
            **self.current_demand_fields(secc, rc),
            evse_id=evse.evse_id, sa_schedule_tuple_id=self._schedule_id(secc),
            meter_info=_meter_info(evse.meter), receipt_required=self._receipt_required(secc))

    def _schedule_id(self, secc: SeccSession) -> int:
        sid = secc.ev.schedule_id
        if isinstance(sid, int) and 1 <= sid <= 255:
            return sid
        return secc.evse.schedules[0].schedule_id if secc.evse.schedules else 1

    def _receipt_required(self, secc: SeccSession) -> bool | None:
        if secc.ev.payment is Payment.PNC:
            return secc.evse.receipt_required and secc.evse.meter is not None
        return None

    def _status(self, secc: SeccSession) -> Any:
        mode = secc.ev.energy_mode
        if mode is not None and not mode.is_dc:
            return self._ac_status(secc)
        return self._dc_status(secc)

    def _dc_status(self, secc: SeccSession) -> iso2.DC_EVSEStatusType:
        evse = secc.evse
        return iso2.DC_EVSEStatusType(
            notification_max_delay=evse.notification_max_delay,
            evse_notification=iso2.EVSENotificationType(
                "None" if secc.current_notification is Notification.NONE
                else secc.current_notification.value),
            evse_isolation_status=iso2.IsolationLevelType(evse.isolation.value),
            evse_status_code=iso2.DC_EVSEStatusCodeType(evse.status.value))

    def _ac_status(self, secc: SeccSession) -> iso2.AC_EVSEStatusType:
        evse = secc.evse
        return iso2.AC_EVSEStatusType(
            notification_max_delay=evse.notification_max_delay,
            evse_notification=iso2.EVSENotificationType(
                "None" if secc.current_notification is Notification.NONE
                else secc.current_notification.value),
            rcd=evse.rcd)

    def _failed_certificate(self, step: str, rc: Any) -> Any:
        chain = iso2.CertificateChainType(id="id1", certificate=_NO_CERT)
        common = dict(
            response_code=rc,
            sa_provisioning_certificate_chain=iso2.CertificateChainType(certificate=_NO_CERT),
            contract_signature_cert_chain=chain,
            contract_signature_encrypted_private_key=iso2.ContractSignatureEncryptedPrivateKeyType(
                id="id2", value=bytes(32)),
            dh_public_key=iso2.DiffieHellmanPublickeyType(id="id3", value=bytes(65)),
            emaid=iso2.EMAIDType(id="id4", value="ZZ000000000000"))
        if step == "CertificateInstallation":
            return iso2.CertificateInstallationResType(**common)
        return iso2.CertificateUpdateResType(**common)

    # ------------------------------------------------------------------ EVCC: requests

    def request(self, step: str, evcc: EvccSession) -> Any:
        ev = evcc.ev
        dc = self.dc_request(step, evcc)
        if dc is not None:
            return dc
        if step == "SessionSetup":
            return iso2.SessionSetupReqType(evcc_id=ev.evcc_id)
        if step == "ServiceDiscovery":
            return iso2.ServiceDiscoveryReqType()
        if step == "ServiceDetail":
            return iso2.ServiceDetailReqType(service_id=evcc.detail_service_id or 0)
        if step == "PaymentServiceSelection":
            selected = [iso2.SelectedServiceType(service_id=sid, parameter_set_id=ps)
                        for sid, ps in evcc.selected_services()]
            return iso2.PaymentServiceSelectionReqType(
                selected_payment_option=iso2.PaymentOptionType(evcc.payment.value),
                selected_service_list=iso2.SelectedServiceListType(selected_service=selected))
        if step == "Authorization":
            return iso2.AuthorizationReqType()
        if step == "ChargeParameterDiscovery":
            return iso2.ChargeParameterDiscoveryReqType(
                max_entries_sa_schedule_tuple=evcc.config.max_schedule_tuples,
                requested_energy_transfer_mode=iso2.EnergyTransferModeType(ev.energy_mode.value),
                ev_charge_parameter=self._ev_charge_parameter(evcc))
        if step == "PowerDelivery":
            return self._power_delivery(evcc)
        if step == "ChargingStatus":
            return iso2.ChargingStatusReqType()
        if step == "SessionStop":
            return iso2.SessionStopReqType(
                charging_session=iso2.ChargingSessionType(evcc.stop_kind.value))
        if step == "MeteringReceipt":
            return iso2.MeteringReceiptReqType(
                id="id1", session_id=evcc.session_id, sa_schedule_tuple_id=evcc.schedule_id,
                meter_info=_meter_info(evcc.evse.meter) or iso2.MeterInfoType(meter_id="0"))
        raise AssertionError(step)  # pragma: no cover - PnC steps are built by pnc.py

    def _ev_status(self, evcc: EvccSession) -> iso2.DC_EVStatusType:
        ev = evcc.ev
        return iso2.DC_EVStatusType(ev_ready=ev.ready,
                                    ev_error_code=iso2.DC_EVErrorCodeType(ev.error.value),
                                    evress_soc=max(0, min(100, round(ev.soc))))

    def _ev_charge_parameter(self, evcc: EvccSession) -> Any:
        ev = evcc.ev
        if ev.energy_mode.is_dc:
            return self.dc_ev_charge_parameter(evcc, departure_time=ev.departure_time)
        return iso2.AC_EVChargeParameterType(
            departure_time=ev.departure_time, e_amount=pv(ev.energy_request_wh, WH),
            ev_max_voltage=pv(ev.max_voltage, V), ev_max_current=pv(ev.max_current, A),
            ev_min_current=pv(ev.min_current, A))

    def _power_delivery(self, evcc: EvccSession) -> iso2.PowerDeliveryReqType:
        ev = evcc.ev
        profile = None
        if evcc.progress is Progress.START:
            schedule = evcc.chosen_schedule()
            if schedule is not None:
                profile = iso2.ChargingProfileType(profile_entry=[
                    iso2.ProfileEntryType(
                        charging_profile_entry_start=e.start,
                        charging_profile_entry_max_power=pv(min(e.max_power, ev.max_power), W))
                    for e in schedule.entries[:24]])
        param = self.dc_power_delivery_parameter(evcc) if ev.energy_mode.is_dc else None
        return iso2.PowerDeliveryReqType(
            charge_progress=iso2.ChargeProgressType(evcc.progress.value),
            sa_schedule_tuple_id=evcc.schedule_id or 1, charging_profile=profile,
            ev_power_delivery_parameter=param)

    # ------------------------------------------------------------------ EVCC: responses

    def read_response(self, step: str, body: Any, evse: ChargerInfo) -> dict[str, Any]:
        extras = self.read_common(body, evse)
        if self.read_dc_response(step, body, evse):
            if step == "CurrentDemand":
                evse.meter = _meter_reading(body.meter_info)
                evse.receipt_required = bool(body.receipt_required)
        elif step == "SessionSetup":
            evse.evse_id = body.evse_id if isinstance(body.evse_id, str) else None
        elif step == "ServiceDiscovery":
            options = getattr(body.payment_option_list, "payment_option", None) or []
            evse.payment_options = tuple(p for p in (enum_value(Payment, o) for o in options)
                                         if p is not None)
            service = body.charge_service
            evse.charge_service_id = getattr(service, "service_id", None)
            evse.free_service = getattr(service, "free_service", None)
            modes = getattr(getattr(service, "supported_energy_transfer_mode", None),
                            "energy_transfer_mode", None) or []
            evse.energy_modes = tuple(m for m in (enum_value(EnergyMode, x) for x in modes)
                                      if m is not None)
            listed = getattr(body.service_list, "service", None) or []
            evse.services = tuple(
                ValueAddedService(s.service_id, getattr(s.service_category, "value", "OtherCustom"),
                                  s.service_name, s.service_scope, bool(s.free_service))
                for s in listed)
        elif step == "ServiceDetail":
            sets = getattr(body.service_parameter_list, "parameter_set", None) or []
            evse.service_parameters[body.service_id] = tuple(p.parameter_set_id for p in sets)
        elif step == "PaymentDetails":
            evse.gen_challenge = body.gen_challenge
        elif step == "ChargeParameterDiscovery":
            self._read_charge_parameters(body, evse)
        elif step in ("PowerDelivery", "MeteringReceipt"):
            self._read_status(body.evse_status, evse)
        elif step == "ChargingStatus":
            self._read_status(body.ac_evse_status, evse)
            evse.max_current = number(body.evse_max_current) or evse.max_current
            evse.meter = _meter_reading(body.meter_info)
            evse.receipt_required = bool(body.receipt_required)
        return extras

    def _read_charge_parameters(self, body: Any, evse: ChargerInfo) -> None:
        param = body.evse_charge_parameter
        if isinstance(param, iso2.DC_EVSEChargeParameterType):
            self.read_dc_evse_charge_parameter(param, evse)
        elif isinstance(param, iso2.AC_EVSEChargeParameterType):
            self._read_status(param.ac_evse_status, evse)
            evse.nominal_voltage = number(param.evse_nominal_voltage)
            evse.max_current = number(param.evse_max_current)
        tuples = getattr(body.sa_schedules, "sa_schedule_tuple", None) or []
        evse.schedules = tuple(_read_schedule(t) for t in tuples)

    def _read_status(self, status: Any, evse: ChargerInfo) -> None:
        if isinstance(status, iso2.DC_EVSEStatusType):
            self._read_dc_status(status, evse)
        elif status is not None:
            evse.notification = enum_value(Notification, getattr(status, "evse_notification",
                                                                  None), Notification.NONE)
            evse.notification_max_delay = getattr(status, "notification_max_delay", 0) or 0
            rcd = getattr(status, "rcd", None)
            evse.rcd = rcd if isinstance(rcd, bool) else None



def _chain_der(chain: Any) -> tuple[bytes, ...]:
    if chain is None:
        return ()
    certs = [chain.certificate]
    subs = getattr(chain.sub_certificates, "certificate", None) or []
    certs.extend(subs)
    return tuple(c for c in certs if isinstance(c, bytes))


def _meter_reading(info: Any) -> MeterReading | None:
    if info is None or not isinstance(getattr(info, "meter_id", None), str):
        return None
    return MeterReading(info.meter_id, info.meter_reading, info.sig_meter_reading,
                        info.meter_status, info.t_meter)


def _meter_info(meter: MeterReading | None) -> iso2.MeterInfoType | None:
    if meter is None:
        return None
    return iso2.MeterInfoType(meter_id=meter.meter_id, meter_reading=meter.energy_wh,
                              sig_meter_reading=meter.signature, meter_status=meter.status,
                              t_meter=meter.timestamp)


def _schedule_tuple(schedule: Schedule) -> iso2.SAScheduleTupleType:
    entries = [iso2.PMaxScheduleEntryType(
        time_interval=iso2.RelativeTimeIntervalType(start=e.start, duration=e.duration),
        p_max=pv(e.max_power, W)) for e in schedule.entries[:1024]]
    tariff = schedule.sales_tariff if isinstance(schedule.sales_tariff,
                                                 iso2.SalesTariffType) else None
    return iso2.SAScheduleTupleType(sa_schedule_tuple_id=schedule.schedule_id,
                                    p_max_schedule=iso2.PMaxScheduleType(
                                        p_max_schedule_entry=entries),
                                    sales_tariff=tariff)


def _read_schedule(t: Any) -> Schedule:
    entries = []
    for e in getattr(t.p_max_schedule, "p_max_schedule_entry", None) or []:
        interval = e.time_interval
        start = getattr(interval, "start", 0)
        entries.append(ScheduleEntry(start if isinstance(start, int) else 0,
                                     number(e.p_max) or 0.0, getattr(interval, "duration", None)))
    return Schedule(t.sa_schedule_tuple_id, tuple(entries), t.sales_tariff)


def _parameter(name: str, value: object) -> iso2.ParameterType:
    if isinstance(value, bool):
        return iso2.ParameterType(name=name, bool_value=value)
    if isinstance(value, int):
        return iso2.ParameterType(name=name, int_value=value)
    if isinstance(value, float):
        return iso2.ParameterType(name=name, physical_value=pv(value, W))
    return iso2.ParameterType(name=name, string_value=str(value))


DIALECT = Iso2Dialect()
