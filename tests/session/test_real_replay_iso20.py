"""The three recorded ISO 15118-20 sessions (dSPACE DS5366 charger, Josev vehicle)
replayed into our SECC, and our EVCC run against the recorded charger's responses.

Each EV request is fed, at its recorded time and with its recorded V2GTP payload type,
into a fresh :class:`SeccSession` that speaks -20 only. The application decides as the
recorded charger did (authorized, schedules ready, isolation test done when the recorded
charger said Finished); our SECC draws the recorded SessionID, and a recorded vehicle
certificate (mutual TLS) is handed to it as the runner would. Every request must be
answered without a FAILED code the recorded charger did not give, and the session must end
by SessionStop. The captures are read in place from ``../shared/vectors/real``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from real_sessions import RecordedMessage, RecordedSession, load
from recorded_charger import run_against_recording

from iso15118.session import (
    EnergyMode,
    EvccConfig,
    EvccSession,
    EVSEState,
    EVState,
    IsolationLevel,
    Outcome,
    SeccConfig,
    SeccSession,
)
from iso15118.session.dialects import number
from iso15118.session.events import MessageSent
from iso15118.session.iso20_base import Iso20Base, parameters_of
from iso15118.session.values import ControlMode, EnergyService


@pytest.fixture(scope="module")
def sessions(shared_dir: Path) -> list[RecordedSession]:
    if not (shared_dir / "vectors" / "real" / "pcap").is_dir():
        pytest.skip(f"{shared_dir}/vectors/real/pcap not present")
    found = load(shared_dir, ("iso20",)).sessions
    if not found:
        pytest.skip("no recorded ISO 15118-20 sessions found")
    return list(found)


def _code(message: Any) -> str | None:
    code = getattr(message, "response_code", None)
    return None if code is None else str(getattr(code, "value", code))


def _processing(message: Any) -> str | None:
    value = getattr(message, "evse_processing", None)
    return None if value is None else str(getattr(value, "value", value))


def _control_modes(rec: RecordedSession) -> tuple[ControlMode, ...]:
    """The recorded charger's parameter sets, in its order (the recorded EV selects one by
    its ID): an application's configuration, not a decision."""
    for m in rec.responses:
        if m.name == "ServiceDetailRes":
            sets = m.message.service_parameter_list.parameter_set
            modes = [Iso20Base.control_mode_of(parameters_of(p)) for p in sets]
            return tuple(mode for mode in modes if mode is not None)
    return (ControlMode.SCHEDULED, ControlMode.DYNAMIC)


class _Replay:
    def __init__(self, rec: RecordedSession) -> None:
        self.rec = rec
        sid = next((m.session_id for m in rec.responses
                    if m.name == "SessionSetupRes" and m.session_id), bytes(8))
        evse = EVSEState(energy_modes=(EnergyMode.DC_extended, EnergyMode.AC_three_phase_core),
                         bidirectional=True, control_modes=_control_modes(rec))
        config = SeccConfig(protocols=("iso20",), auto_authorize=False,
                            auto_cable_check=False, await_schedules=True)
        certificate = rec.tls_client_certificates[0] if rec.tls_client_certificates else None
        self.secc = SeccSession(evse, config, tls=rec.tls, rng=lambda n: sid,
                                tls_version="TLSv1.3" if rec.tls else None,
                                vehicle_certificate=certificate)
        self.answers: list[tuple[str, str | None, str | None]] = []

    def decide(self, recorded: RecordedMessage | None) -> None:
        if recorded is None or _processing(recorded.message) != "Finished":
            return
        if recorded.name == "AuthorizationRes":
            self.secc.authorize(True)
        elif recorded.name == "ScheduleExchangeRes":
            self.secc.set_schedules(self.secc.evse.schedules)
        elif recorded.name == "DC_CableCheckRes":
            self.secc.finish_cable_check(IsolationLevel.Valid)

    def run(self) -> list[str]:
        secc, rec = self.secc, self.rec
        t0 = rec.messages[0].timestamp or 0.0
        secc.start(0.0)
        failures: list[str] = []
        for exchange in rec.exchanges():
            request, response = exchange.request, exchange.response
            if request is None:
                continue
            now = (request.timestamp or t0) - t0
            if secc.deadline is not None and secc.deadline <= now:
                if secc.tick(now).close:
                    return [f"{request.name} at {now:.2f} s: {secc.ended and secc.ended.reason}"]
            self.decide(response)
            assert request.payload_type is not None
            step = secc.receive(request.payload_type, request.payload, now)
            ours = [e for e in step.events if isinstance(e, MessageSent)]
            if not ours:
                return [f"{request.name} (frame {request.frame}): no response, "
                        f"{secc.ended and secc.ended.reason}"]
            code = _code(ours[-1].message)
            theirs = _code(response.message) if response is not None else None
            self.answers.append((ours[-1].name, code, theirs))
            if code is not None and code.startswith("FAILED") and not (
                    theirs is not None and theirs.startswith("FAILED")):
                failures.append(f"{request.name} (frame {request.frame}): we answered {code}, "
                                f"the recorded charger {theirs}")
                return failures
            if step.close:
                break
        return failures


