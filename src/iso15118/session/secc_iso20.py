"""The charger's handling of the requests ISO 15118-20 adds (or changes), for SeccSession.

AuthorizationSetup (the services offered, a GenChallenge for PnC), Authorization (the
service the EV chose must be one offered; PnC's checks are :mod:`.pnc_iso20`'s, reached
through ``SeccConfig.pnc`` as for -2), CertificateInstallation (Ongoing until the
certificate backend answers), ServiceSelection (an
energy service and the parameter set, which fixes the control mode), ChargeParameterDiscovery
without Ongoing (-20 has none there), ScheduleExchange (Ongoing until the schedules are
ready, as -2's ChargeParameterDiscovery was), the charge loop, MeteringConfirmation, and
PowerDelivery with the EV's own EVProcessing, Standby and ScheduleRenegotiation.
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, Any

from iso15118.session.core import Step
from iso15118.session.events import (
    ChargeLoop,
    ChargeParametersReceived,
    PowerDeliveryRequested,
)
from iso15118.session.values import Payment, Processing, Progress

if TYPE_CHECKING:
    from iso15118.session.secc import SeccSession

__all__ = ["handle_iso20"]


def handle_iso20(secc: SeccSession, name: str, extras: dict[str, Any], message: Any,
                 step: Step, now: float) -> str | None:
    """The response code of a -20 request, or None when the shared handling applies."""
    ev, evse = secc.ev, secc.evse
    if name == "AuthorizationSetup":
        if Payment.PNC in secc._payment_options():
            secc.gen_challenge = secrets.token_bytes(16)
        return "OK"
    if name == "Authorization":
        payment = extras.get("payment", Payment.EIM)
        if payment not in secc._payment_options():
            return "FAILED_AuthorizationSelectionInvalid"
        # [V2G20-1582] (as Josev quotes it): while Ongoing the EV repeats the request
        # unaltered but for its header, so what was checked is what gets authorized. The
        # request is in sequence, just not the same: plain FAILED (assumed; no code fits)
        asked = (payment, extras.get("gen_challenge"), ev.contract_chain)
        if "Authorization" in secc._asked and asked != secc.authorization_request:
            return "FAILED"
        secc.authorization_request = asked
        ev.payment = payment
        return None  # the shared handling: checks, AuthorizationRequested, Ongoing
    if name == "CertificateInstallation":
        if secc.config.pnc is None or Payment.PNC not in secc._payment_options():
            return "FAILED_NoCertificateAvailable"
        code: str = secc.config.pnc.handle(secc, name, extras, message, step, now)
        return code
    if name == "ServiceDetail":
        known = {int(s) for s in evse.energy_services()} | {s.service_id for s in evse.services}
        return "OK" if extras.get("service_id") in known else "FAILED_ServiceIDInvalid"
    if name == "ServiceSelection":
        if ev.energy_service not in evse.energy_services():
            return "FAILED_ServiceSelectionInvalid"
        set_id = ev.parameter_set_id or 0
        if not 1 <= set_id <= len(evse.control_modes):
            return "FAILED_ServiceSelectionInvalid"
        ev.control_mode = evse.control_modes[set_id - 1]
        return "OK"
    if name == "ChargeParameterDiscovery":
        service = ev.energy_service
        if service is None or service.is_dc != bool(extras.get("dc_parameters")):
            return "FAILED_WrongChargeParameter"
        return "OK"
    if name == "ScheduleExchange":
        if "ScheduleExchange" not in secc._asked:
            secc._asked.add("ScheduleExchange")
            if ev.energy_mode is not None:
                step.events.append(ChargeParametersReceived(now, ev.energy_mode, _copy(secc),
                                                            secc.renegotiating))
        if extras.get("control_mode") is not ev.control_mode:
            return "FAILED_WrongChargeParameter"
        processing = secc._decided("ScheduleExchange", secc.schedules_ready, now)
        extras["processing"] = processing or Processing.FINISHED
        return "OK" if processing is not None else "FAILED"
    if name == "PowerDelivery":
        if extras.get("ev_processing") is Processing.ONGOING:
            extras["ongoing"] = True  # the EV is not ready yet: it will ask again
            return "OK"
        progress: Progress = extras["progress"]
        step.events.append(PowerDeliveryRequested(now, progress, extras.get("schedule_id")))
        return "OK"
    if name == "ChargeLoop":
        step.events.append(ChargeLoop(now, ev.target_voltage, ev.target_current, ev.soc,
                                      ev.charging_complete))
        return "OK"
    if name == "MeteringConfirmation":  # signed with the contract key in PnC, as -2's
        return secc._metering_receipt(extras, message, step, now)  # MeteringReceipt
    return None


def _copy(secc: SeccSession) -> Any:
    from dataclasses import replace

    return replace(secc.ev)
