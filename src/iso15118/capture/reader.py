"""A capture file -> the V2G messages in it, as a timeline. Ties the other modules together.

The path of every byte: :mod:`.pcapfile` frames -> :mod:`.packets` TCP/UDP ->
:mod:`.tcp` reassembly per direction -> (:mod:`.tls` decryption) -> V2GTP framing
(:class:`iso15118.v2gtp.V2GTPParser`) -> :mod:`.session` decoding with the negotiated
protocol. SDP datagrams (UDP, ISO 15118-2 clause 7.10.1) are decoded on their own.

Which side is the EV: the TCP client (the SYN sender, ISO 15118-2 clause 7.7.2: the
EVCC connects to the SECC), failing that the TLS client, failing that the side that
sends more requests. SDP requests come from the EV by definition.

Nothing is dropped silently: bytes skipped while looking for a V2GTP header, holes in a
TCP stream, frames that do not decode and records that do not decrypt all become
entries of kind ``"notice"`` with a reason, and :class:`CaptureResult` counts them.
"""

from __future__ import annotations

import dataclasses
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from iso15118 import sdp
from iso15118.capture.keylog import KeyLog
from iso15118.capture.packets import LINKTYPES, TCP_ACK, TCP_SYN, Packet, dissect
from iso15118.capture.pcapfile import CaptureFormatError, RawFrame, read_frames
from iso15118.capture.session import SessionDecoder
from iso15118.capture.tcp import HalfStream, StreamData, StreamGap
from iso15118.capture.tls import TlsNotice, TlsPlaintext, TlsSession, looks_like_tls
from iso15118.errors import Iso15118Error
from iso15118.summary import key_values, message_name
from iso15118.v2gtp import (
    SDP_PAYLOAD_TYPES,
    Frame,
    FrameDiscarded,
    PayloadType,
    ProtocolViolation,
    V2GTPParser,
    parse_datagram,
)

__all__ = ["CaptureResult", "Connection", "Entry", "read_capture"]

EV_TO_EVSE = "EV->EVSE"
EVSE_TO_EV = "EVSE->EV"
SDP_PORT = 15118
# A V2GTP header: version, inverse version, then a payload type of -2/-20.
_HEADER_PATTERN = re.compile(rb"\x01\xfe(?:\x80[\x01-\x06]|\x81[\x01-\x04]|\x90[\x00-\x05])")
_UNDECIDED_LIMIT = 4096  # bytes looked at before calling a TCP stream "not V2G"
_EV_SDP_TYPES = {PayloadType.SDP_REQUEST, PayloadType.SDP_REQUEST_WIRELESS,
                 PayloadType.SDP_REQUEST_EMSP}


@dataclass(frozen=True)
class Entry:
    """One line of the timeline: a V2G message, an SDP message, or a notice."""

    number: int  # frame number (from 1) of the packet that completed it
    timestamp: float
    stream: str  # "sdp", "tcp 1", "tls 2", ...
    direction: str  # EV->EVSE, EVSE->EV, or "" when unknown
    kind: str  # "exi", "sdp" or "notice"
    name: str  # message name, or the notice text
    protocol: str | None = None
    payload_type: int | None = None
    payload: bytes = b""
    element: str | None = None
    value: Any = None
    error: str | None = None  # why a frame did not decode (kind "exi"), or a problem notice
    note: str | None = None  # how the protocol was chosen, when not negotiated
    values: tuple[tuple[str, str], ...] = ()


@dataclass
class Connection:
    """What was learned about one TCP connection."""

    id: int
    client: tuple[str, int]  # the EV side once known (else the first side seen)
    server: tuple[str, int]
    transport: str = "tcp"  # "tcp", "tls" or "other" (not V2G)
    tls: str | None = None  # "TLS 1.3 <suite> (<handshake shape>), decrypted" or why not
    tls_client_certificates: tuple[bytes, ...] = ()  # DER, the client's (EV's) own first
    tls_server_certificates: tuple[bytes, ...] = ()
    negotiated: str | None = None  # namespace chosen in supportedAppProtocolRes
    protocol: str | None = None  # protocol used for 0x8001 frames (negotiated or detected)
    frames: int = 0
    errors: int = 0
    gaps: int = 0
    retransmitted: int = 0
    skipped_bytes: int = 0
    undecrypted_records: int = 0


