"""Inputs that claim huge lengths are refused fast, before anything of that size exists.

A length field of 2**31 in a 40-byte stream must cost what the 40 bytes cost. We write the
claim (an EXI unsigned integer, 2**31 - 1 or 2**63 - 1) at *every* bit offset of valid
messages, overwriting or inserting, so that it lands on every length the grammar reads:
string and binary lengths, string-table literals, list lengths, undeclared names. Each
decode runs under tracemalloc; the peak must stay far below the claim.
"""

from __future__ import annotations

import time
import tracemalloc

import pytest

from iso15118 import codec, protocols, sdp
from iso15118.errors import Iso15118Error
from iso15118.testing import mutate
from iso15118.testing.generate import generator_for
from iso15118.v2gtp import (
    DEFAULT_MAX_PAYLOAD_LENGTH,
    MAX_PAYLOAD_LENGTH_FIELD,
    FrameDiscarded,
    PayloadType,
    V2GTPHeader,
    V2GTPParser,
)

#: A generous bound for one decode of a message of a few hundred bytes: it would take a
#: 2**31-byte allocation about 2,000 times over to reach it, so any honoured claim fails.
PEAK_LIMIT = 1 << 20
CLAIMS = (2**31 - 1, 2**63 - 1)


def _sweep(protocol: str, data: bytes) -> tuple[int, float]:
    """Claims at every bit offset; returns the largest traced peak and the slowest decode."""
    worst_peak = 0
    slowest = 0.0
    for bit in range(8, len(data) * 8):
        for value in CLAIMS:
            for replace in (True, False):
                damaged = mutate.claim_length(data, bit, value, replace=replace)
                tracemalloc.reset_peak()
                start = time.perf_counter()
                try:
                    codec.decode(damaged, protocol)
                except Iso15118Error:
                    pass
                slowest = max(slowest, time.perf_counter() - start)
                worst_peak = max(worst_peak, tracemalloc.get_traced_memory()[1])
    return worst_peak, slowest


@pytest.mark.parametrize("protocol", list(protocols.PROTOCOLS))
def test_length_claims_at_every_bit_are_refused_without_allocating(protocol: str) -> None:
    gen = generator_for(protocol)
    docs = gen.generate_many(2, seed=7)
    tracemalloc.start()
    try:
        for doc in docs:
            data = doc.to_bytes()[:400]  # the sweep is quadratic in the length
            peak, slowest = _sweep(protocol, data)
            assert peak < PEAK_LIMIT, f"{doc.element}: traced peak {peak} bytes"
            assert slowest < 0.5, f"{doc.element}: a decode took {slowest:.3f} s"
    finally:
        tracemalloc.stop()


def test_binary_length_claim_of_two_gigabytes_raises_the_decode_error() -> None:
    # ISO-2 SessionSetupReq: the EVCCID length is the last value of the stream
    prefix = bytes.fromhex("809802000000000000000011d0")
    claim = mutate.exi_uint(2**31)
    tracemalloc.start()
    try:
        with pytest.raises(Iso15118Error, match="exceeds"):
            codec.decode(prefix + claim + b"\x00" * 8, "iso2")
        assert tracemalloc.get_traced_memory()[1] < PEAK_LIMIT
    finally:
        tracemalloc.stop()


def test_v2gtp_header_claiming_two_gigabytes_is_skipped_without_buffering() -> None:
    parser = V2GTPParser()
    header = V2GTPHeader(PayloadType.SAP_ISO2_DIN, 2**31).encode()
    events = parser.feed(header)
    assert isinstance(events[0], FrameDiscarded)
    parser.feed(b"\x00" * 100_000)
    assert parser.buffered == 0
    assert DEFAULT_MAX_PAYLOAD_LENGTH < 2**31 <= MAX_PAYLOAD_LENGTH_FIELD


def test_v2gtp_parser_without_a_limit_holds_only_what_arrived() -> None:
    parser = V2GTPParser(max_payload_length=MAX_PAYLOAD_LENGTH_FIELD)
    parser.feed(V2GTPHeader(PayloadType.SAP_ISO2_DIN, 2**31).encode() + b"\x00" * 1000)
    assert parser.buffered == 1000


def test_sdp_datagram_claiming_a_huge_payload_raises_the_library_error() -> None:
    datagram = V2GTPHeader(PayloadType.SDP_REQUEST, 2**31).encode() + b"\x00\x00"
    with pytest.raises(Iso15118Error):
        sdp.decode(datagram)
