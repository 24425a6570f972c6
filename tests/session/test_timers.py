"""Every timer of the DIN 70121 and ISO 15118-2 tables, on both sides, on a virtual clock.

Each test makes one timer the first to run out (a dropped message, a decision that never
comes, a converter that never reaches the voltage) and checks that the session ends at
exactly the table's time after the timer's start, with a TimerExpired event naming it.
"""

from __future__ import annotations

import pytest
from session_harness import simulate

from iso15118.session import (
    EnergyMode,
    EvccConfig,
    Outcome,
    SeccConfig,
    SeccSession,
)
from iso15118.session.core import Outgoing
from iso15118.session.dialects import secc_dialect
from iso15118.session.events import MessageSent, TimerExpired
from iso15118.session.simulation import ChargerBehaviour


def _expired(events: list, name: str) -> TimerExpired:  # type: ignore[type-arg]
    found = [e for e in events if isinstance(e, TimerExpired)]
    assert found, "no timer expired"
    assert found[0].timer == name, found[0]
    return found[0]


def _sent_at(events: list, name: str, first: bool = True) -> float:  # type: ignore[type-arg]
    times = [e.time for e in events if isinstance(e, MessageSent) and e.name == name]
    return times[0] if first else times[-1]


# ---------------------------------------------------------------- EVCC message timeouts


def _secc(protocol: str) -> SeccConfig:
    return SeccConfig(protocols=(protocol,))


def _steps(protocol: str, mode: EnergyMode) -> list[str]:
    run = simulate(protocol, mode, evcc_config=EvccConfig(protocols=(protocol,), loops=2),
                   secc_config=_secc(protocol))
    seen: list[str] = []
    for e in run.result.evcc_events:
        if isinstance(e, MessageSent) and e.name.endswith("Req") and e.protocol != "apphand":
            step = run.evcc.dialect.rules.exchange_of_request(  # type: ignore[union-attr]
                run.evcc.dialect.body(e.message)).step  # type: ignore[union-attr]
            if step not in seen:
                seen.append(step)
    return seen


CASES = [(p, m, s) for p, m in (("iso2", EnergyMode.DC_extended),
                                ("iso2", EnergyMode.AC_three_phase_core),
                                ("din", EnergyMode.DC_extended),
                                ("iso20", EnergyMode.DC_extended),
                                ("iso20", EnergyMode.AC_three_phase_core))
         for s in _steps(p, m)]


@pytest.mark.parametrize(("protocol", "mode", "step"), CASES,
                         ids=[f"{p}-{m.value}-{s}" for p, m, s in CASES])
def test_evcc_message_timeout_of_every_exchange(protocol: str, mode: EnergyMode,
                                                step: str) -> None:
    exchange = secc_dialect(protocol).rules.exchange(step)
    response = exchange.response

    def drop(side: str, out: Outgoing) -> bool:  # the SECC's first answer to `step` is lost
        body = getattr(getattr(out.message, "body", None), "body_element", out.message)
        if side == "secc" and isinstance(body, response) and not drop.done:  # type: ignore[attr-defined]
            drop.done = True  # type: ignore[attr-defined]
            return True
        return False

    drop.done = False  # type: ignore[attr-defined]
    run = simulate(protocol, mode, evcc_config=EvccConfig(protocols=(protocol,), loops=2),
                   drop=drop, secc_config=_secc(protocol))
    timer = _expired(run.result.evcc_events, f"ev_message:{step}")
    assert timer.seconds == exchange.ev_timeout
    assert run.evcc.ended is not None and run.evcc.ended.outcome is Outcome.FAILED
    # the session ended exactly ev_timeout after the unanswered request went out
    last_request = max(e.time for e in run.result.evcc_events if isinstance(e, MessageSent))
    assert run.evcc.ended.time == pytest.approx(last_request + exchange.ev_timeout)


def test_evcc_message_timeout_values_are_the_tables() -> None:
    rules = secc_dialect("iso2").rules
    assert rules.exchange("CurrentDemand").ev_timeout == 0.25
    assert rules.exchange("PowerDelivery").ev_timeout == 5.0
    assert rules.exchange("ServiceDetail").ev_timeout == 5.0
    assert rules.exchange("CableCheck").ev_timeout == 2.0
    din = secc_dialect("din").rules
    assert din.exchange("PowerDelivery").ev_timeout == 2.0
    assert din.exchange("CurrentDemand").secc_performance == 0.025


def test_evcc_handshake_timeout() -> None:
    run = simulate("iso2", drop=lambda side, out: side == "secc")
    timer = _expired(run.result.evcc_events, "ev_message:supportedAppProtocol")
    assert timer.seconds == 2.0 and run.evcc.ended is not None
    assert run.evcc.ended.time == pytest.approx(2.0)


# ---------------------------------------------------------------- EVCC sequence timers


@pytest.mark.parametrize("protocol", ["iso2", "din"])
def test_evcc_communication_setup_timeout_counts_from_plug_in(protocol: str) -> None:
    # SDP and TLS took 19.5 s before the connection; SessionSetupRes must come by 20 s
    run = simulate(protocol, latency=0.4, setup_started=-19.5)
    timer = _expired(run.result.evcc_events, "evcc_communication_setup")
    assert timer.seconds == 20.0
    assert run.evcc.ended is not None and run.evcc.ended.time == pytest.approx(0.5)


