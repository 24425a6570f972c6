"""V2G Transfer Protocol (V2GTP) framing, without any I/O.

Every V2G message, SDP datagram and -20 side stream travels behind the same 8-byte header
(ISO 15118-2:2014, clause 7.8.3; DIN SPEC 70121 clause 8.7.3; ISO 15118-20:2022, clause
8.4 / Table 12 for the -20 payload types)::

    +---------+-----------------+--------------+----------------+
    | version | inverse version | payload type | payload length |
    |  0x01   |      0xFE       |  2 bytes BE  |   4 bytes BE   |
    +---------+-----------------+--------------+----------------+

This module encodes and parses that header, and reassembles frames from a TCP byte stream
with :class:`V2GTPParser`, which never touches a socket (the asyncio adapters are in
:mod:`iso15118.transport`).

Header checks, in the order clause 7.8.3.2 of ISO 15118-2 ("V2GTP header processing")
applies them. V2GTP is derived from the DoIP generic header of ISO 13400-2, but unlike DoIP
it defines *no* negative-acknowledge message: every payload type of -2 and -20 is listed in
:class:`PayloadType` and none of them is a NACK. So the receiver's only reactions are:

1. protocol version != 0x01 or inverse version != 0xFE: the stream cannot be resynchronised
   (the length field can no longer be trusted), so the receiver closes the connection. The
   parser reports :class:`ProtocolViolation` carrying :class:`InvalidVersionError` and
   refuses further input.
2. payload type not supported: the message is discarded (:class:`FrameDiscarded` with
   :attr:`DiscardReason.UNKNOWN_PAYLOAD_TYPE`); the header's length is still valid, so the
   parser skips exactly that many bytes and carries on with the next frame.
3. payload length above what the receiver can take: the message is discarded
   (:attr:`DiscardReason.PAYLOAD_TOO_LARGE`) in the same way, without buffering it.

What this library does *not* know: the exact requirement numbers ([V2G2-xxx]) of that
clause were not available to the author, so they are not cited here; the order and the
reactions follow the clause's flow (and its DoIP origin, where the matching NACK codes are
0x00 "incorrect pattern: close socket", 0x01 "unknown payload type: discard", 0x02 "message
too large: discard"). A caller that prefers to drop the connection on a discarded frame
can do so; :class:`iso15118.transport.V2GConnection` offers that as an option.
"""

from __future__ import annotations

import enum
import struct
from collections.abc import Collection
from dataclasses import dataclass
from typing import ClassVar, Final

from iso15118.errors import Iso15118Error

__all__ = [
    "DEFAULT_MAX_PAYLOAD_LENGTH",
    "HEADER_LENGTH",
    "INVERSE_PROTOCOL_VERSION",
    "MAX_PAYLOAD_LENGTH_FIELD",
    "PAYLOAD_TYPE_PROTOCOLS",
    "PROTOCOL_VERSION",
    "SDP_PAYLOAD_TYPES",
    "DiscardReason",
    "Event",
    "Frame",
    "FrameDiscarded",
    "InvalidVersionError",
    "LengthMismatchError",
    "LocalProtocolError",
    "PayloadTooLargeError",
    "PayloadType",
    "ProtocolViolation",
    "RemoteProtocolError",
    "TruncatedStreamError",
    "UnknownPayloadTypeError",
    "V2GTPError",
    "V2GTPHeader",
    "V2GTPParser",
    "encode_frame",
    "parse_datagram",
    "protocol_of",
]

PROTOCOL_VERSION: Final = 0x01
INVERSE_PROTOCOL_VERSION: Final = 0xFE
HEADER_LENGTH: Final = 8
#: The payload length field is an unsigned 32-bit integer.
MAX_PAYLOAD_LENGTH_FIELD: Final = 0xFFFF_FFFF
#: What the parser accepts unless told otherwise. The standards leave the limit to the
#: implementation; 64 KiB holds the largest -20 certificate installation messages seen in
#: practice with room to spare, while bounding what a peer can make us buffer.
DEFAULT_MAX_PAYLOAD_LENGTH: Final = 64 * 1024

