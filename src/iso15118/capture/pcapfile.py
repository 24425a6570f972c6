"""pcap and pcapng files as a sequence of link-layer frames, without any I/O.

Both formats are read from bytes already in memory (captures of a charging session are
megabytes, not gigabytes), so the reader is a pure function a test can feed.

* pcap (libpcap's classic format): a 24-byte file header whose magic gives byte order
  and timestamp resolution (``a1b2c3d4`` microseconds, ``a1b23c4d`` nanoseconds), then
  16-byte record headers. One link type for the whole file.
* pcapng (IETF draft-ietf-opsawg-pcapng): blocks of type/length/body/length. Each
  Section Header Block restarts byte order and the interface list; every Interface
  Description Block adds an interface with its own link type and timestamp resolution
  (option ``if_tsresol``); Enhanced and Simple Packet Blocks (and the obsolete Packet
  Block) hold the frames. A file may mix interfaces of different link types, which is
  why each frame carries its own.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass

from iso15118.errors import Iso15118Error

__all__ = ["CaptureFormatError", "RawFrame", "read_frames"]

_PCAP_MAGICS = {
    b"\xd4\xc3\xb2\xa1": ("<", 1e-6),
    b"\xa1\xb2\xc3\xd4": (">", 1e-6),
    b"\x4d\x3c\xb2\xa1": ("<", 1e-9),
    b"\xa1\xb2\x3c\x4d": (">", 1e-9),
}
_PCAPNG_SHB = 0x0A0D0D0A
_BYTE_ORDER_MAGIC = 0x1A2B3C4D
_IDB, _PB, _SPB, _EPB = 1, 2, 3, 6
_OPT_TSRESOL = 9


class CaptureFormatError(Iso15118Error):
    """The file is not pcap/pcapng, or its structure is broken at ``offset``."""

    def __init__(self, message: str, offset: int = 0) -> None:
        super().__init__(f"{message} (at byte {offset})" if offset else message)
        self.offset = offset


@dataclass(frozen=True, slots=True)
class RawFrame:
    """One captured frame. ``number`` counts from 1, like Wireshark's frame numbers."""

    number: int
    timestamp: float
    linktype: int
    data: bytes
    truncated: bool = False  # captured length below the original length (snaplen)


def read_frames(data: bytes) -> Iterator[RawFrame]:
    """Every frame of a pcap or pcapng file, in file order."""
    magic = data[:4]
    if magic in _PCAP_MAGICS:
        return _read_pcap(data)
    if len(data) >= 4 and struct.unpack("<I", magic)[0] == _PCAPNG_SHB:
        return _read_pcapng(data)
    raise CaptureFormatError("not a pcap or pcapng file (unknown magic number)")


def _read_pcap(data: bytes) -> Iterator[RawFrame]:
    order, unit = _PCAP_MAGICS[data[:4]]
    if len(data) < 24:
        raise CaptureFormatError("pcap file header is truncated")
    linktype = struct.unpack_from(order + "I", data, 20)[0] & 0x0FFFFFFF
    record = struct.Struct(order + "IIII")
    pos, number = 24, 0
    while pos < len(data):
        if pos + 16 > len(data):
            raise CaptureFormatError("pcap record header is truncated", pos)
        sec, frac, incl, orig = record.unpack_from(data, pos)
        pos += 16
        if pos + incl > len(data):
            raise CaptureFormatError("pcap record data is truncated", pos)
        number += 1
        yield RawFrame(number, sec + frac * unit, linktype, data[pos:pos + incl], incl < orig)
        pos += incl


@dataclass
class _Interface:
    linktype: int
    unit: float  # seconds per timestamp tick


def _tsresol(value: int) -> float:
    # High bit set: a negative power of two; otherwise a negative power of ten.
    return 2.0 ** -(value & 0x7F) if value & 0x80 else 10.0 ** -value


def _options(body: bytes, order: str) -> Iterator[tuple[int, bytes]]:
    pos = 0
    while pos + 4 <= len(body):
        code, length = struct.unpack_from(order + "HH", body, pos)
        if code == 0:
            return
        yield code, body[pos + 4:pos + 4 + length]
        pos += 4 + ((length + 3) & ~3)


def _read_pcapng(data: bytes) -> Iterator[RawFrame]:
    order = "<"
    interfaces: list[_Interface] = []
    pos, number = 0, 0
    while pos < len(data):
        if pos + 12 > len(data):
            raise CaptureFormatError("pcapng block header is truncated", pos)
        btype = struct.unpack_from(order + "I", data, pos)[0]
        if btype == _PCAPNG_SHB:
            # The byte-order magic decides how everything in this section is read,
            # including this block's own length.
            bom = data[pos + 8:pos + 12]
            if bom == struct.pack("<I", _BYTE_ORDER_MAGIC):
                order = "<"
            elif bom == struct.pack(">I", _BYTE_ORDER_MAGIC):
                order = ">"
            else:
                raise CaptureFormatError("pcapng section header has no byte-order magic", pos)
            interfaces = []
        blen = struct.unpack_from(order + "I", data, pos + 4)[0]
        if blen < 12 or blen % 4 or pos + blen > len(data):
            raise CaptureFormatError(f"pcapng block length {blen} is invalid", pos)
        body = data[pos + 8:pos + blen - 4]
        pos += blen
        if btype == _IDB:
            linktype = struct.unpack_from(order + "H", body, 0)[0]
            unit = 1e-6
            for code, value in _options(body[8:], order):
                if code == _OPT_TSRESOL and value:
                    unit = _tsresol(value[0])
            interfaces.append(_Interface(linktype, unit))
        elif btype in (_EPB, _PB):
            if btype == _EPB:
                iface, hi, lo, incl, orig = struct.unpack_from(order + "IIIII", body, 0)
            else:
                iface, _drops, hi, lo, incl, orig = struct.unpack_from(order + "HHIIII", body, 0)
            if iface >= len(interfaces):
                raise CaptureFormatError(f"packet names interface {iface}, which is not "
                                         "described", pos - blen)
            if 20 + incl > len(body):
                raise CaptureFormatError("pcapng packet data is truncated", pos - blen)
            number += 1
            info = interfaces[iface]
            yield RawFrame(number, ((hi << 32) | lo) * info.unit, info.linktype,
                           body[20:20 + incl], incl < orig)
        elif btype == _SPB:
            if not interfaces:
                raise CaptureFormatError("simple packet block before any interface", pos - blen)
            orig = struct.unpack_from(order + "I", body, 0)[0]
            number += 1
            frame = body[4:4 + orig]
            yield RawFrame(number, 0.0, interfaces[0].linktype, frame, len(frame) < orig)
        # other blocks (name resolution, statistics, decryption secrets, custom) carry
        # no frames