@dataclass
class CaptureResult:
    entries: list[Entry]
    connections: list[Connection]
    frames: int = 0
    linktypes: Counter[int] = field(default_factory=Counter)
    non_ip_frames: int = 0
    sdp_messages: int = 0
    unsupported_linktypes: set[int] = field(default_factory=set)
    #: why the file ended inside a record or block (a capture cut short: tcpdump killed,
    #: a copy interrupted); the frames before it are read, a notice says where it broke
    truncated: str | None = None

    @property
    def messages(self) -> list[Entry]:
        """The EXI messages (decoded or not), in time order."""
        return [e for e in self.entries if e.kind == "exi"]

    @property
    def problems(self) -> list[Entry]:
        return [e for e in self.entries if e.error is not None]

    @property
    def protocols(self) -> list[str]:
        """The protocols sessions used (negotiated or detected), in order of appearance."""
        seen: list[str] = []
        for c in self.connections:
            if c.protocol and c.protocol not in seen:
                seen.append(c.protocol)
        for e in self.messages:
            if e.protocol and e.protocol != "apphand" and e.protocol not in seen:
                seen.append(e.protocol)
        return seen


class _Framer:
    """V2GTP frames from one direction's bytes, finding the next header after damage."""

    def __init__(self) -> None:
        self.parser = V2GTPParser()
        self.syncing = True  # the stream may begin mid-frame if the capture did
        self.pending = b""
        self.skipped = 0

    def feed(self, data: bytes) -> list[Frame | FrameDiscarded | str]:
        out: list[Frame | FrameDiscarded | str] = []
        if self.syncing:
            data = self.pending + data
            m = _HEADER_PATTERN.search(data)
            if m is None:
                keep = min(len(data), 3)
                self.skipped += len(data) - keep
                self.pending = data[len(data) - keep:]
                return out
            if m.start():
                self.skipped += m.start()
                out.append(f"{m.start()} bytes skipped before the next V2GTP header")
            self.syncing, self.pending = False, b""
            self.parser = V2GTPParser()
            data = data[m.start():]
        for event in self.parser.feed(data):
            if isinstance(event, ProtocolViolation):
                out.append(f"V2GTP stream broken ({event.error}); looking for the next header")
                self.syncing = True
            else:
                out.append(event)
        return out

    def gap(self) -> None:
        self.syncing, self.pending = True, b""


