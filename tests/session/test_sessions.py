"""Whole sessions, SECC against EVCC, on a virtual clock: what a charger and a car do.

Each test asserts on what went over the wire (the decoded messages both sides logged)
and on the session's end, for DIN 70121 and ISO 15118-2 (DC and AC), pause and resume,
renegotiation from either side, the EVSE's stop notification and status codes, and the
EV staying within the EVSE's limits.
"""

from __future__ import annotations

from collections import Counter

import pytest
from session_harness import FIXED_ID, simulate

from iso15118.messages import din, iso2
from iso15118.session import (
    DCLimits,
    EnergyMode,
    EvccConfig,
    EVSEState,
    EVSEStatusCode,
    EVState,
    Notification,
    Outcome,
    PausedSessions,
    Schedule,
    ScheduleEntry,
)
from iso15118.session.events import (
    ChargeLoop,
    ChargeLoopStatus,
    EVSENotified,
    PowerDeliveryRequested,
    SessionStarted,
)
from iso15118.session.simulation import ChargerBehaviour
from iso15118.session.values import Progress

DC_ISO2 = ["supportedAppProtocolReq", "supportedAppProtocolRes",
           "SessionSetupReq", "SessionSetupRes", "ServiceDiscoveryReq", "ServiceDiscoveryRes",
           "PaymentServiceSelectionReq", "PaymentServiceSelectionRes",
           "AuthorizationReq", "AuthorizationRes",
           "ChargeParameterDiscoveryReq", "ChargeParameterDiscoveryRes"]


def _dedupe(names: list[str]) -> list[str]:
    """The message sequence with repeated request/response pairs shown once."""
    out: list[str] = []
    for i in range(0, len(names), 2):
        pair = names[i:i + 2]
        if out[-2:] != pair:
            out.extend(pair)
    return out


@pytest.mark.parametrize("protocol", ["iso2", "din"])
def test_dc_session_completes_in_the_standard_order(protocol: str) -> None:
    run = simulate(protocol)
    assert run.secc.ended is not None and run.secc.ended.outcome is Outcome.COMPLETED
    assert run.evcc.ended is not None and run.evcc.ended.outcome is Outcome.COMPLETED
    names = _dedupe(run.names("evcc"))
    if protocol == "din":
        expected = [n.replace("PaymentServiceSelection", "ServicePaymentSelection")
                    .replace("Authorization", "ContractAuthentication") for n in DC_ISO2]
    else:
        expected = DC_ISO2
    assert names[:len(expected)] == expected
    assert names[len(expected):] == [
        "CableCheckReq", "CableCheckRes", "PreChargeReq", "PreChargeRes",
        "PowerDeliveryReq", "PowerDeliveryRes", "CurrentDemandReq", "CurrentDemandRes",
        "PowerDeliveryReq", "PowerDeliveryRes", "WeldingDetectionReq", "WeldingDetectionRes",
        "SessionStopReq", "SessionStopRes"]
    assert Counter(run.names("evcc"))["CurrentDemandReq"] == 5
    # both sides logged the same messages in the same order
    assert run.names("evcc") == run.names("secc")


def test_ac_session_uses_charging_status_and_no_dc_phases() -> None:
    run = simulate("iso2", EnergyMode.AC_three_phase_core)
    assert run.evcc.ended is not None and run.evcc.ended.outcome is Outcome.COMPLETED
    names = _dedupe(run.names("evcc"))
    assert names[len(DC_ISO2):] == [
        "PowerDeliveryReq", "PowerDeliveryRes", "ChargingStatusReq", "ChargingStatusRes",
        "PowerDeliveryReq", "PowerDeliveryRes", "SessionStopReq", "SessionStopRes"]
    cpd = next(b for b in run.sent("secc") if isinstance(b, iso2.ChargeParameterDiscoveryResType))
    assert isinstance(cpd.evse_charge_parameter, iso2.AC_EVSEChargeParameterType)
    assert run.vehicle.energy_wh > 0


