"""ISO 15118-20 spelling, the vehicle's side: requests from EVState, responses into facts.

The EVCC chooses the energy service from its energy mode and the BPT wish, and the
parameter set whose ControlMode it wants (or the EVSE's first); it states its limits as
powers and currents, its energy requests from SoC and capacity, and in the charge loop its
targets (scheduled) or limits (dynamic). Responses fill :class:`ChargerInfo`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from iso15118.messages import iso20_ac as ac
from iso15118.messages import iso20_common as common
from iso15118.messages import iso20_dc as dc
from iso15118.session.dialects import enum_value, number
from iso15118.session.iso20_base import Iso20Base, parameters_of, processing, rational
from iso15118.session.values import (
    ControlMode,
    EnergyService,
    Payment,
    Processing,
    Progress,
    Schedule,
    ScheduleEntry,
)
from iso15118.session.views import ChargerInfo

if TYPE_CHECKING:
    from iso15118.session.evcc import EvccSession

__all__ = ["Iso20Vehicle"]

_PROGRESS = {Progress.START: "Start", Progress.STOP: "Stop", Progress.STANDBY: "Standby",
             Progress.RENEGOTIATE: "ScheduleRenegotiation"}


class Iso20Vehicle(Iso20Base):
    """The EVCC half of the -20 dialect."""

    # ------------------------------------------------------------------ requests

    def request(self, step: str, evcc: EvccSession) -> Any:
        ev = evcc.ev
        h = self.header(evcc.session_id)
        if step == "SessionSetup":
            return common.SessionSetupReqType(header=h, evcc_id=ev.evcc_id_20 or
                                              ev.evcc_id.hex().upper())
        if step == "AuthorizationSetup":
            return common.AuthorizationSetupReqType(header=h)
        if step == "Authorization":
            return common.AuthorizationReqType(
                header=h, selected_authorization_service=common.AuthorizationType.EIM,
                eim_a_req_authorization_mode=common.EIM_AReqAuthorizationModeType())
        if step == "ServiceDiscovery":
            return common.ServiceDiscoveryReqType(header=h)
        if step == "ServiceDetail":
            return common.ServiceDetailReqType(header=h, service_id=evcc.detail_service_id or 0)
        if step == "ServiceSelection":
            service, set_id = evcc.selected_service20 or (EnergyService.DC, 1)
            return common.ServiceSelectionReqType(
                header=h, selected_energy_transfer_service=common.SelectedServiceType(
                    service_id=int(service), parameter_set_id=set_id))
        if step == "ChargeParameterDiscovery":
            return self._req_charge_parameters(evcc, h)
        if step == "ScheduleExchange":
            return self._req_schedule_exchange(evcc, h)
        if step == "CableCheck":
            return dc.DC_CableCheckReqType(header=h)
        if step == "PreCharge":
            return dc.DC_PreChargeReqType(
                header=h, ev_processing=processing(evcc.ev_processing),
                ev_present_voltage=rational(ev.battery_voltage),
                ev_target_voltage=rational(evcc.target_voltage))
        if step == "PowerDelivery":
            return self._req_power_delivery(evcc, h)
        if step == "ChargeLoop":
            return self._req_charge_loop(evcc, h)
        if step == "WeldingDetection":
            return dc.DC_WeldingDetectionReqType(header=h,
                                                 ev_processing=processing(evcc.ev_processing))
        if step == "SessionStop":
            return common.SessionStopReqType(
                header=h, charging_session=common.ChargingSessionType(evcc.stop_kind.value))
        if step == "MeteringConfirmation":
            meter = evcc.evse.meter
            return common.MeteringConfirmationReqType(
                header=h, signed_metering_data=common.SignedMeteringDataType(
                    id="id1", session_id=evcc.session_id,
                    meter_info=common.MeterInfoType(
                        meter_id=meter.meter_id if meter is not None else "0",
                        charged_energy_reading_wh=(meter.energy_wh or 0) if meter else 0),
                    **self._smdt_mode(evcc)))
        raise AssertionError(step)  # pragma: no cover - PnC steps are built by pnc.py

    def _smdt_mode(self, evcc: EvccSession) -> dict[str, Any]:
        """SignedMeteringData names the control mode (and the schedule) in force."""
        if evcc.control_mode is ControlMode.DYNAMIC:
            return {"dynamic_smdt_control_mode": common.Dynamic_SMDTControlModeType()}
        return {"scheduled_smdt_control_mode": common.Scheduled_SMDTControlModeType(
            selected_schedule_tuple_id=evcc.schedule_id or 1)}

    def _service(self, evcc: EvccSession) -> EnergyService:
        service, _ = evcc.selected_service20 or (EnergyService.DC, 1)
        return service

    def _req_charge_parameters(self, evcc: EvccSession, h: Any) -> Any:
        ev, service = evcc.ev, self._service(evcc)
        if service.is_dc:
            fields = dict(
                ev_maximum_charge_power=rational(ev.max_power),
                ev_minimum_charge_power=rational(0),
                ev_maximum_charge_current=rational(ev.max_current),
                ev_minimum_charge_current=rational(0),
                ev_maximum_voltage=rational(ev.max_voltage),
                ev_minimum_voltage=rational(min(ev.battery_voltage, ev.max_voltage) * 0.8),
                target_soc=round(ev.target_soc))
            mode: Any = dc.BPT_DC_CPDReqEnergyTransferModeType(
                **fields, ev_maximum_discharge_power=rational(ev.max_discharge_power),
                ev_minimum_discharge_power=rational(0),
                ev_maximum_discharge_current=rational(ev.max_discharge_current),
                ev_minimum_discharge_current=rational(0)) if service.bidirectional \
                else dc.DC_CPDReqEnergyTransferModeType(**fields)
            return dc.DC_ChargeParameterDiscoveryReqType(header=h,
                                                         dc_cpd_req_energy_transfer_mode=mode)
        fields = dict(ev_maximum_charge_power=rational(ev.max_power),
                      ev_minimum_charge_power=rational(ev.min_current * 230))
        mode = ac.BPT_AC_CPDReqEnergyTransferModeType(
            **fields, ev_maximum_discharge_power=rational(ev.max_discharge_power),
            ev_minimum_discharge_power=rational(0)) if service.bidirectional \
            else ac.AC_CPDReqEnergyTransferModeType(**fields)
        return ac.AC_ChargeParameterDiscoveryReqType(header=h,
                                                     ac_cpd_req_energy_transfer_mode=mode)

    def _energy(self, evcc: EvccSession) -> tuple[float, float, float]:
        """(target, maximum, minimum) energy requests in Wh, from SoC and capacity."""
        ev = evcc.ev
        to_full = max(0.0, (100.0 - ev.soc) / 100 * ev.capacity_wh)
        target = ev.energy_request_wh
        floor = (ev.min_soc - ev.soc) / 100 * ev.capacity_wh  # negative: may give back
        return target, to_full, floor if ev.bidirectional else max(0.0, floor)

    def _req_schedule_exchange(self, evcc: EvccSession, h: Any) -> Any:
        ev = evcc.ev
        target, maximum, minimum = self._energy(evcc)
        departure = ev.departure_time if ev.departure_time is not None else 4 * 3600
        if evcc.control_mode is ControlMode.DYNAMIC:
            return common.ScheduleExchangeReqType(
                header=h, maximum_supporting_points=1024,
                dynamic_se_req_control_mode=common.Dynamic_SEReqControlModeType(
                    departure_time=departure, ev_target_energy_request=rational(target),
                    ev_maximum_energy_request=rational(maximum),
                    ev_minimum_energy_request=rational(minimum)))
        return common.ScheduleExchangeReqType(
            header=h, maximum_supporting_points=1024,
            scheduled_se_req_control_mode=common.Scheduled_SEReqControlModeType(
                departure_time=departure, ev_target_energy_request=rational(target),
                ev_maximum_energy_request=rational(maximum),
                ev_minimum_energy_request=rational(minimum)))

    def _req_power_delivery(self, evcc: EvccSession, h: Any) -> Any:
        profile = None
        if evcc.progress is Progress.START:
            schedule = evcc.chosen_schedule()
            entries = [common.PowerScheduleEntryType(
                duration=e.duration or 86_400,
                power=rational(min(e.max_power, evcc.ev.max_power)))
                for e in (schedule.entries if schedule is not None else ())][:24] or [
                common.PowerScheduleEntryType(duration=86_400,
                                              power=rational(evcc.ev.max_power))]
            if evcc.control_mode is ControlMode.DYNAMIC:
                profile = common.EVPowerProfileType(
                    time_anchor=int(self.clock()),
                    dynamic_evppt_control_mode=common.Dynamic_EVPPTControlModeType(),
                    ev_power_profile_entries=common.EVPowerProfileEntryListType(
                        ev_power_profile_entry=entries))
            else:
                profile = common.EVPowerProfileType(
                    time_anchor=int(self.clock()),
                    # The profile never exceeds the chosen schedule, so the EV can confirm
                    # its tolerance; the element is optional, but Josev's charger rejects
                    # a request without it.
                    scheduled_evppt_control_mode=common.Scheduled_EVPPTControlModeType(
                        selected_schedule_tuple_id=evcc.schedule_id or 1,
                        power_tolerance_acceptance=(
                            common.PowerToleranceAcceptanceType.PowerToleranceConfirmed)),
                    ev_power_profile_entries=common.EVPowerProfileEntryListType(
                        ev_power_profile_entry=entries))
        channel = None
        if self._service(evcc).bidirectional and evcc.progress is Progress.START:
            channel = common.ChannelSelectionType.Charge
        return common.PowerDeliveryReqType(
            header=h, ev_processing=processing(Processing.FINISHED),
            charge_progress=common.ChargeProgressType(_PROGRESS[evcc.progress]),
            ev_power_profile=profile, bpt_channel_selection=channel)

    def _req_charge_loop(self, evcc: EvccSession, h: Any) -> Any:
        ev, service = evcc.ev, self._service(evcc)
        dynamic = evcc.control_mode is ControlMode.DYNAMIC
        bpt = service.bidirectional
        target, maximum, minimum = self._energy(evcc)
        display = common.DisplayParametersType(present_soc=max(0, min(100, round(ev.soc))),
                                               target_soc=round(ev.target_soc),
                                               charging_complete=ev.charging_complete)
        discharge = dict(ev_maximum_discharge_power=rational(ev.max_discharge_power),
                         ev_minimum_discharge_power=rational(0))
        if not service.is_dc:
            present = evcc.ac_power
            if dynamic:
                fields = dict(ev_target_energy_request=rational(target),
                              ev_maximum_energy_request=rational(maximum),
                              ev_minimum_energy_request=rational(minimum),
                              ev_maximum_charge_power=rational(ev.max_power),
                              ev_minimum_charge_power=rational(0),
                              ev_present_active_power=rational(present),
                              ev_present_reactive_power=rational(0))
                mode: Any = ac.BPT_Dynamic_AC_CLReqControlModeType(**fields, **discharge) \
                    if bpt else ac.Dynamic_AC_CLReqControlModeType(**fields)
            else:
                mode = ac.BPT_Scheduled_AC_CLReqControlModeType(
                    ev_present_active_power=rational(present)) if bpt else \
                    ac.Scheduled_AC_CLReqControlModeType(ev_present_active_power=rational(present))
            return ac.AC_ChargeLoopReqType(header=h, display_parameters=display,
                                           meter_info_requested=False, cl_req_control_mode=mode)
        if dynamic:
            fields = dict(ev_target_energy_request=rational(target),
                          ev_maximum_energy_request=rational(maximum),
                          ev_minimum_energy_request=rational(minimum),
                          ev_maximum_charge_power=rational(ev.max_power),
                          ev_minimum_charge_power=rational(0),
                          ev_maximum_charge_current=rational(ev.max_current),
                          ev_maximum_voltage=rational(ev.max_voltage),
                          ev_minimum_voltage=rational(ev.battery_voltage * 0.8))
            mode = dc.BPT_Dynamic_DC_CLReqControlModeType(
                **fields, **discharge,
                ev_maximum_discharge_current=rational(ev.max_discharge_current)) if bpt \
                else dc.Dynamic_DC_CLReqControlModeType(**fields)
        else:
            fields = dict(ev_target_current=rational(evcc.target_current),
                          ev_target_voltage=rational(evcc.target_voltage))
            mode = dc.BPT_Scheduled_DC_CLReqControlModeType(**fields) if bpt else \
                dc.Scheduled_DC_CLReqControlModeType(**fields)
        return dc.DC_ChargeLoopReqType(header=h, display_parameters=display,
                                       meter_info_requested=False,
                                       ev_present_voltage=rational(ev.battery_voltage),
                                       cl_req_control_mode=mode)

    # ------------------------------------------------------------------ responses

    def read_response(self, step: str, body: Any, evse: ChargerInfo) -> dict[str, Any]:
        extras = self.read_common(body, evse)
        if step == "SessionSetup":
            evse.evse_id = body.evse_id if isinstance(body.evse_id, str) else None
        elif step == "AuthorizationSetup":
            evse.auth_services = tuple(
                Payment.PNC if getattr(s, "value", s) == "PnC" else Payment.EIM
                for s in body.authorization_services or [])
            evse.payment_options = evse.auth_services
            evse.certificate_installation = body.certificate_installation_service
            pnc = body.pnc_as_res_authorization_mode
            evse.gen_challenge = getattr(pnc, "gen_challenge", None)
        elif step == "ServiceDiscovery":
            listed = getattr(body.energy_transfer_service_list, "service", None) or []
            evse.energy_services = tuple(s for s in (enum_value(EnergyService, x.service_id)
                                                     for x in listed) if s is not None)
            evse.service_renegotiation = body.service_renegotiation_supported
        elif step == "ServiceDetail":
            sets = getattr(body.service_parameter_list, "parameter_set", None) or []
            evse.parameter_sets[body.service_id] = tuple(
                (p.parameter_set_id, parameters_of(p)) for p in sets)
        elif step == "ChargeParameterDiscovery":
            mode = getattr(body, "dc_cpd_res_energy_transfer_mode", None)
            if mode is not None:
                evse.max_current = number(mode.evse_maximum_charge_current)
                evse.min_current = number(mode.evse_minimum_charge_current)
                evse.max_voltage = number(mode.evse_maximum_voltage)
                evse.min_voltage = number(mode.evse_minimum_voltage)
            else:
                mode = body.ac_cpd_res_energy_transfer_mode
            evse.max_power = number(mode.evse_maximum_charge_power)
            evse.max_discharge_power = number(getattr(mode, "evse_maximum_discharge_power",
                                                      None))
            evse.max_discharge_current = number(getattr(mode, "evse_maximum_discharge_current",
                                                        None))
        elif step == "ScheduleExchange":
            scheduled = body.scheduled_se_res_control_mode
            tuples = getattr(scheduled, "schedule_tuple", None) or []
            evse.schedules = tuple(_read_schedule(t) for t in tuples)
        elif step in ("PreCharge", "WeldingDetection"):
            evse.present_voltage = number(body.evse_present_voltage)
        elif step == "PowerDelivery":
            self.read_evse_status(body.evse_status, evse)
        elif step == "ChargeLoop":
            self.read_evse_status(body.evse_status, evse)
            mode = body.cl_res_control_mode
            if hasattr(body, "evse_present_current"):
                evse.present_current = number(body.evse_present_current)
                evse.present_voltage = number(body.evse_present_voltage)
                evse.current_limit_achieved = body.evse_current_limit_achieved
                evse.voltage_limit_achieved = body.evse_voltage_limit_achieved
                evse.power_limit_achieved = body.evse_power_limit_achieved
                evse.max_current = number(getattr(mode, "evse_maximum_charge_current", None)) \
                    or evse.max_current
                evse.max_power = number(getattr(mode, "evse_maximum_charge_power", None)) \
                    or evse.max_power
            else:
                evse.target_power = number(getattr(mode, "evse_target_active_power", None))
        return extras


def _read_schedule(t: Any) -> Schedule:
    entries, start = [], 0
    power = getattr(t.charging_schedule, "power_schedule", None)
    for e in getattr(getattr(power, "power_schedule_entries", None), "power_schedule_entry",
                     None) or []:
        duration = e.duration if isinstance(e.duration, int) else 0
        entries.append(ScheduleEntry(start, number(e.power) or 0.0, duration))
        start += duration
    charging = t.charging_schedule
    tariff = (getattr(charging, "absolute_price_schedule", None)
              or getattr(charging, "price_level_schedule", None))
    return Schedule(t.schedule_tuple_id if isinstance(t.schedule_tuple_id, int) else 0,
                    tuple(entries), tariff)
