"""Mutations at every layer: drawn from a seeded RNG, applied to the message a live
session was about to send.

Drawing (:func:`draw`) needs no target: a case is a function of (seed, case number)
alone. Applying (:func:`apply`) needs the message the session composed at the target
state (:class:`Context`), because the damage is relative to it: positions are fractions
of the payload, a facet violation or a structural shape is picked by a fraction of the
list the message admits. Order of application, top of the data path down: session
(SessionID, another request, a repeat), typed structure (shapes, facets via
:mod:`iso15118.testing.lenient`), EXI bytes (:mod:`iso15118.testing.mutate`), V2GTP
header (ISO 15118-2 clause 7.8.3). SDP datagrams are made in :mod:`.sdp_cases`.
"""

from __future__ import annotations

import random
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from iso15118 import codec
from iso15118.errors import Iso15118Error
from iso15118.fuzzing.model import Layer, Mutation
from iso15118.fuzzing.shapes import apply_shape, shapes
from iso15118.testing import lenient
from iso15118.testing import mutate as bytemut
from iso15118.v2gtp import PAYLOAD_TYPE_PROTOCOLS

__all__ = ["Context", "Wire", "apply", "draw", "frame"]

#: length fields a V2GTP receiver must survive: 0, around 2**31 and 2**32 (the CVE shape
#: of CVE-2024-37310 and CVE-2025-68137 is a length near 0xFFFFFFFF)
LENGTHS = (0, 1, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFF7, 0xFFFF_FFF8, 0xFFFF_FFFE,
           0xFFFF_FFFF, 65537)
#: payload types: reserved, another -20 namespace, SDP on TCP, manufacturer specific
PAYLOAD_TYPES = (0x0000, 0x8001, 0x8002, 0x8003, 0x8004, 0x8005, 0x8101, 0x9000, 0xA000,
                 0xFFFF)
#: how many connections a reconnect storm opens (bounded: this is a test, not a flood)
STORM_SIZES = (8, 32, 64)

_BYTE_OPS = ("flip", "byte", "truncate", "insert", "delete", "claim", "trailing", "empty",
             "exi-header")


def _frac(rng: random.Random) -> float:
    return round(rng.random(), 6)


def draw(layer: Layer, rng: random.Random) -> tuple[Mutation, ...]:
    """1-3 mutation steps of ``layer`` (the first one names the case's site)."""
    if layer is Layer.V2GTP:
        first = _draw_v2gtp(rng)
        extra = [_draw_v2gtp(rng) for _ in range(rng.choice((0, 0, 1)))]
    elif layer is Layer.EXI:
        first = _draw_exi(rng)
        extra = [_draw_bytes(rng) for _ in range(rng.choice((0, 0, 1, 2)))]
    elif layer is Layer.SESSION:
        first = _draw_session(rng)
        extra = [_draw_session(rng)] if rng.random() < 0.2 else []
    else:
        raise Iso15118Error(f"draw() does not make {layer.value} mutations")
    return (first, *extra)


def _draw_v2gtp(rng: random.Random) -> Mutation:
    kind = rng.choice(("version", "inverse", "type", "length", "length", "length-delta",
                       "trailing", "split"))
    if kind == "version":
        return Mutation(Layer.V2GTP, "set", "version", (rng.choice((0x00, 0x02, 0xFE, 0xFF)),))
    if kind == "inverse":
        return Mutation(Layer.V2GTP, "set", "inverse", (rng.choice((0x00, 0x01, 0xFF)),))
    if kind == "type":
        return Mutation(Layer.V2GTP, "set", "payload-type", (rng.choice(PAYLOAD_TYPES),))
    if kind == "length":
        return Mutation(Layer.V2GTP, "set", "length", (rng.choice(LENGTHS),))
    if kind == "length-delta":
        return Mutation(Layer.V2GTP, "delta", "length", (rng.choice((-3, -1, 1, 8, 4096)),))
    if kind == "trailing":
        n = rng.choice((1, 7, 8, 9))
        return Mutation(Layer.V2GTP, "trailing", "frame",
                        (bytes(rng.randrange(256) for _ in range(n)).hex(),))
    return Mutation(Layer.V2GTP, "split", "frame", (rng.choice((1, 4, 7, 8, 9)),))


def _draw_exi(rng: random.Random) -> Mutation:
    roll = rng.random()
    if roll < 0.3:
        return Mutation(Layer.EXI, "facet", "value", (_frac(rng),))
    if roll < 0.45:
        return Mutation(Layer.EXI, "shape", "structure", (_frac(rng),))
    return _draw_bytes(rng)


