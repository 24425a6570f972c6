"""The vehicle's course through an ISO 15118-20 session, for EvccSession.

After SessionSetup: AuthorizationSetup, Authorization (EIM; or Plug & Charge over TLS when
the EV wants it, has an ``EvccConfig.pnc`` and the EVSE offers it, with
CertificateInstallation first when it has no valid contract: :mod:`.pnc_iso20`),
ServiceDiscovery, ServiceDetail
of the energy service it wants (DC or AC, their BPT variants when the EV can feed back and
the EVSE offers it), ServiceSelection of the parameter set with the control mode it wants,
ChargeParameterDiscovery, ScheduleExchange (repeated while Ongoing), for DC CableCheck and
PreCharge (the EV says Finished in its last PreChargeReq), PowerDelivery(Start), the charge
loop, PowerDelivery(Stop), for DC WeldingDetection, SessionStop. In the loop it answers the
EVSE's notifications: Terminate stops, ScheduleRenegotiation renegotiates the schedule,
ServiceRenegotiation goes back to ServiceDiscovery through SessionStop(ServiceRenegotiation),
Pause pauses, MeteringConfirmation confirms the meter reading.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from iso15118.session.core import Step
from iso15118.session.events import (
    ChargeLoopStatus,
    ChargingStarted,
    ChargingStopped,
    EVSENotified,
    EVSEParametersReceived,
    Outcome,
)
from iso15118.session.iso20_base import Iso20Base
from iso15118.session.values import (
    ControlMode,
    EnergyService,
    Notification,
    Payment,
    Processing,
    Progress,
    StopKind,
)

if TYPE_CHECKING:
    from iso15118.session.evcc import EvccSession

__all__ = ["advance_iso20"]


def advance_iso20(evcc: EvccSession, step: Step, done: str, extras: dict[str, Any],
                  message: Any, now: float) -> Step:
    """The next request after ``done`` completed OK (the Ongoing repeats are handled by the
    caller)."""
    ev, evse = evcc.ev, evcc.evse
    if done == "SessionSetup":
        return evcc._now(step, "AuthorizationSetup", now)
    if done == "AuthorizationSetup":
        pnc = evcc.config.pnc
        if ev.payment is Payment.PNC and Payment.PNC in evse.auth_services and evcc.tls \
                and pnc is not None:
            first = pnc.first_step(evcc)
            # without a contract and no way to get one, PnC is over before it began: EIM
            if first == "CertificateInstallation" or pnc.contract_key is not None:
                evcc.payment = Payment.PNC
                return evcc._now(step, first, now)
        if Payment.EIM not in evse.auth_services:
            return evcc._end(step, now, Outcome.FAILED, "the EVSE offers no EIM authorization")
        evcc.payment = Payment.EIM
        return evcc._now(step, "Authorization", now)
    if done == "CertificateInstallation":
        failure = evcc.config.pnc.install(evcc, done, message)
        if failure:
            return evcc._end(step, now, Outcome.FAILED, failure)
        return evcc._now(step, "Authorization", now)
    if done == "Authorization":
        return evcc._now(step, "ServiceDiscovery", now)
    if done == "ServiceDiscovery":
        wanted = _wanted_service(evcc)
        if wanted is None:
            return evcc._end(step, now, Outcome.FAILED,
                             f"the EVSE does not offer {'DC' if ev.energy_mode.is_dc else 'AC'}")
        evcc.detail_service_id = int(wanted)
        evcc.selected_service20 = (wanted, 0)
        return evcc._now(step, "ServiceDetail", now)
    if done == "ServiceDetail":
        service, _ = evcc.selected_service20 or (EnergyService.DC, 0)
        choice = _parameter_set(evcc, service)
        if choice is None:
            return evcc._end(step, now, Outcome.FAILED, "no parameter set with a control mode")
        set_id, mode = choice
        evcc.selected_service20, evcc.control_mode = (service, set_id), mode
        return evcc._now(step, "ServiceSelection", now)
    if done == "ServiceSelection":
        return evcc._now(step, "ChargeParameterDiscovery", now)
    if done == "ChargeParameterDiscovery":
        return evcc._now(step, "ScheduleExchange", now)
    if done == "ScheduleExchange":
        if evcc.schedule_id not in {s.schedule_id for s in evse.schedules}:
            evcc.schedule_id = evse.schedules[0].schedule_id if evse.schedules else None
        step.events.append(EVSEParametersReceived(now, _copy(evse), evcc.schedule_id))
        evcc.progress = Progress.START
        # after a schedule renegotiation the cable is still checked (rules_iso20)
        if not ev.energy_mode.is_dc or evcc.renegotiating:
            return evcc._now(step, "PowerDelivery", now)
        return evcc._now(step, "CableCheck", now)
    if done == "CableCheck":
        evcc.ev_processing = Processing.ONGOING
        return evcc._now(step, "PreCharge", now)
    if done == "PreCharge":
        if evcc.ev_processing is Processing.FINISHED:  # our last PreChargeReq was answered
            evcc.timers.cancel("evcc_pre_charge")
            evcc.progress = Progress.START
            return evcc._now(step, "PowerDelivery", now)
        present = evse.present_voltage or 0.0
        if abs(present - evcc.target_voltage) <= evcc.config.precharge_tolerance:
            evcc.ev_processing = Processing.FINISHED
            return evcc._now(step, "PreCharge", now)
        return evcc._later(step, "PreCharge", now, evcc.config.ongoing_interval)
    if done == "PowerDelivery":
        return _power_delivered(evcc, step, now)
    if done == "ChargeLoop":
        return _loop(evcc, step, now)
    if done == "MeteringConfirmation":
        return _loop_next(evcc, step, now)
    if done == "WeldingDetection":
        evcc._welding += 1
        if evcc.ev_processing is Processing.FINISHED:
            return evcc._now(step, "SessionStop", now)
        voltage = evse.present_voltage or 0.0
        if voltage <= evcc.config.welding_voltage or \
                evcc._welding >= evcc.config.welding_max_requests:
            evcc.ev_processing = Processing.FINISHED
            return evcc._now(step, "WeldingDetection", now)
        return evcc._later(step, "WeldingDetection", now, evcc.config.ongoing_interval)
    if done == "SessionStop":
        if evcc.stop_kind is StopKind.SERVICE_RENEGOTIATION:
            evcc.stop_kind = StopKind.TERMINATE
            evcc.renegotiating = False
            return evcc._now(step, "ServiceDiscovery", now)
        if evcc.stop_kind is StopKind.PAUSE:
            return evcc._end(step, now, Outcome.PAUSED, "paused", None)
        return evcc._end(step, now, Outcome.COMPLETED, "SessionStop")
    raise AssertionError(done)  # pragma: no cover


def _wanted_service(evcc: EvccSession) -> EnergyService | None:
    ev, offered = evcc.ev, evcc.evse.energy_services
    dc = ev.energy_mode.is_dc
    plain = EnergyService.DC if dc else EnergyService.AC
    bpt = EnergyService.DC_BPT if dc else EnergyService.AC_BPT
    if ev.bidirectional and bpt in offered:
        return bpt
    return plain if plain in offered else None


def _parameter_set(evcc: EvccSession, service: EnergyService) -> tuple[int, ControlMode] | None:
    sets = evcc.evse.parameter_sets.get(int(service), ())
    found: list[tuple[int, ControlMode]] = []
    for set_id, params in sets:
        mode = Iso20Base.control_mode_of(params)
        if mode is not None:
            found.append((set_id, mode))
    for set_id, mode in found:
        if mode is evcc.ev.control_mode:
            return set_id, mode
    return found[0] if found else None


def _power_delivered(evcc: EvccSession, step: Step, now: float) -> Step:
    if evcc.progress is Progress.START:
        evcc.renegotiating = False
        evcc.charging_since = now
        step.events.append(ChargingStarted(now))
        return evcc._now(step, "ChargeLoop", now)
    step.events.append(ChargingStopped(now, evcc.progress.value))
    if evcc.progress is Progress.RENEGOTIATE:
        evcc.renegotiating = True
        return evcc._now(step, "ScheduleExchange", now)
    if evcc.progress is Progress.STANDBY:
        return evcc._now(step, "ChargeLoop", now)
    if evcc.stop_kind is StopKind.SERVICE_RENEGOTIATION:
        return evcc._now(step, "SessionStop", now)
    if evcc.ev.energy_mode.is_dc and evcc.config.welding_detection:
        evcc._welding = 0
        evcc.ev_processing = Processing.ONGOING
        return evcc._now(step, "WeldingDetection", now)
    return evcc._now(step, "SessionStop", now)


def _loop(evcc: EvccSession, step: Step, now: float) -> Step:
    evse = evcc.evse
    evcc.loops += 1
    dc = evcc.ev.energy_mode.is_dc
    requested = evcc.target_current if dc else None
    power = (evse.present_voltage or 0.0) * (evse.present_current or 0.0) if dc \
        else evcc.ac_power
    step.events.append(ChargeLoopStatus(now, evse.present_voltage, evse.present_current,
                                        requested, _copy(evse), power))
    if evse.notification is not Notification.NONE:
        step.events.append(EVSENotified(now, evse.notification, evse.notification_max_delay))
    if evse.notification is Notification.METERING_CONFIRMATION:
        evse.notification = Notification.NONE
        return evcc._now(step, "MeteringConfirmation", now)
    return _loop_next(evcc, step, now)


def _loop_next(evcc: EvccSession, step: Step, now: float) -> Step:
    """The turn of the -20 charge loop: go on, or stop, pause, renegotiate."""
    evse, cfg = evcc.evse, evcc.config
    stop: StopKind | None = evcc._stop_wish
    reason = "requested"
    if evse.notification is Notification.STOP_CHARGING:
        stop, reason = StopKind.TERMINATE, "the EVSE asked to stop"
    elif evse.notification is Notification.PAUSE:
        stop, reason = StopKind.PAUSE, "the EVSE asked to pause"
    elif evse.notification is Notification.SERVICE_RENEGOTIATION:
        stop, reason = StopKind.SERVICE_RENEGOTIATION, "the EVSE renegotiates the service"
    elif cfg.pause_after is not None and evcc.loops >= cfg.pause_after:
        stop = StopKind.PAUSE
    elif cfg.loops is not None and evcc.loops >= cfg.loops:
        stop = StopKind.TERMINATE
    elif evcc.ev.charging_complete:
        stop = StopKind.TERMINATE
    if stop is not None:
        evcc._stop_wish = None
        evcc.stop_kind, evcc.stop_reason, evcc.progress = stop, reason, Progress.STOP
        evse.notification = Notification.NONE
        return evcc._now(step, "PowerDelivery", now)
    if evcc.progress is Progress.STANDBY:
        if evse.notification is Notification.EXIT_STANDBY or evcc._standby_wish is False or (
                cfg.standby_loops is not None
                and evcc.loops - evcc._standby_since >= cfg.standby_loops):
            evcc._standby_wish = None
            evse.notification = Notification.NONE
            evcc.progress = Progress.START
            return evcc._now(step, "PowerDelivery", now)
        return evcc._later(step, "ChargeLoop", now, cfg.loop_interval)
    if evse.notification is Notification.EXIT_STANDBY:
        evse.notification = Notification.NONE  # not in standby: nothing to leave
    if evcc._standby_wish or (cfg.standby_after is not None and evcc.loops >= cfg.standby_after
                              and not evcc._stood_by):
        evcc._standby_wish, evcc._stood_by, evcc._standby_since = None, True, evcc.loops
        evcc.progress = Progress.STANDBY
        return evcc._now(step, "PowerDelivery", now)
    renegotiate = evcc._renegotiate_wish or evse.notification is Notification.RENEGOTIATION \
        or (cfg.renegotiate_after is not None and evcc.loops >= cfg.renegotiate_after
            and not evcc._renegotiated)
    if renegotiate:
        evcc._renegotiate_wish, evcc._renegotiated = False, True
        evse.notification = Notification.NONE
        evcc.progress = Progress.RENEGOTIATE
        return evcc._now(step, "PowerDelivery", now)
    return evcc._later(step, "ChargeLoop", now, cfg.loop_interval)


def _copy(evse: Any) -> Any:
    from dataclasses import replace

    return replace(evse)