@pytest.mark.parametrize("protocol", ["iso2", "din"])
def test_evcc_ongoing_timeout_of_authorization(protocol: str) -> None:
    run = simulate(protocol, secc_config=SeccConfig(ongoing_limit=1e9),
                   behaviour=ChargerBehaviour(authorization_delay_s=1e9),
                   evcc_config=EvccConfig(protocols=(protocol,), ongoing_interval=0.5, loops=2))
    timer = _expired(run.result.evcc_events, "evcc_ongoing")
    assert timer.seconds == 60.0
    first = _sent_at(run.result.evcc_events,
                     "AuthorizationReq" if protocol == "iso2" else "ContractAuthenticationReq")
    assert run.evcc.ended is not None
    assert run.evcc.ended.time == pytest.approx(first + 60.0)


def test_evcc_ongoing_timeout_of_charge_parameter_discovery() -> None:
    run = simulate("iso2", secc_config=SeccConfig(await_schedules=True, ongoing_limit=1e9),
                   evcc_config=EvccConfig(protocols=("iso2",), ongoing_interval=1.0, loops=2))
    _expired(run.result.evcc_events, "evcc_ongoing")
    first = _sent_at(run.result.evcc_events, "ChargeParameterDiscoveryReq")
    assert run.evcc.ended is not None
    assert run.evcc.ended.time == pytest.approx(first + 60.0)


@pytest.mark.parametrize("protocol", ["iso2", "din"])
def test_evcc_cable_check_timeout(protocol: str) -> None:
    run = simulate(protocol, behaviour=ChargerBehaviour(cable_check_s=100.0),
                   secc_config=SeccConfig(ongoing_limit=1e9),
                   evcc_config=EvccConfig(protocols=(protocol,), ongoing_interval=0.5, loops=2))
    timer = _expired(run.result.evcc_events, "evcc_cable_check")
    assert timer.seconds == 40.0
    first = _sent_at(run.result.evcc_events, "CableCheckReq")
    assert run.evcc.ended is not None
    assert run.evcc.ended.time == pytest.approx(first + 40.0)


@pytest.mark.parametrize("protocol", ["iso2", "din"])
def test_evcc_pre_charge_timeout(protocol: str) -> None:
    run = simulate(protocol, behaviour=ChargerBehaviour(voltage_ramp_v_per_s=10.0),
                   evcc_config=EvccConfig(protocols=(protocol,), ongoing_interval=0.2, loops=2))
    timer = _expired(run.result.evcc_events, "evcc_pre_charge")
    assert timer.seconds == 7.0
    first = _sent_at(run.result.evcc_events, "PreChargeReq")
    assert run.evcc.ended is not None
    assert run.evcc.ended.time == pytest.approx(first + 7.0)


# ---------------------------------------------------------------- SECC timers


@pytest.mark.parametrize("protocol", ["iso2", "din"])
def test_secc_sequence_timeout(protocol: str) -> None:
    # the EV goes silent after ServiceDiscoveryRes (its request is lost)
    def drop(side: str, out: Outgoing) -> bool:
        return side == "evcc" and "PaymentSelection" in type(
            getattr(getattr(out.message, "body", None), "body_element", None)).__name__ \
            or side == "evcc" and "PaymentServiceSelection" in type(
                getattr(getattr(out.message, "body", None), "body_element", None)).__name__

    run = simulate(protocol, drop=drop)
    timer = _expired(run.result.secc_events, "secc_sequence")
    assert timer.seconds == 60.0
    last = _sent_at(run.result.secc_events, "ServiceDiscoveryRes")
    assert run.secc.ended is not None and run.secc.ended.outcome is Outcome.FAILED
    assert run.secc.ended.time == pytest.approx(last + 60.0)


def test_secc_sequence_timeout_before_the_handshake() -> None:
    secc = SeccSession(__import__("iso15118.session", fromlist=["EVSEState"]).EVSEState())
    step = secc.start(10.0)
    assert step.deadline == 70.0
    assert not secc.tick(69.999).close
    step = secc.tick(70.0)
    assert step.close and secc.ended is not None
    assert [e.timer for e in step.events if isinstance(e, TimerExpired)] == ["secc_sequence"]


@pytest.mark.parametrize("protocol", ["iso2", "din"])
def test_secc_ongoing_limit_answers_failed_before_the_ev_gives_up(protocol: str) -> None:
    run = simulate(protocol, behaviour=ChargerBehaviour(authorization_delay_s=1e9),
                   evcc_config=EvccConfig(protocols=(protocol,), ongoing_interval=1.0, loops=2))
    assert run.secc.ended is not None and run.secc.ended.response_code == "FAILED"
    first = _sent_at(run.result.evcc_events,
                     "AuthorizationReq" if protocol == "iso2" else "ContractAuthenticationReq")
    limit = secc_dialect(protocol).rules.timer("secc_ongoing")
    # the first request at or after the limit is answered FAILED, within the EV's 60 s
    assert first + limit <= run.secc.ended.time < first + limit + 1.1
    assert run.evcc.ended is not None and run.evcc.ended.response_code == "FAILED"


