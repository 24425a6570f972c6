"""The fuzzer's parts without a target: cases from (seed, number), mutations, the oracle's
rules, delta debugging and the pcap of a transcript (read back by ``iso15118 pcap``'s
reader)."""

from __future__ import annotations

import asyncio
import struct

from iso15118 import codec
from iso15118.capture.reader import read_capture
from iso15118.fuzzing import Case, CaseSource, FindingClass, Layer, Mutation
from iso15118.fuzzing.corpus import CORPUS
from iso15118.fuzzing.evidence import pcap_bytes
from iso15118.fuzzing.link import Transcript
from iso15118.fuzzing.minimise import ddmin
from iso15118.fuzzing.mutations import Context, apply
from iso15118.fuzzing.oracle import Expect, Observation, judge_charger
from iso15118.fuzzing.shapes import shapes
from iso15118.messages import iso2, iso20_dc
from iso15118.session.rules_iso2 import RULES
from iso15118.v2gtp import Frame

SID = bytes.fromhex("0102030405060708")


def test_a_case_is_a_function_of_seed_and_number() -> None:
    profiles = ("din", "iso2-dc", "iso20-dc")
    a = CaseSource(7, profiles, None, sdp=True)
    b = CaseSource(7, profiles, None, sdp=True)
    for n in (0, 5, 100, 4711):
        assert a.case(n).to_json() == b.case(4711 if n == 4711 else n).to_json()
        assert Case.from_json(a.case(n).to_json()) == a.case(n)
    assert a.case(100) != CaseSource(8, profiles, None, sdp=True).case(100)


def test_the_corpus_runs_first_one_case_per_cve_shape() -> None:
    source = CaseSource(1, ("iso2-dc", "iso20-dc"), None, sdp=True)
    names = [source.case(n).corpus for n in range(len(CORPUS))]
    assert sorted(names) == sorted(e.name for e in CORPUS)  # type: ignore[type-var]
    assert source.case(len(CORPUS)).corpus is None
    # without -20 the control-mode shape has nowhere to run
    assert "CVE-2025-68134" not in [c for c, _p in ((e.name, p) for e, p in
                                                    CaseSource(1, ("din",), None,
                                                               sdp=True).corpus)]


def _context() -> Context:
    body = iso2.SessionStopReqType(charging_session=iso2.ChargingSessionType("Terminate"))

    def wrap(b: object, sid: bytes) -> iso2.V2G_Message:
        return iso2.V2G_Message(header=iso2.MessageHeaderType(session_id=sid),
                                body=iso2.BodyType(body_element=b))

    message = wrap(body, SID)
    return Context(message, body, "iso2", 0x8001, SID, "SessionStop", wrap)


def test_v2gtp_length_near_ffffffff_and_a_split_frame() -> None:
    wire = apply(_context(), (Mutation(Layer.V2GTP, "set", "length", (0xFFFF_FFFF,)),
                              Mutation(Layer.V2GTP, "split", "frame", (4,))))
    assert [len(w) for w in wire.writes][0] == 4
    assert struct.unpack(">BBHI", wire.data[:8]) == (1, 0xFE, 0x8001, 0xFFFF_FFFF)
    assert wire.data[8:] == codec.encode(_context().message, "iso2")


def test_a_zero_session_id_is_written_into_the_header() -> None:
    wire = apply(_context(), (Mutation(Layer.SESSION, "sid-zero", "SessionID", ()),))
    assert codec.decode(wire.payload, "iso2").header.session_id == bytes(8)
    assert wire.session_id == bytes(8)


def test_a_facet_violation_is_written_by_the_lenient_encoder() -> None:
    wire = apply(_context(), (Mutation(Layer.EXI, "facet", "value", (0.0,)),))
    assert wire.field_site.endswith("SessionID")
    assert len(codec.decode(wire.payload, "iso2").header.session_id) == 9


def test_the_empty_control_mode_of_cve_2025_68134_is_a_shape() -> None:
    v = iso20_dc.RationalNumberType(exponent=0, value=400)
    body = iso20_dc.DC_ChargeLoopReqType(
        header=iso20_dc.MessageHeaderType(session_id=SID, time_stamp=0),
        meter_info_requested=False, ev_present_voltage=v,
        cl_req_control_mode=iso20_dc.Scheduled_DC_CLReqControlModeType(
            ev_target_current=v, ev_target_voltage=v))
    found = shapes(body, body, "iso20-dc")
    assert [(s.kind, s.site) for s in found] == [("empty-choice", "cl_req_control_mode")]
    assert type(found[0].value) is iso20_dc.CLReqControlModeType


def _expect() -> Expect:
    return Expect("iso2", "iso2", RULES, lambda m: m.body.body_element, SID, "PowerDelivery")


