"""TCP stream reassembly for captured segments (RFC 9293 sequence space), without I/O.

A capture shows what the wire carried, not what the application read: segments can be
retransmitted, arrive out of order, overlap, or be missing altogether (a sniffer that
dropped a frame, a capture that started mid-connection). :class:`HalfStream` turns one
direction's segments back into the byte stream the receiver saw, delivering each byte
exactly once and in order, and reports a :class:`StreamGap` where bytes were never
captured instead of silently gluing the two sides of the hole together.

Sequence numbers are handled relative to the initial sequence number (from the SYN, or
the first data segment when the handshake was not captured), modulo 2**32, so streams
that wrap around the sequence space reassemble too.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from iso15118.capture.packets import TCP_SYN, Packet

__all__ = ["HalfStream", "StreamData", "StreamGap"]

_MOD = 1 << 32
_HALF = 1 << 31


@dataclass(frozen=True, slots=True)
class StreamData:
    """In-order bytes at ``offset`` of the stream, first captured in frame ``number``."""

    offset: int
    data: bytes
    number: int
    timestamp: float


@dataclass(frozen=True, slots=True)
class StreamGap:
    """``missing`` bytes at ``offset`` were never captured; data resumes after them."""

    offset: int
    missing: int
    number: int
    timestamp: float


@dataclass
class HalfStream:
    """One direction of a TCP connection, reassembled."""

    isn: int | None = None  # sequence number of stream offset 0
    delivered: int = 0  # stream offset of the next byte to deliver
    retransmitted: int = 0  # segments (or parts) that repeated delivered bytes
    before_start: int = 0  # segments older than the first one seen
    _pending: dict[int, tuple[bytes, int, float]] = field(default_factory=dict)

    def feed(self, packet: Packet) -> list[StreamData]:
        """Accept one segment of this direction; return the bytes it made contiguous."""
        if packet.flags & TCP_SYN:
            if self.isn is None or (self.delivered == 0 and not self._pending):
                self.isn = (packet.seq + 1) % _MOD
            return []  # data on a SYN (TCP Fast Open) is not used by V2G
        if not packet.payload:
            return []
        if self.isn is None:
            self.isn = packet.seq
        rel = (packet.seq - self.isn) % _MOD
        if rel >= _HALF:  # before the start of what we follow
            self.before_start += 1
            return []
        data = packet.payload
        end = rel + len(data)
        if end <= self.delivered:
            self.retransmitted += 1
            return []
        if rel < self.delivered:  # partly old: keep the new tail
            self.retransmitted += 1
            data = data[self.delivered - rel:]
            rel = self.delivered
        if rel > self.delivered:
            old = self._pending.get(rel)
            if old is None or len(old[0]) < len(data):
                self._pending[rel] = (data, packet.number, packet.timestamp)
            return []
        out = [StreamData(rel, data, packet.number, packet.timestamp)]
        self.delivered = end
        out.extend(self._drain())
        return out

    def _drain(self) -> list[StreamData]:
        out: list[StreamData] = []
        progressed = True
        while progressed and self._pending:
            progressed = False
            for rel in sorted(self._pending):
                data, number, ts = self._pending[rel]
                end = rel + len(data)
                if rel > self.delivered:
                    break
                del self._pending[rel]
                progressed = True
                if end <= self.delivered:
                    self.retransmitted += 1
                    continue
                data = data[self.delivered - rel:]
                out.append(StreamData(self.delivered, data, number, ts))
                self.delivered = end
        return out

    def finish(self) -> list[StreamData | StreamGap]:
        """The capture ended: deliver what waits behind holes, each hole reported."""
        out: list[StreamData | StreamGap] = []
        while self._pending:
            rel = min(self._pending)
            data, number, ts = self._pending[rel]
            if rel > self.delivered:
                out.append(StreamGap(self.delivered, rel - self.delivered, number, ts))
                self.delivered = rel
            out.extend(self._drain())
        return out