def test_din_vehicle_is_refused_ac() -> None:
    evse = EVSEState(energy_modes=(EnergyMode.AC_three_phase_core,))
    run = simulate("iso2", EnergyMode.DC_extended, evse=evse)
    assert run.evcc.ended is not None and run.evcc.ended.outcome is Outcome.FAILED
    assert "does not offer DC_extended" in run.evcc.ended.reason


def test_pause_then_resume_with_the_old_session_id() -> None:
    paused = PausedSessions()
    first = simulate("iso2", evcc_config=EvccConfig(protocols=("iso2",), pause_after=3),
                     paused=paused)
    assert first.evcc.ended is not None and first.evcc.ended.outcome is Outcome.PAUSED
    stop = first.sent("evcc")[-1]
    assert isinstance(stop, iso2.SessionStopReqType)
    assert stop.charging_session is iso2.ChargingSessionType.Pause
    session_id = first.evcc.ended.session_id
    assert session_id is not None and session_id in paused.sessions
    second = simulate("iso2", evcc_config=EvccConfig(protocols=("iso2",), loops=3,
                                                     resume_session_id=session_id),
                      paused=paused, start=100.0)
    setup = next(b for b in second.sent("secc") if isinstance(b, iso2.SessionSetupResType))
    assert setup.response_code is iso2.ResponseCodeType.OK_OldSessionJoined
    assert second.events("evcc", SessionStarted)[0].resumed
    assert second.evcc.session_id == session_id
    assert second.evcc.ended is not None and second.evcc.ended.outcome is Outcome.COMPLETED
    assert not paused.sessions  # taken on resume


def test_unknown_old_session_id_gets_a_new_session() -> None:
    run = simulate("iso2", evcc_config=EvccConfig(protocols=("iso2",), loops=2,
                                                  resume_session_id=bytes.fromhex("0102030405060708")))
    setup = next(b for b in run.sent("secc") if isinstance(b, iso2.SessionSetupResType))
    assert setup.response_code is iso2.ResponseCodeType.OK_NewSessionEstablished
    assert run.evcc.session_id != bytes.fromhex("0102030405060708")


@pytest.mark.parametrize("by", ["ev", "evse"])
def test_renegotiation_from_either_side(by: str) -> None:
    renegotiated = {"done": False}

    def evse_asks(secc, event, now):  # type: ignore[no-untyped-def]
        if isinstance(event, ChargeLoop) and not renegotiated["done"]:
            renegotiated["done"] = True
            secc.evse.schedules = [Schedule(2, (ScheduleEntry(0, 11_000.0, 3600),))]
            secc.request_renegotiation()

    cfg = EvccConfig(protocols=("iso2",), loops=8,
                     renegotiate_after=3 if by == "ev" else None)
    run = simulate("iso2", evcc_config=cfg, on_secc=evse_asks if by == "evse" else None)
    assert run.evcc.ended is not None and run.evcc.ended.outcome is Outcome.COMPLETED
    progress = [b.charge_progress for b in run.sent("evcc")
                if isinstance(b, iso2.PowerDeliveryReqType)]
    assert progress == [iso2.ChargeProgressType.Start, iso2.ChargeProgressType.Renegotiate,
                        iso2.ChargeProgressType.Start, iso2.ChargeProgressType.Stop]
    names = _dedupe(run.names("evcc"))
    i = names.index("ChargeParameterDiscoveryReq", len(DC_ISO2))
    # DC: after the renegotiating ChargeParameterDiscovery the cable is checked again
    assert names[i:i + 8] == ["ChargeParameterDiscoveryReq", "ChargeParameterDiscoveryRes",
                              "CableCheckReq", "CableCheckRes", "PreChargeReq", "PreChargeRes",
                              "PowerDeliveryReq", "PowerDeliveryRes"]
    if by == "evse":
        assert run.events("evcc", EVSENotified)[0].notification is Notification.RENEGOTIATION
        assert run.evcc.schedule_id == 2  # the new schedule was taken


