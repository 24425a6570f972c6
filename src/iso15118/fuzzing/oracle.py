"""The oracle: what the target did after a fuzzed message, and whether that is a finding.

Every reaction the standard requires or allows is *not* a finding; each such rule is a
:class:`Rule` citing its clause, and a verdict names the rule it applied, so a report
reader can check the judgement. Clause numbers are ISO 15118-2:2014's unless named
otherwise (DIN SPEC 70121 and ISO 15118-20 have the same rules in their own clauses);
requirement numbers ([V2G2-nnn]) are not cited where the author could not check them.

The target's reaction (:class:`Observation`) is one of: response frame(s), a close or
reset without a response, or silence until the deadline with the connection open. The
facts about what was sent come from :class:`iso15118.fuzzing.mutations.Wire` and from
decoding our own payload with our strict decoder (a payload we cannot decode is one the
target cannot be expected to answer positively either).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from iso15118 import codec
from iso15118.errors import Iso15118Error
from iso15118.fuzzing.model import FindingClass
from iso15118.fuzzing.mutations import Wire
from iso15118.session.rules import ProtocolRules
from iso15118.v2gtp import PAYLOAD_TYPE_PROTOCOLS, Frame

__all__ = ["RULES", "Observation", "Rule", "SdpReaction", "Verdict", "judge_charger",
           "judge_sdp_vehicle", "judge_tls_link", "judge_vehicle"]


@dataclass(frozen=True)
class Rule:
    name: str
    clause: str
    says: str


RULES: dict[str, Rule] = {r.name: r for r in (
    Rule("v2gtp-version", "ISO 15118-2 7.8.3.2 (V2GTP header processing)",
         "a header with a wrong protocol or inverse version: the receiver closes the "
         "connection (the length can no longer be trusted)"),
    Rule("v2gtp-payload-type", "ISO 15118-2 7.8.3.2, Table 10; ISO 15118-20 Table 12",
         "a payload type the receiver does not support here: the message is discarded "
         "(silence); closing is accepted too"),
    Rule("v2gtp-incomplete", "ISO 15118-2 7.8.3 (V2GTP over TCP, a byte stream)",
         "a length promising more bytes than were sent: the receiver waits for the rest "
         "(or discards a frame too large for it, or closes)"),
    Rule("v2gtp-short", "ISO 15118-2 7.8.3.2",
         "a length shorter than the payload: the rest of the payload is read as the next "
         "header, whose check decides (close); any reaction but a broken response is "
         "accepted"),
    Rule("undecodable", "ISO 15118-2 8.4.2 / 8.8 (response codes); W3C EXI 1.0",
         "a message that does not decode strictly (broken grammar, a value outside its "
         "facets, required content missing) names no valid request: FAILED and close, "
         "close, or an answer that decodes are all accepted; silence is not"),
    Rule("handshake-again", "ISO 15118-2 8.2 / ISO 15118-20 Table 12 (supportedAppProtocol "
         "opens a session, once)",
         "a supportedAppProtocolReq after the handshake is no request of the session's "
         "protocol: ending the session (close) is accepted, as for an undecodable message"),
    Rule("not-a-request", "ISO 15118-2 8.3 / DIN SPEC 70121 9.3 (a message is a "
         "V2G_Message: Header and Body); ISO 15118-20 8.3 (its message set)",
         "a document that decodes but is no request of the protocol (another root than "
         "V2G_Message, a response, a type's element) names no request to answer: as for "
         "an undecodable message, close or FAILED and close are accepted; silence is not"),
    Rule("response-due", "ISO 15118-2 8.4.3 (every request has its response); 8.8",
         "a decodable request gets its response (with a FAILED code on error), within "
         "V2G_SECC_Msg_Performance_Time"),
    Rule("response-decodes", "ISO 15118-2 8.4; W3C EXI 1.0 (schema-informed, strict)",
         "a response decodes with the schema's grammar"),
    Rule("response-type", "ISO 15118-2 8.4.3; the session tables (iso15118.session.rules_*)",
         "the response is the one of the request received"),
    Rule("unknown-session", "ISO 15118-2 8.4.3.2, 8.8 (ResponseCode FAILED_UnknownSession)",
         "a request carrying another SessionID than the session's is refused with a "
         "FAILED code (CVE-2025-68140: an all-zero SessionID accepted)"),
    Rule("sequence", "ISO 15118-2 8.8 (FAILED_SequenceError); the message sequence "
         "diagrams as the session tables hold them",
         "a request the table does not allow in this state is refused with a FAILED code "
         "(CVE-2026-24003: a sequence-state bypass)"),
    Rule("stop-anywhere", "ISO 15118-2 8.4.3.9 / 8.4.3.11 with the real-car tolerance "
         "of iso15118.session.secc.SeccConfig (accept_*_stop_anywhere)",
         "a SessionStop or a PowerDelivery that stops, accepted out of sequence: stopping "
         "bypasses nothing"),
    Rule("failed-then-close", "ISO 15118-2 8.8 (a FAILED response code ends the session)",
         "after a FAILED response code, closing is correct"),
    Rule("ev-must-stop", "ISO 15118-2 8.8 (the EVCC ends the session on a FAILED code, "
         "an unexpected or undecodable response, or a wrong SessionID)",
         "the EVCC closes (or sends SessionStop) instead of going on"),
    Rule("iso20-tls", "ISO 15118-20 7.7 (TLS: TLS 1.3 only, mutually authenticated: the "
         "SECC requests and verifies the vehicle certificate)",
         "a link that is TLS 1.2, or TLS 1.3 without the vehicle certificate, does not carry "
         "-20: the SECC refuses the handshake, closes, or answers a supportedAppProtocolReq "
         "offering only -20 with Failed_NoNegotiation; agreeing on -20 there is a "
         "violation"),
    Rule("ev-goes-on", "ISO 15118-2 8.4 (the EVCC's next request within its timing)",
         "after a valid positive response the EVCC sends its next request or ends the "
         "session; silence until the deadline is a hang"),
    Rule("sdp-ignore-malformed", "ISO 15118-2 7.10.1 (SECCDiscoveryRes: V2GTP payload type "
         "0x9001, a 20-byte payload, security 0x00/0x10, the SECC's address and port); "
         "DIN SPEC 70121 8.7.2",
         "a datagram that is no usable SECCDiscoveryRes is not an answer: the EVCC ignores "
         "it, keeps asking, and never connects where it points"),
    Rule("sdp-retry", "ISO 15118-2 7.10.1 [V2G2-159], [V2G2-161]; DIN SPEC 70121 "
         "[V2G-DC-849] (as iso15118.sdp cites them)",
         "an EVCC without a usable answer asks again after 250 ms, at most 50 times; one "
         "that gave up may start over later (a new plug-in), one that never asks again "
         "has stopped discovering"),
    Rule("sdp-tolerated", "ISO 15118-2 7.10.1 (the SECC may offer the other security; "
         "the clause fixes the SECC's UDP port, not the source of its answer); real "
         "chargers' answers in /work/shared/vectors/real (ports 15118 and 30000, "
         "transport byte 0x08)",
         "an odd but usable answer: connecting where it points, or asking again, are both "
         "accepted"),
)}


@dataclass
class Observation:
    """What came back after the fuzzed bytes went out."""

    frames: list[Frame] = field(default_factory=list)
    closed: bool = False  # EOF or reset, without (more) frames
    reset: bool = False  # specifically a TCP reset
    silent: bool = False  # the deadline passed with the connection open
    broken: str | None = None  # the target broke V2GTP on its side (its error)
    elapsed: float = 0.0


@dataclass(frozen=True)
class Verdict:
    """The oracle's judgement: ``cls`` None means not a finding (``rule`` says why)."""

    cls: FindingClass | None
    rule: str
    reason: str