_HEADER = struct.Struct(">BBHI")


class PayloadType(enum.IntEnum):
    """Every V2GTP payload type defined by ISO 15118-2 (Table 10) and ISO 15118-20 (Table 12).

    0xA000-0xFFFF are manufacturer specific; all other values are reserved.
    """

    #: EXI-encoded V2G message: SupportedAppProtocol, ISO 15118-2 and DIN SPEC 70121
    #: (-2 Table 10); -20 uses it for the SupportedAppProtocol exchange only.
    SAP_ISO2_DIN = 0x8001
    ISO20_COMMON = 0x8002  # -20 main stream, CommonMessages schema
    ISO20_AC = 0x8003  # -20 main stream, AC schema
    ISO20_DC = 0x8004  # -20 main stream, DC schema
    ISO20_ACDP = 0x8005  # -20 main stream, ACDP (pantograph) schema
    ISO20_WPT = 0x8006  # -20 main stream, WPT (wireless power transfer) schema
    # -20 side streams. Values as listed by two independent implementations of -20 Table 12
    # (EVerest libcbv2g, Josev) and the dSPACE dissector; the standard text itself was not
    # available to check them. Which schema each carries is not settled here (see
    # PAYLOAD_TYPE_PROTOCOLS).
    ISO20_SCHEDULE_RENEGOTIATION = 0x8101
    ISO20_METERING_CONFIRMATION = 0x8102
    ISO20_ACDP_SYSTEM_STATUS = 0x8103
    ISO20_PARKING_STATUS = 0x8104
    SDP_REQUEST = 0x9000  # -2 Table 10
    SDP_RESPONSE = 0x9001  # -2 Table 10
    SDP_REQUEST_WIRELESS = 0x9002  # -20 Table 12 (wireless / ACDP SDP)
    SDP_RESPONSE_WIRELESS = 0x9003  # -20 Table 12
    # UNCERTAIN: only the dSPACE dsV2Gshark dissector names these ("SDP EMSP request /
    # response"); neither libcbv2g nor Josev lists them. Kept so such frames are not
    # discarded as unknown; their payload is left opaque by iso15118.sdp.
    SDP_REQUEST_EMSP = 0x9004
    SDP_RESPONSE_EMSP = 0x9005


#: Payload type -> the EXI protocol (schema family) its payload is encoded with. For 0x8001
#: the schema is decided by the SupportedAppProtocol handshake, hence the combined name.
#: Only main-stream types are listed: the -20 side streams' schemas are not established.
PAYLOAD_TYPE_PROTOCOLS: Final[dict[int, str]] = {
    PayloadType.SAP_ISO2_DIN: "sap-or-iso2-din",
    PayloadType.ISO20_COMMON: "iso20-common",
    PayloadType.ISO20_AC: "iso20-ac",
    PayloadType.ISO20_DC: "iso20-dc",
    PayloadType.ISO20_ACDP: "iso20-acdp",
    PayloadType.ISO20_WPT: "iso20-wpt",
}

#: Payload types whose payload is an SDP message (see :mod:`iso15118.sdp`), not EXI.
SDP_PAYLOAD_TYPES: Final[frozenset[int]] = frozenset(
    {
        PayloadType.SDP_REQUEST,
        PayloadType.SDP_RESPONSE,
        PayloadType.SDP_REQUEST_WIRELESS,
        PayloadType.SDP_RESPONSE_WIRELESS,
        PayloadType.SDP_REQUEST_EMSP,
        PayloadType.SDP_RESPONSE_EMSP,
    }
)

_KNOWN_PAYLOAD_TYPES: Final[frozenset[int]] = frozenset(int(p) for p in PayloadType)


def protocol_of(payload_type: int) -> str | None:
    """The EXI protocol name of a payload type (see :data:`PAYLOAD_TYPE_PROTOCOLS`), or None."""
    return PAYLOAD_TYPE_PROTOCOLS.get(payload_type)