def test_renegotiation_can_skip_the_second_cable_check() -> None:
    cfg = EvccConfig(protocols=("iso2",), loops=6, renegotiate_after=2,
                     skip_cable_check_on_renegotiation=True)
    run = simulate("iso2", evcc_config=cfg)
    assert run.evcc.ended is not None and run.evcc.ended.outcome is Outcome.COMPLETED
    names = _dedupe(run.names("evcc"))
    i = names.index("ChargeParameterDiscoveryReq", len(DC_ISO2))
    assert names[i + 2:i + 4] == ["PowerDeliveryReq", "PowerDeliveryRes"]
    assert Counter(run.names("evcc"))["CableCheckReq"] >= 1


@pytest.mark.parametrize("protocol", ["iso2", "din"])
def test_evse_stop_notification_ends_the_session(protocol: str) -> None:
    loops = []

    def stop_at_second_loop(secc, event, now):  # type: ignore[no-untyped-def]
        if isinstance(event, ChargeLoop):
            loops.append(now)
            if len(loops) == 2:
                secc.request_stop()  # shows in the status of the next response

    run = simulate(protocol, evcc_config=EvccConfig(protocols=(protocol,), loops=50),
                   on_secc=stop_at_second_loop)
    assert run.evcc.ended is not None and run.evcc.ended.outcome is Outcome.COMPLETED
    assert Counter(run.names("evcc"))["CurrentDemandReq"] == 3
    assert run.evcc.stop_reason == "the EVSE asked to stop"
    last = [b for b in run.sent("secc") if type(b).__name__ == "CurrentDemandResType"][-1]
    assert last.dc_evse_status.evse_notification.value == "StopCharging"


def test_emergency_shutdown_status_stops_the_ev() -> None:
    def shutdown(secc, event, now):  # type: ignore[no-untyped-def]
        if isinstance(event, ChargeLoop):
            secc.evse.status = EVSEStatusCode.EVSE_EmergencyShutdown

    run = simulate("iso2", evcc_config=EvccConfig(protocols=("iso2",), loops=50),
                   on_secc=shutdown)
    assert Counter(run.names("evcc"))["CurrentDemandReq"] == 2
    assert run.evcc.stop_reason == "EVSE status EVSE_EmergencyShutdown"
    power = [e.progress for e in run.events("secc", PowerDeliveryRequested)]
    assert power == [Progress.START, Progress.STOP]


def test_ev_never_asks_for_more_than_the_evse_allows() -> None:
    evse = EVSEState(dc=DCLimits(max_current=80.0, max_power=20_000.0, max_voltage=500.0),
                     schedules=[Schedule(1, (ScheduleEntry(0, 50_000.0, 1),
                                             ScheduleEntry(1, 10_000.0, 3600)))])
    ev = EVState(max_current=300.0, target_current=300.0, max_power=150_000.0, soc=20.0)
    run = simulate("iso2", evse=evse, ev=ev,
                   evcc_config=EvccConfig(protocols=("iso2",), loops=30, loop_interval=0.1))
    demands = [b for b in run.sent("evcc") if isinstance(b, iso2.CurrentDemandReqType)]
    assert len(demands) == 30
    for d in demands:
        current, voltage = float(d.ev_target_current), float(d.ev_target_voltage)
        assert current <= 80.0 + 1e-9
        assert current * voltage <= 20_000.0 * 1.001
    # the schedule's second interval (10 kW from 1 s after the start) is honoured too
    late = [float(d.ev_target_current) * float(d.ev_target_voltage) for d in demands[15:]]
    assert max(late) <= 10_000.0 * 1.001
    assert min(late) > 9_000.0


def test_ten_second_cable_check_is_timed_not_counted() -> None:
    run = simulate("iso2", behaviour=ChargerBehaviour(cable_check_s=10.0),
                   evcc_config=EvccConfig(protocols=("iso2",), loops=2, ongoing_interval=0.1))
    assert run.evcc.ended is not None and run.evcc.ended.outcome is Outcome.COMPLETED
    checks = [b for b in run.sent("secc") if isinstance(b, iso2.CableCheckResType)]
    assert len(checks) > 90  # about 100 Ongoing answers, well past 20
    assert checks[-1].evse_processing is iso2.EVSEProcessingType.Finished


