"""The DC messages DIN 70121 and ISO 15118-2 spell the same way.

CableCheck, PreCharge, CurrentDemand and WeldingDetection, the DC charge parameters and the
DC power delivery parameter have the same fields with the same names in both schemas (ISO
15118-2 took them from DIN 70121); only the classes differ. :class:`DcDialect` builds and
reads them for either protocol from the dialect's model module (``m``), so the two dialects
keep only what really differs. Subclasses provide ``_dc_status`` (the EVSE's status block)
and ``_ev_status`` (DIN's DC_EVStatus has two fields more).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from iso15118.session.dialects import DialectBase, number, physical, read_dc_ev_status
from iso15118.session.views import ChargerInfo, VehicleInfo

if TYPE_CHECKING:
    from iso15118.session.evcc import EvccSession
    from iso15118.session.secc import SeccSession

__all__ = ["DcDialect"]


class DcDialect(DialectBase):
    """DialectBase plus the DC exchanges both protocols share (``m``: the model module)."""

    m: Any

    def pv(self, value: float | None, unit: str) -> Any:
        """``value`` as the protocol's PhysicalValueType in ``unit`` ("V", "A", "W"...),
        rounded to what it can carry and clamped to its range (see dialects.physical)."""
        return physical(self.m.PhysicalValueType, value, self.m.UnitSymbolType[unit])

    def _dc_status(self, secc: SeccSession) -> Any:
        raise NotImplementedError

    def _ev_status(self, evcc: EvccSession) -> Any:
        raise NotImplementedError

    # ------------------------------------------------------------------ SECC side

    def read_dc_charge_parameter(self, param: Any, ev: VehicleInfo) -> None:
        read_dc_ev_status(param.dc_ev_status, ev)
        ev.departure_time = getattr(param, "departure_time", None)  # ISO-2 only
        ev.max_current = number(param.ev_maximum_current_limit)
        ev.max_power = number(param.ev_maximum_power_limit)
        ev.max_voltage = number(param.ev_maximum_voltage_limit)
        ev.energy_capacity_wh = number(param.ev_energy_capacity)
        ev.energy_request_wh = number(param.ev_energy_request)
        ev.full_soc = param.full_soc
        ev.bulk_soc = param.bulk_soc

    def read_dc_power_delivery(self, param: Any, ev: VehicleInfo) -> None:
        if isinstance(param, self.m.DC_EVPowerDeliveryParameterType):
            read_dc_ev_status(param.dc_ev_status, ev)
            ev.charging_complete = param.charging_complete
            ev.bulk_charging_complete = param.bulk_charging_complete

    def read_dc_request(self, step: str, body: Any, ev: VehicleInfo) -> bool:
        """CableCheck, PreCharge, CurrentDemand, WeldingDetection; False for other steps."""
        if step not in ("CableCheck", "PreCharge", "CurrentDemand", "WeldingDetection"):
            return False
        read_dc_ev_status(body.dc_ev_status, ev)
        if step == "PreCharge":
            ev.target_voltage = number(body.ev_target_voltage)
            ev.target_current = number(body.ev_target_current)
        elif step == "CurrentDemand":
            ev.target_current = number(body.ev_target_current)
            ev.target_voltage = number(body.ev_target_voltage)
            ev.max_voltage = number(body.ev_maximum_voltage_limit) or ev.max_voltage
            ev.max_current = number(body.ev_maximum_current_limit) or ev.max_current
            ev.max_power = number(body.ev_maximum_power_limit) or ev.max_power
            ev.charging_complete = body.charging_complete
            ev.bulk_charging_complete = body.bulk_charging_complete
            ev.remaining_time_to_full_soc = number(body.remaining_time_to_full_soc)
            ev.remaining_time_to_bulk_soc = number(body.remaining_time_to_bulk_soc)
        return True

    def compose_dc(self, step: str, secc: SeccSession, rc: Any, processing: Any) -> Any:
        """CableCheckRes, PreChargeRes, WeldingDetectionRes; None for other steps."""
        m, evse = self.m, secc.evse
        if step == "CableCheck":
            return m.CableCheckResType(response_code=rc, dc_evse_status=self._dc_status(secc),
                                       evse_processing=processing)
        if step == "PreCharge":
            return m.PreChargeResType(response_code=rc, dc_evse_status=self._dc_status(secc),
                                      evse_present_voltage=self.pv(evse.present_voltage, "V"))
        if step == "WeldingDetection":
            return m.WeldingDetectionResType(
                response_code=rc, dc_evse_status=self._dc_status(secc),
                evse_present_voltage=self.pv(evse.present_voltage, "V"))
        return None

    def current_demand_fields(self, secc: SeccSession, rc: Any) -> dict[str, Any]:
        """The CurrentDemandRes fields both protocols have."""
        evse, ev, lim = secc.evse, secc.ev, secc.evse.dc
        current, voltage, power = evse.dc_limit_achieved(ev.target_voltage or 0.0,
                                                         ev.target_current or 0.0)
        return dict(
            response_code=rc, dc_evse_status=self._dc_status(secc),
            evse_present_voltage=self.pv(evse.present_voltage, "V"),
            evse_present_current=self.pv(evse.present_current, "A"),
            evse_current_limit_achieved=current, evse_voltage_limit_achieved=voltage,
            evse_power_limit_achieved=power,
            evse_maximum_voltage_limit=self.pv(lim.max_voltage, "V"),
            evse_maximum_current_limit=self.pv(lim.max_current, "A"),
            evse_maximum_power_limit=self.pv(lim.max_power, "W"))

    def dc_evse_charge_parameter(self, secc: SeccSession) -> Any:
        lim = secc.evse.dc
        optional = {
            "evse_current_regulation_tolerance": None if lim.current_regulation_tolerance is None
            else self.pv(lim.current_regulation_tolerance, "A"),
            "evse_energy_to_be_delivered": None if lim.energy_to_be_delivered is None
            else self.pv(lim.energy_to_be_delivered, "Wh"),
        }
        return self.m.DC_EVSEChargeParameterType(
            dc_evse_status=self._dc_status(secc),
            evse_maximum_current_limit=self.pv(lim.max_current, "A"),
            evse_maximum_power_limit=self.pv(lim.max_power, "W"),
            evse_maximum_voltage_limit=self.pv(lim.max_voltage, "V"),
            evse_minimum_current_limit=self.pv(lim.min_current, "A"),
            evse_minimum_voltage_limit=self.pv(lim.min_voltage, "V"),
            evse_peak_current_ripple=self.pv(lim.peak_current_ripple, "A"), **optional)

    # ------------------------------------------------------------------ EVCC side

    def dc_request(self, step: str, evcc: EvccSession) -> Any:
        """CableCheckReq, PreChargeReq, CurrentDemandReq, WeldingDetectionReq; else None."""
        m, ev = self.m, evcc.ev
        if step == "CableCheck":
            return m.CableCheckReqType(dc_ev_status=self._ev_status(evcc))
        if step == "WeldingDetection":
            return m.WeldingDetectionReqType(dc_ev_status=self._ev_status(evcc))
        if step == "PreCharge":
            return m.PreChargeReqType(dc_ev_status=self._ev_status(evcc),
                                      ev_target_voltage=self.pv(evcc.target_voltage, "V"),
                                      ev_target_current=self.pv(evcc.target_current, "A"))
        if step == "CurrentDemand":
            return m.CurrentDemandReqType(
                dc_ev_status=self._ev_status(evcc),
                ev_target_current=self.pv(evcc.target_current, "A"),
                ev_maximum_voltage_limit=self.pv(ev.max_voltage, "V"),
                ev_maximum_current_limit=self.pv(ev.max_current, "A"),
                ev_maximum_power_limit=self.pv(ev.max_power, "W"),
                bulk_charging_complete=ev.bulk_charging_complete,
                charging_complete=ev.charging_complete,
                remaining_time_to_full_soc=None if ev.remaining_time_to_full_soc is None
                else self.pv(ev.remaining_time_to_full_soc, "s"),
                remaining_time_to_bulk_soc=None if ev.remaining_time_to_bulk_soc is None
                else self.pv(ev.remaining_time_to_bulk_soc, "s"),
                ev_target_voltage=self.pv(evcc.target_voltage, "V"))
        return None

    def dc_ev_charge_parameter(self, evcc: EvccSession, **extra: Any) -> Any:
        ev = evcc.ev
        return self.m.DC_EVChargeParameterType(
            dc_ev_status=self._ev_status(evcc),
            ev_maximum_current_limit=self.pv(ev.max_current, "A"),
            ev_maximum_power_limit=self.pv(ev.max_power, "W"),
            ev_maximum_voltage_limit=self.pv(ev.max_voltage, "V"),
            ev_energy_capacity=self.pv(ev.capacity_wh, "Wh"),
            ev_energy_request=self.pv(ev.energy_request_wh, "Wh"),
            full_soc=ev.full_soc, bulk_soc=ev.bulk_soc, **extra)

    def dc_power_delivery_parameter(self, evcc: EvccSession) -> Any:
        ev = evcc.ev
        return self.m.DC_EVPowerDeliveryParameterType(
            dc_ev_status=self._ev_status(evcc),
            bulk_charging_complete=ev.bulk_charging_complete,
            charging_complete=ev.charging_complete)

    def read_dc_response(self, step: str, body: Any, evse: ChargerInfo) -> bool:
        """CableCheckRes, PreChargeRes, WeldingDetectionRes, CurrentDemandRes; else False."""
        if step not in ("CableCheck", "PreCharge", "CurrentDemand", "WeldingDetection"):
            return False
        self._read_dc_status(body.dc_evse_status, evse)
        if step in ("PreCharge", "WeldingDetection", "CurrentDemand"):
            evse.present_voltage = number(body.evse_present_voltage)
        if step == "CurrentDemand":
            evse.present_current = number(body.evse_present_current)
            evse.current_limit_achieved = body.evse_current_limit_achieved
            evse.voltage_limit_achieved = body.evse_voltage_limit_achieved
            evse.power_limit_achieved = body.evse_power_limit_achieved
            evse.max_voltage = number(body.evse_maximum_voltage_limit) or evse.max_voltage
            evse.max_current = number(body.evse_maximum_current_limit) or evse.max_current
            evse.max_power = number(body.evse_maximum_power_limit) or evse.max_power
        return True

    def read_dc_evse_charge_parameter(self, param: Any, evse: ChargerInfo) -> None:
        self._read_dc_status(param.dc_evse_status, evse)
        evse.max_current = number(param.evse_maximum_current_limit)
        evse.max_power = number(param.evse_maximum_power_limit)
        evse.max_voltage = number(param.evse_maximum_voltage_limit)
        evse.min_current = number(param.evse_minimum_current_limit)
        evse.min_voltage = number(param.evse_minimum_voltage_limit)
        evse.peak_current_ripple = number(param.evse_peak_current_ripple)
