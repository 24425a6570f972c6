"""Whole ISO 15118-20 sessions, SECC against EVCC, on a virtual clock (EIM).

Every combination of {AC, DC, AC_BPT, DC_BPT} x {Scheduled, Dynamic} completes, with the
messages in the namespaces and order -20 has; in dynamic BPT the "grid" asks for power back
mid-loop and the power turns negative; schedule renegotiation, service renegotiation, pause
and resume, and the EVSE's notifications are each a test.
"""

from __future__ import annotations

from collections import Counter

import pytest
from session_harness import simulate

from iso15118.messages import iso20_ac, iso20_common, iso20_dc
from iso15118.session import (
    EnergyMode,
    EvccConfig,
    EVSEState,
    EVState,
    Notification,
    Outcome,
    PausedSessions,
    SeccConfig,
)
from iso15118.session.events import ChargeLoop, ChargeLoopStatus, MessageSent
from iso15118.session.simulation import ChargerBehaviour
from iso15118.session.values import ControlMode, EnergyService, Schedule, ScheduleEntry

SERVICES = {
    EnergyService.DC: (EnergyMode.DC_extended, False),
    EnergyService.AC: (EnergyMode.AC_three_phase_core, False),
    EnergyService.DC_BPT: (EnergyMode.DC_extended, True),
    EnergyService.AC_BPT: (EnergyMode.AC_three_phase_core, True),
}
COMMON = ["supportedAppProtocolReq", "supportedAppProtocolRes", "SessionSetupReq",
          "SessionSetupRes", "AuthorizationSetupReq", "AuthorizationSetupRes",
          "AuthorizationReq", "AuthorizationRes", "ServiceDiscoveryReq", "ServiceDiscoveryRes",
          "ServiceDetailReq", "ServiceDetailRes", "ServiceSelectionReq", "ServiceSelectionRes"]


def _dedupe(names: list[str]) -> list[str]:
    out: list[str] = []
    for i in range(0, len(names), 2):
        pair = names[i:i + 2]
        if out[-2:] != pair:
            out.extend(pair)
    return out


def run20(service: EnergyService, control: ControlMode, *, loops: int = 6,
          grid_after: float | None = None, evse: EVSEState | None = None,
          on_secc=None, paused: PausedSessions | None = None,  # type: ignore[no-untyped-def]
          **config):  # type: ignore[no-untyped-def]
    mode, bidirectional = SERVICES[service]
    ev = EVState(energy_mode=mode, control_mode=control, bidirectional=bidirectional, soc=60)
    if not mode.is_dc:
        ev.max_current, ev.max_voltage, ev.max_power = 32.0, 400.0, 22_000.0
    evse = evse or EVSEState(energy_modes=(EnergyMode.DC_extended,
                                           EnergyMode.AC_three_phase_core),
                             bidirectional=bidirectional)
    return simulate("iso20", mode, ev=ev, evse=evse, paused=paused,
                    behaviour=ChargerBehaviour(cable_check_s=0.5, grid_request_after_s=grid_after),
                    secc_config=SeccConfig(protocols=("iso20", "iso2", "din")),
                    evcc_config=EvccConfig(protocols=("iso20",), loops=loops, loop_interval=0.1,
                                           **config),
                    on_secc=on_secc)


@pytest.mark.parametrize("control", list(ControlMode))
@pytest.mark.parametrize("service", list(SERVICES))
def test_every_service_and_control_mode_completes(service: EnergyService,
                                                  control: ControlMode) -> None:
    run = run20(service, control)
    assert run.secc.ended is not None and run.secc.ended.outcome is Outcome.COMPLETED
    assert run.evcc.ended is not None and run.evcc.ended.outcome is Outcome.COMPLETED
    names = _dedupe(run.names("evcc"))
    assert names[:len(COMMON)] == COMMON
    prefix = "DC_" if service.is_dc else "AC_"
    rest = ["ChargeParameterDiscoveryReq", "ChargeParameterDiscoveryRes", "ScheduleExchangeReq",
            "ScheduleExchangeRes"]
    assert names[len(COMMON):len(COMMON) + 4] == [
        prefix + n if n.startswith("Charge") else n for n in rest]
    assert Counter(run.names("evcc"))[f"{prefix}ChargeLoopReq"] == 6
    assert run.names("evcc")[-2:] == ["SessionStopReq", "SessionStopRes"]
    # the selection names the service and the parameter set of the control mode
    selection = next(b for b in run.sent("evcc")
                     if isinstance(b, iso20_common.ServiceSelectionReqType))
    assert selection.selected_energy_transfer_service.service_id == int(service)
    assert run.secc.ev.control_mode is control
    assert run.vehicle.energy_wh > 0


