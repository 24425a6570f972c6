"""SDP cases: malformed and repeated discovery datagrams (ISO 15118-2 clause 7.10.1).

An SDP server ignores what it cannot parse (the request is 2 bytes behind a V2GTP header
of payload type 0x9000; anything else is not a request it has to answer). What a fuzzer
looks for is the server dying or leaking on such datagrams: an uncaught exception that
silently stops the responder (CVE-2025-68135), one socket per request never closed
(CVE-2025-68136), a payload length near 0xFFFFFFFF trusted (CVE-2025-68137). The oracle
for these is the liveness probe after the case, not a reaction to the datagram.
"""

from __future__ import annotations

import random

from iso15118.fuzzing.model import Layer, Mutation
from iso15118.fuzzing.mutations import LENGTHS, frame
from iso15118.sdp import Security, TransportProtocol
from iso15118.v2gtp import PayloadType

__all__ = ["FLOOD_MAX", "datagrams", "draw_sdp"]

#: the most datagrams one case sends (a repeated-SDP case, not a flood of the link)
FLOOD_MAX = 200


def draw_sdp(rng: random.Random) -> tuple[Mutation, ...]:
    kind = rng.choice(("length", "length", "security", "transport", "payload", "version",
                       "type", "flood"))
    if kind == "length":
        return (Mutation(Layer.SDP, "set", "length", (rng.choice(LENGTHS),)),)
    if kind == "security":
        return (Mutation(Layer.SDP, "set", "security", (rng.choice((0x01, 0x11, 0xFF)),)),)
    if kind == "transport":
        return (Mutation(Layer.SDP, "set", "transport", (rng.choice((0x01, 0x10, 0xFF)),)),)
    if kind == "payload":
        n = rng.choice((0, 1, 3, 20, 61, 1000))
        return (Mutation(Layer.SDP, "payload", "length", (n,)),)
    if kind == "version":
        return (Mutation(Layer.SDP, "set", "version", (rng.choice((0x00, 0x02, 0xFF)),)),)
    if kind == "type":
        return (Mutation(Layer.SDP, "set", "payload-type",
                         (rng.choice((0x9001, 0x9002, 0x9003, 0x8001, 0x0000)),)),)
    return (Mutation(Layer.SDP, "flood", "requests", (rng.choice((20, 50, FLOOD_MAX)),)),)


def datagrams(steps: tuple[Mutation, ...], tls: bool) -> tuple[list[bytes], bool]:
    """The datagrams of an SDP case, and whether a conforming server answers them."""
    security = int(Security.TLS if tls else Security.NO_TLS)
    transport = int(TransportProtocol.TCP)
    payload: bytes | None = None
    payload_type: int = PayloadType.SDP_REQUEST
    version, inverse, length = 0x01, 0xFE, None
    count, valid = 1, True
    for m in steps:
        if m.site == "security":
            security, valid = int(m.args[0]), False
        elif m.site == "transport":
            transport, valid = int(m.args[0]), False
        elif m.op == "payload":
            payload = bytes((security, transport)) + bytes(max(0, int(m.args[0]) - 2))
            payload = payload[: int(m.args[0])]
            valid = int(m.args[0]) == 2
        elif m.site == "version":
            version, valid = int(m.args[0]), False
        elif m.site == "payload-type":
            payload_type, valid = int(m.args[0]), False
        elif m.site == "length":
            length, valid = int(m.args[0]), int(m.args[0]) == 2
        elif m.op == "flood":
            count = min(FLOOD_MAX, int(m.args[0]))
    body = payload if payload is not None else bytes((security, transport))
    one = frame(payload_type, body, length, version, inverse)
    return [one] * count, valid