# --------------------------------------------------------------------------- errors


class V2GTPError(Iso15118Error):
    """Base class of V2GTP framing errors."""


class LocalProtocolError(V2GTPError):
    """*We* were about to break V2GTP (e.g. a payload too long for the length field), or
    used the parser wrongly (fed it after it reported a violation)."""


class RemoteProtocolError(V2GTPError):
    """The *peer* broke V2GTP. ``must_close`` says whether the standard requires the
    receiver to close the connection (True) or only to discard the message (False)."""

    must_close: ClassVar[bool] = True


class InvalidVersionError(RemoteProtocolError):
    """Protocol version is not 0x01 or the inverse version is not its complement 0xFE.

    ISO 15118-2 clause 7.8.3.2: the receiver closes the connection.
    """

    def __init__(self, version: int, inverse_version: int) -> None:
        super().__init__(
            f"V2GTP header has protocol version 0x{version:02x} / inverse 0x{inverse_version:02x}"
            f", expected 0x{PROTOCOL_VERSION:02x} / 0x{INVERSE_PROTOCOL_VERSION:02x}"
        )
        self.version = version
        self.inverse_version = inverse_version


class UnknownPayloadTypeError(RemoteProtocolError):
    """Payload type not supported by the receiver: the message is discarded."""

    must_close = False

    def __init__(self, payload_type: int) -> None:
        super().__init__(f"unsupported V2GTP payload type 0x{payload_type:04x}")
        self.payload_type = payload_type


class PayloadTooLargeError(RemoteProtocolError):
    """Payload length above the receiver's maximum: the message is discarded."""

    must_close = False

    def __init__(self, payload_length: int, max_payload_length: int) -> None:
        super().__init__(
            f"V2GTP payload length {payload_length} exceeds the maximum of {max_payload_length}"
        )
        self.payload_length = payload_length
        self.max_payload_length = max_payload_length


class TruncatedStreamError(RemoteProtocolError):
    """The stream (or datagram) ended inside a header or payload."""

    def __init__(self, received: int, expected: int, *, in_header: bool) -> None:
        part = "header" if in_header else "payload"
        super().__init__(f"stream ended inside a V2GTP {part}: {received} of {expected} bytes")
        self.received = received
        self.expected = expected
        self.in_header = in_header


class LengthMismatchError(RemoteProtocolError):
    """A datagram is longer than the header's payload length says."""

    def __init__(self, datagram_length: int, payload_length: int) -> None:
        super().__init__(
            f"datagram of {datagram_length} bytes, but the V2GTP header announces "
            f"{HEADER_LENGTH} + {payload_length}"
        )
        self.datagram_length = datagram_length
        self.payload_length = payload_length


# --------------------------------------------------------------------------- header


@dataclass(frozen=True, slots=True)
class V2GTPHeader:
    """The 8-byte V2GTP header (the version bytes are implied: only 0x01/0xFE exists)."""

    payload_type: int
    payload_length: int

    def __post_init__(self) -> None:
        if not 0 <= self.payload_type <= 0xFFFF:
            raise LocalProtocolError(f"payload type {self.payload_type!r} is not 16-bit")
        if not 0 <= self.payload_length <= MAX_PAYLOAD_LENGTH_FIELD:
            raise LocalProtocolError(
                f"payload length {self.payload_length} does not fit the 32-bit length field"
            )

    def encode(self) -> bytes:
        return _HEADER.pack(
            PROTOCOL_VERSION, INVERSE_PROTOCOL_VERSION, self.payload_type, self.payload_length
        )

    @classmethod
    def parse(cls, data: bytes | bytearray | memoryview) -> V2GTPHeader:
        """Parse the first 8 bytes of ``data``; only the version check is applied here."""
        if len(data) < HEADER_LENGTH:
            raise TruncatedStreamError(len(data), HEADER_LENGTH, in_header=True)
        version, inverse, payload_type, length = _HEADER.unpack_from(data)
        if version != PROTOCOL_VERSION or inverse != INVERSE_PROTOCOL_VERSION:
            raise InvalidVersionError(version, inverse)
        return cls(payload_type, length)

    @property
    def protocol(self) -> str | None:
        return protocol_of(self.payload_type)