@pytest.mark.parametrize("service", [EnergyService.DC_BPT, EnergyService.AC_BPT])
def test_dynamic_bpt_discharges_when_the_grid_asks(service: EnergyService) -> None:
    run = run20(service, ControlMode.DYNAMIC, loops=20, grid_after=1.0)
    assert run.evcc.ended is not None and run.evcc.ended.outcome is Outcome.COMPLETED
    powers = [e.power for e in run.events("evcc", ChargeLoopStatus)]
    assert max(powers) > 5_000 and min(powers) < -5_000  # charged, then fed back
    assert powers.index(min(powers)) > powers.index(max(powers))
    if service.is_dc:  # the charger's present current turned negative on the wire
        loop = [b for b in run.sent("secc") if isinstance(b, iso20_dc.DC_ChargeLoopResType)]
        assert float(loop[-1].evse_present_current) < 0
        assert isinstance(loop[-1].cl_res_control_mode,
                          iso20_dc.BPT_Dynamic_DC_CLResControlModeType)
    else:
        loop = [b for b in run.sent("secc") if isinstance(b, iso20_ac.AC_ChargeLoopResType)]
        assert float(loop[-1].cl_res_control_mode.evse_target_active_power) < 0


def test_schedule_renegotiation_started_by_the_ev() -> None:
    run = run20(EnergyService.DC, ControlMode.SCHEDULED, loops=6, renegotiate_after=2)
    assert run.evcc.ended is not None and run.evcc.ended.outcome is Outcome.COMPLETED
    progress = [b.charge_progress.value for b in run.sent("evcc")
                if isinstance(b, iso20_common.PowerDeliveryReqType)]
    assert progress == ["Start", "ScheduleRenegotiation", "Start", "Stop"]
    names = _dedupe(run.names("evcc"))
    i = names.index("PowerDeliveryReq", names.index("PowerDeliveryReq") + 2)
    assert names[i + 2:i + 6] == ["ScheduleExchangeReq", "ScheduleExchangeRes",
                                  "PowerDeliveryReq", "PowerDeliveryRes"]


def test_each_schedule_carries_a_price_schedule() -> None:
    """Without a tariff the SECC sends one flat price level over the power schedule (some
    EVs reject a tuple without a price); a tariff given as -20's AbsolutePriceSchedule goes
    out as it is and reaches the EV's view of the schedule."""
    flat = run20(EnergyService.DC, ControlMode.SCHEDULED, loops=2)
    tuple_ = flat.evcc.evse.schedules[0]
    assert isinstance(tuple_.sales_tariff, iso20_common.PriceLevelScheduleType)
    assert tuple_.sales_tariff.number_of_price_levels == 1
    [entry] = tuple_.sales_tariff.price_level_schedule_entries.price_level_schedule_entry
    assert entry.duration == sum(e.duration or 0 for e in tuple_.entries) == 86_400

    tariff = iso20_common.AbsolutePriceScheduleType(
        time_anchor=0, price_schedule_id=7, currency="EUR", language="ENG",
        price_algorithm="urn:iso:std:iso:15118:-20:PriceAlgorithm:1-Power",
        price_rule_stacks=iso20_common.PriceRuleStackListType(price_rule_stack=[
            iso20_common.PriceRuleStackType(duration=0, price_rule=[
                iso20_common.PriceRuleType(
                    energy_fee=iso20_common.RationalNumberType(exponent=-2, value=39),
                    power_range_start=iso20_common.RationalNumberType(exponent=0,
                                                                      value=0))])]))
    evse = EVSEState(energy_modes=(EnergyMode.DC_extended,), schedules=[
        Schedule(3, (ScheduleEntry(0, 40_000.0, 3_600),), tariff)])
    priced = run20(EnergyService.DC, ControlMode.SCHEDULED, loops=2, evse=evse)
    assert priced.evcc.ended is not None and priced.evcc.ended.outcome is Outcome.COMPLETED
    [seen] = priced.evcc.evse.schedules
    assert seen.schedule_id == 3 and seen.entries[0].max_power == 40_000.0
    assert isinstance(seen.sales_tariff, iso20_common.AbsolutePriceScheduleType)
    assert seen.sales_tariff.price_schedule_id == 7
    fee = seen.sales_tariff.price_rule_stacks.price_rule_stack[0].price_rule[0].energy_fee
    assert (fee.exponent, fee.value) == (-2, 39)


