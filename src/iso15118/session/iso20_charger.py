"""ISO 15118-20 spelling, the charger's side: requests into neutral facts, responses out.

The EV's requests fill :class:`VehicleInfo` (the selected energy service and control mode,
its limits, energy requests, present voltage or power); responses are composed from
:class:`EVSEState` and the session's decisions. Scheduled mode sends the EVSE's schedules
as ScheduleTuples, each a power schedule with its price schedule (the schedule's own
absolute or price-level schedule, else one flat price level); dynamic mode answers the
charge loop with the EVSE's limits and, for AC, the power it asks for (``target_power``,
negative to discharge in BPT). Every composition is total: a FAILED response still carries
every mandatory field.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from iso15118.messages import iso20_ac as ac
from iso15118.messages import iso20_common as common
from iso15118.messages import iso20_dc as dc
from iso15118.session.dialects import enum_value, number
from iso15118.session.iso20_base import (
    Iso20Base,
    processing,
    rational,
    read_processing,
    service_parameters,
)
from iso15118.session.values import (
    ControlMode,
    EnergyMode,
    EnergyService,
    MeterReading,
    Payment,
    Progress,
    Schedule,
    StopKind,
)
from iso15118.session.views import VehicleInfo

if TYPE_CHECKING:
    from iso15118.session.secc import SeccSession

__all__ = ["Iso20Charger", "code20"]

#: neutral (ISO 15118-2) response codes that -20 spells differently
_CODE_ALIASES = {
    "FAILED_PaymentSelectionInvalid": "FAILED_ServiceSelectionInvalid",
    "FAILED_NoChargeServiceSelected": "FAILED_NoEnergyTransferServiceSelected",
    "FAILED_WrongEnergyTransferMode": "FAILED_WrongChargeParameter",
    "FAILED_TariffSelectionInvalid": "FAILED_ScheduleSelectionInvalid",
    "FAILED_ChallengeInvalid": "WARNING_ChallengeInvalid",
    "FAILED_CertChainError": "WARNING_CertificateValidationError",
    "FAILED_CertificateExpired": "WARNING_CertificateExpired",
    "FAILED_CertificateRevoked": "WARNING_CertificateRevoked",
    "FAILED_CertificateNotYetValid": "WARNING_CertificateNotYetValid",
    "FAILED_AuthorizationSelectionInvalid": "WARNING_AuthorizationSelectionInvalid",
    "FAILED_NoCertificateAvailable": "WARNING_NoCertificateAvailable",
}
_PROGRESS = {"Start": Progress.START, "Stop": Progress.STOP, "Standby": Progress.STANDBY,
             "ScheduleRenegotiation": Progress.RENEGOTIATE}
_NO_CERT = b"\x30\x00"


def code20(code: str) -> common.ResponseCodeType:
    """A neutral response code in -20 words: the aliases above, else the same name, else
    FAILED_X as -20's WARNING_X where only that exists (an application refusing a contract
    with ``authorize(False, "FAILED_eMSPUnknown")`` sends WARNING_eMSPUnknown, and the
    session ends as after any FAILED code), else plain FAILED."""
    name = _CODE_ALIASES.get(code, code)
    if name not in common.ResponseCodeType.__members__ and name.startswith("FAILED_"):
        name = "WARNING_" + name.removeprefix("FAILED_")
    try:
        return common.ResponseCodeType[name]
    except KeyError:
        return common.ResponseCodeType.FAILED


class Iso20Charger(Iso20Base):
    """The SECC half of the -20 dialect."""

    # ------------------------------------------------------------------ requests

    def read(self, step: str, body: Any, ev: VehicleInfo) -> dict[str, Any]:
        extras: dict[str, Any] = {}
        if step == "SessionSetup":
            ev.evcc_id = self.evcc_id(body)
        elif step == "Authorization":
            extras["payment"] = Payment.PNC if getattr(
                body.selected_authorization_service, "value", None) == "PnC" else Payment.EIM
            pnc = body.pnc_a_req_authorization_mode
            if pnc is not None:
                extras["gen_challenge"] = pnc.gen_challenge
                extras["id"] = pnc.id
                chain = pnc.contract_certificate_chain
                subs = getattr(chain.sub_certificates, "certificate", None) or []
                ev.contract_chain = tuple(c for c in [chain.certificate, *subs]
                                          if isinstance(c, bytes))
        elif step == "ServiceDetail":
            extras["service_id"] = body.service_id
        elif step == "ServiceSelection":
            chosen = body.selected_energy_transfer_service
            ev.energy_service = enum_value(EnergyService, chosen.service_id)
            ev.parameter_set_id = chosen.parameter_set_id
            vas = getattr(body.selected_vas_list, "selected_service", None) or []
            ev.selected_services = ((chosen.service_id, chosen.parameter_set_id),
                                    *((s.service_id, s.parameter_set_id) for s in vas))
            if ev.energy_service is not None:
                ev.energy_mode = (EnergyMode.DC_extended if ev.energy_service.is_dc
                                  else EnergyMode.AC_three_phase_core)
        elif step == "ChargeParameterDiscovery":
            self._read_charge_parameters(body, ev, extras)
        elif step == "ScheduleExchange":
            ev.max_schedule_tuples = body.maximum_supporting_points
            mode = body.dynamic_se_req_control_mode or body.scheduled_se_req_control_mode
            extras["control_mode"] = ControlMode.DYNAMIC if body.dynamic_se_req_control_mode \
                is not None else ControlMode.SCHEDULED
            if mode is not None:
                ev.departure_time = mode.departure_time
                ev.target_energy_wh = number(mode.ev_target_energy_request)
                ev.max_energy_wh = number(mode.ev_maximum_energy_request)
                ev.min_energy_wh = number(mode.ev_minimum_energy_request)
        elif step == "PreCharge":
            ev.ev_processing = read_processing(body.ev_processing)
            ev.present_voltage = number(body.ev_present_voltage)
            ev.target_voltage = number(body.ev_target_voltage)
            ev.target_current = 0.0
        elif step == "PowerDelivery":
            ev.ev_processing = read_processing(body.ev_processing)
            extras["progress"] = _PROGRESS.get(getattr(body.charge_progress, "value", ""),
                                               Progress.STOP)
            extras["ev_processing"] = ev.ev_processing
            profile = body.ev_power_profile
            scheduled = getattr(profile, "scheduled_evppt_control_mode", None)
            extras["schedule_id"] = getattr(scheduled, "selected_schedule_tuple_id", None)
            ev.schedule_id = extras["schedule_id"]
        elif step == "ChargeLoop":
            self._read_charge_loop(body, ev)
        elif step == "WeldingDetection":
            ev.ev_processing = read_processing(body.ev_processing)
        elif step == "MeteringConfirmation":
            info = body.signed_metering_data.meter_info
            extras["meter"] = MeterReading(info.meter_id, info.charged_energy_reading_wh)
        elif step == "SessionStop":
            extras["stop_kind"] = enum_value(StopKind, body.charging_session, StopKind.TERMINATE)
        return extras

    def _read_charge_parameters(self, body: Any, ev: VehicleInfo, extras: dict[str, Any]
                                ) -> None:
        mode = getattr(body, "dc_cpd_req_energy_transfer_mode", None)
        if mode is not None:
            extras["dc_parameters"] = True
            ev.max_current = number(mode.ev_maximum_charge_current)
            ev.max_voltage = number(mode.ev_maximum_voltage)
            ev.min_voltage = number(mode.ev_minimum_voltage)
        else:
            mode = body.ac_cpd_req_energy_transfer_mode
        ev.max_power = number(mode.ev_maximum_charge_power)
        ev.min_power = number(mode.ev_minimum_charge_power)
        ev.max_discharge_power = number(getattr(mode, "ev_maximum_discharge_power", None))
        ev.max_discharge_current = number(getattr(mode, "ev_maximum_discharge_current", None))
        target = getattr(mode, "target_soc", None)
        ev.full_soc = target if isinstance(target, int) else ev.full_soc

    def _read_charge_loop(self, body: Any, ev: VehicleInfo) -> None:
        display = body.display_parameters
        if display is not None:
            soc = display.present_soc
            ev.soc = soc if isinstance(soc, int) else ev.soc
            ev.charging_complete = display.charging_complete
        ev.present_voltage = number(getattr(body, "ev_present_voltage", None))
        mode = body.cl_req_control_mode
        name = type(mode).__name__
        ev.control_mode = ControlMode.DYNAMIC if "Dynamic" in name else ControlMode.SCHEDULED
        ev.target_current = number(getattr(mode, "ev_target_current", None))
        ev.target_voltage = number(getattr(mode, "ev_target_voltage", None)) or \
            ev.present_voltage
        ev.max_power = number(getattr(mode, "ev_maximum_charge_power", None)) or ev.max_power
        ev.max_current = number(getattr(mode, "ev_maximum_charge_current", None)) or \
            ev.max_current
        ev.max_voltage = number(getattr(mode, "ev_maximum_voltage", None)) or ev.max_voltage
        ev.target_energy_wh = number(getattr(mode, "ev_target_energy_request", None))
        ev.present_power = number(getattr(mode, "ev_present_active_power", None))

    # ------------------------------------------------------------------ responses

    def compose(self, step: str, secc: SeccSession, code: str, extras: dict[str, Any]) -> Any:
        rc = code20(code)
        h = self.header(secc.session_id or bytes(8))
        evse = secc.evse
        proc = processing(extras["processing"])
        if step == "SessionSetup":
            return common.SessionSetupResType(header=h, response_code=rc, evse_id=evse.evse_id)
        if step == "AuthorizationSetup":
            options = secc._payment_options()
            services = [common.AuthorizationType("EIM" if p is Payment.EIM else "PnC")
                        for p in options]
            if Payment.PNC in options:
                return common.AuthorizationSetupResType(
                    header=h, response_code=rc, authorization_services=services,
                    certificate_installation_service=getattr(
                        secc.config.pnc, "certificate_backend", None) is not None,
                    pnc_as_res_authorization_mode=common.PnC_ASResAuthorizationModeType(
                        gen_challenge=secc.gen_challenge or bytes(16)))
            return common.AuthorizationSetupResType(
                header=h, response_code=rc, authorization_services=services,
                certificate_installation_service=False,
                eim_as_res_authorization_mode=common.EIM_ASResAuthorizationModeType())
        if step == "Authorization":
            return common.AuthorizationResType(header=h, response_code=rc, evse_processing=proc)
        if step == "ServiceDiscovery":
            vas = [common.ServiceType(service_id=s.service_id, free_service=s.free)
                   for s in evse.services]
            return common.ServiceDiscoveryResType(
                header=h, response_code=rc,
                service_renegotiation_supported=evse.service_renegotiation,
                energy_transfer_service_list=common.ServiceListType(service=[
                    common.ServiceType(service_id=int(s), free_service=evse.free_service)
                    for s in evse.energy_services()] or [
                    common.ServiceType(service_id=int(EnergyService.DC), free_service=False)]),
                vas_list=common.ServiceListType(service=vas) if vas else None)
        if step == "ServiceDetail":
            return self._res_service_detail(secc, rc, extras.get("service_id"))
        if step == "ServiceSelection":
            return common.ServiceSelectionResType(header=h, response_code=rc)
        if step == "ChargeParameterDiscovery":
            return self._res_charge_parameters(secc, rc, h)
        if step == "ScheduleExchange":
            return self._res_schedule_exchange(secc, rc, h, proc, extras)
        if step == "CableCheck":
            return dc.DC_CableCheckResType(header=h, response_code=rc, evse_processing=proc)
        if step == "PreCharge":
            return dc.DC_PreChargeResType(header=h, response_code=rc,
                                          evse_present_voltage=rational(evse.present_voltage))
        if step == "PowerDelivery":
            return common.PowerDeliveryResType(
                header=h, response_code=rc,
                evse_status=self.evse_status(secc.current_notification,
                                             evse.notification_max_delay))
        if step == "ChargeLoop":
            return self._res_charge_loop(secc, rc, h)
        if step == "MeteringConfirmation":
            return common.MeteringConfirmationResType(header=h, response_code=rc)
        if step == "WeldingDetection":
            return dc.DC_WeldingDetectionResType(
                header=h, response_code=rc, evse_present_voltage=rational(evse.present_voltage))
        if step == "SessionStop":
            return common.SessionStopResType(header=h, response_code=rc)
        if step == "CertificateInstallation":
            made = extras.get("response")
            if made is not None and not code.startswith("FAILED"):
                return made
            return self._res_failed_certificate(rc, h, proc)
        raise AssertionError(step)  # pragma: no cover

    def _res_service_detail(self, secc: SeccSession, rc: Any, service_id: Any) -> Any:
        evse = secc.evse
        sets: list[Any] = []
        energy = {int(s): s for s in evse.energy_services()}
        if isinstance(service_id, int) and service_id in energy:
            service = energy[service_id]
            for i, mode in enumerate(evse.control_modes, start=1):
                params = service_parameters(
                    service, mode, ac_voltage=int(evse.ac.nominal_voltage),
                    connector=2 if service.is_dc or evse.ac.phases == 3 else 1,
                    pricing=_pricing(evse.schedules) if mode is ControlMode.SCHEDULED else 0)
                sets.append(_parameter_set(i, params))
        else:
            vas = next((s for s in evse.services if s.service_id == service_id), None)
            if vas is not None:
                sets = [_parameter_set(i, p) for i, p in vas.parameter_sets.items()]
        if not sets:  # the schema wants one; a FAILED answer still carries it
            sets = [_parameter_set(1, {"Connector": 0})]
        return common.ServiceDetailResType(
            header=self.header(secc.session_id), response_code=rc,
            service_id=service_id if isinstance(service_id, int) else 0,
            service_parameter_list=common.ServiceParameterListType(parameter_set=sets))

    def _res_charge_parameters(self, secc: SeccSession, rc: Any, h: Any) -> Any:
        evse, ev = secc.evse, secc.ev
        bpt = ev.energy_service is not None and ev.energy_service.bidirectional
        if ev.energy_service is None or ev.energy_service.is_dc:
            lim = evse.dc
            fields = dict(
                evse_maximum_charge_power=rational(lim.max_power),
                evse_minimum_charge_power=rational(0),
                evse_maximum_charge_current=rational(lim.max_current),
                evse_minimum_charge_current=rational(lim.min_current),
                evse_maximum_voltage=rational(lim.max_voltage),
                evse_minimum_voltage=rational(lim.min_voltage))
            mode: Any
            if bpt:
                mode = dc.BPT_DC_CPDResEnergyTransferModeType(
                    **fields, evse_maximum_discharge_power=rational(lim.max_discharge_power),
                    evse_minimum_discharge_power=rational(0),
                    evse_maximum_discharge_current=rational(lim.max_discharge_current),
                    evse_minimum_discharge_current=rational(0))
            else:
                mode = dc.DC_CPDResEnergyTransferModeType(**fields)
            return dc.DC_ChargeParameterDiscoveryResType(
                header=h, response_code=rc, dc_cpd_res_energy_transfer_mode=mode)
        acl = evse.ac
        fields = dict(evse_maximum_charge_power=rational(acl.max_power),
                      evse_minimum_charge_power=rational(acl.nominal_voltage * acl.min_current),
                      evse_nominal_frequency=rational(acl.nominal_frequency))
        if bpt:
            mode = ac.BPT_AC_CPDResEnergyTransferModeType(
                **fields, evse_maximum_discharge_power=rational(acl.max_discharge_power),
                evse_minimum_discharge_power=rational(0))
        else:
            mode = ac.AC_CPDResEnergyTransferModeType(**fields)
        return ac.AC_ChargeParameterDiscoveryResType(header=h, response_code=rc,
                                                     ac_cpd_res_energy_transfer_mode=mode)

    def _res_schedule_exchange(self, secc: SeccSession, rc: Any, h: Any, proc: Any,
                           extras: dict[str, Any]) -> Any:
        evse = secc.evse
        if extras.get("control_mode") is ControlMode.DYNAMIC:
            return common.ScheduleExchangeResType(
                header=h, response_code=rc, evse_processing=proc,
                dynamic_se_res_control_mode=common.Dynamic_SEResControlModeType())
        limit = max(1, min(len(evse.schedules), 3)) if evse.schedules else 1
        schedules = evse.schedules[:limit] or [Schedule(1, ())]
        anchor = int(self.clock())
        tuples = [_schedule_tuple(s, anchor, evse.dc.max_power if secc.ev.energy_service is None
                                  or secc.ev.energy_service.is_dc else evse.ac.max_power)
                  for s in schedules]
        return common.ScheduleExchangeResType(
            header=h, response_code=rc, evse_processing=proc,
            scheduled_se_res_control_mode=common.Scheduled_SEResControlModeType(
                schedule_tuple=tuples))

    def _res_charge_loop(self, secc: SeccSession, rc: Any, h: Any) -> Any:
        evse, ev = secc.evse, secc.ev
        status = self.evse_status(secc.current_notification, evse.notification_max_delay)
        dynamic = ev.control_mode is ControlMode.DYNAMIC
        bpt = ev.energy_service is not None and ev.energy_service.bidirectional
        if ev.energy_service is not None and not ev.energy_service.is_dc:
            acl = evse.ac
            target = evse.target_power if evse.target_power is not None else acl.max_power
            classes: dict[tuple[bool, bool], Any] = {
                (True, True): ac.BPT_Dynamic_AC_CLResControlModeType,
                (True, False): ac.Dynamic_AC_CLResControlModeType,
                (False, True): ac.BPT_Scheduled_AC_CLResControlModeType,
                (False, False): ac.Scheduled_AC_CLResControlModeType}
            mode: Any = classes[dynamic, bpt](evse_target_active_power=rational(target))
            return ac.AC_ChargeLoopResType(header=h, response_code=rc, evse_status=status,
                                           cl_res_control_mode=mode)
        lim = evse.dc
        current, voltage, power = evse.dc_limit_achieved(ev.target_voltage or 0.0,
                                                         ev.target_current or 0.0)
        limits = dict(evse_maximum_charge_power=rational(lim.max_power),
                      evse_minimum_charge_power=rational(0),
                      evse_maximum_charge_current=rational(lim.max_current),
                      evse_maximum_voltage=rational(lim.max_voltage))
        discharge = dict(evse_maximum_discharge_power=rational(lim.max_discharge_power),
                         evse_minimum_discharge_power=rational(0),
                         evse_maximum_discharge_current=rational(lim.max_discharge_current),
                         evse_minimum_voltage=rational(lim.min_voltage))
        if dynamic:
            mode = dc.BPT_Dynamic_DC_CLResControlModeType(**limits, **discharge) if bpt \
                else dc.Dynamic_DC_CLResControlModeType(**limits)
        else:
            mode = dc.BPT_Scheduled_DC_CLResControlModeType(**limits, **discharge) if bpt \
                else dc.Scheduled_DC_CLResControlModeType(**limits)
        return dc.DC_ChargeLoopResType(
            header=h, response_code=rc, evse_status=status,
            evse_present_current=rational(evse.present_current),
            evse_present_voltage=rational(evse.present_voltage),
            evse_power_limit_achieved=power, evse_current_limit_achieved=current,
            evse_voltage_limit_achieved=voltage, cl_res_control_mode=mode)

    def _res_failed_certificate(self, rc: Any, h: Any, proc: Any) -> Any:
        chain = common.CertificateChainType(certificate=_NO_CERT)
        return common.CertificateInstallationResType(
            header=h, response_code=rc, evse_processing=proc, cps_certificate_chain=chain,
            signed_installation_data=common.SignedInstallationDataType(
                id="id1", contract_certificate_chain=common.ContractCertificateChainType(
                    certificate=_NO_CERT, sub_certificates=common.SubCertificatesType(
                        certificate=[_NO_CERT])),
                ecdh_curve=common.EcdhCurveType.SECP521, dh_public_key=bytes(133),
                secp521_encrypted_private_key=bytes(94)),
            remaining_contract_certificate_chains=0)


def _parameter_set(set_id: int, params: Mapping[str, object]) -> Any:
    out = []
    for name, value in params.items():
        if isinstance(value, bool):
            out.append(common.ParameterType(name=name, bool_value=value))
        elif isinstance(value, int):
            out.append(common.ParameterType(name=name, int_value=value))
        elif isinstance(value, float):
            out.append(common.ParameterType(name=name, rational_number=rational(value)))
        else:
            out.append(common.ParameterType(name=name, finite_string=str(value)))
    return common.ParameterSetType(parameter_set_id=set_id, parameter=out)


def _pricing(schedules: Sequence[Schedule]) -> int:
    """The Pricing parameter of a scheduled parameter set: 1 when the schedules carry
    absolute price schedules, else 2 (price levels; :func:`_schedule_tuple` sends one flat
    level for a schedule without a tariff)."""
    if schedules and all(isinstance(s.sales_tariff, common.AbsolutePriceScheduleType)
                         for s in schedules):
        return 1
    return 2


def _schedule_tuple(schedule: Schedule, anchor: int, default_power: float) -> Any:
    entries = [common.PowerScheduleEntryType(duration=e.duration or 86_400,
                                             power=rational(e.max_power))
               for e in schedule.entries[:1024]] or [
        common.PowerScheduleEntryType(duration=86_400, power=rational(default_power))]
    tuple_id = max(1, min(255, schedule.schedule_id))
    power = common.PowerScheduleType(
        time_anchor=anchor,
        power_schedule_entries=common.PowerScheduleEntryListType(power_schedule_entry=entries))
    tariff = schedule.sales_tariff
    if isinstance(tariff, common.AbsolutePriceScheduleType):
        charging = common.ChargingScheduleType(power_schedule=power,
                                               absolute_price_schedule=tariff)
    elif isinstance(tariff, common.PriceLevelScheduleType):
        charging = common.ChargingScheduleType(power_schedule=power, price_level_schedule=tariff)
    else:
        # The price schedule is optional in the XSD, but EVs reject a tuple without one
        # (Josev 0.31.2 does); one price level over the power schedule says "no price
        # differentiation" without inventing a tariff.
        charging = common.ChargingScheduleType(
            power_schedule=power, price_level_schedule=common.PriceLevelScheduleType(
                time_anchor=anchor, price_schedule_id=tuple_id, number_of_price_levels=1,
                price_level_schedule_entries=common.PriceLevelScheduleEntryListType(
                    price_level_schedule_entry=[common.PriceLevelScheduleEntryType(
                        duration=min(sum(e.duration for e in entries), 0xFFFF_FFFF),
                        price_level=0)])))
    return common.ScheduleTupleType(schedule_tuple_id=tuple_id, charging_schedule=charging)

