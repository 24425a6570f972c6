"""SDP cases as the charger, without a vehicle: the damaged answers (what each step does
to the bytes, checked with our own SDP decoder and client), which are unusable and which only odd,
the cases' reproducibility, and the oracle's verdicts on each reaction."""

from __future__ import annotations

import ipaddress
import random
import struct

import pytest

from iso15118.fuzzing.cases import CaseSource
from iso15118.fuzzing.model import FindingClass, Layer, Mutation
from iso15118.fuzzing.oracle import RULES, SdpReaction, judge_sdp_vehicle
from iso15118.fuzzing.sdp_answers import ANSWER_MAX, draw_sdp_answer, plan
from iso15118.sdp import SDPClient, SDPRequest, SDPResponse, Security, decode

SECC = ipaddress.IPv6Address("fe80::1")
DECOY = 50123


def _plan(*steps: Mutation, asked: int = Security.NO_TLS):  # type: ignore[no-untyped-def]
    return plan(tuple(steps), asked, SECC, DECOY)


def test_no_steps_is_the_correct_answer_naming_the_decoy() -> None:
    p = _plan()
    assert p.malformed == () and p.tolerated == ()
    assert decode(p.frames[0]) == SDPResponse(SECC, DECOY, Security.NO_TLS)


@pytest.mark.parametrize(("step", "why"), [
    (Mutation(Layer.SDP, "set", "version", (0x02,)), "V2GTP version 0x02/0xfe"),
    (Mutation(Layer.SDP, "set", "inverse", (0x00,)), "V2GTP version 0x01/0x00"),
    (Mutation(Layer.SDP, "set", "payload-type", (0x9000,)), "payload type 0x9000"),
    (Mutation(Layer.SDP, "set", "length", (0xFFFF_FFFF,)), "V2GTP length 4294967295 for 20"),
    (Mutation(Layer.SDP, "set", "length", (0,)), "V2GTP length 0 for 20 bytes"),
    (Mutation(Layer.SDP, "payload", "length", (19,)), "a 19-byte payload"),
    (Mutation(Layer.SDP, "payload", "length", (1000,)), "a 1000-byte payload"),
    (Mutation(Layer.SDP, "set", "security", (0x11,)), "reserved security byte 0x11"),
    (Mutation(Layer.SDP, "set", "port", (0,)), "port 0"),
    (Mutation(Layer.SDP, "set", "address", ("::",)), "address :: "),
    (Mutation(Layer.SDP, "set", "address", ("ff02::1",)), "address ff02::1"),
    (Mutation(Layer.SDP, "set", "address", ("::1",)), "address ::1"),
    (Mutation(Layer.SDP, "set", "address", ("::ffff:192.0.2.1",)), "address ::ffff:c000:201"),
])
def test_unusable_answers_are_malformed_and_our_decoder_agrees(step: Mutation,
                                                                why: str) -> None:
    p = _plan(step)
    assert any(m.startswith(why.strip()) for m in p.malformed), p.malformed
    if step.site in ("version", "inverse", "payload-type", "length", "security") \
            or step.op == "payload":
        # the header or payload is broken: our own vehicle's SDP client ignores it too
        client = SDPClient(SDPRequest(Security.NO_TLS))
        client.start(0.0)
        assert client.datagram_received(p.frames[0], 0.1) is None
        assert client.ignored == 1


@pytest.mark.parametrize(("step", "why"), [
    (Mutation(Layer.SDP, "set", "port", (15118,)), "port 15118 outside 49152-65535"),
    (Mutation(Layer.SDP, "set", "port", (30000,)), "port 30000 outside 49152-65535"),
    (Mutation(Layer.SDP, "set", "transport", (0x08,)), "transport byte 0x08"),
    (Mutation(Layer.SDP, "other", "security"), "the other security"),
    (Mutation(Layer.SDP, "other", "source-port"), "an answer from another UDP"),
    (Mutation(Layer.SDP, "set", "address", ("2001:db8::1",)), "address 2001:db8::1 (not"),
])
def test_odd_but_usable_answers_are_tolerated(step: Mutation, why: str) -> None:
    p = _plan(step)
    assert p.malformed == ()
    assert any(t.startswith(why) for t in p.tolerated), p.tolerated