def test_timeout_scale_stretches_every_message_timeout() -> None:
    def drop(side: str, out: Outgoing) -> bool:
        body = getattr(getattr(out.message, "body", None), "body_element", None)
        return side == "secc" and type(body).__name__ == "CurrentDemandResType"

    run = simulate("iso2", drop=drop,
                   evcc_config=EvccConfig(protocols=("iso2",), loops=3, timeout_scale=4.0))
    timer = _expired(run.result.evcc_events, "ev_message:CurrentDemand")
    assert timer.seconds == pytest.approx(1.0)


def test_a_response_read_after_the_timeout_does_not_save_the_session() -> None:
    """A caller that reads a frame late (a stalled event loop) must not have it accepted:
    the timer that ran out first decides, as if the caller had woken at the deadline."""
    from iso15118.session import EvccSession, EVState, SeccSession
    from iso15118.session.core import PAYLOAD_SAP_DIN_ISO2

    secc = SeccSession(__import__("iso15118.session", fromlist=["EVSEState"]).EVSEState())
    evcc = EvccSession(EVState(), EvccConfig(protocols=("iso2",)))
    secc.start(0.0)
    request = evcc.start(0.0).send[0]
    answer = secc.receive(request.payload_type, request.payload, 0.1).send[0]
    # the answer is read 2.5 s after the request: past supportedAppProtocol's 2 s
    step = evcc.receive(PAYLOAD_SAP_DIN_ISO2, answer.payload, 2.5)
    assert step.close and evcc.ended is not None
    assert [e.timer for e in step.events if isinstance(e, TimerExpired)] == [
        "ev_message:supportedAppProtocol"]
    assert not step.send


# ---------------------------------------------------------------- ISO 15118-20 loops


def test_iso20_loop_timers_are_the_tables() -> None:
    rules = secc_dialect("iso20").rules
    assert rules.exchange("ChargeLoop").ev_timeout == 0.5
    assert rules.timer("evcc_pre_charge") == 10.0
    assert rules.timer("secc_sequence_charge_loop") == 0.5


def test_iso20_charge_loop_silence_limit_and_its_override() -> None:
    """An EV that waits 0.8 s between loop requests is too slow for the table's 0.5 s; a
    charger configured with a 2 s limit (a loaded simulation host) lets it finish."""
    slow = EvccConfig(protocols=("iso20",), loop_interval=0.8, loops=4)
    run = simulate("iso20", EnergyMode.DC_extended,
                   secc_config=SeccConfig(protocols=("iso20",)), evcc_config=slow)
    timer = _expired(run.result.secc_events, "secc_sequence")
    assert timer.seconds == 0.5
    slow = EvccConfig(protocols=("iso20",), loop_interval=0.8, loops=4)
    run = simulate("iso20", EnergyMode.DC_extended,
                   secc_config=SeccConfig(protocols=("iso20",), charge_loop_timeout=2.0),
                   evcc_config=slow)
    assert run.secc.ended is not None and run.secc.ended.outcome is Outcome.COMPLETED
    assert not [e for e in run.result.secc_events if isinstance(e, TimerExpired)]


def test_iso20_cable_check_and_ongoing_timeouts() -> None:
    run = simulate("iso20", EnergyMode.DC_extended, secc_config=SeccConfig(
        protocols=("iso20",), ongoing_limit=1e9),
        behaviour=ChargerBehaviour(cable_check_s=100.0),
        evcc_config=EvccConfig(protocols=("iso20",), ongoing_interval=0.5, loops=2))
    _expired(run.result.evcc_events, "evcc_cable_check")
    first = _sent_at(run.result.evcc_events, "DC_CableCheckReq")
    assert run.evcc.ended is not None and run.evcc.ended.time == pytest.approx(first + 40.0)
    run = simulate("iso20", EnergyMode.DC_extended, secc_config=SeccConfig(
        protocols=("iso20",), ongoing_limit=1e9, await_schedules=True),
        evcc_config=EvccConfig(protocols=("iso20",), ongoing_interval=1.0, loops=2))
    _expired(run.result.evcc_events, "evcc_ongoing")
    first = _sent_at(run.result.evcc_events, "ScheduleExchangeReq")
    assert run.evcc.ended is not None and run.evcc.ended.time == pytest.approx(first + 60.0)


def test_iso20_pre_charge_timeout_is_ten_seconds() -> None:
    run = simulate("iso20", EnergyMode.DC_extended, secc_config=SeccConfig(protocols=("iso20",)),
                   behaviour=ChargerBehaviour(voltage_ramp_v_per_s=10.0),
                   evcc_config=EvccConfig(protocols=("iso20",), ongoing_interval=0.2, loops=2))
    timer = _expired(run.result.evcc_events, "evcc_pre_charge")
    assert timer.seconds == 10.0
    first = _sent_at(run.result.evcc_events, "DC_PreChargeReq")
    assert run.evcc.ended is not None and run.evcc.ended.time == pytest.approx(first + 10.0)
