"""Recorded sessions of real cars and chargers replayed into our SECC and our EVCC.

SECC: every EV request sequence recorded in ``../shared/vectors/real`` (DIN and ISO-2) is
fed, at its recorded times, into a fresh :class:`SeccSession`. The application's
decisions follow the recording (authorized, schedules ready, isolation test done when
the recorded charger said Finished), and our SECC draws the SessionID the recorded
charger chose (its random source returns it), so the EV's own SessionID needs no
rewriting and signed content that covers it still verifies. Every request must be
accepted in order: no FAILED response where the recorded charger gave none.

EVCC: our vehicle runs a session against each recorded charger: each request it sends is
answered with the next recorded response of the same message (skipping recorded turns
our vehicle does not take, e.g. a longer welding detection). The count of recorded
charger response sequences our EVCC completes a session against is asserted as a floor
and printed.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from real_sessions import RecordedMessage, RecordedSession, recorded_sessions
from recorded_charger import run_against_recording

from iso15118.session import (
    EnergyMode,
    EvccConfig,
    EvccSession,
    EVSEState,
    EVState,
    IsolationLevel,
    Payment,
    SeccConfig,
    SeccSession,
)
from iso15118.session.core import PAYLOAD_SAP_DIN_ISO2
from iso15118.session.dialects import evcc_dialect
from iso15118.session.events import MessageSent
from iso15118.session.views import ChargerInfo

ALL_MODES = tuple(EnergyMode)


@pytest.fixture(scope="module")
def sessions(shared_dir: Path) -> list[RecordedSession]:
    found = recorded_sessions(shared_dir)
    if not found:
        pytest.skip("no recorded sessions found")
    return found


def _pnc(rec: RecordedSession) -> bool:
    return any(m.name == "PaymentDetailsReq" for m in rec.messages)


# ------------------------------------------------------------------------------- SECC


class _Replay:
    """Our SECC fed one recorded EV's requests; the application follows the recording."""

    def __init__(self, rec: RecordedSession) -> None:
        self.rec = rec
        sid = rec.session_id or bytes(8)
        config = SeccConfig(protocols=(rec.protocol,), auto_authorize=False,
                            auto_cable_check=False, await_schedules=True)
        evse = EVSEState(energy_modes=ALL_MODES, payment_options=(Payment.EIM, Payment.PNC))
        _configure_like(evse, rec)
        self.secc = SeccSession(evse, config, tls=rec.tls, rng=lambda n: sid)
        self.failures: list[str] = []

    def decide(self, recorded: RecordedMessage | None) -> None:
        """Before a request: make the decision the recorded charger had made by then."""
        if recorded is None:
            return
        body = recorded.body
        processing = getattr(getattr(body, "evse_processing", None), "value", None)
        if processing != "Finished":
            return
        name = recorded.name
        if name in ("AuthorizationRes", "ContractAuthenticationRes"):
            self.secc.authorize(True)
        elif name == "ChargeParameterDiscoveryRes":
            self.secc.set_schedules(self.secc.evse.schedules)
        elif name == "CableCheckRes":
            self.secc.finish_cable_check(IsolationLevel.Valid)

    def run(self) -> list[str]:
        secc, rec = self.secc, self.rec
        t0 = rec.messages[0].timestamp or 0.0
        secc.start(0.0)
        for exchange in rec.exchanges():
            request, response = exchange.request, exchange.response
            if request is None:
                continue
            now = (request.timestamp or t0) - t0
            if secc.deadline is not None and secc.deadline <= now:
                step = secc.tick(now)
                if step.close:
                    self.failures.append(f"{request.name} at {now:.1f} s: "
                                         f"{secc.ended.reason if secc.ended else '?'}")
                    return self.failures
            self.decide(response)
            step = secc.receive(PAYLOAD_SAP_DIN_ISO2, request.payload, now)
            ours = [e for e in step.events if isinstance(e, MessageSent)]
            if not ours:
                self.failures.append(f"{request.name} (frame {request.frame}): no response, "
                                     f"{secc.ended.reason if secc.ended else '?'}")
                return self.failures
            code = _code(ours[-1].message)
            if response is None:
                break  # the recorded charger never answered this one: nothing to compare
            theirs = response.response_code
            if code is not None and code.startswith("FAILED") and not (
                    theirs is not None and theirs.startswith("FAILED")):
                self.failures.append(f"{request.name} (frame {request.frame}): we answered "
                                     f"{code}, the recorded charger {theirs}")
                return self.failures
            if step.close:
                break
        return self.failures