def _decode(payload: bytes, grammar: str, strict: bool) -> Any | None:
    try:
        return codec.decode(payload, grammar, strict=strict)
    except Iso15118Error:
        return None


def _code(body: Any) -> str | None:
    rc = getattr(body, "response_code", None)
    if rc is None:
        return None
    return str(getattr(rc, "value", rc))


def _failed(code: str | None) -> bool:
    return code is not None and code.lower().startswith("failed")


@dataclass
class Expect:
    """What the sender side knows to judge a reaction: the session's grammar and rules,
    how to take a decoded message apart, and where the session is."""

    grammar: str  # the grammar of the session (apphand before the handshake)
    protocol: str | None  # din/iso2/iso20, None during the handshake
    rules: ProtocolRules | None
    body: Any  # dialect.body
    session_id: bytes
    last_step: str | None  # the last exchange that completed before the target
    grammar_of: Any = None  # payload type -> grammar (for -20's namespaces)


def _framing(wire: Wire, obs: Observation) -> Verdict | None:
    """The V2GTP rules (they decide before anything about the payload)."""
    answered = bool(obs.frames)
    if obs.broken is not None:
        return Verdict(FindingClass.VIOLATION, "response-decodes",
                       f"the target broke V2GTP: {obs.broken}")
    if not wire.header_valid:
        if answered:
            return Verdict(FindingClass.VIOLATION, "v2gtp-version",
                           "answered a frame whose V2GTP version is wrong")
        if obs.silent:
            return Verdict(FindingClass.HANG, "v2gtp-version",
                           "kept the connection open after a wrong V2GTP version")
        return Verdict(None, "v2gtp-version", "closed")
    sent = len(wire.data) - 8  # bytes after the header, trailing junk included
    if wire.declared_length > sent:
        if answered and _positive_answer(obs):
            return Verdict(FindingClass.VIOLATION, "v2gtp-incomplete",
                           f"answered before the {wire.declared_length} bytes the header "
                           f"promised arrived ({len(wire.data) - 8} sent)")
        return Verdict(None, "v2gtp-incomplete", "waited or closed")
    if wire.declared_length < len(wire.payload):
        if answered:
            return _decodes_or_violation(obs)
        return Verdict(None, "v2gtp-short", "no answer")
    if sent > wire.declared_length and not answered:
        # trailing bytes: a next header the target may check (and close on) first
        return Verdict(None, "v2gtp-version", "closed or waited on the trailing bytes")
    return None


