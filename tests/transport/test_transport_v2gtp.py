"""V2GTP header codec and the sans-IO stream parser (iso15118.v2gtp)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from iso15118.errors import Iso15118Error
from iso15118.v2gtp import (
    HEADER_LENGTH,
    PAYLOAD_TYPE_PROTOCOLS,
    SDP_PAYLOAD_TYPES,
    DiscardReason,
    Frame,
    FrameDiscarded,
    InvalidVersionError,
    LengthMismatchError,
    LocalProtocolError,
    PayloadTooLargeError,
    PayloadType,
    ProtocolViolation,
    RemoteProtocolError,
    TruncatedStreamError,
    UnknownPayloadTypeError,
    V2GTPHeader,
    V2GTPParser,
    encode_frame,
    parse_datagram,
    protocol_of,
)

KNOWN_TYPES = [int(p) for p in PayloadType]
frames_strategy = st.lists(
    st.builds(
        Frame,
        payload_type=st.sampled_from(KNOWN_TYPES),
        payload=st.binary(max_size=300),
    ),
    max_size=8,
)


def feed_in_chunks(parser: V2GTPParser, data: bytes, cuts: list[int]) -> list[object]:
    events: list[object] = []
    start = 0
    for cut in sorted(set(cuts)) + [len(data)]:
        events += parser.feed(data[start:cut])
        assert parser.buffered <= HEADER_LENGTH + parser.max_payload_length
        start = cut
    return events


# ----------------------------------------------------------------------------- header


def test_header_layout_is_version_inverse_type_length_big_endian() -> None:
    assert V2GTPHeader(0x8001, 0x01020304).encode() == bytes.fromhex("01fe800101020304")
    assert V2GTPHeader.parse(bytes.fromhex("01fe900100000014")) == V2GTPHeader(0x9001, 20)


def test_payload_types_cover_iso2_and_iso20_tables() -> None:
    assert {p.value for p in PayloadType} >= {
        0x8001, 0x8002, 0x8003, 0x8004, 0x8005, 0x8006, 0x9000, 0x9001, 0x9002, 0x9003
    }  # fmt: skip


def test_protocol_mapping_names_each_exi_payload_type() -> None:
    assert PAYLOAD_TYPE_PROTOCOLS == {
        0x8001: "sap-or-iso2-din",
        0x8002: "iso20-common",
        0x8003: "iso20-ac",
        0x8004: "iso20-dc",
        0x8005: "iso20-acdp",
        0x8006: "iso20-wpt",
    }
    assert protocol_of(0x9000) is None
    assert Frame(0x8004, b"").protocol == "iso20-dc"
    assert PayloadType.SDP_REQUEST in SDP_PAYLOAD_TYPES


@pytest.mark.parametrize("first_two", ["02fe", "01ff", "00ff", "fe01", "0000"])
def test_wrong_version_or_inverse_is_a_close_the_connection_error(first_two: str) -> None:
    with pytest.raises(InvalidVersionError) as info:
        V2GTPHeader.parse(bytes.fromhex(first_two + "800100000000"))
    assert info.value.must_close
    assert isinstance(info.value, RemoteProtocolError)
    assert isinstance(info.value, Iso15118Error)


@pytest.mark.parametrize(
    ("payload_type", "length"), [(-1, 0), (0x10000, 0), (0x8001, -1), (0x8001, 2**32)]
)
def test_header_fields_out_of_range_are_local_errors(payload_type: int, length: int) -> None:
    with pytest.raises(LocalProtocolError):
        V2GTPHeader(payload_type, length)


@given(st.integers(0, 0xFFFF), st.integers(0, 2**32 - 1))
def test_header_round_trips(payload_type: int, length: int) -> None:
    header = V2GTPHeader(payload_type, length)
    assert V2GTPHeader.parse(header.encode()) == header


# ----------------------------------------------------------------------------- stream


@given(frames_strategy, st.lists(st.integers(0, 3000), max_size=20))
def test_frames_survive_any_chunking(frames: list[Frame], cuts: list[int]) -> None:
    stream = b"".join(f.encode() for f in frames)
    parser = V2GTPParser()
    assert feed_in_chunks(parser, stream, [c for c in cuts if c <= len(stream)]) == frames
    assert parser.at_boundary
    parser.feed_eof()


def test_every_split_point_of_a_multi_frame_stream_gives_the_same_frames() -> None:
    frames = [
        Frame(0x8001, bytes(range(40))),
        Frame(0x9000, b""),
        Frame(0x8004, b"\x80\x98\x02"),
        Frame(0x9001, bytes(20)),
    ]
    stream = b"".join(f.encode() for f in frames)
    for cut in range(len(stream) + 1):
        parser = V2GTPParser()
        assert parser.feed(stream[:cut]) + parser.feed(stream[cut:]) == frames, cut
    parser = V2GTPParser()
    one_by_one = [event for i in range(len(stream)) for event in parser.feed(stream[i : i + 1])]
    assert one_by_one == frames


def test_several_frames_in_one_chunk_come_out_in_order() -> None:
    frames = [Frame(0x8002, b"a" * i) for i in range(10)]
    assert V2GTPParser().feed(b"".join(f.encode() for f in frames)) == frames


def test_unknown_payload_type_is_discarded_and_the_stream_continues() -> None:
    stream = encode_frame(0x1234, b"junk" * 10) + encode_frame(0x8001, b"ok")
    for cut in range(len(stream) + 1):
        parser = V2GTPParser()
        events = parser.feed(stream[:cut]) + parser.feed(stream[cut:])
        assert len(events) == 2
        discarded, frame = events
        assert isinstance(discarded, FrameDiscarded)
        assert discarded.reason is DiscardReason.UNKNOWN_PAYLOAD_TYPE
        assert isinstance(discarded.error, UnknownPayloadTypeError)
        assert not discarded.error.must_close
        assert frame == Frame(0x8001, b"ok")


def test_payload_types_can_be_restricted_to_what_the_session_speaks() -> None:
    parser = V2GTPParser(payload_types={PayloadType.SAP_ISO2_DIN})
    (event,) = parser.feed(encode_frame(0x8004, b"x"))
    assert isinstance(event, FrameDiscarded)


def test_oversized_frame_is_skipped_without_being_buffered() -> None:
    parser = V2GTPParser(max_payload_length=16)
    big = encode_frame(0x8001, b"x" * 10_000)
    events = []
    for i in range(0, len(big), 7):
        events += parser.feed(big[i : i + 7])
        assert parser.buffered <= HEADER_LENGTH + 16
    assert len(events) == 1 and isinstance(events[0], FrameDiscarded)
    assert events[0].reason is DiscardReason.PAYLOAD_TOO_LARGE
    assert isinstance(events[0].error, PayloadTooLargeError)
    assert parser.feed(encode_frame(0x8001, b"y" * 16)) == [Frame(0x8001, b"y" * 16)]


@settings(max_examples=200)
@given(st.binary(max_size=400), st.integers(0, 64), st.lists(st.integers(0, 400), max_size=10))
def test_arbitrary_bytes_never_crash_or_overfill_the_parser(
    data: bytes, max_payload: int, cuts: list[int]
) -> None:
    parser = V2GTPParser(max_payload_length=max_payload)
    start = 0
    for cut in sorted(c for c in set(cuts) if c <= len(data)) + [len(data)]:
        events = parser.feed(data[start:cut])
        assert parser.buffered <= HEADER_LENGTH + max_payload
        for event in events:
            if isinstance(event, Frame):
                assert len(event.payload) <= max_payload
        if events and isinstance(events[-1], ProtocolViolation):
            assert all(not isinstance(e, ProtocolViolation) for e in events[:-1])
            return
        start = cut


def test_bad_version_mid_stream_delivers_earlier_frames_then_a_violation() -> None:
    good = encode_frame(0x8001, b"first")
    parser = V2GTPParser()
    events = parser.feed(good + bytes.fromhex("01fd800100000000") + good)
    assert events[0] == Frame(0x8001, b"first")
    assert isinstance(events[1], ProtocolViolation)
    assert isinstance(events[1].error, InvalidVersionError)
    assert len(events) == 2
    assert parser.violation is events[1].error
    with pytest.raises(LocalProtocolError):
        parser.feed(good)


@pytest.mark.parametrize(
    ("stream", "in_header"),
    [
        (bytes.fromhex("01fe80"), True),
        (bytes.fromhex("01fe800100000005") + b"abc", False),
        (bytes.fromhex("01fe800100000005"), False),
        (encode_frame(0x8001, b"ok") + bytes.fromhex("01fe"), True),
    ],
)
def test_stream_ending_inside_a_frame_is_a_truncation_error(stream: bytes, in_header: bool) -> None:
    parser = V2GTPParser()
    parser.feed(stream)
    with pytest.raises(TruncatedStreamError) as info:
        parser.feed_eof()
    assert info.value.in_header is in_header


def test_stream_ending_inside_a_discarded_frame_is_also_truncated() -> None:
    parser = V2GTPParser(max_payload_length=4)
    parser.feed(encode_frame(0x8001, b"too long")[:-2])
    with pytest.raises(TruncatedStreamError):
        parser.feed_eof()


def test_clean_end_between_frames_is_fine_and_final() -> None:
    parser = V2GTPParser()
    parser.feed(encode_frame(0x8001, b"x"))
    parser.feed_eof()
    with pytest.raises(LocalProtocolError):
        parser.feed(b"more")


# ----------------------------------------------------------------------------- datagram


def test_datagram_must_hold_exactly_one_frame() -> None:
    frame = encode_frame(0x9000, b"\x10\x00")
    assert parse_datagram(frame) == Frame(0x9000, b"\x10\x00")
    with pytest.raises(LengthMismatchError):
        parse_datagram(frame + b"\x00")
    with pytest.raises(TruncatedStreamError):
        parse_datagram(frame[:-1])
    with pytest.raises(TruncatedStreamError):
        parse_datagram(frame[:5])
    with pytest.raises(UnknownPayloadTypeError):
        parse_datagram(encode_frame(0x0001, b""))
    with pytest.raises(PayloadTooLargeError):
        parse_datagram(encode_frame(0x8001, b"12345"), max_payload_length=4)
    with pytest.raises(InvalidVersionError):
        parse_datagram(b"\x02" + frame[1:])
