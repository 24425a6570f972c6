"""File formats, link types, TCP reassembly and session tracking on captures built here.

The captures are assembled byte by byte in the test (pcap in both byte orders and
resolutions, pcapng with several interfaces of different link types) so every path is
exercised without shared data; the real captures are in test_real_captures.py.
"""

from __future__ import annotations

import ipaddress
import struct

import pytest

from iso15118.capture import CaptureFormatError, read_capture
from iso15118.capture.packets import TCP_SYN, Packet, dissect
from iso15118.capture.pcapfile import read_frames
from iso15118.capture.tcp import HalfStream, StreamData, StreamGap
from iso15118.v2gtp import encode_frame

EV, EVSE = ("fe80::1", 50000), ("fe80::2", 61000)
SAP_REQ = bytes.fromhex("8000dbab9371d3234b71d1b981899189d191818991d26b9b3a232b30020000040040")
SAP_RES = bytes.fromhex("80400040")
SSR = bytes.fromhex("809802000000000000000011d018286cb0f5397c00")  # ISO-2 SessionSetupReq
DIN_SSR = bytes.fromhex("809a02004080c1014181c211d018286cb0f5397c00")


def tcp6(src: tuple[str, int], dst: tuple[str, int], seq: int, payload: bytes = b"",
         flags: int = 0x18) -> bytes:
    """An IPv6 packet holding one TCP segment (checksums left zero: nobody checks them)."""
    tcp = struct.pack(">HHIIBBHHH", src[1], dst[1], seq, 0, 5 << 4, flags, 65535, 0, 0)
    body = tcp + payload
    return (struct.pack(">IHBB", 6 << 28, len(body), 6, 64)
            + ipaddress.IPv6Address(src[0]).packed + ipaddress.IPv6Address(dst[0]).packed
            + body)


def ether(ip: bytes) -> bytes:
    return bytes(6) + bytes(5) + b"\x01" + b"\x86\xdd" + ip


def sll(ip: bytes) -> bytes:
    return struct.pack(">HHH8sH", 0, 1, 6, bytes(8), 0x86DD) + ip


def pcap(frames: list[bytes], *, big: bool = False, nano: bool = False,
         linktype: int = 1) -> bytes:
    o = ">" if big else "<"
    magic = 0xA1B23C4D if nano else 0xA1B2C3D4
    out = [struct.pack(o + "IHHiIII", magic, 2, 4, 0, 0, 65535, linktype)]
    for i, f in enumerate(frames):
        out.append(struct.pack(o + "IIII", 1000 + i, 500, len(f), len(f)) + f)
    return b"".join(out)


def _block(btype: int, body: bytes) -> bytes:
    body += bytes(-len(body) % 4)
    return struct.pack("<II", btype, len(body) + 12) + body + struct.pack("<I", len(body) + 12)


def pcapng(frames: list[tuple[int, bytes]], linktypes: list[int]) -> bytes:
    out = [_block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))]
    for lt in linktypes:  # if_tsresol = 10^-9 on every interface
        out.append(_block(1, struct.pack("<HHI", lt, 0, 65535)
                          + struct.pack("<HHB3x", 9, 1, 9) + bytes(4)))
    for i, (iface, frame) in enumerate(frames):
        ts = (1_700_000_000 + i) * 10**9
        out.append(_block(6, struct.pack("<IIIII", iface, ts >> 32, ts & 0xFFFFFFFF,
                                         len(frame), len(frame)) + frame))
    return b"".join(out)


def session_frames() -> list[bytes]:
    """IPv6 packets of a short DIN session, with a retransmission and reordering."""
    req = encode_frame(0x8001, SAP_REQ)
    res = encode_frame(0x8001, SAP_RES)
    ssr = encode_frame(0x8001, DIN_SSR)
    return [
        tcp6(EV, EVSE, 99, flags=TCP_SYN),
        tcp6(EVSE, EV, 499, flags=TCP_SYN | 0x10),
        tcp6(EV, EVSE, 100, req[:10]),
        tcp6(EV, EVSE, 100 + 10, req[10:]),
        tcp6(EV, EVSE, 100 + 10, req[10:]),  # retransmission
        tcp6(EVSE, EV, 500, res),
        tcp6(EV, EVSE, 100 + len(req) + 5, ssr[5:]),  # arrives before its first part
        tcp6(EV, EVSE, 100 + len(req), ssr[:5]),
    ]