def _draw_bytes(rng: random.Random) -> Mutation:
    op = rng.choice(_BYTE_OPS)
    if op == "flip":
        return Mutation(Layer.EXI, op, "bits", tuple(_frac(rng) for _ in range(rng.randint(1, 3))))
    if op == "byte":
        return Mutation(Layer.EXI, op, "bytes",
                        (_frac(rng), rng.choice((0x00, 0xFF, 0x7F, 0x80, rng.randrange(256)))))
    if op == "truncate":
        return Mutation(Layer.EXI, op, "end", (_frac(rng),))
    if op == "insert":
        n = rng.randint(1, 8)
        return Mutation(Layer.EXI, op, "bytes",
                        (_frac(rng), bytes(rng.randrange(256) for _ in range(n)).hex()))
    if op == "delete":
        return Mutation(Layer.EXI, op, "bytes", (_frac(rng), rng.randint(1, 8)))
    if op == "claim":
        return Mutation(Layer.EXI, op, "length",
                        (_frac(rng), rng.choice((2**31 - 1, 2**32 - 1, 2**40, 65537)),
                         rng.random() < 0.5))
    if op == "trailing":
        n = rng.randint(1, 16)
        return Mutation(Layer.EXI, op, "end", (bytes(rng.randrange(256) for _ in range(n)).hex(),))
    if op == "empty":
        return Mutation(Layer.EXI, op, "payload", ())
    return Mutation(Layer.EXI, op, "header", (rng.choice((0x00, 0x81, 0xA0, 0xC0, 0xFF)),))


def _draw_session(rng: random.Random) -> Mutation:
    op = rng.choice(("sid-zero", "sid-wrong", "out-of-order", "out-of-order", "repeat",
                     "double", "storm"))
    if op == "sid-wrong":
        return Mutation(Layer.SESSION, op, "SessionID", (rng.randrange(1, 2**63),))
    if op == "out-of-order":
        return Mutation(Layer.SESSION, op, "sequence", (_frac(rng),))
    if op == "storm":
        return Mutation(Layer.SESSION, op, "connections", (rng.choice(STORM_SIZES),))
    site = {"sid-zero": "SessionID", "repeat": "sequence", "double": "sequence"}[op]
    return Mutation(Layer.SESSION, op, site, ())


# --------------------------------------------------------------------------- applying


@dataclass
class Context:
    """The message a session was about to send at the target state, and what it knows."""

    message: Any
    body: Any
    grammar: str
    payload_type: int
    session_id: bytes
    step: str  # the neutral step name (SessionSetup, CurrentDemand, ...)
    wrap: Callable[[Any, bytes], Any]
    #: a request/response body of another step that the table does not allow now, by
    #: index (None when there is none), and how many there are
    other: Callable[[int], tuple[str, Any] | None] = lambda _i: None
    others: int = 0
    previous: tuple[int, bytes] | None = None  # the frame sent before this one
    #: the grammar another message is written in (-20 spells one per namespace)
    grammar_for: Callable[[Any], str] | None = None


@dataclass
class Wire:
    """What a case sends instead of the target message, and the facts the oracle needs."""

    writes: list[bytes]
    payload: bytes
    payload_type: int
    message: Any | None  # the typed message before byte damage (None: raw bytes)
    step: str  # the step the message claims to be
    session_id: bytes | None  # the SessionID it carries
    declared_length: int
    header_valid: bool = True
    sent_twice: bool = False
    storm: int = 0
    #: what made the message unusual, for the report ("facet broken at X", ...)
    notes: list[str] = field(default_factory=list)
    #: the field a facet violation or a shape hit (findings are deduplicated by it)
    field_site: str = ""

    @property
    def data(self) -> bytes:
        return b"".join(self.writes)


#: -20's namespaces and the payload types that carry them (ISO 15118-20 Table 12)
_NAMESPACE_TYPES = {name: t for t, name in PAYLOAD_TYPE_PROTOCOLS.items()
                    if name.startswith("iso20")}


def frame(payload_type: int, payload: bytes, length: int | None = None,
          version: int = 0x01, inverse: int = 0xFE) -> bytes:
    n = len(payload) if length is None else length
    return struct.pack(">BBHI", version, inverse, payload_type, n) + payload


def _pick(items: list[Any], fraction: float) -> Any:
    return items[min(len(items) - 1, int(fraction * len(items)))]


def _at(data: bytes, fraction: float, lo: int = 1) -> int:
    """A byte index in [lo, len) (the EXI header byte 0 is kept unless asked)."""
    if len(data) <= lo:
        return len(data) - 1 if data else 0
    return lo + min(len(data) - lo - 1, int(fraction * (len(data) - lo)))