@pytest.mark.parametrize(("notification", "expect"), [
    (Notification.STOP_CHARGING, "Terminate"),
    (Notification.RENEGOTIATION, "ScheduleRenegotiation"),
    (Notification.PAUSE, "Pause"),
    (Notification.SERVICE_RENEGOTIATION, "ServiceRenegotiation"),
])
def test_the_ev_answers_the_evses_notifications(notification: Notification, expect: str) -> None:
    asked: list[float] = []

    def ask(secc, event, now):  # type: ignore[no-untyped-def]
        if isinstance(event, ChargeLoop) and not asked:
            asked.append(now)
            secc.notification = notification

    run = run20(EnergyService.DC, ControlMode.DYNAMIC, loops=8, on_secc=ask)
    statuses = [b.evse_status for b in run.sent("secc")
                if isinstance(b, iso20_dc.DC_ChargeLoopResType) and b.evse_status is not None]
    assert statuses and statuses[0].evse_notification.value == expect
    sent = run.sent("evcc")
    if notification is Notification.RENEGOTIATION:
        assert any(isinstance(b, iso20_common.PowerDeliveryReqType)
                   and b.charge_progress.value == "ScheduleRenegotiation" for b in sent)
        assert run.evcc.ended is not None and run.evcc.ended.outcome is Outcome.COMPLETED
        return
    stops = [b.charging_session.value for b in sent
             if isinstance(b, iso20_common.SessionStopReqType)]
    if notification is Notification.SERVICE_RENEGOTIATION:
        # the session goes on from ServiceDiscovery and ends normally
        assert stops == ["ServiceRenegotiation", "Terminate"]
        assert Counter(run.names("evcc"))["ServiceDiscoveryReq"] == 2
        assert run.evcc.ended is not None and run.evcc.ended.outcome is Outcome.COMPLETED
    elif notification is Notification.PAUSE:
        assert stops == ["Pause"]
        assert run.evcc.ended is not None and run.evcc.ended.outcome is Outcome.PAUSED
    else:
        assert stops == ["Terminate"]
        assert run.evcc.stop_reason == "the EVSE asked to stop"


def test_pause_and_resume_with_the_old_session_id() -> None:
    paused = PausedSessions()
    first = run20(EnergyService.DC, ControlMode.SCHEDULED, pause_after=2, paused=paused)
    assert first.evcc.ended is not None and first.evcc.ended.outcome is Outcome.PAUSED
    sid = first.evcc.ended.session_id
    second = run20(EnergyService.DC, ControlMode.SCHEDULED, loops=2, paused=paused,
                   resume_session_id=sid)
    setup = next(b for b in second.sent("secc") if isinstance(b, iso20_common.SessionSetupResType))
    assert setup.response_code is iso20_common.ResponseCodeType.OK_OldSessionJoined
    assert second.evcc.ended is not None and second.evcc.ended.outcome is Outcome.COMPLETED


def test_messages_travel_in_their_namespaces_payload_types() -> None:
    types: dict[str, set[int]] = {}

    def drop(side, out):  # type: ignore[no-untyped-def]
        body = out.message
        module = type(body).__module__.rsplit(".", 1)[-1]
        types.setdefault(module, set()).add(out.payload_type)
        return False

    simulate("iso20", EnergyMode.DC_extended,
             ev=EVState(energy_mode=EnergyMode.DC_extended),
             secc_config=SeccConfig(protocols=("iso20",)),
             evcc_config=EvccConfig(protocols=("iso20",), loops=1), drop=drop)
    assert types == {"apphand": {0x8001}, "iso20_common": {0x8002}, "iso20_dc": {0x8004}}


def test_the_charge_loop_notices_a_silent_ev_within_half_a_second() -> None:
    seen: list[object] = []

    def silent_after_the_first_loop(side, out):  # type: ignore[no-untyped-def]
        if side == "evcc" and isinstance(out.message, iso20_dc.DC_ChargeLoopReqType):
            seen.append(out)
            return len(seen) > 1
        return False

    run = simulate("iso20", EnergyMode.DC_extended, ev=EVState(energy_mode=EnergyMode.DC_extended),
                   secc_config=SeccConfig(protocols=("iso20",)),
                   evcc_config=EvccConfig(protocols=("iso20",), loops=5),
                   drop=silent_after_the_first_loop)
    ended = run.secc.ended
    assert ended is not None and ended.reason.startswith("secc_sequence timer expired (0.5 s)")
    last = max(e.time for e in run.result.secc_events if isinstance(e, MessageSent))
    assert ended.time == pytest.approx(last + 0.5)


def _progress(run) -> list[str]:  # type: ignore[no-untyped-def]
    return [b.charge_progress.value for b in run.sent("evcc")
            if isinstance(b, iso20_common.PowerDeliveryReqType)]


def _loop_currents(run) -> list[float]:  # type: ignore[no-untyped-def]
    """The EVSE's present current in each DC_ChargeLoopRes, in order."""
    return [float(b.evse_present_current) for b in run.sent("secc")
            if isinstance(b, iso20_dc.DC_ChargeLoopResType)]