def test_pcap_in_both_byte_orders_and_resolutions() -> None:
    frames = [ether(p) for p in session_frames()]
    for big in (False, True):
        for nano in (False, True):
            got = list(read_frames(pcap(frames, big=big, nano=nano)))
            assert [f.data for f in got] == frames
            assert got[0].number == 1 and got[0].linktype == 1
            assert got[0].timestamp == pytest.approx(1000 + (500e-9 if nano else 500e-6))


def test_pcapng_with_interfaces_of_different_link_types() -> None:
    packets = session_frames()
    wrap = [ether, sll, lambda p: p]  # Ethernet, Linux cooked, raw IP
    frames = [(i % 3, wrap[i % 3](p)) for i, p in enumerate(packets)]
    data = pcapng(frames, [1, 113, 101])
    got = list(read_frames(data))
    assert [f.linktype for f in got] == [[1, 113, 101][i % 3] for i in range(len(packets))]
    assert got[1].timestamp == pytest.approx(1_700_000_001)
    result = read_capture(data)
    assert [m.name for m in result.messages] == [
        "supportedAppProtocolReq", "supportedAppProtocolRes", "SessionSetupReq"]
    assert [m.direction for m in result.messages] == ["EV->EVSE", "EVSE->EV", "EV->EVSE"]
    [conn] = result.connections
    assert conn.protocol == "din" and conn.negotiated == "urn:din:70121:2012:MsgDef"
    assert conn.retransmitted == 1 and conn.gaps == 0 and result.problems == []


def test_not_a_capture_and_truncated_files_are_errors() -> None:
    with pytest.raises(CaptureFormatError, match="not a pcap"):
        list(read_frames(b"hello world, this is text"))
    data = pcap([ether(p) for p in session_frames()])
    with pytest.raises(CaptureFormatError, match="truncated"):
        list(read_frames(data[:-3]))


@pytest.mark.parametrize("fmt", ["pcap", "pcapng"])
def test_a_capture_cut_short_keeps_the_frames_before_the_break(fmt: str) -> None:
    """tcpdump killed mid-write leaves half a record: the frames before it are read and a
    notice (a problem) says where the file broke; a file broken before its first frame is
    still an error."""
    packets = [ether(p) for p in session_frames()]
    data = pcap(packets) if fmt == "pcap" else pcapng([(0, p) for p in packets], [1])
    whole = read_capture(data)
    cut = read_capture(data[:-3])
    assert whole.truncated is None and cut.truncated is not None
    assert cut.frames == whole.frames - 1
    assert [m.name for m in cut.messages] == [m.name for m in whole.messages][:len(cut.messages)]
    assert cut.messages, "the messages before the break are kept"
    [notice] = [e for e in cut.problems if "ends early" in e.name]
    assert notice.kind == "notice" and notice.number == cut.frames + 1
    assert not [e for e in whole.problems if "ends early" in e.name]
    first = 24 + 16 + len(packets[0]) if fmt == "pcap" else None
    if first is not None:
        with pytest.raises(CaptureFormatError, match="truncated"):
            read_capture(data[:first - 1])


def test_ethernet_padding_is_not_payload_and_other_frames_are_skipped() -> None:
    seg = tcp6(EV, EVSE, 1, b"\x01\xfe")
    p = dissect(1, 0.0, 1, ether(seg) + bytes(20))
    assert isinstance(p, Packet) and p.payload == b"\x01\xfe"
    homeplug = bytes(12) + b"\x88\xe1" + bytes(46)
    assert dissect(2, 0.0, 1, homeplug) is None
    assert dissect(3, 0.0, 147, seg) is None  # unknown link type