def test_the_oracle_knows_what_the_standard_requires() -> None:
    ctx = _context()
    bad_version = apply(ctx, (Mutation(Layer.V2GTP, "set", "version", (2,)),))
    closed, silent = Observation(closed=True), Observation(silent=True)
    assert judge_charger(bad_version, closed, _expect(), 0x8001).cls is None
    assert judge_charger(bad_version, silent, _expect(), 0x8001).cls is FindingClass.HANG
    waiting = apply(ctx, (Mutation(Layer.V2GTP, "delta", "length", (8,)),))
    verdict = judge_charger(waiting, silent, _expect(), 0x8001)
    assert verdict.cls is None and verdict.rule == "v2gtp-incomplete"
    plain = apply(ctx, ())
    assert judge_charger(plain, closed, _expect(), 0x8001).cls is FindingClass.RESET
    assert judge_charger(plain, silent, _expect(), 0x8001).cls is FindingClass.HANG


def _response(code: str, sid: bytes = SID) -> Frame:
    body = iso2.SessionStopResType(response_code=iso2.ResponseCodeType(code))
    message = iso2.V2G_Message(header=iso2.MessageHeaderType(session_id=sid),
                               body=iso2.BodyType(body_element=body))
    return Frame(0x8001, codec.encode(message, "iso2"))


def test_a_zero_session_id_accepted_is_a_violation_refused_is_not() -> None:
    wire = apply(_context(), (Mutation(Layer.SESSION, "sid-zero", "SessionID", ()),))
    ok = judge_charger(wire, Observation(frames=[_response("OK")]), _expect(), 0x8001)
    assert ok.cls is FindingClass.VIOLATION and ok.rule == "unknown-session"
    refused = judge_charger(wire, Observation(frames=[_response("FAILED_UnknownSession")],
                                              closed=True), _expect(), 0x8001)
    assert refused.cls is None and refused.rule == "failed-then-close"


def test_ddmin_keeps_only_the_step_that_matters() -> None:
    culprit = Mutation(Layer.EXI, "facet", "value", (0.5,))
    steps = (Mutation(Layer.EXI, "flip", "bits", (0.1,)), culprit,
             Mutation(Layer.EXI, "trailing", "end", ("00",)),
             Mutation(Layer.V2GTP, "split", "frame", (4,)))

    async def reproduces(subset: tuple[Mutation, ...]) -> bool:
        return culprit in subset

    minimal, spent = asyncio.run(ddmin(steps, reproduces, budget=8))
    assert minimal == (culprit,) and spent <= 4


def test_the_pcap_of_a_transcript_reads_back_as_a_session() -> None:
    t = Transcript()
    local, remote = ("fe80::2", 50000), ("fe80::1", 61000)
    t.add("-", "connect", local=local, remote=remote)
    request = _context().message
    t.add("out", "tcp", Frame(0x8001, codec.encode(request, "iso2")).encode(),
          local=local, remote=remote)
    t.add("in", "tcp", _response("OK").encode(), local=local, remote=remote)
    t.add("out", "close", local=local, remote=remote)
    result = read_capture(pcap_bytes(t))
    assert result.frames == 6  # handshake, two segments, FIN
    assert [(m.direction, m.name) for m in result.messages] == [
        ("EV->EVSE", "SessionStopReq"), ("EVSE->EV", "SessionStopRes")]


def test_an_out_of_order_20_message_travels_in_its_own_namespace() -> None:
    from iso15118.messages import iso20_common

    v = iso20_dc.RationalNumberType(exponent=0, value=400)
    header = iso20_dc.MessageHeaderType(session_id=SID, time_stamp=0)
    loop = iso20_dc.DC_ChargeLoopReqType(
        header=header, meter_info_requested=False, ev_present_voltage=v,
        cl_req_control_mode=iso20_dc.Scheduled_DC_CLReqControlModeType(
            ev_target_current=v, ev_target_voltage=v))
    other = iso20_common.ServiceDetailReqType(
        header=iso20_common.MessageHeaderType(session_id=SID, time_stamp=0), service_id=2)
    grammars = {iso20_dc.DC_ChargeLoopReqType: "iso20-dc",
                iso20_common.ServiceDetailReqType: "iso20-common"}
    ctx = Context(loop, loop, "iso20-dc", 0x8004, SID, "ChargeLoop", lambda b, _sid: b,
                  lambda _i: ("ServiceDetail", other), 1, None,
                  lambda m: grammars[type(m)])
    wire = apply(ctx, (Mutation(Layer.SESSION, "out-of-order", "sequence", (0.0,)),))
    assert (wire.step, wire.payload_type) == ("ServiceDetail", 0x8002)
    assert isinstance(codec.decode(wire.payload, "iso20-common"),
                      iso20_common.ServiceDetailReqType)