def test_secc_accepts_every_recorded_iso20_ev_request_sequence(
        sessions: list[RecordedSession]) -> None:
    results = {}
    for rec in sessions:
        replay = _Replay(rec)
        failures = replay.run()
        results[rec.source] = failures
        ended = replay.secc.ended
        if not failures and (ended is None or ended.outcome is not Outcome.COMPLETED):
            results[rec.source] = [f"session did not complete: {ended}"]
    print(f"\n-20 SECC replay: {sum(not v for v in results.values())}/{len(results)} "
          f"recorded EV request sequences accepted "
          f"({sum(len(r.requests) for r in sessions)} requests)")
    assert {k: v for k, v in results.items() if v} == {}
    assert len(results) == 3


# ------------------------------------------------------------------------------- EVCC


def _vehicle_like(rec: RecordedSession) -> tuple[EVState, EvccConfig]:
    """Our vehicle asks for what the recorded one selected: its energy service (AC or DC,
    BPT) and control mode; as many charge-loop requests."""
    selected = next(m.message.selected_energy_transfer_service for m in rec.requests
                    if m.name == "ServiceSelectionReq")
    service = EnergyService(selected.service_id)
    dc = service.is_dc
    modes = _control_modes(rec)
    ev = EVState(energy_mode=EnergyMode.DC_extended if dc else EnergyMode.AC_three_phase_core,
                 bidirectional=service.bidirectional,
                 control_mode=modes[selected.parameter_set_id - 1])
    if not dc:
        ev.max_current, ev.max_voltage, ev.max_power = 32.0, 400.0, 22_000.0
    # the recorded EV said Finished in the PreChargeReq after the charger reported some
    # voltage: our battery is there, so our vehicle says Finished at the same turn
    reached = None
    for m in rec.messages:
        if m.name == "DC_PreChargeRes":
            reached = number(m.message.evse_present_voltage)
        elif m.name == "DC_PreChargeReq" and str(m.message.ev_processing.value) == "Finished":
            break
    if reached is not None:
        ev.battery_voltage = reached
    loops = sum(1 for m in rec.requests if m.name.endswith("_ChargeLoopReq"))
    welding = sum(1 for m in rec.requests if m.name == "DC_WeldingDetectionReq")
    config = EvccConfig(protocols=("iso20",), loops=loops, loop_interval=0.1,
                        ongoing_interval=0.0, welding_detection=welding > 0,
                        welding_max_requests=max(1, welding), precharge_tolerance=20.0)
    return ev, config


def _evcc_replay(rec: RecordedSession) -> str | None:
    """None when our EVCC completes a session against the recorded charger's responses,
    else why not."""
    ev, config = _vehicle_like(rec)
    evcc = EvccSession(ev, config, tls=rec.tls, tls_version="TLSv1.3" if rec.tls else None)
    return run_against_recording(evcc, rec)


def test_evcc_completes_sessions_against_recorded_iso20_chargers(
        sessions: list[RecordedSession]) -> None:
    results = {rec.source: _evcc_replay(rec) for rec in sessions}
    print(f"\n-20 EVCC replay: our vehicle completed {sum(v is None for v in results.values())}"
          f"/{len(results)} sessions against the recorded charger's responses")
    assert {k: v for k, v in results.items() if v is not None} == {}