def _decodes_or_violation(obs: Observation) -> Verdict:
    for f in obs.frames:
        if f.payload_type == 0x8001 or 0x8002 <= f.payload_type <= 0x8006:
            for grammar in _GRAMMARS.get(f.payload_type, ()):
                if _decode(f.payload, grammar, strict=True) is not None:
                    break
            else:
                return Verdict(FindingClass.VIOLATION, "response-decodes",
                               f"a frame that decodes in no grammar: {f.payload.hex()[:64]}")
    return Verdict(None, "v2gtp-short", "answered")


_GRAMMARS = {0x8001: ("apphand", "din", "iso2"), 0x8002: ("iso20-common",),
             0x8003: ("iso20-ac",), 0x8004: ("iso20-dc",), 0x8005: ("iso20-acdp",),
             0x8006: ("iso20-wpt",)}


def _positive_answer(obs: Observation) -> bool:
    return any(f.payload for f in obs.frames)


def judge_tls_link(obs: Observation, link: str) -> Verdict:
    """We acted as an EV offering only -20 over ``link`` (what it lacks, e.g. "TLS 1.2"):
    whether the SECC agreed to it (rule ``iso20-tls``)."""
    for f in obs.frames:
        if f.payload_type != 0x8001:
            continue
        answer = _decode(f.payload, "apphand", strict=False)
        code = _code(answer)
        if code is not None and code.startswith("OK"):
            return Verdict(FindingClass.VIOLATION, "iso20-tls",
                           f"agreed on ISO 15118-20 over {link} ({code})")
        if code is not None:
            return Verdict(None, "iso20-tls", f"refused -20 over {link} with {code}")
    if obs.silent and not obs.frames:
        return Verdict(FindingClass.HANG, "iso20-tls",
                       f"no answer to supportedAppProtocolReq over {link}, connection open")
    return Verdict(None, "iso20-tls", f"closed the link over {link}")


def judge_charger(wire: Wire, obs: Observation, expect: Expect,
                  expected_type: int) -> Verdict:
    """We acted as the EV: judge the SECC's reaction to ``wire`` (a request)."""
    framed = _framing(wire, obs)
    if framed is not None:
        return framed
    grammar = _grammar_of_frame(expect, wire.payload_type, expected_type)
    if grammar is None:
        if obs.silent or obs.closed and not obs.frames:
            return Verdict(None, "v2gtp-payload-type", "discarded or closed")
        return _judge_responses(obs, expect, None, "v2gtp-payload-type")
    # strict: a value outside its facets or missing required content makes a message the
    # target may refuse to read at all, as our own SECC does
    request = _decode(wire.payload, grammar, strict=True)
    if request is None:
        return _no_request(obs, expect, "undecodable",
                           "no response and no close after an undecodable message")
    if expect.protocol is not None and grammar == "apphand":
        return _no_request(obs, expect, "handshake-again",
                           "no reaction to a supportedAppProtocolReq inside the session")
    if expect.rules is not None and grammar != "apphand" and \
            expect.rules.exchange_of_request(expect.body(request)) is None:
        return _no_request(obs, expect, "not-a-request",
                           "no reaction to a document that is no request")
    if obs.silent and not obs.frames:
        return Verdict(FindingClass.HANG, "response-due",
                       "no response within the deadline, connection open")
    if not obs.frames:
        return Verdict(FindingClass.RESET, "response-due",
                       "closed without answering a decodable request"
                       + (" (reset)" if obs.reset else ""))
    return _judge_responses(obs, expect, request, "response-due")


