"""A request whose value breaks its facets (let in by the lenient decoder) and is echoed in
the response: the SECC ends the session with a reason instead of raising out of
``receive()`` (found by ``iso15118 fuzz-live`` against ``iso15118 secc``: a -20
ServiceDetailReq with ServiceID 65536 killed the connection handler with
MessageEncodeError)."""

from __future__ import annotations

import copy

from iso15118.session import EvccConfig, EvccSession, EVSEState, EVState, SeccConfig, SeccSession
from iso15118.session.events import MessageSent, Outcome
from iso15118.testing import lenient


def test_a_service_id_past_its_facet_ends_the_session_instead_of_raising() -> None:
    secc = SeccSession(EVSEState(), SeccConfig(protocols=("iso20",)))
    evcc = EvccSession(EVState(), EvccConfig(protocols=("iso20",)))
    now = 0.0
    secc.start(now)
    pending = list(evcc.start(now).send)
    for _ in range(50):
        if not pending:  # the vehicle paces some requests: let its clock run
            now += 0.3
            pending.extend(evcc.tick(now).send)
            continue
        out = pending.pop(0)
        if type(out.message).__name__ == "ServiceDetailReqType":
            bad = copy.deepcopy(out.message)
            bad.service_id = 65536  # serviceIDType is an unsignedShort
            step = secc.receive(out.payload_type, lenient.encode(bad, "iso20-common"), now)
            assert step.close and step.send == []
            assert secc.ended is not None and secc.ended.outcome is Outcome.FAILED
            assert "cannot write the answer" in secc.ended.reason
            assert "65536" in secc.ended.reason
            assert not any(isinstance(e, MessageSent) for e in step.events)
            return
        step = secc.receive(out.payload_type, out.payload, now)
        for answer in step.send:
            pending.extend(evcc.receive(answer.payload_type, answer.payload, now).send)
    raise AssertionError("the vehicle never asked ServiceDetail")