@pytest.mark.parametrize("service", [EnergyService.DC, EnergyService.AC])
def test_standby_until_the_evse_says_exit_standby(service: EnergyService) -> None:
    """PowerDelivery(Standby) keeps the loop going at no power; the EVSE's ExitStandby
    notification brings the EV back with PowerDelivery(Start) and the session completes."""
    in_standby: list[float] = []

    def wake(secc, event, now):  # type: ignore[no-untyped-def]
        if not isinstance(event, ChargeLoop) or secc.charging:
            return
        in_standby.append(now)
        if len(in_standby) == 20:  # 2 s of standby at 0.1 s a loop
            secc.notification = Notification.EXIT_STANDBY

    run = run20(service, ControlMode.DYNAMIC, loops=30, standby_after=3, on_secc=wake)
    assert _progress(run) == ["Start", "Standby", "Start", "Stop"]
    # the notification goes out in the answer to the loop request after the one that set it
    assert len(in_standby) in (20, 21)
    assert run.evcc.ended is not None and run.evcc.ended.outcome is Outcome.COMPLETED
    assert run.secc.notification is None  # the notification was taken back once obeyed
    notes = [b.evse_status.evse_notification.value for b in run.sent("secc")
             if isinstance(b, (iso20_dc.DC_ChargeLoopResType, iso20_ac.AC_ChargeLoopResType))
             and b.evse_status is not None]
    assert notes == ["ExitStandby"]
    if service is EnergyService.DC:
        currents = _loop_currents(run)
        # charging before standby, none at the end of standby, charging again after it
        assert currents[2] > 0
        standby = len(in_standby)
        assert currents[2 + standby - 1] == pytest.approx(0.0, abs=0.5)
        assert max(currents[2 + standby:]) > 0


def test_standby_ends_after_standby_loops_or_when_the_application_says() -> None:
    run = run20(EnergyService.DC, ControlMode.SCHEDULED, loops=12, standby_after=2,
                standby_loops=4)
    assert _progress(run) == ["Start", "Standby", "Start", "Stop"]
    assert run.evcc.ended is not None and run.evcc.ended.outcome is Outcome.COMPLETED

    def toggle(evcc, event, now):  # type: ignore[no-untyped-def]
        if isinstance(event, ChargeLoopStatus):
            if evcc.loops == 2:
                evcc.request_standby()
            elif evcc.loops == 5:
                evcc.request_standby(False)

    run = simulate("iso20", EnergyMode.DC_extended,
                   ev=EVState(energy_mode=EnergyMode.DC_extended),
                   secc_config=SeccConfig(protocols=("iso20",)),
                   evcc_config=EvccConfig(protocols=("iso20",), loops=8), on_evcc=toggle)
    assert _progress(run) == ["Start", "Standby", "Start", "Stop"]
    assert run.evcc.ended is not None and run.evcc.ended.outcome is Outcome.COMPLETED


def test_exit_standby_outside_standby_changes_nothing() -> None:
    def early(secc, event, now):  # type: ignore[no-untyped-def]
        if isinstance(event, ChargeLoop) and secc.notification is None and now < 100:
            secc.notification = Notification.EXIT_STANDBY

    run = run20(EnergyService.DC, ControlMode.DYNAMIC, loops=4, on_secc=early)
    assert _progress(run) == ["Start", "Stop"]
    assert run.evcc.ended is not None and run.evcc.ended.outcome is Outcome.COMPLETED
    # and the charger does not send it to a vehicle that is not in standby
    loops = [b for b in run.sent("secc") if isinstance(b, iso20_dc.DC_ChargeLoopResType)]
    assert len(loops) >= 4
    assert all(b.evse_status is None or b.evse_status.evse_notification.value == "None"
               for b in loops)


def test_metering_confirmation_when_the_evse_asks() -> None:
    asked: list[float] = []

    def ask(secc, event, now):  # type: ignore[no-untyped-def]
        if isinstance(event, ChargeLoop) and not asked:
            asked.append(now)
            secc.notification = Notification.METERING_CONFIRMATION

    run = run20(EnergyService.DC, ControlMode.SCHEDULED, loops=5, on_secc=ask)
    names = run.names("evcc")
    assert names.count("MeteringConfirmationReq") == 1
    first = names.index("MeteringConfirmationReq")
    assert "DC_ChargeLoopReq" in names[first + 1:]  # the loop goes on afterwards
    req = next(b for b in run.sent("evcc")
               if isinstance(b, iso20_common.MeteringConfirmationReqType))
    assert req.signed_metering_data.session_id == run.evcc.session_id
    assert run.evcc.ended is not None and run.evcc.ended.outcome is Outcome.COMPLETED
