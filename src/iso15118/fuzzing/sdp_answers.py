"""SDP cases as the charger: damaged SECCDiscoveryRes datagrams for a vehicle (sans-IO).

ISO 15118-2:2014 7.10.1 (DIN SPEC 70121 8.7.2 has the same layout) defines the answer an
SECC gives to a SECCDiscoveryReq: a V2GTP header (version 0x01, inverse 0xFE, payload
type 0x9001, payload length 20) and a 20-byte payload: the SECC's IPv6 address, its TCP
port, the security byte (0x00 TLS, 0x10 no TLS) and the transport byte (0x00 TCP). A
vehicle parses it before anything else it does on the link, so its parser meets the
charger's bytes first; the V2GTP length shapes of CVE-2024-37310 and CVE-2025-68137 are
as dangerous in this direction.

Each case here is a list of :class:`~iso15118.fuzzing.model.Mutation` steps drawn from the
case's own random stream (so it replays from (seed, case number)); :func:`plan` turns
them, with what the vehicle asked for and where the fuzzer listens, into the datagrams to
send and into what a conforming vehicle may do with them:

* ``malformed``: the answer is no usable SECCDiscoveryRes (a broken header, a payload of
  the wrong size, a reserved security byte, port 0, an address no SECC on the link can
  have: unspecified, multicast, loopback, IPv4-mapped); a vehicle must ignore it and keep
  asking, and must not connect where it points;
* ``tolerated``: the answer is odd but usable: a port outside the dynamic range 49152-65535
  the standards ask the SECC for (real chargers answer 15118 and 30000, see
  /work/shared/vectors/real, and vehicles charge there), a reserved transport byte (a
  Qingdao Penodato SERH270 sends 0x08), the other security than the one asked for (7.10.1
  lets the SECC offer it; the vehicle decides), or an answer from another UDP source port
  (the clause fixes the port the SECC listens on, not the one it answers from), a global
  address instead of a link-local one (every SECC in the real captures announces fe80::/64;
  whether the standard forbids others was not checked, its text not being at hand).
  Connecting there, or refusing, is the vehicle's choice.

Every damaged answer names a port where the fuzzer listens and no session is served (the
*decoy*), unless the damage is the port itself; a connection there shows the vehicle took
the damaged answer.
"""

from __future__ import annotations

import ipaddress
import random
import struct
from dataclasses import dataclass
from typing import Any

from iso15118.fuzzing.model import Layer, Mutation
from iso15118.fuzzing.mutations import LENGTHS
from iso15118.sdp import Security, TransportProtocol, reachable_address
from iso15118.session.runner import DYNAMIC_PORTS
from iso15118.v2gtp import PayloadType

__all__ = ["ANSWER_MAX", "AnswerPlan", "draw_sdp_answer", "plan"]

#: the most answers one case sends to one request ("several answers at once", bounded)
ANSWER_MAX = 20
_RESPONSE_LENGTH = 20
#: addresses no vehicle can reach its SECC at: unspecified, all-nodes multicast, loopback,
#: a documentation (global) address, an IPv4-mapped one
ADDRESSES = ("::", "ff02::1", "::1", "2001:db8::1", "::ffff:192.0.2.1")
#: ports: 0 (unusable), and ports outside 49152-65535 that chargers do announce
PORTS = (0, 1, 1023, 15118, 30000, 49151)


def draw_sdp_answer(rng: random.Random) -> tuple[Mutation, ...]:
    """The steps of one damaged answer: the damage, sometimes repeated or sent from
    another source port (the first step is the site findings are deduplicated by)."""
    kind = rng.choice(("version", "inverse", "type", "length", "length", "payload",
                       "address", "port", "security", "other-security", "transport",
                       "source"))
    first: Mutation
    if kind == "version":
        first = Mutation(Layer.SDP, "set", "version", (rng.choice((0x00, 0x02, 0xFF)),))
    elif kind == "inverse":
        first = Mutation(Layer.SDP, "set", "inverse", (rng.choice((0x00, 0x01, 0xFF)),))
    elif kind == "type":
        first = Mutation(Layer.SDP, "set", "payload-type",
                         (rng.choice((0x9000, 0x9003, 0x8001, 0x0000, 0xFFFF)),))
    elif kind == "length":
        first = Mutation(Layer.SDP, "set", "length",
                         (rng.choice((*LENGTHS, _RESPONSE_LENGTH - 1, _RESPONSE_LENGTH + 1)),))
    elif kind == "payload":
        first = Mutation(Layer.SDP, "payload", "length",
                         (rng.choice((0, 2, 18, 19, 21, 58, 1000)),))
    elif kind == "address":
        first = Mutation(Layer.SDP, "set", "address", (rng.choice(ADDRESSES),))
    elif kind == "port":
        first = Mutation(Layer.SDP, "set", "port", (rng.choice(PORTS),))
    elif kind == "security":
        first = Mutation(Layer.SDP, "set", "security", (rng.choice((0x01, 0x11, 0xFF)),))
    elif kind == "other-security":
        first = Mutation(Layer.SDP, "other", "security")
    elif kind == "transport":
        first = Mutation(Layer.SDP, "set", "transport", (rng.choice((0x08, 0x10, 0xFF)),))
    else:
        first = Mutation(Layer.SDP, "other", "source-port")
    if kind != "source" and rng.random() < 0.3:
        # several answers at once, or from another port: each with the same damage
        extra = rng.choice((Mutation(Layer.SDP, "repeat", "answers",
                                     (rng.choice((2, 5, ANSWER_MAX)),)),
                            Mutation(Layer.SDP, "other", "source-port")))
        return (first, extra)
    return (first,)