class _TcpConnection:
    def __init__(self, cid: int, first: Packet, keylog: KeyLog) -> None:
        self.info = Connection(cid, first.source, first.destination)
        self.sides = [first.source, first.destination]
        self.halves = [HalfStream(), HalfStream()]
        self.framers = [_Framer(), _Framer()]
        self.syn_client: int | None = None
        self.mode: str | None = None
        self.undecided = [b"", b""]
        self.keylog = keylog
        self.tls: TlsSession | None = None
        self.decoder = SessionDecoder()
        self.raw: list[tuple[int, Entry]] = []  # (side, entry without direction)
        self.has_data = False
        self.last_chunk = (first.number, first.timestamp)  # where end-of-capture notices go

    @property
    def stream(self) -> str:
        return f"{'tls' if self.mode == 'tls' else 'tcp'} {self.info.id}"

    def packet(self, p: Packet) -> None:
        side = self.sides.index(p.source)
        if p.flags & TCP_SYN and not p.flags & TCP_ACK:
            self.syn_client = side
        for chunk in self.halves[side].feed(p):
            self._data(side, chunk)

    def finish(self) -> None:
        for side in (0, 1):
            for chunk in self.halves[side].finish():
                if isinstance(chunk, StreamGap):
                    self.info.gaps += 1
                    self._notice(side, chunk.number, chunk.timestamp,
                                 f"{chunk.missing} bytes of the TCP stream were not captured",
                                 problem=True)
                    self.framers[side].gap()
                else:
                    self._data(side, chunk)
            self.info.retransmitted += self.halves[side].retransmitted
            self.info.skipped_bytes += self.framers[side].skipped
        if self.tls is not None:
            number, ts = self.last_chunk
            self._tls_events(self.tls.finish(), number, ts)
            self.info.undecrypted_records = self.tls.undecrypted_records
            self.info.tls = self.tls.description
            self.info.tls_client_certificates = self.tls.client_certificates or ()
            self.info.tls_server_certificates = self.tls.server_certificates or ()

    def _notice(self, side: int, number: int, ts: float, text: str, problem: bool) -> None:
        self.raw.append((side, Entry(number, ts, self.stream, "", "notice", text,
                                     error=text if problem else None)))

    def _data(self, side: int, chunk: StreamData) -> None:
        self.has_data = True
        if self.mode is None:
            self.undecided[side] += chunk.data
            buf = self.undecided[side]
            if looks_like_tls(buf) or (len(buf) >= 3 and buf[0] in (20, 21, 23)
                                        and buf[1:3] == b"\x03\x03"):
                self.mode = "tls"
                self.tls = TlsSession(self.keylog)
                self.info.transport = "tls"
            elif _HEADER_PATTERN.search(buf):
                self.mode = "v2gtp"
            elif len(buf) > _UNDECIDED_LIMIT:
                self.mode = "other"
                self.info.transport = "other"
            if self.mode is None or self.mode == "other":
                return
            for s in (0, 1):
                pending, self.undecided[s] = self.undecided[s], b""
                if pending:
                    self._route(s, replace(chunk, data=pending))
            return
        if self.mode != "other":
            self._route(side, chunk)

    def _route(self, side: int, chunk: StreamData) -> None:
        if self.tls is None:
            self._frames(side, chunk.number, chunk.timestamp, chunk.data)
            return
        self.last_chunk = (chunk.number, chunk.timestamp)
        self._tls_events(self.tls.feed(side, chunk.data), chunk.number, chunk.timestamp)

    def _tls_events(self, events: list[TlsPlaintext | TlsNotice], number: int, ts: float
                    ) -> None:
        for event in events:
            if isinstance(event, TlsPlaintext):
                self._frames(event.side, number, ts, event.data)
            else:
                self._notice(event.side, number, ts, event.text, event.problem)

    def _frames(self, side: int, number: int, ts: float, data: bytes) -> None:
        for event in self.framers[side].feed(data):
            if isinstance(event, str):
                self._notice(side, number, ts, event, problem=True)
            elif isinstance(event, FrameDiscarded):
                self._notice(side, number, ts, f"V2GTP frame discarded: {event.error}", True)
            else:
                self.raw.append((side, self._decode(number, ts, event)))

    def _decode(self, number: int, ts: float, frame: Frame) -> Entry:
        self.info.frames += 1
        d = self.decoder.decode(frame)
        if self.decoder.negotiated_namespace:
            self.info.negotiated = self.decoder.negotiated_namespace
        if self.decoder.negotiated or self.decoder.negotiated_protocol:
            self.info.protocol = self.decoder.negotiated or self.decoder.negotiated_protocol
        if d.error is not None or d.element is None or d.protocol is None:
            self.info.errors += 1
            return Entry(number, ts, self.stream, "", "exi", "(undecodable)", d.protocol,
                         frame.payload_type, frame.payload, error=d.error, note=d.note)
        return Entry(number, ts, self.stream, "", "exi",
                     message_name(d.protocol, d.element, d.value), d.protocol,
                     frame.payload_type, frame.payload, d.element, d.value, None, d.note,
                     tuple(key_values(d.value)))

    def ev_side(self) -> int | None:
        if self.syn_client is not None:
            return self.syn_client
        if self.tls is not None and self.tls.client_side is not None:
            return self.tls.client_side
        score = [0, 0]
        for side, e in self.raw:
            if e.kind == "exi":
                score[side] += e.name.endswith("Req") - e.name.endswith("Res")
        if score[0] == score[1]:
            return None
        return 0 if score[0] > score[1] else 1

    def entries(self) -> list[Entry]:
        ev = self.ev_side()
        if ev == 1:
            self.info.client, self.info.server = self.sides[1], self.sides[0]
        out = []
        for side, e in self.raw:
            direction = "" if ev is None else (EV_TO_EVSE if side == ev else EVSE_TO_EV)
            out.append(replace(e, direction=direction))
        return out