def _seg(seq: int, data: bytes, number: int = 1, flags: int = 0) -> Packet:
    return Packet(number, float(number), "tcp", EV[0], EV[1], EVSE[0], EVSE[1], data, seq,
                  0, flags)


def test_reassembly_handles_overlap_reordering_and_wraparound() -> None:
    h = HalfStream()
    start = 2**32 - 3  # the sequence space wraps inside the stream
    h.feed(_seg(start - 1, b"", flags=TCP_SYN))
    out = h.feed(_seg(start, b"abcd"))
    out += h.feed(_seg(start + 8, b"ijkl"))  # hole at 4..8
    out += h.feed(_seg(start + 2, b"cdefgh"))  # overlaps what was delivered, fills the hole
    out += h.feed(_seg(start, b"ab"))  # pure retransmission
    assert b"".join(c.data for c in out) == b"abcdefghijkl"
    assert [c.offset for c in out] == [0, 4, 8]
    assert h.retransmitted == 2


def test_reassembly_reports_holes_it_could_not_fill() -> None:
    h = HalfStream()
    out: list[StreamData | StreamGap] = []
    out += h.feed(_seg(10, b"abc"))
    out += h.feed(_seg(20, b"xyz", number=2))
    assert [c.data for c in out if isinstance(c, StreamData)] == [b"abc"]
    rest = h.finish()
    assert isinstance(rest[0], StreamGap) and rest[0].missing == 7 and rest[0].offset == 3
    assert isinstance(rest[1], StreamData) and rest[1].data == b"xyz"


def test_a_lost_segment_is_a_reported_gap_and_decoding_resumes_after_it() -> None:
    frames = session_frames()
    del frames[5]  # the EVSE's response never captured ...
    res2 = encode_frame(0x8001, SAP_RES)
    frames.insert(5, tcp6(EVSE, EV, 500 + len(res2), res2))  # ... but its repeat was
    result = read_capture(pcap([ether(p) for p in frames]))
    names = [m.name for m in result.messages]
    assert names == ["supportedAppProtocolReq", "supportedAppProtocolRes", "SessionSetupReq"]
    gaps = [e for e in result.problems if "not captured" in e.name]
    assert len(gaps) == 1 and "12 bytes" in gaps[0].name


def test_capture_starting_mid_session_detects_the_protocol() -> None:
    iso = encode_frame(0x8001, SSR)
    frames = [ether(tcp6(EV, EVSE, 7, b"\x00\x01tail-of-an-earlier-frame" + iso))]
    result = read_capture(pcap(frames))
    [msg] = result.messages
    assert msg.protocol == "iso2" and msg.name == "SessionSetupReq"
    assert msg.note is not None and "detected" in msg.note
    assert any("bytes skipped" in e.name for e in result.problems)


def test_sdp_over_udp_is_decoded_with_its_direction() -> None:
    req = encode_frame(0x9000, b"\x10\x00")
    udp = struct.pack(">HHHH", 50001, 15118, 8 + len(req), 0) + req
    ip = (struct.pack(">IHBB", 6 << 28, len(udp), 17, 64)
          + ipaddress.IPv6Address(EV[0]).packed + ipaddress.IPv6Address("ff02::1").packed)
    result = read_capture(pcap([ether(ip + udp)]))
    [entry] = result.entries
    assert entry.kind == "sdp" and entry.direction == "EV->EVSE" and entry.name == "SDPRequest"
    assert ("security", "NO_TLS") in entry.values


def test_tls_seen_from_the_middle_is_reported_once_not_per_record() -> None:
    record = b"\x17\x03\x03\x00\x05" + bytes(5)
    frames = [ether(tcp6(EV, EVSE, 1 + i * len(record), record)) for i in range(3)]
    result = read_capture(pcap(frames))
    [conn] = result.connections
    assert conn.transport == "tls" and conn.undecrypted_records == 3
    [notice] = result.problems
    assert "ClientHello was not captured" in notice.name