def encode_frame(payload_type: int, payload: bytes | bytearray | memoryview) -> bytes:
    """Header + payload, ready for the wire."""
    return V2GTPHeader(payload_type, len(payload)).encode() + bytes(payload)


# --------------------------------------------------------------------------- events


@dataclass(frozen=True, slots=True)
class Frame:
    """One complete V2GTP message."""

    payload_type: int
    payload: bytes

    @property
    def protocol(self) -> str | None:
        """The EXI protocol of the payload (:data:`PAYLOAD_TYPE_PROTOCOLS`), or None."""
        return protocol_of(self.payload_type)

    def encode(self) -> bytes:
        return encode_frame(self.payload_type, self.payload)


class DiscardReason(enum.Enum):
    UNKNOWN_PAYLOAD_TYPE = "unknown-payload-type"
    PAYLOAD_TOO_LARGE = "payload-too-large"


@dataclass(frozen=True, slots=True)
class FrameDiscarded:
    """A message was discarded as clause 7.8.3.2 prescribes; the stream stays usable.

    Reported as soon as the header is read; the parser then skips the payload bytes as
    they arrive, without keeping them.
    """

    header: V2GTPHeader
    reason: DiscardReason
    error: RemoteProtocolError


@dataclass(frozen=True, slots=True)
class ProtocolViolation:
    """The peer broke V2GTP so badly that the connection must be closed. Always the last
    event; the parser accepts no further input afterwards."""

    error: RemoteProtocolError


Event = Frame | FrameDiscarded | ProtocolViolation


# --------------------------------------------------------------------------- parsers


def parse_datagram(
    data: bytes | bytearray | memoryview,
    *,
    max_payload_length: int = DEFAULT_MAX_PAYLOAD_LENGTH,
    payload_types: Collection[int] | None = None,
) -> Frame:
    """Parse a datagram that must hold exactly one V2GTP message (SDP over UDP).

    Applies the same checks as the stream parser, in the same order, but raises them:
    a datagram has nothing after it to resynchronise on.
    """
    header = V2GTPHeader.parse(data)
    known = _KNOWN_PAYLOAD_TYPES if payload_types is None else payload_types
    if header.payload_type not in known:
        raise UnknownPayloadTypeError(header.payload_type)
    if header.payload_length > max_payload_length:
        raise PayloadTooLargeError(header.payload_length, max_payload_length)
    available = len(data) - HEADER_LENGTH
    if available < header.payload_length:
        raise TruncatedStreamError(available, header.payload_length, in_header=False)
    if available > header.payload_length:
        raise LengthMismatchError(len(data), header.payload_length)
    return Frame(header.payload_type, bytes(data[HEADER_LENGTH:]))


