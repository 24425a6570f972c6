"""Every (state, request) pair of the DIN 70121 and ISO 15118-2 tables, on both sides.

SECC: sessions are run until every state of the protocol's table has been reached, and
the session is copied at each state's first appearance. Every request the protocol has
is then sent to a copy: with the real-car switches off, the requests the table allows
are answered (never FAILED_SequenceError), every other one is answered
FAILED_SequenceError and the session ends with the connection closed. The two switches
(SessionStop anywhere, PowerDelivery(Stop) once authorized) are tested on their own.

EVCC: at every request the vehicle waits on, every response of another message ends its
session (a response must answer the request just sent).
"""

from __future__ import annotations

import copy
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from session_harness import simulate

from iso15118 import codec
from iso15118.session import (
    EnergyMode,
    EvccConfig,
    EvccSession,
    EVSEState,
    EVState,
    Outcome,
    Payment,
    Schedule,
    ScheduleEntry,
    SeccConfig,
    SeccSession,
    ValueAddedService,
)
from iso15118.session.core import PAYLOAD_SAP_DIN_ISO2
from iso15118.session.dialects import secc_dialect
from iso15118.session.events import (
    AuthorizationRequested,
    ChargeLoop,
    ChargeParametersReceived,
    Event,
    MessageSent,
)
from iso15118.session.pnc import EvccPnc, SeccPnc
from iso15118.session.simulation import ChargerBehaviour
from iso15118.testing.generate import generator_for


def _secc_snapshots(protocol: str, switches: bool, pki: Path | None = None
                    ) -> dict[str, SeccSession]:
    """A copy of the SECC at the first moment it was in each state (with ``pki``, ISO-2
    Plug & Charge sessions too: with a contract, installing one, updating one)."""
    snapshots: dict[str, SeccSession] = {}
    counts: dict[str, int] = {}

    def on_secc(secc: SeccSession, event: Event, now: float) -> None:
        if isinstance(event, AuthorizationRequested) or isinstance(event, ChargeParametersReceived):
            counts[type(event).__name__] = 0
        if isinstance(event, MessageSent) and secc.ended is None:
            if secc.state not in snapshots:
                snapshots[secc.state] = copy.deepcopy(secc)
            name = event.name
            counts[name] = counts.get(name, 0) + 1
            # decide only at the second request, so the Ongoing states are reached too
            if name in ("AuthorizationRes", "ContractAuthenticationRes") and counts[name] == 2:
                secc.authorize(True)
            if name == "ChargeParameterDiscoveryRes" and counts[name] % 2 == 0:
                secc.set_schedules([Schedule(1, (ScheduleEntry(0, 50_000.0, 86_400),))])
        if isinstance(event, ChargeLoop):
            counts["loop"] = counts.get("loop", 0) + 1

    config = SeccConfig(protocols=(protocol,), auto_authorize=False, await_schedules=True,
                        accept_session_stop_anywhere=switches,
                        accept_power_delivery_stop_anywhere=switches)
    services = [ValueAddedService(3, "Internet", "WWW")]
    for mode in (EnergyMode.DC_extended, EnergyMode.AC_three_phase_core):
        if protocol == "din" and not mode.is_dc:
            continue
        evse = EVSEState(energy_modes=(mode,), services=list(services))
        cfg = EvccConfig(protocols=(protocol,), loops=4, ongoing_interval=0.1,
                         renegotiate_after=2 if protocol == "iso2" else None,
                         service_details=(3,))
        simulate(protocol, mode, evse=evse, secc_config=config, evcc_config=cfg,
                 behaviour=ChargerBehaviour(cable_check_s=0.15), on_secc=on_secc)
    if pki is not None and protocol == "iso2":
        for how in ("contract", "install", "update"):
            vehicle = EvccPnc.from_test_pki(shutil.copytree(pki, pki.parent / f"ev-{how}-"
                                                            f"{switches}", dirs_exist_ok=True),
                                            contract=how != "install")
            if how == "update":
                vehicle.update_within_days = 3 * 365
            evse = EVSEState(payment_options=(Payment.EIM, Payment.PNC))
            pnc_config = replace(config, pnc=SeccPnc.from_test_pki(pki))
            simulate("iso2", evse=evse, ev=EVState(payment=Payment.PNC), tls=True,
                     secc_config=pnc_config,
                     evcc_config=EvccConfig(protocols=("iso2",), loops=1, pnc=vehicle),
                     on_secc=on_secc)
    return snapshots