def _configure_like(evse: EVSEState, rec: RecordedSession) -> None:
    """The EVSE offers what the recorded one offered: its value-added services and, once
    decided, its schedules (an application's configuration, not a decision)."""
    dialect = evcc_dialect(rec.protocol)
    info = ChargerInfo()
    for m in rec.responses:
        if m.name == "ServiceDiscoveryRes":
            dialect.read_response("ServiceDiscovery", m.body, info)
            evse.services = list(info.services)
        elif m.name == "ChargeParameterDiscoveryRes" and m.body.sa_schedules is not None:
            dialect.read_response("ChargeParameterDiscovery", m.body, info)
            if info.schedules and all(s.entries for s in info.schedules):
                evse.schedules = list(info.schedules)


def _code(message: Any) -> str | None:
    body = getattr(getattr(message, "body", None), "body_element", message)
    code = getattr(body, "response_code", None)
    return None if code is None else str(getattr(code, "value", code))


def test_secc_accepts_every_recorded_ev_request_sequence(sessions: list[RecordedSession]
                                                         ) -> None:
    results = {}
    for rec in sessions:
        if _pnc(rec):
            continue  # PnC replay: tests/session/test_pnc.py (needs the recorded PKI)
        results[rec.source] = _Replay(rec).run()
    failed = {k: v for k, v in results.items() if v}
    requests = sum(len(r.requests) for r in sessions if r.source in results)
    print(f"\nSECC replay: {len(results) - len(failed)}/{len(results)} recorded EV request "
          f"sequences accepted in order ({requests} requests)")
    assert not failed, failed
    assert len(results) >= 26


# ------------------------------------------------------------------------------- EVCC


def _ev_for(rec: RecordedSession) -> tuple[EVState, EvccConfig]:
    """Our vehicle configured as the recorded one was: energy mode, loop length."""
    mode = EnergyMode.DC_extended
    for m in rec.requests:
        body = m.body
        requested = getattr(body, "requested_energy_transfer_mode", None) or getattr(
            body, "ev_requested_energy_transfer_type", None)
        if requested is not None:
            mode = EnergyMode(requested.value)
            break
    loops = sum(1 for m in rec.requests if m.name in ("CurrentDemandReq", "ChargingStatusReq"))
    ev = EVState(energy_mode=mode)
    if not mode.is_dc:
        ev.max_current, ev.max_voltage = 32.0, 400.0
    # the recorded EV ended PreCharge at the charger's last reported voltage: that is
    # where our battery is, so our vehicle ends PreCharge there too
    reached = [float(m.body.evse_present_voltage) for m in rec.responses
               if m.name == "PreChargeRes" and m.body.evse_present_voltage is not None]
    if reached:
        ev.battery_voltage = reached[-1]
    welding = sum(1 for m in rec.requests if m.name == "WeldingDetectionReq")
    config = EvccConfig(protocols=(rec.protocol,), loops=max(1, loops), ongoing_interval=0.0,
                        welding_max_requests=max(1, welding), welding_detection=welding > 0,
                        precharge_tolerance=20.0)
    return ev, config


def _evcc_replay(rec: RecordedSession) -> str | None:
    """None when our EVCC completes a session against the recorded charger, else why not."""
    ev, config = _ev_for(rec)
    return run_against_recording(EvccSession(ev, config, tls=rec.tls), rec)


def _evcc_results(sessions: list[RecordedSession]) -> Iterator[tuple[RecordedSession, str | None]]:
    for rec in sessions:
        if _pnc(rec):
            continue
        yield rec, _evcc_replay(rec)


def _charged(rec: RecordedSession) -> bool:
    return any(m.name in ("CurrentDemandRes", "ChargingStatusRes") for m in rec.responses)


def test_evcc_completes_sessions_against_recorded_chargers(sessions: list[RecordedSession]
                                                           ) -> None:
    results = list(_evcc_results(sessions))
    done = [r for r, why in results if why is None]
    charging = [(r, why) for r, why in results if r.complete and _charged(r)]
    print(f"\nEVCC replay: our vehicle completed a session against {len(done)} of "
          f"{len(results)} recorded charger response sequences ({len(charging)} are complete "
          "recordings of a charge; the others end early or hold no charge loop)")
    for r, why in results:
        if why is not None:
            print(f"  {r.source}: {why}")
    # every complete recording of a charge is a charger our vehicle completes a session with
    assert [(r.source, why) for r, why in charging if why is not None] == []
    assert len(done) >= 13