def test_a_second_handshake_inside_a_20_session_may_be_closed() -> None:
    from iso15118.messages import apphand
    from iso15118.session.rules_iso20 import RULES as RULES20
    from iso15118.v2gtp import PAYLOAD_TYPE_PROTOCOLS

    sap = apphand.supportedAppProtocolReq(app_protocol=[apphand.AppProtocolType(
        protocol_namespace="urn:iso:std:iso:15118:-20:DC", version_number_major=1,
        version_number_minor=0, schema_id=1, priority=1)])
    ctx = Context(sap, sap, "apphand", 0x8001, b"", "supportedAppProtocol",
                  lambda b, _sid: b)
    wire = apply(ctx, ())

    def grammar_of(t: int) -> str | None:
        return "apphand" if t == 0x8001 else PAYLOAD_TYPE_PROTOCOLS.get(t)

    expect = Expect("iso20-common", "iso20", RULES20, lambda m: m, SID, "SessionSetup",
                    grammar_of)
    closed = judge_charger(wire, Observation(closed=True), expect, 0x8002)
    assert closed.cls is None and closed.rule == "handshake-again"
    silent = judge_charger(wire, Observation(silent=True), expect, 0x8002)
    assert silent.cls is FindingClass.HANG


def test_byte_damage_on_a_one_byte_payload_stays_in_range() -> None:
    steps = (Mutation(Layer.EXI, "truncate", "end", (0.0,)),
             Mutation(Layer.EXI, "flip", "bits", (0.99, 0.5)))
    wire = apply(_context(), steps)  # seed 1006 case 965 raised IndexError here
    assert len(wire.payload) == 1


def test_a_document_that_is_no_request_may_be_closed() -> None:
    """Seed 20000 case 1024 of the simulator campaign: a DIN ServiceDiscoveryReq damaged to
    ``801a``, a document whose root is a ChargingStatusReq element, not a V2G_Message. It
    decodes strictly, but names no request the charger could answer; our SECC closed, which
    the oracle first took for a reset."""
    from iso15118.fuzzing.mutations import Wire, frame
    from iso15118.session.dialects import secc_dialect
    from iso15118.session.rules_din import RULES as RULES_DIN

    payload = bytes.fromhex("801a")
    assert type(codec.decode(payload, "din", strict=True)).__name__ == "ChargingStatusReqType"
    wire = Wire([frame(0x8001, payload)], payload, 0x8001, None, "ServiceDiscovery", SID,
                len(payload))
    expect = Expect("din", "din", RULES_DIN, secc_dialect("din").body, SID, "SessionSetup")
    closed = judge_charger(wire, Observation(closed=True), expect, 0x8001)
    assert closed.cls is None and closed.rule == "not-a-request"
    assert judge_charger(wire, Observation(silent=True), expect, 0x8001).cls \
        is FindingClass.HANG
    # a response sent as a request is no request either
    res = iso2.V2G_Message(header=iso2.MessageHeaderType(session_id=SID),
                           body=iso2.BodyType(body_element=iso2.SessionStopResType(
                               response_code=iso2.ResponseCodeType("OK"))))
    data = codec.encode(res, "iso2")
    wire = Wire([frame(0x8001, data)], data, 0x8001, res, "SessionStop", SID, len(data))
    expect = Expect("iso2", "iso2", RULES, secc_dialect("iso2").body, SID, "PowerDelivery")
    assert judge_charger(wire, Observation(closed=True), expect, 0x8001).rule \
        == "not-a-request"


def test_a_repeat_is_sent_as_it_was_whatever_session_step_comes_with_it() -> None:
    """The charger-role campaign's seed 30001 case 157 (ISO-2 DC, SessionSetup): steps
    repeat + sid-wrong sent a correct SessionSetupRes with a new SessionID (the SessionID
    step re-wrapped the case's own body after the repeat) labelled a repeat, and the oracle
    took our vehicle's going on for a violation. The previous frame now goes out as it was."""
    import dataclasses

    previous = (0x8001, bytes.fromhex("80400040"))  # a supportedAppProtocolRes
    ctx = dataclasses.replace(_context(), previous=previous)
    for order in ((Mutation(Layer.SESSION, "repeat", "sequence", ()),
                   Mutation(Layer.SESSION, "sid-wrong", "SessionID", (7903911765039501959,))),
                  (Mutation(Layer.SESSION, "sid-wrong", "SessionID", (7903911765039501959,)),
                   Mutation(Layer.SESSION, "repeat", "sequence", ())),
                  (Mutation(Layer.SESSION, "repeat", "sequence", ()),
                   Mutation(Layer.SESSION, "out-of-order", "sequence", (0.5,)))):
        wire = apply(ctx, order)
        assert wire.payload == previous[1] and wire.step == "repeat"
        assert wire.message is None and wire.session_id is None
