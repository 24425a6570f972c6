"""The bit reader's ways of reading a stream agree, up to its last bit.

Short streams are read from a zero-padded copy; long ones (over 1 KiB) in place, with
their last 8 bytes from a zero-padded tail (``BitReader`` in ``_core.pyx``). A
non-strict decode ignores bytes after the document, so a message followed by filler is
read in place up to its end: it must decode to the same value as the message alone,
whichever way that one was read.
"""

from __future__ import annotations

import random

import pytest

from iso15118 import codec as v2g
from iso15118.errors import Iso15118Error, MessageDecodeError
from iso15118.testing.generate import generator_for
from iso15118.testing.mutate import mutate

LONG = 1100  # past the reader's padded-copy size


def _seeds(protocol: str, profile: str) -> list[bytes]:
    gen = generator_for(protocol)
    return [v2g.encode(d.value, protocol, element=d.element)
            for d in gen.generate_many(24, seed=5, profile=profile)]


@pytest.mark.parametrize("protocol", ["din", "iso2", "iso20-dc"])
@pytest.mark.parametrize("profile", ["typical", "boundary"])
def test_a_message_decodes_the_same_followed_by_filler(protocol: str, profile: str) -> None:
    seeds = _seeds(protocol, profile)
    rng = random.Random(protocol + profile)
    checked = 0
    for _ in range(400):
        data = mutate(rng.choice(seeds), rng).data
        try:
            alone = v2g.decode_element(data, protocol)
        except Iso15118Error:
            continue
        assert v2g.decode_element(data + bytes(LONG), protocol) == alone
        assert v2g.decode_element(data + b"\xff" * LONG, protocol) == alone
        checked += 1
    assert checked > 40


def test_long_messages_round_trip_to_their_last_bit() -> None:
    long = [d for d in _seeds("iso2", "boundary") if len(d) > LONG]
    assert len(long) >= 2
    for data in long:
        assert v2g.encode(v2g.decode(data, "iso2", strict=True), "iso2") == data


def test_a_long_stream_cut_anywhere_in_its_last_bytes_fails_within_it() -> None:
    data = max(_seeds("iso2", "boundary"), key=len)
    assert len(data) > LONG
    for cut in range(len(data) - 24, len(data) - 1):
        with pytest.raises(MessageDecodeError) as info:
            v2g.decode(data[:cut], "iso2")
        assert 0 <= info.value.bit_offset <= 8 * cut