def _no_request(obs: Observation, expect: Expect, rule: str, silence: str) -> Verdict:
    """The reaction to a message that names no request the charger could answer: closing
    (or a FAILED response, then closing) is what ``rule`` accepts; silence is a hang."""
    if obs.silent and not obs.frames:
        return Verdict(FindingClass.HANG, rule, silence)
    if not obs.frames:
        return Verdict(None, rule, "closed")
    return _judge_responses(obs, expect, None, rule)


def _grammar_of_frame(expect: Expect, payload_type: int, expected_type: int) -> str | None:
    """The grammar a frame of ``payload_type`` is read with in this session, or None when
    the session does not take that payload type (-20 takes each of its namespaces')."""
    if expect.grammar_of is not None and expect.protocol == "iso20":
        return expect.grammar_of(payload_type)
    return expect.grammar if payload_type == expected_type else None


def _judge_responses(obs: Observation, expect: Expect, request: Any,
                     rule: str) -> Verdict:
    first = obs.frames[0]
    grammar = expect.grammar_of(first.payload_type) if expect.grammar_of else expect.grammar
    if grammar is None:
        # a refusal spelt in the namespace of the request it refuses (a -20 DC request in
        # an AC session answered FAILED_SequenceError as DC) is a correct answer
        other = PAYLOAD_TYPE_PROTOCOLS.get(first.payload_type, "")
        refusal = _decode(first.payload, other, strict=True) if other.startswith(
            "iso20") else None
        if refusal is not None and _failed(_code(refusal)):
            return Verdict(None, "failed-then-close", f"refused with {_code(refusal)} "
                           f"in payload type 0x{first.payload_type:04x}")
        return Verdict(FindingClass.VIOLATION, "response-decodes",
                       f"response in payload type 0x{first.payload_type:04x}")
    response = _decode(first.payload, grammar, strict=True)
    if response is None:
        return Verdict(FindingClass.VIOLATION, "response-decodes",
                       f"response does not decode as {grammar}: {first.payload.hex()[:64]}")
    if expect.protocol is None or request is None or expect.rules is None:
        return Verdict(None, rule, "answered")
    body = expect.body(response)
    code = _code(body)
    req_body = expect.body(request)
    exchange = expect.rules.exchange_of_request(req_body)
    if exchange is None:
        return Verdict(None if _failed(code) else FindingClass.VIOLATION, "response-type",
                       f"answered {type(req_body).__name__} (not a request) with {code}")
    resp_classes = exchange.response if isinstance(exchange.response, tuple) \
        else (exchange.response,)
    if not isinstance(body, resp_classes):
        return Verdict(FindingClass.VIOLATION, "response-type",
                       f"{type(body).__name__} answers {exchange.step}Req")
    if _failed(code):
        return Verdict(None, "failed-then-close", f"refused with {code}")
    sid = _session_id(request)
    if exchange.step != "SessionSetup" and sid != expect.session_id:
        return Verdict(FindingClass.VIOLATION, "unknown-session",
                       f"{exchange.step}Req with SessionID {sid.hex() if sid else None} "
                       f"(session {expect.session_id.hex()}) answered {code}")
    if expect.last_step is not None and exchange.step not in allowed_after(
            expect.rules, expect.last_step) and not _a_stop(exchange.step, req_body):
        return Verdict(FindingClass.VIOLATION, "sequence",
                       f"{exchange.step}Req after {expect.last_step} answered {code}")
    return Verdict(None, rule, f"answered {code}")


def _a_stop(step: str, body: Any) -> bool:
    """SessionStop, or PowerDelivery that stops: accepting these out of sequence is a
    tolerance real cars need (our SECC's ``accept_session_stop_anywhere`` and
    ``accept_power_delivery_stop_anywhere``), and stopping bypasses nothing."""
    if step == "SessionStop":
        return True
    if step != "PowerDelivery":
        return False
    progress = getattr(body, "charge_progress", None)
    if progress is not None:
        return str(getattr(progress, "value", progress)) == "Stop"
    return getattr(body, "ready_to_charge_state", None) is False


def _session_id(message: Any) -> bytes | None:
    header = getattr(message, "header", None)
    return getattr(header, "session_id", None)


def allowed_after(rules: ProtocolRules, step: str) -> set[str]:
    """Every request the table allows after ``step`` completed, whatever its outcome
    (states are named ``Step`` or ``Step.Outcome``)."""
    out: set[str] = set()
    for state in rules.states():
        if state == step or state.startswith(step + "."):
            out.update(rules.allowed(state))
    return out


