"""Our EVCC against a recorded charger: each request answered by the next recorded
response of the same message, on a virtual clock (``test_real_replay*.py``)."""

from __future__ import annotations

import copy

from real_sessions import RecordedSession

from iso15118 import codec
from iso15118.session import EvccSession, Outcome
from iso15118.session.core import PAYLOAD_SAP_DIN_ISO2
from iso15118.session.events import MessageSent


def run_against_recording(evcc: EvccSession, rec: RecordedSession) -> str | None:
    """None when ``evcc`` completes a session (ended by SessionStop) against ``rec``'s
    charger responses, else why not. Recorded turns our vehicle does not take (a longer
    welding detection, say) are skipped; the supportedAppProtocolRes gets the SchemaID of
    our offer, which lists the recorded protocol first."""
    responses = list(rec.responses)
    position, now = 0, 0.0
    step = evcc.start(now)
    for _ in range(20_000):
        if evcc.ended is not None:
            break
        if not step.send:
            if evcc.deadline is None:
                return "stalled"
            now = evcc.deadline
            step = evcc.tick(now)
            continue
        sent = [e for e in step.events if isinstance(e, MessageSent)]
        wanted = sent[-1].name.removesuffix("Req") + "Res"
        for i in range(position, len(responses)):
            if responses[i].name == wanted:
                position = i + 1
                recorded = responses[i]
                break
        else:
            return f"no recorded {wanted} left"
        payload = recorded.payload
        if wanted == "supportedAppProtocolRes":
            res = copy.deepcopy(recorded.message)
            res.schema_id = 1
            payload = codec.encode(res, "apphand")
        now += 0.01
        step = evcc.receive(recorded.payload_type or PAYLOAD_SAP_DIN_ISO2, payload, now)
    assert evcc.ended is not None
    return None if evcc.ended.outcome is Outcome.COMPLETED else evcc.ended.reason