def test_session_ids_are_random_and_never_zero() -> None:
    ids = {simulate("iso2", evcc_config=EvccConfig(protocols=("iso2",), loops=1)).evcc.session_id
           for _ in range(5)}
    assert len(ids) == 5
    draws = iter([bytes(8), bytes(8), FIXED_ID])  # a generator that first draws all-zero
    run = simulate("iso2", rng=lambda n: next(draws))
    assert run.evcc.session_id == FIXED_ID


def test_din_messages_are_din_on_the_wire() -> None:
    run = simulate("din")
    bodies = run.sent("secc")
    cpd = next(b for b in bodies if isinstance(b, din.ChargeParameterDiscoveryResType))
    assert cpd.sa_schedules is not None  # mandatory in DIN, even while Ongoing
    assert any(isinstance(b, din.CurrentDemandResType) for b in bodies)
    assert isinstance(run.sent("evcc")[-1], din.SessionStopType)


def test_a_paused_session_resumes_only_for_the_same_vehicle() -> None:
    paused = PausedSessions()
    first = simulate("iso2", evcc_config=EvccConfig(protocols=("iso2",), pause_after=2),
                     paused=paused)
    session_id = first.evcc.ended.session_id if first.evcc.ended else None
    assert session_id is not None
    other = EVState(evcc_id=bytes.fromhex("0a0b0c0d0e0f"))
    second = simulate("iso2", ev=other, paused=paused, start=50.0,
                      evcc_config=EvccConfig(protocols=("iso2",), loops=1,
                                             resume_session_id=session_id))
    setup = next(b for b in second.sent("secc") if isinstance(b, iso2.SessionSetupResType))
    assert setup.response_code is iso2.ResponseCodeType.OK_NewSessionEstablished
    assert second.evcc.session_id != session_id


def test_the_paused_store_is_bounded() -> None:
    from iso15118.session.secc import PausedSession

    store = PausedSessions(limit=3)
    for i in range(10):
        store.add(PausedSession(bytes([i + 1]) * 8, "iso2", None, None, float(i)))
    assert list(store.sessions) == [bytes([i + 1]) * 8 for i in (7, 8, 9)]


def test_simulated_ac_vehicle_keeps_to_the_schedule_pmax() -> None:
    """ISO 15118-2 AC: the EVSE does not enforce PMax, the vehicle's charger does; the
    simulated vehicle draws 230 V x 32 A x 3 until the EVSE renegotiates a 7 kW schedule,
    then at most 7 kW (``SimulatedVehicle.power``, what the depot demo meters)."""
    seen: list[tuple[int | None, float]] = []
    renegotiated = {"done": False}

    def evse_asks(secc, event, now):  # type: ignore[no-untyped-def]
        if isinstance(event, ChargeLoop) and secc.evse.present_current >= 0 \
                and not renegotiated["done"] and len(seen) >= 2:
            renegotiated["done"] = True
            secc.evse.schedules = [Schedule(2, (ScheduleEntry(0, 7_000.0, 3600),))]
            secc.request_renegotiation()

    def metered(evcc, event, now):  # type: ignore[no-untyped-def]
        if isinstance(event, ChargeLoopStatus):
            vehicle = evcc.refresh.__self__  # the SimulatedVehicle the harness attached
            seen.append((evcc.schedule_id, vehicle.power))

    evse = EVSEState(energy_modes=(EnergyMode.AC_three_phase_core,),
                     schedules=[Schedule(1, (ScheduleEntry(0, 50_000.0, 86_400),))])
    run = simulate("iso2", EnergyMode.AC_three_phase_core, evse=evse,
                   evcc_config=EvccConfig(protocols=("iso2",), loops=8),
                   on_secc=evse_asks, on_evcc=metered)
    assert run.evcc.ended is not None and run.evcc.ended.outcome is Outcome.COMPLETED
    before = [p for sid, p in seen if sid == 1]
    after = [p for sid, p in seen if sid == 2]
    assert before and after, seen
    assert all(p == 230.0 * 32.0 * 3 for p in before)
    assert all(p == 7_000.0 for p in after)