def judge_vehicle(wire: Wire, obs: Observation, expect: Expect, expected_type: int,
                  must_stop: str | None) -> Verdict:
    """We acted as the charger: judge the EVCC's reaction to ``wire`` (a response).
    ``must_stop`` says why the EVCC has to end the session now (None: it may go on)."""
    framed = _framing(wire, obs)
    if framed is not None:
        return framed
    grammar = _grammar_of_frame(expect, wire.payload_type, expected_type)
    if grammar is None:
        if not obs.frames:
            return Verdict(None, "v2gtp-payload-type", "discarded or closed")
        must_stop = None  # a discarded response, then the EV's own timeout: no rule broken
    elif _decode(wire.payload, grammar, strict=False) is None:
        must_stop = "an undecodable response"
    if must_stop is not None:
        going_on = [f for f in obs.frames if not _is_session_stop(f, expect)]
        if going_on:
            return Verdict(FindingClass.VIOLATION, "ev-must-stop",
                           f"went on after {must_stop}")
        if obs.silent:
            return Verdict(FindingClass.HANG, "ev-must-stop",
                           f"neither closed nor went on after {must_stop}")
        return Verdict(None, "ev-must-stop", "stopped")
    if obs.silent and not obs.frames:
        return Verdict(FindingClass.HANG, "ev-goes-on",
                       "no next request and no close within the deadline")
    for f in obs.frames:
        grammar = expect.grammar_of(f.payload_type) if expect.grammar_of else expect.grammar
        if grammar is None or _decode(f.payload, grammar, strict=True) is None:
            return Verdict(FindingClass.VIOLATION, "response-decodes",
                           f"a request that does not decode: {f.payload.hex()[:64]}")
    return Verdict(None, "ev-goes-on", "went on or stopped")


def _is_session_stop(frame: Frame, expect: Expect) -> bool:
    grammar = expect.grammar_of(frame.payload_type) if expect.grammar_of else expect.grammar
    message = _decode(frame.payload, grammar, strict=False) if grammar else None
    if message is None or expect.rules is None:
        return False
    exchange = expect.rules.exchange_of_request(expect.body(message))
    return exchange is not None and exchange.step == "SessionStop"


#: a request sooner than this after the one answered is no retransmission ([V2G2-159]:
#: 250 ms; the margin is for timer granularity)
SDP_RETRANSMIT_MIN = 0.2


@dataclass
class SdpReaction:
    """What a vehicle did after damaged SDP answers (an SDP case as the charger)."""

    #: connections to the port only the damaged answer named (None: it could not be
    #: listened on, so such a connection cannot be seen)
    connected: int | None = 0
    #: seconds from the request answered until the next (None: none within the wait)
    asked_again: float | None = None
    #: seconds until it connected to the real port without asking again
    connected_real: float | None = None
    window: float = 0.0


def judge_sdp_vehicle(malformed: tuple[str, ...], tolerated: tuple[str, ...],
                      reaction: SdpReaction) -> Verdict:
    """We acted as the charger and answered the vehicle's SECCDiscoveryReq with damaged
    datagrams: judge what it did (``malformed``: why the answer is unusable; empty when
    it is usable but odd, ``tolerated`` says how)."""
    what = "; ".join(malformed or tolerated) or "an answer"
    if reaction.connected:
        if malformed:
            return Verdict(FindingClass.VIOLATION, "sdp-ignore-malformed",
                           f"connected where an unusable answer pointed ({what})")
        return Verdict(None, "sdp-tolerated", f"took an odd answer ({what})")
    if reaction.asked_again is not None:
        rule = "sdp-ignore-malformed" if malformed else "sdp-tolerated"
        if reaction.asked_again < SDP_RETRANSMIT_MIN:
            # sooner than its 250 ms timer: not a retransmission but a discovery started
            # over (it acted on the answer and failed, or was restarted); not a finding,
            # it came back, but not the same as ignoring the answer
            return Verdict(None, "sdp-retry" if malformed else "sdp-tolerated",
                           f"started over {reaction.asked_again:.2f} s "
                           f"after the request answered ({what})")
        late = reaction.asked_again > reaction.window
        return Verdict(None, "sdp-retry" if late else rule,
                       f"asked again after {reaction.asked_again:.2f} s ({what})")
    if reaction.connected_real is not None:
        return Verdict(None, "sdp-retry", "connected to the real port without asking")
    if reaction.connected is None and not malformed:
        return Verdict(None, "sdp-tolerated", f"went where the answer pointed ({what}), "
                       "which could not be watched")
    return Verdict(FindingClass.LIVENESS, "sdp-retry",
                   f"stopped asking after {what} and did not come back")
