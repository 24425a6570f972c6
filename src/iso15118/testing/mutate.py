"""Broken EXI streams on purpose: truncations, bit flips, spliced bytes, claimed lengths.

Field bugs in V2G stacks come from bytes, not from values: a serial link drops a bit, a
TCP segment is cut short, a length field says 2**31. These functions make such streams
from valid ones, reproducibly (every random choice comes from the ``random.Random`` the
caller passes), so a device under test can be fed the same damage twice.

EXI streams are bit-packed (EXI 1.0 section 5.1.2: no byte alignment between events), so
the operations work on bit offsets where that matters. :func:`claim_length` writes an EXI
unsigned integer (section 7.1.6: 7-bit groups, least significant first, high bit set on
all but the last) at a bit offset; placed where the decoder expects a string or binary
length it claims a huge value without supplying the bytes.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Final

__all__ = [
    "OPERATORS",
    "Mutation",
    "claim_length",
    "delete",
    "duplicate",
    "exi_uint",
    "flip_bit",
    "insert",
    "mutate",
    "set_byte",
    "single_mutations",
    "splice",
    "truncate",
]

#: The claimed length :func:`mutate` uses: far beyond any real message, and still in range
#: of a signed 32-bit length, the type C decoders most often use for it.
HUGE_LENGTH: Final = 2**31 - 1


@dataclass(frozen=True)
class Mutation:
    """A mutated stream and what was done to it (for logs and reproduction)."""

    data: bytes
    description: str


def truncate(data: bytes, length: int) -> bytes:
    """The first ``length`` bytes."""
    return data[: max(0, length)]


def flip_bit(data: bytes, bit: int) -> bytes:
    """``data`` with one bit inverted (bit 0 is the most significant bit of byte 0, the
    order EXI writes bits in)."""
    out = bytearray(data)
    out[bit // 8] ^= 0x80 >> (bit % 8)
    return bytes(out)


def set_byte(data: bytes, index: int, value: int) -> bytes:
    out = bytearray(data)
    out[index] = value & 0xFF
    return bytes(out)


def insert(data: bytes, index: int, chunk: bytes) -> bytes:
    return data[:index] + chunk + data[index:]


def delete(data: bytes, index: int, length: int) -> bytes:
    return data[:index] + data[index + length :]


def duplicate(data: bytes, start: int, length: int, at: int) -> bytes:
    """Copy ``data[start:start+length]`` to offset ``at`` (a repeated event sequence)."""
    return insert(data, at, data[start : start + length])


def splice(head: bytes, tail: bytes, cut_head: int, cut_tail: int) -> bytes:
    """The start of one stream joined to the end of another (a reused buffer)."""
    return head[:cut_head] + tail[cut_tail:]


def exi_uint(value: int) -> bytes:
    """An EXI unsigned integer (section 7.1.6) as its octets."""
    if value < 0:
        raise ValueError("EXI unsigned integers are not negative")
    out = bytearray()
    while True:
        group = value & 0x7F
        value >>= 7
        out.append(group | (0x80 if value else 0))
        if not value:
            return bytes(out)


def claim_length(data: bytes, bit: int, value: int = HUGE_LENGTH, *,
                 replace: bool = True) -> bytes:
    """Write ``exi_uint(value)`` at bit offset ``bit``.

    With ``replace`` the integer overwrites as many bits as it is long (the stream keeps
    its length, as when a length field is corrupted); otherwise it is inserted and the rest
    of the stream shifts behind it. The result is padded with zero bits to whole bytes.
    """
    total = len(data) * 8
    bit = max(0, min(bit, total))
    claim = exi_uint(value)
    width = len(claim) * 8
    stream = int.from_bytes(data, "big") if data else 0
    head = stream >> (total - bit) if bit else 0
    rest_bits = total - bit - (width if replace else 0)
    rest = stream & ((1 << max(0, rest_bits)) - 1) if rest_bits > 0 else 0
    rest_bits = max(0, rest_bits)
    bits = (((head << width) | int.from_bytes(claim, "big")) << rest_bits) | rest
    n = bit + width + rest_bits
    pad = (-n) % 8
    return (bits << pad).to_bytes((n + pad) // 8, "big")


# ------------------------------------------------------------------ random mutation


def _op_truncate(data: bytes, rng: random.Random, lo: int) -> Mutation:
    n = rng.randrange(lo, len(data))
    return Mutation(truncate(data, n), f"truncate to {n} bytes")


def _op_flip(data: bytes, rng: random.Random, lo: int) -> Mutation:
    out = data
    span = range(lo * 8, len(data) * 8)
    bits = sorted(rng.sample(span, min(len(span), rng.randint(1, 4))))
    for b in bits:
        out = flip_bit(out, b)
    return Mutation(out, "flip bits " + ",".join(map(str, bits)))


def _op_byte(data: bytes, rng: random.Random, lo: int) -> Mutation:
    i = rng.randrange(lo, len(data))
    v = rng.choice((0x00, 0xFF, 0x7F, 0x80, rng.randrange(256)))
    return Mutation(set_byte(data, i, v), f"byte {i} := 0x{v:02x}")


def _op_insert(data: bytes, rng: random.Random, lo: int) -> Mutation:
    i = rng.randint(lo, len(data))
    chunk = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
    return Mutation(insert(data, i, chunk), f"insert {chunk.hex()} at byte {i}")


def _op_delete(data: bytes, rng: random.Random, lo: int) -> Mutation:
    i = rng.randrange(lo, len(data))
    n = rng.randint(1, min(8, len(data) - i))
    return Mutation(delete(data, i, n), f"delete {n} bytes at byte {i}")


def _op_duplicate(data: bytes, rng: random.Random, lo: int) -> Mutation:
    start = rng.randrange(lo, len(data))
    n = rng.randint(1, min(16, len(data) - start))
    at = rng.randint(lo, len(data))
    return Mutation(duplicate(data, start, n, at), f"copy {n} bytes from byte {start} to {at}")


def _op_claim(data: bytes, rng: random.Random, lo: int) -> Mutation:
    bit = rng.randrange(lo * 8, len(data) * 8)
    value = rng.choice((HUGE_LENGTH, 2**32 - 1, 2**40, 2**63 - 1, 65537))
    replace = rng.random() < 0.5
    how = "overwrite" if replace else "insert"
    return Mutation(claim_length(data, bit, value, replace=replace),
                    f"{how} length claim {value} at bit {bit}")


_Op = Callable[[bytes, random.Random, int], Mutation]

#: name -> operator; :func:`mutate` picks among these.
OPERATORS: Final[dict[str, _Op]] = {
    "truncate": _op_truncate,
    "flip": _op_flip,
    "byte": _op_byte,
    "insert": _op_insert,
    "delete": _op_delete,
    "duplicate": _op_duplicate,
    "claim": _op_claim,
}


def mutate(data: bytes, rng: random.Random, *, operators: Sequence[str] | None = None,
           keep_header: bool = True) -> Mutation:
    """One random mutation of ``data`` that differs from it.

    ``keep_header`` leaves the first byte (the EXI header ``0x80``) alone, so that the
    damage reaches the grammar instead of being rejected at the header every time.
    Offsets in the description are absolute (byte 0 / bit 0 is the header's start).
    """
    lo = 1 if keep_header and len(data) > 1 else 0
    if len(data) <= lo:
        return Mutation(data + bytes([rng.randrange(256)]), "append one random byte")
    names = list(operators or OPERATORS)
    for _ in range(16):
        m = OPERATORS[rng.choice(names)](data, rng, lo)
        if m.data != data:
            return m
    return Mutation(flip_bit(data, len(data) * 8 - 1), "flip the last bit")


def single_mutations(data: bytes) -> Iterator[Mutation]:
    """Every truncation and every single-bit flip of ``data``: the exhaustive neighbourhood
    a property test can walk for a short stream."""
    for n in range(len(data)):
        yield Mutation(truncate(data, n), f"truncate to {n} bytes")
    for bit in range(len(data) * 8):
        yield Mutation(flip_bit(data, bit), f"flip bit {bit}")