def apply(ctx: Context, steps: tuple[Mutation, ...]) -> Wire:
    """The bytes to send for ``steps`` on top of ``ctx``'s message."""
    message, step, sid = ctx.message, ctx.step, ctx.session_id
    payload_type = ctx.payload_type
    notes: list[str] = []
    raw: bytes | None = None
    twice, storm, lenient_value = False, 0, False
    field_site = ""
    for m in (s for s in steps if s.layer is Layer.SESSION):
        if raw is not None and m.op in ("sid-zero", "sid-wrong", "out-of-order"):
            # the previous frame goes out as it was (a repeat): there is no message left
            # to give another SessionID or step (re-wrapping the case's own body here
            # sent a correct message labelled a repeat, which the oracle then judged)
            continue
        if m.op == "sid-zero":
            sid = bytes(len(sid) or 8)
            message = ctx.wrap(ctx.body, sid)
        elif m.op == "sid-wrong":
            sid = (int(m.args[0]) ^ int.from_bytes(sid, "big") or 1).to_bytes(8, "big")
            message = ctx.wrap(ctx.body, sid)
        elif m.op == "out-of-order" and ctx.others:
            chosen = ctx.other(min(ctx.others - 1, int(float(m.args[0]) * ctx.others)))
            if chosen is not None:
                step, other_body = chosen
                message = ctx.wrap(other_body, sid)
                notes.append(f"{step} instead of {ctx.step}")
        elif m.op == "repeat" and ctx.previous is not None:
            payload_type, raw = ctx.previous
            message, step = None, "repeat"
            notes.append("the previous message again")
        elif m.op == "double":
            twice = True
        elif m.op == "storm":
            storm = int(m.args[0])
    grammar = ctx.grammar
    if message is not None and message is not ctx.message and ctx.grammar_for is not None:
        grammar = ctx.grammar_for(message)
        payload_type = _NAMESPACE_TYPES.get(grammar, payload_type)
    if message is not None:
        for m in (s for s in steps if s.op == "shape"):
            found = shapes(message, ctx.body, ctx.grammar)
            if found:
                shape = _pick(found, float(m.args[0]))
                message = apply_shape(message, ctx.body, shape)
                notes.append(f"{shape.kind} at {shape.site}")
                field_site = field_site or f"{shape.kind}:{shape.site}"
        facets = [s for s in steps if s.op == "facet"]
        if facets:
            found_v = lenient.violations(message, ctx.grammar)
            for m in facets:
                if found_v:
                    v = _pick(found_v, float(m.args[0]))
                    message = lenient.apply(message, v)
                    notes.append(str(v))
                    field_site = field_site or f"{v.facet.split(' ')[0]}:{v.path}"
                    lenient_value = True
        try:
            raw = (lenient.encode(message, grammar) if lenient_value
                   else codec.encode(message, grammar))
        except Iso15118Error as exc:  # a violation EXI cannot carry with the other steps
            notes.append(f"not writable ({exc}); sent unchanged")
            raw = codec.encode(ctx.message, ctx.grammar)
            message, step, sid, payload_type = ctx.message, ctx.step, ctx.session_id, \
                ctx.payload_type
            field_site = ""
            lenient_value = False
    assert raw is not None
    payload = raw
    for m in (s for s in steps if s.layer is Layer.EXI and s.op not in ("facet", "shape")):
        payload = _bytes_op(payload, m)
    version, inverse, length = 0x01, 0xFE, len(payload)
    trailing, split = b"", 0
    for m in (s for s in steps if s.layer is Layer.V2GTP):
        if m.site == "version":
            version = int(m.args[0])
        elif m.site == "inverse":
            inverse = int(m.args[0])
        elif m.site == "payload-type":
            payload_type = int(m.args[0])
        elif m.op == "set" and m.site == "length":
            length = int(m.args[0])
        elif m.op == "delta":
            length = max(0, min(0xFFFF_FFFF, length + int(m.args[0])))
        elif m.op == "trailing":
            trailing += bytes.fromhex(str(m.args[0]))
        elif m.op == "split":
            split = int(m.args[0])
    data = frame(payload_type, payload, length, version, inverse) + trailing
    writes = [data[:split], data[split:]] if 0 < split < len(data) else [data]
    return Wire(writes, payload, payload_type, message, step, sid if message else None,
                length, header_valid=(version, inverse) == (0x01, 0xFE), sent_twice=twice,
                storm=storm, notes=notes, field_site=field_site)


def _bytes_op(data: bytes, m: Mutation) -> bytes:
    a = m.args
    if m.op == "flip":
        out = data
        for f in a:
            if out:  # past the EXI header byte, unless nothing else is left
                lo = 8 if len(out) > 1 else 0
                out = bytemut.flip_bit(out, lo + int(float(f) * (len(out) * 8 - lo - 1)))
        return out
    if m.op == "byte":
        return bytemut.set_byte(data, _at(data, float(a[0])), int(a[1])) if data else data
    if m.op == "truncate":
        return bytemut.truncate(data, _at(data, float(a[0])))
    if m.op == "insert":
        return bytemut.insert(data, _at(data, float(a[0])), bytes.fromhex(str(a[1])))
    if m.op == "delete":
        i = _at(data, float(a[0]))
        return bytemut.delete(data, i, int(a[1]))
    if m.op == "claim":
        bit = 8 + int(float(a[0]) * max(0, len(data) * 8 - 8))
        return bytemut.claim_length(data, bit, int(a[1]), replace=bool(a[2]))
    if m.op == "trailing":
        return data + bytes.fromhex(str(a[0]))
    if m.op == "empty":
        return b""
    if m.op == "exi-header":
        return bytes([int(a[0])]) + data[1:] if data else data
    raise Iso15118Error(f"unknown EXI mutation {m.op}")