class V2GTPParser:
    """Incremental, sans-IO V2GTP stream parser.

    Feed it TCP (or TLS) bytes in chunks of any size; it returns the events the chunk
    completes. It holds at most one partial frame, so its buffer never exceeds
    ``HEADER_LENGTH + max_payload_length`` bytes however the peer behaves: oversized and
    unknown frames are skipped while they stream past.

    >>> p = V2GTPParser()
    >>> p.feed(bytes.fromhex("01fe9000000000021000"))
    [Frame(payload_type=36864, payload=b'\\x10\\x00')]
    """

    def __init__(
        self,
        *,
        max_payload_length: int = DEFAULT_MAX_PAYLOAD_LENGTH,
        payload_types: Collection[int] | None = None,
    ) -> None:
        if not 0 <= max_payload_length <= MAX_PAYLOAD_LENGTH_FIELD:
            raise ValueError(f"max_payload_length {max_payload_length} out of range")
        self.max_payload_length = max_payload_length
        self._known: Collection[int] = (
            _KNOWN_PAYLOAD_TYPES if payload_types is None else frozenset(payload_types)
        )
        self._buffer = bytearray()
        self._header: V2GTPHeader | None = None  # header of the frame being collected
        self._skip = 0  # payload bytes of a discarded frame still to be dropped
        self._skip_total = 0
        self._violation: RemoteProtocolError | None = None
        self._eof = False

    @property
    def buffered(self) -> int:
        """Bytes currently held (at most ``HEADER_LENGTH + max_payload_length``)."""
        return len(self._buffer)

    @property
    def at_boundary(self) -> bool:
        """True when no partial frame is pending (a clean place for the stream to end)."""
        return not self._buffer and self._header is None and self._skip == 0

    @property
    def violation(self) -> RemoteProtocolError | None:
        return self._violation

    def feed(self, data: bytes | bytearray | memoryview) -> list[Event]:
        if self._violation is not None:
            raise LocalProtocolError(
                "parser fed after a protocol violation; the connection must be closed"
            ) from self._violation
        if self._eof:
            raise LocalProtocolError("parser fed after feed_eof()")
        events: list[Event] = []
        view = memoryview(data).cast("B")
        pos = 0
        end = len(view)
        while pos < end:
            if self._skip:
                step = min(self._skip, end - pos)
                self._skip -= step
                pos += step
                continue
            if self._header is None:
                need = HEADER_LENGTH - len(self._buffer)
                take = min(need, end - pos)
                self._buffer += view[pos : pos + take]
                pos += take
                if len(self._buffer) < HEADER_LENGTH:
                    break
                try:
                    header = V2GTPHeader.parse(self._buffer)
                except InvalidVersionError as exc:
                    self._violation = exc
                    self._buffer.clear()
                    events.append(ProtocolViolation(exc))
                    return events
                self._buffer.clear()
                discarded = self._check(header)
                if discarded is not None:
                    events.append(discarded)
                    self._skip = self._skip_total = header.payload_length
                    continue
                self._header = header
            # collecting the payload of self._header
            header = self._header
            assert header is not None
            need = header.payload_length - len(self._buffer)
            if need == 0 or (not self._buffer and end - pos >= need):
                # whole payload available in this chunk: slice it without buffering
                payload = bytes(view[pos : pos + need]) if not self._buffer else bytes(self._buffer)
                pos += need
            else:
                take = min(need, end - pos)
                self._buffer += view[pos : pos + take]
                pos += take
                if len(self._buffer) < header.payload_length:
                    break
                payload = bytes(self._buffer)
            self._buffer.clear()
            self._header = None
            events.append(Frame(header.payload_type, payload))
        return events

    def feed_eof(self) -> None:
        """Tell the parser the peer closed the stream.

        Raises :class:`TruncatedStreamError` when the stream ended inside a frame
        (including inside a discarded frame's payload).
        """
        if self._violation is not None:
            raise LocalProtocolError("feed_eof() after a protocol violation") from self._violation
        self._eof = True
        if self._header is None and self._skip == 0 and self._buffer:
            raise TruncatedStreamError(len(self._buffer), HEADER_LENGTH, in_header=True)
        if self._header is not None:
            raise TruncatedStreamError(
                len(self._buffer), self._header.payload_length, in_header=False
            )
        if self._skip:
            raise TruncatedStreamError(
                self._skip_total - self._skip, self._skip_total, in_header=False
            )

    def _check(self, header: V2GTPHeader) -> FrameDiscarded | None:
        if header.payload_type not in self._known:
            return FrameDiscarded(
                header,
                DiscardReason.UNKNOWN_PAYLOAD_TYPE,
                UnknownPayloadTypeError(header.payload_type),
            )
        if header.payload_length > self.max_payload_length:
            return FrameDiscarded(
                header,
                DiscardReason.PAYLOAD_TOO_LARGE,
                PayloadTooLargeError(header.payload_length, self.max_payload_length),
            )
        return None
