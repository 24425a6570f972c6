"""Every (state, request) pair of the ISO 15118-20 table, on the SECC; and the EVCC refusing
every response that does not answer its request.

As for DIN and ISO-2 (``test_sequence.py``): sessions run until every state has been
reached, the SECC is copied at each state's first appearance, and every -20 request is sent
to a copy. With the real-car switches off, what the table allows is answered (never
FAILED_SequenceError), everything else gets FAILED_SequenceError and a closed connection.
The states only ISO 15118-20 Plug & Charge reaches (CertificateInstallation.Ongoing and
.Finished) come from a PnC session over TLS with the -20 test PKI whose certificate backend
answers on the EV's third request.
"""

from __future__ import annotations

import copy
import shutil
from pathlib import Path
from typing import Any

import pytest
from session_harness import simulate

from iso15118 import codec
from iso15118.messages import iso20_common
from iso15118.pki import create_test_pki
from iso15118.session import (
    EnergyMode,
    EvccConfig,
    EvccSession,
    EVSEState,
    EVState,
    Notification,
    Outcome,
    Payment,
    SeccConfig,
    SeccSession,
)
from iso15118.session.endpoint import _PAYLOAD_TYPES
from iso15118.session.events import ChargeLoop, Event, MessageReceived, MessageSent
from iso15118.session.pnc import EvccPnc, SeccPnc
from iso15118.session.rules_iso20 import RULES
from iso15118.session.simulation import ChargerBehaviour
from iso15118.session.values import ControlMode
from iso15118.testing.generate import generator_for


def _grammar(cls: type) -> str:
    return "iso20-" + cls.__module__.rsplit("_", 1)[-1]


def _body(cls: type, seed: int = 7) -> Any:
    doc = generator_for(_grammar(cls)).generate(cls.__name__.removesuffix("Type"), seed=seed,
                                                profile="minimal")
    return doc.value


def _classes(spec: Any) -> tuple[type, ...]:
    return spec if isinstance(spec, tuple) else (spec,)


def _send(secc: SeccSession, body: Any, session_id: bytes, now: float | None = None
          ) -> tuple[Any, Any]:
    d = secc.dialect
    assert d is not None
    message = d.wrap(body, session_id)
    grammar = d.namespace_of(message)
    when = (secc.last_request_at or 0.0) + 0.01 if now is None else now
    step = secc.receive(_PAYLOAD_TYPES[grammar], codec.encode(message, grammar), when)
    sent = [e.message for e in step.events if isinstance(e, MessageSent)]
    return step, sent[-1] if sent else None


def _pnc_session(snapshots: dict[str, SeccSession], directory: Path) -> None:
    """A -20 PnC session that installs a contract, the backend answering late (Ongoing)."""
    create_test_pki(directory / "pki", 20)
    shutil.copytree(directory / "pki", directory / "ev")
    charger = SeccPnc.from_test_pki(directory / "pki")
    backend, charger.certificate_backend = charger.certificate_backend, \
        lambda exi, message: None
    answers: list[int] = []

    def on_secc(secc: SeccSession, event: Event, now: float) -> None:
        if isinstance(event, MessageSent) and secc.ended is None:
            snapshots.setdefault(secc.state, copy.deepcopy(secc))
            if event.name == "CertificateInstallationRes":
                answers.append(1)
                if len(answers) == 2:
                    request = [e for e in secc_events if e.name == "CertificateInstallationReq"]
                    secc.complete(now, "OK", backend(b"", request[-1].message))  # type: ignore[misc]

    secc_events: list[Any] = []

    def record(secc: SeccSession, event: Event, now: float) -> None:
        if isinstance(event, MessageReceived):
            secc_events.append(event)
        on_secc(secc, event, now)

    mode = EnergyMode.DC_extended
    simulate("iso20", mode, tls=True,
             ev=EVState(energy_mode=mode, payment=Payment.PNC),
             evse=EVSEState(energy_modes=(mode,), payment_options=(Payment.EIM, Payment.PNC)),
             secc_config=SeccConfig(protocols=("iso20",), pnc=charger,
                                    accept_session_stop_anywhere=False,
                                    accept_power_delivery_stop_anywhere=False),
             evcc_config=EvccConfig(protocols=("iso20",), loops=1, ongoing_interval=0.1,
                                    pnc=EvccPnc.from_test_pki(directory / "ev", contract=False)),
             on_secc=record)