def _request_body(protocol: str, step: str) -> Any:
    """A schema-valid request body of ``step`` (generated from the XSD)."""
    d = secc_dialect(protocol)
    cls = d.rules.exchange(step).request
    name = next(n for c, n in _names(protocol).items() if c is cls)
    doc = generator_for(protocol).generate(name, seed=7, profile="minimal")
    return d.body(doc.value)


def _names(protocol: str) -> dict[type, str]:
    from iso15118.session import din_dialect, iso2_dialect

    return (din_dialect._NAMES if protocol == "din" else iso2_dialect._NAMES)


def _send(secc: SeccSession, body: Any, session_id: bytes) -> tuple[Any, Any]:
    d = secc.dialect
    assert d is not None
    payload = codec.encode(d.wrap(body, session_id), d.protocol)
    # just after the last request: within every timer
    step = secc.receive(PAYLOAD_SAP_DIN_ISO2, payload, (secc.last_request_at or 0.0) + 0.01)
    sent = [e.message for e in step.events if isinstance(e, MessageSent)]
    return step, d.body(sent[-1]) if sent else None


@pytest.fixture(scope="module", params=["iso2", "din"])
def snapshots(request: pytest.FixtureRequest, pki: Path
              ) -> tuple[str, dict[str, SeccSession]]:
    protocol = request.param
    found = _secc_snapshots(protocol, switches=False, pki=pki)
    # MeteringReceipt comes only on the EVSE's request (PnC); send one from the loop
    for kind in ("DC", "AC"):
        loop_state = "CurrentDemand" if kind == "DC" else "ChargingStatus"
        if loop_state in found and protocol == "iso2":
            secc = copy.deepcopy(found[loop_state])
            _send(secc, _request_body(protocol, "MeteringReceipt"), secc.session_id)
            found[secc.state] = secc
    return protocol, found


def test_every_state_of_the_table_is_reached(snapshots: tuple[str, dict[str, SeccSession]]
                                             ) -> None:
    protocol, found = snapshots
    rules = secc_dialect(protocol).rules
    missing = set(rules.states()) - set(found)
    assert not missing
    assert set(found) <= set(rules.states())


def test_every_state_request_pair(snapshots: tuple[str, dict[str, SeccSession]]) -> None:
    protocol, found = snapshots
    rules = secc_dialect(protocol).rules
    checked = 0
    for state, snapshot in sorted(found.items()):
        allowed = set(rules.allowed(state))
        for exchange in rules.exchanges:
            secc = copy.deepcopy(snapshot)
            body = _request_body(protocol, exchange.step)
            sid = bytes(8) if exchange.step == "SessionSetup" else secc.session_id
            step, response = _send(secc, body, sid)
            assert isinstance(response, exchange.response), (state, exchange.step)
            code = response.response_code.value
            if exchange.step in allowed:
                assert code not in ("FAILED_SequenceError", "FAILED_UnknownSession"), \
                    (state, exchange.step, code)
            else:
                assert code == "FAILED_SequenceError", (state, exchange.step, code)
                assert step.close and secc.ended is not None
                assert secc.ended.outcome is Outcome.FAILED
            checked += 1
    assert checked == len(found) * len(rules.exchanges)


def test_wrong_session_id_is_unknown_session(snapshots: tuple[str, dict[str, SeccSession]]
                                             ) -> None:
    protocol, found = snapshots
    secc = copy.deepcopy(found["SessionSetup"])
    step, response = _send(secc, _request_body(protocol, "ServiceDiscovery"),
                           bytes.fromhex("0badc0de0badc0de"))
    assert response.response_code.value == "FAILED_UnknownSession"
    assert step.close


def test_a_document_that_is_no_v2g_message_ends_the_session_with_its_name(
        snapshots: tuple[str, dict[str, SeccSession]]) -> None:
    """A document whose root is a body element, not a V2G_Message (DIN ``801a``, a
    ChargingStatusReq: the fuzz campaign's seed 20000 case 1024; -2 ``800700``, an
    AuthorizationReq): no request to answer, so the session ends without a response, and
    says what it got."""
    protocol, found = snapshots
    payload = bytes.fromhex("801a" if protocol == "din" else "800700")
    assert type(codec.decode(payload, protocol, strict=True)).__name__ != "V2G_Message"
    secc = copy.deepcopy(found["SessionSetup"])
    step = secc.receive(PAYLOAD_SAP_DIN_ISO2, payload,
                        (secc.last_request_at or 0.0) + 0.01)
    assert not [e for e in step.events if isinstance(e, MessageSent)] and step.close
    assert secc.ended is not None and secc.ended.outcome is Outcome.FAILED
    assert "document (not a V2G_Message) is not a request" in secc.ended.reason