@dataclass(frozen=True)
class AnswerPlan:
    """What one SDP case sends, and what a conforming vehicle may do with it."""

    frames: tuple[bytes, ...]
    #: the TCP port the (damaged) answer names, and its address
    port: int
    address: ipaddress.IPv6Address
    #: send from another UDP port than the SDP server's
    other_source: bool
    #: why a conforming vehicle must ignore the answer (empty: it is usable)
    malformed: tuple[str, ...]
    #: what is odd about it but usable
    tolerated: tuple[str, ...]


def plan(steps: tuple[Mutation, ...], asked: int, address: ipaddress.IPv6Address,
         decoy_port: int) -> AnswerPlan:
    """The answers to a request that asked for security ``asked``: our ``address``,
    naming ``decoy_port`` unless a step names another port."""
    version, inverse, payload_type = 0x01, 0xFE, int(PayloadType.SDP_RESPONSE)
    length: int | None = None
    size: int | None = None
    port, security, transport = decoy_port, asked, int(TransportProtocol.TCP)
    count, other_source = 1, False
    malformed: list[str] = []
    tolerated: list[str] = []
    for m in steps:
        arg: Any = m.args[0] if m.args else 0
        if m.op == "payload":
            size = max(0, min(int(arg), 4096))
        elif m.site == "version":
            version = int(arg) & 0xFF
        elif m.site == "inverse":
            inverse = int(arg) & 0xFF
        elif m.site == "payload-type":
            payload_type = int(arg) & 0xFFFF
        elif m.site == "length":
            length = int(arg) & 0xFFFF_FFFF
        elif m.site == "address":
            address = ipaddress.IPv6Address(str(arg))
        elif m.site == "port":
            port = int(arg) & 0xFFFF
        elif m.site == "security" and m.op == "other":
            security = int(Security.NO_TLS if asked == Security.TLS else Security.TLS)
            tolerated.append("the other security than the one asked for")
        elif m.site == "security":
            security = int(arg) & 0xFF
        elif m.site == "transport":
            transport = int(arg) & 0xFF
        elif m.op == "repeat":
            count = max(1, min(int(arg), ANSWER_MAX))
        elif m.site == "source-port":
            other_source = True
            tolerated.append("an answer from another UDP source port")
    payload = address.packed + struct.pack(">H", port) + bytes((security, transport))
    if size is not None:
        payload = (payload + bytes(max(0, size - len(payload))))[:size]
    declared = len(payload) if length is None else length
    if version != 0x01 or inverse != 0xFE:
        malformed.append(f"V2GTP version 0x{version:02x}/0x{inverse:02x}")
    if payload_type != PayloadType.SDP_RESPONSE:
        malformed.append(f"payload type 0x{payload_type:04x}")
    if declared != len(payload):
        malformed.append(f"V2GTP length {declared} for {len(payload)} bytes")
    if len(payload) != _RESPONSE_LENGTH:
        malformed.append(f"a {len(payload)}-byte payload")
    if security not in (Security.TLS, Security.NO_TLS):
        malformed.append(f"reserved security byte 0x{security:02x}")
    if port == 0:
        malformed.append("port 0")
    elif port not in DYNAMIC_PORTS:
        tolerated.append(f"port {port} outside 49152-65535")
    if not reachable_address(address):
        malformed.append(f"address {address} (no SECC on the link has it)")
    elif not address.is_link_local:
        tolerated.append(f"address {address} (not link-local)")
    if transport != TransportProtocol.TCP:
        tolerated.append(f"transport byte 0x{transport:02x}")
    header = struct.pack(">BBHI", version, inverse, payload_type, declared)
    return AnswerPlan((header + payload,) * count, port, address, other_source,
                      tuple(malformed), tuple(tolerated))