def _snapshots(directory: Path) -> dict[str, SeccSession]:
    snapshots: dict[str, SeccSession] = {}
    counts: dict[str, int] = {}

    def on_secc(secc: SeccSession, event: Event, now: float) -> None:
        if isinstance(event, MessageSent) and secc.ended is None:
            if secc.state not in snapshots:
                snapshots[secc.state] = copy.deepcopy(secc)
            counts[event.name] = counts.get(event.name, 0) + 1
            if event.name == "AuthorizationRes" and counts[event.name] % 2 == 0:
                secc.authorize(True)
            if event.name == "ScheduleExchangeRes" and counts[event.name] % 2 == 0:
                secc.set_schedules(secc.evse.schedules)
        if isinstance(event, ChargeLoop) and counts.get("asked", 0) == 0 \
                and secc.ev.control_mode is ControlMode.DYNAMIC:
            counts["asked"] = 1
            secc.notification = Notification.SERVICE_RENEGOTIATION

    config = SeccConfig(protocols=("iso20",), auto_authorize=False, await_schedules=True,
                        accept_session_stop_anywhere=False,
                        accept_power_delivery_stop_anywhere=False)
    for mode in (EnergyMode.DC_extended, EnergyMode.AC_three_phase_core):
        for control in ControlMode:
            counts.clear()
            ev = EVState(energy_mode=mode, control_mode=control)
            simulate("iso20", mode, ev=ev, evse=EVSEState(energy_modes=(mode,)),
                     secc_config=config, behaviour=ChargerBehaviour(cable_check_s=0.15),
                     evcc_config=EvccConfig(protocols=("iso20",), loops=3, ongoing_interval=0.1,
                                            renegotiate_after=1), on_secc=on_secc)
    _pnc_session(snapshots, directory)
    loop = snapshots["ChargeLoop"]
    for progress, ev_processing in (("Standby", "Finished"), ("Start", "Ongoing")):
        secc = copy.deepcopy(loop if progress == "Standby" else snapshots["PreCharge"])
        body = _body(iso20_common.PowerDeliveryReqType)
        body.charge_progress = iso20_common.ChargeProgressType(progress)
        body.ev_processing = iso20_common.ProcessingType(ev_processing)
        _send(secc, body, secc.session_id)
        snapshots.setdefault(secc.state, secc)
    secc = copy.deepcopy(loop)
    _send(secc, _body(iso20_common.MeteringConfirmationReqType), secc.session_id)
    snapshots.setdefault(secc.state, secc)
    return snapshots


@pytest.fixture(scope="module")
def snapshots(tmp_path_factory: pytest.TempPathFactory) -> dict[str, SeccSession]:
    return _snapshots(tmp_path_factory.mktemp("sequence20"))


def test_every_state_of_the_table_is_reached(snapshots: dict[str, SeccSession]) -> None:
    assert set(snapshots) == set(RULES.states())


def test_every_state_request_pair(snapshots: dict[str, SeccSession]) -> None:
    checked = 0
    for state, snapshot in sorted(snapshots.items()):
        allowed = set(RULES.allowed(state))
        for exchange in RULES.exchanges:
            for cls in _classes(exchange.request):
                secc = copy.deepcopy(snapshot)
                sid = bytes(8) if exchange.step == "SessionSetup" else secc.session_id
                step, response = _send(secc, _body(cls), sid)
                assert isinstance(response, exchange.response), (state, cls.__name__)
                code = response.response_code.value
                if exchange.step in allowed:
                    assert code not in ("FAILED_SequenceError", "FAILED_UnknownSession"), \
                        (state, cls.__name__, code)
                else:
                    assert code == "FAILED_SequenceError", (state, cls.__name__, code)
                    assert step.close and secc.ended is not None
                    assert secc.ended.outcome is Outcome.FAILED
                checked += 1
    assert checked == len(snapshots) * sum(len(_classes(e.request)) for e in RULES.exchanges)


def test_evcc_refuses_every_response_that_does_not_answer_its_request() -> None:
    found: dict[str, EvccSession] = {}

    def on_evcc(evcc: EvccSession, event: Event, now: float) -> None:
        if isinstance(event, MessageSent) and evcc.waiting and evcc.waiting not in found \
                and evcc.protocol is not None:
            found[evcc.waiting] = copy.deepcopy(evcc)

    for mode in (EnergyMode.DC_extended, EnergyMode.AC_three_phase_core):
        simulate("iso20", mode, ev=EVState(energy_mode=mode),
                 secc_config=SeccConfig(protocols=("iso20",)),
                 evcc_config=EvccConfig(protocols=("iso20",), loops=2), on_evcc=on_evcc)
    checked = 0
    for waiting, snapshot in found.items():
        for exchange in RULES.exchanges:
            if exchange.step == waiting:
                continue
            for cls in _classes(exchange.response):
                evcc = copy.deepcopy(snapshot)
                body = _body(cls, seed=3)
                grammar = _grammar(cls)
                now = (evcc.deadline or 1.0) - 0.001
                step = evcc.receive(_PAYLOAD_TYPES[grammar], codec.encode(body, grammar), now)
                assert step.close and evcc.ended is not None, (waiting, cls.__name__)
                assert evcc.ended.reason.startswith(f"expected {waiting}Res"), evcc.ended.reason
                checked += 1
    assert checked > 100
