"""Link layer -> IPv4/IPv6 -> TCP/UDP: just enough dissection to find V2G traffic.

V2G runs over IPv6 link-local addresses (ISO 15118-2:2014 clause 7.6, DIN SPEC 70121
clause 8.6): SDP on UDP port 15118, the session on TCP (or TLS over TCP). Captures come
from a PLC modem's Ethernet side, from ``tcpdump -i any`` (Linux "cooked" headers), from
a loopback interface, or from SPI sniffs rebuilt as Ethernet frames, so the link types
below are those. HomePlug management frames (SLAC, Ethertype 0x88E1) and everything else
that is not IP are returned as ``None``: the caller counts them but has nothing to decode.

The length fields of IP are trusted over the frame length, because Ethernet pads short
frames to 60 bytes and that padding must not be read as TCP payload.
"""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass
from typing import Final

__all__ = ["LINKTYPES", "Packet", "dissect", "TCP_FIN", "TCP_RST", "TCP_SYN"]

#: Link types this module understands (the numbers of the tcpdump.org LINKTYPE list).
LINKTYPES: Final[dict[int, str]] = {
    0: "BSD loopback",
    1: "Ethernet",
    101: "raw IP",
    108: "OpenBSD loopback",
    113: "Linux cooked (SLL)",
    228: "raw IPv4",
    229: "raw IPv6",
    276: "Linux cooked v2 (SLL2)",
}

TCP_FIN: Final = 0x01
TCP_SYN: Final = 0x02
TCP_RST: Final = 0x04
TCP_ACK: Final = 0x10

_ETH_IPV4, _ETH_IPV6, _ETH_VLAN, _ETH_QINQ = 0x0800, 0x86DD, 0x8100, 0x88A8
_IPV6_EXTENSIONS: Final = frozenset({0, 43, 60, 135, 139, 140})  # hop-by-hop, routing, ...
_IPV6_FRAGMENT: Final = 44
_TCP, _UDP = 6, 17


@dataclass(frozen=True, slots=True)
class Packet:
    """One TCP segment or UDP datagram. ``seq``/``ack``/``flags`` are 0 for UDP."""

    number: int
    timestamp: float
    transport: str  # "tcp" or "udp"
    src: str
    sport: int
    dst: str
    dport: int
    payload: bytes
    seq: int = 0
    ack: int = 0
    flags: int = 0

    @property
    def source(self) -> tuple[str, int]:
        return self.src, self.sport

    @property
    def destination(self) -> tuple[str, int]:
        return self.dst, self.dport


def dissect(number: int, timestamp: float, linktype: int, frame: bytes) -> Packet | None:
    """The TCP/UDP packet in a frame, or None (not IP, a fragment, or cut short)."""
    try:
        ip = _network_layer(linktype, frame)
        if ip is None:
            return None
        return _ip(number, timestamp, ip)
    except (struct.error, IndexError, ValueError):
        return None


def _network_layer(linktype: int, frame: bytes) -> bytes | None:
    if linktype == 1:
        ethertype = struct.unpack_from(">H", frame, 12)[0]
        pos = 14
        while ethertype in (_ETH_VLAN, _ETH_QINQ):
            ethertype = struct.unpack_from(">H", frame, pos + 2)[0]
            pos += 4
        return frame[pos:] if ethertype in (_ETH_IPV4, _ETH_IPV6) else None
    if linktype in (0, 108):
        return frame[4:]  # family field; the IP version nibble says the rest
    if linktype in (101, 228, 229):
        return frame
    if linktype == 113:
        return frame[16:] if struct.unpack_from(">H", frame, 14)[0] in (
            _ETH_IPV4, _ETH_IPV6) else None
    if linktype == 276:
        return frame[20:] if struct.unpack_from(">H", frame, 0)[0] in (
            _ETH_IPV4, _ETH_IPV6) else None
    return None


def _ip(number: int, timestamp: float, ip: bytes) -> Packet | None:
    version = ip[0] >> 4
    if version == 4:
        ihl = (ip[0] & 0x0F) * 4
        total, frag, proto = struct.unpack_from(">H2xHxB", ip, 2)
        if frag & 0x3FFF:  # more-fragments flag or an offset: not reassembled here
            return None
        src, dst = ip[12:16], ip[16:20]
        body = ip[ihl:total]
    elif version == 6:
        length, proto = struct.unpack_from(">HB", ip, 4)
        src, dst = ip[8:24], ip[24:40]
        body = ip[40:40 + length]
        while proto in _IPV6_EXTENSIONS:
            proto, ext_len = body[0], (body[1] + 1) * 8
            body = body[ext_len:]
        if proto == _IPV6_FRAGMENT:
            return None
    else:
        return None
    s, d = str(ipaddress.ip_address(src)), str(ipaddress.ip_address(dst))
    if proto == _TCP:
        sport, dport, seq, ack, off_flags = struct.unpack_from(">HHIIH", body, 0)
        offset = (off_flags >> 12) * 4
        if offset < 20 or offset > len(body):
            return None
        return Packet(number, timestamp, "tcp", s, sport, d, dport, bytes(body[offset:]),
                      seq, ack, off_flags & 0x3F)
    if proto == _UDP:
        sport, dport, ulen = struct.unpack_from(">HHH", body, 0)
        return Packet(number, timestamp, "udp", s, sport, d, dport, bytes(body[8:ulen]))
    return None