@pytest.mark.parametrize("protocol", ["iso2", "din"])
def test_session_stop_anywhere_switch(protocol: str) -> None:
    on = _secc_snapshots(protocol, switches=True)
    for state in ("ServiceDiscovery", "Authorization.Finished", "CableCheck.Finished",
                  "PreCharge"):
        secc = copy.deepcopy(on[state])
        _, response = _send(secc, _request_body(protocol, "SessionStop"), secc.session_id)
        assert response.response_code.value == "OK", state
        assert secc.ended is not None and secc.ended.outcome is Outcome.COMPLETED
    idle = copy.deepcopy(on["Idle"])
    _, response = _send(idle, _request_body(protocol, "SessionStop"), bytes(8))
    assert response.response_code.value == "FAILED_SequenceError"


@pytest.mark.parametrize("protocol", ["iso2", "din"])
def test_power_delivery_stop_once_authorized_switch(protocol: str) -> None:
    on = _secc_snapshots(protocol, switches=True)
    evcc = EvccSession(__import__("iso15118.session", fromlist=["EVState"]).EVState(),
                       EvccConfig(protocols=(protocol,)))
    evcc.protocol = protocol
    from iso15118.session.dialects import evcc_dialect
    from iso15118.session.values import Progress

    evcc.dialect = evcc_dialect(protocol)
    evcc.progress = Progress.STOP
    stop = evcc.dialect.request("PowerDelivery", evcc)
    evcc.progress = Progress.START
    start = evcc.dialect.request("PowerDelivery", evcc)
    for state in ("Authorization.Finished", "CableCheck.Finished"):
        secc = copy.deepcopy(on[state])
        _, response = _send(secc, stop, secc.session_id)
        assert response.response_code.value == "OK", state
        assert secc.state == "PowerDelivery.Stop.DC"
        secc = copy.deepcopy(on[state])
        _, response = _send(secc, start, secc.session_id)
        assert response.response_code.value == "FAILED_SequenceError", state
    secc = copy.deepcopy(on["ServiceDiscovery"])
    _, response = _send(secc, stop, secc.session_id)
    assert response.response_code.value == "FAILED_SequenceError"


# ------------------------------------------------------------------------------- EVCC


def _evcc_snapshots(protocol: str) -> dict[str, EvccSession]:
    snapshots: dict[str, EvccSession] = {}

    def on_evcc(evcc: EvccSession, event: Event, now: float) -> None:
        if isinstance(event, MessageSent) and evcc.waiting and evcc.waiting not in snapshots \
                and evcc.protocol is not None:
            snapshots[evcc.waiting] = copy.deepcopy(evcc)

    for mode in (EnergyMode.DC_extended, EnergyMode.AC_three_phase_core):
        if protocol == "din" and not mode.is_dc:
            continue
        simulate(protocol, mode, evcc_config=EvccConfig(protocols=(protocol,), loops=2),
                 on_evcc=on_evcc)
    return snapshots


@pytest.mark.parametrize("protocol", ["iso2", "din"])
def test_evcc_refuses_every_response_that_does_not_answer_its_request(protocol: str) -> None:
    rules = secc_dialect(protocol).rules
    found = _evcc_snapshots(protocol)
    gen = generator_for(protocol)
    names = {c: n for c, n in _names(protocol).items()}
    checked = 0
    for waiting, snapshot in found.items():
        for exchange in rules.exchanges:
            if exchange.step == waiting:
                continue
            doc = gen.generate(names[exchange.response], seed=3, profile="minimal")
            evcc = copy.deepcopy(snapshot)
            # just before the vehicle's first deadline: within every timer
            now = (evcc.deadline or 1.0) - 0.001
            step = evcc.receive(PAYLOAD_SAP_DIN_ISO2, codec.encode(doc.value, protocol), now)
            assert step.close and evcc.ended is not None, (waiting, exchange.step)
            assert evcc.ended.outcome is Outcome.FAILED
            assert evcc.ended.reason.startswith(f"expected {waiting}Res"), evcc.ended.reason
            checked += 1
    assert checked >= len(found) * (len(rules.exchanges) - 1)