def _sdp_entry(p: Packet) -> Entry | None:
    try:
        frame = parse_datagram(p.payload)
    except Iso15118Error as e:
        if p.payload[:2] == b"\x01\xfe":
            return Entry(p.number, p.timestamp, "sdp", "", "notice", "malformed SDP datagram",
                         payload=p.payload, error=str(e))
        return None
    if frame.payload_type not in SDP_PAYLOAD_TYPES:
        return None
    direction = EV_TO_EVSE if frame.payload_type in _EV_SDP_TYPES else EVSE_TO_EV
    try:
        message = sdp.decode(p.payload)
    except Iso15118Error as e:
        return Entry(p.number, p.timestamp, "sdp", direction, "sdp", "SDP (undecodable)",
                     "sdp", frame.payload_type, frame.payload, error=str(e))
    values = tuple(_fields(message))
    return Entry(p.number, p.timestamp, "sdp", direction, "sdp", type(message).__name__,
                 "sdp", frame.payload_type, frame.payload, None, message, values=values)


def _fields(message: Any) -> list[tuple[str, str]]:
    out = []
    for f in dataclasses.fields(message):
        v = getattr(message, f.name)
        out.append((f.name, sdp.name_of(v) if isinstance(v, int) and not isinstance(v, bool)
                    and f.name != "port" else str(v)))
    return out


def read_capture(data: bytes, keylog: KeyLog | None = None) -> CaptureResult:
    """Read a pcap/pcapng capture held in memory; see the module docstring."""
    keylog = keylog or KeyLog()
    result = CaptureResult([], [])
    live: dict[tuple[tuple[str, int], tuple[str, int]], _TcpConnection] = {}
    done: list[_TcpConnection] = []
    sdp_entries: list[Entry] = []
    last = (0, 0.0)
    for raw in _frames_until_broken(data, result):
        last = (raw.number, raw.timestamp)
        result.frames += 1
        result.linktypes[raw.linktype] += 1
        if raw.linktype not in LINKTYPES:
            result.unsupported_linktypes.add(raw.linktype)
        p = dissect(raw.number, raw.timestamp, raw.linktype, raw.data)
        if p is None:
            result.non_ip_frames += 1
            continue
        if p.transport == "udp":
            if SDP_PORT in (p.sport, p.dport) or p.payload[:3] == b"\x01\xfe\x90":
                entry = _sdp_entry(p)
                if entry is not None:
                    sdp_entries.append(entry)
            continue
        a, b = sorted((p.source, p.destination))
        key = (a, b)
        conn = live.get(key)
        if conn is not None and p.flags & TCP_SYN and not p.flags & TCP_ACK and conn.has_data:
            done.append(live.pop(key))  # the port pair is reused by a new connection
            conn = None
        if conn is None:
            conn = live[key] = _TcpConnection(len(done) + len(live) + 1, p, keylog)
        conn.packet(p)
    done.extend(live.values())
    entries = list(sdp_entries)
    for conn in sorted(done, key=lambda c: c.info.id):
        conn.finish()
        if conn.mode in (None, "other") and not conn.raw:
            continue
        result.connections.append(conn.info)
        entries.extend(conn.entries())
    result.sdp_messages = sum(1 for e in sdp_entries if e.kind == "sdp")
    if result.truncated is not None:
        entries.append(Entry(last[0] + 1, last[1], "", "", "notice",
                             f"the capture ends early ({result.truncated}); the "
                             f"{result.frames} frames before it were read",
                             error=result.truncated))
    entries.sort(key=lambda e: (e.timestamp, e.number))
    result.entries = entries
    return result


def _frames_until_broken(data: bytes, result: CaptureResult) -> Iterator[RawFrame]:
    """The file's frames; a structure broken after the first frame ends the file there
    (``result.truncated`` says why) instead of losing the frames already read. A file
    broken before any frame is not a capture: the error is raised."""
    frames = read_frames(data)
    n = 0
    while True:
        try:
            raw = next(frames)
        except StopIteration:
            return
        except CaptureFormatError as e:
            if n == 0:
                raise
            result.truncated = str(e)
            return
        n += 1
        yield raw