def test_a_port_step_names_that_port_and_the_other_security_is_the_one_not_asked() -> None:
    assert decode(_plan(Mutation(Layer.SDP, "set", "port", (15118,))).frames[0]).port == 15118
    other = _plan(Mutation(Layer.SDP, "other", "security"), asked=Security.TLS)
    assert decode(other.frames[0]).security is Security.NO_TLS


def test_length_and_repeat_are_bounded() -> None:
    p = _plan(Mutation(Layer.SDP, "repeat", "answers", (10_000,)),
              Mutation(Layer.SDP, "payload", "length", (10**9,)))
    assert len(p.frames) == ANSWER_MAX
    assert len(p.frames[0]) == 8 + 4096
    header = _plan(Mutation(Layer.SDP, "set", "length", (0xFFFF_FFF8,))).frames[0][:8]
    assert struct.unpack(">BBHI", header) == (1, 0xFE, 0x9001, 0xFFFF_FFF8)


def test_cases_replay_from_seed_and_number_and_the_charger_draws_answers() -> None:
    one = CaseSource(7, ("iso2-dc",), ("SDP",), sdp=True, role="evse")
    two = CaseSource(7, ("iso2-dc",), ("SDP",), sdp=True, role="evse")
    cases = [one.case(n) for n in range(200)]
    assert cases == [two.case(n) for n in reversed(range(200))][::-1]
    sites = {c.steps[0].site for c in cases}
    assert {"version", "inverse", "payload-type", "length", "address", "port", "security",
            "transport", "source-port"} <= sites
    assert all(c.layer is Layer.SDP and c.corpus is None for c in cases)  # not the EV's
    assert any(len(c.steps) == 2 and c.steps[1].op == "repeat" for c in cases)
    ev = CaseSource(7, ("iso2-dc",), ("SDP",), sdp=True)
    assert ev.case(len(ev.corpus)).steps != cases[len(ev.corpus)].steps


def test_every_draw_makes_an_answer() -> None:
    rng = random.Random(1)
    for _ in range(500):
        p = plan(draw_sdp_answer(rng), Security.TLS, SECC, DECOY)
        assert p.frames and all(len(f) >= 8 for f in p.frames)


def test_the_oracle_on_each_reaction() -> None:
    bad, odd = ("port 0",), ("port 15118 outside 49152-65535",)
    for rule in ("sdp-ignore-malformed", "sdp-retry", "sdp-tolerated"):
        assert RULES[rule].clause
    took = judge_sdp_vehicle(bad, (), SdpReaction(connected=1, window=1.0))
    assert (took.cls, took.rule) == (FindingClass.VIOLATION, "sdp-ignore-malformed")
    assert judge_sdp_vehicle((), odd, SdpReaction(connected=1)).cls is None
    asked = judge_sdp_vehicle(bad, (), SdpReaction(asked_again=0.25, window=1.0))
    assert (asked.cls, asked.rule) == (None, "sdp-ignore-malformed")
    restarted = judge_sdp_vehicle(bad, (), SdpReaction(asked_again=0.05, window=1.0))
    assert (restarted.cls, restarted.rule) == (None, "sdp-retry")  # no retransmission
    late = judge_sdp_vehicle(bad, (), SdpReaction(asked_again=9.0, window=1.0))
    assert (late.cls, late.rule) == (None, "sdp-retry")  # gave up, started over
    gone = judge_sdp_vehicle(bad, (), SdpReaction(window=1.0))
    assert (gone.cls, gone.rule) == (FindingClass.LIVENESS, "sdp-retry")
    unseen = judge_sdp_vehicle((), odd, SdpReaction(connected=None, window=1.0))
    assert unseen.cls is None
