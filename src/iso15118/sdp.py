"""SECC Discovery Protocol (SDP): message codecs and the two sides' state machines, no I/O.

An EVCC finds its SECC by multicasting an SDP request over UDP to ``ff02::1`` port 15118
and reading the SECC's IPv6 address, TCP port and security choice from the unicast
response (ISO 15118-2:2014, clause 7.10.1; DIN SPEC 70121 clause 8.7.2; ISO 15118-20:2022
clause 8.5 adds the wireless variants). Every SDP message travels in a V2GTP frame
(:mod:`iso15118.v2gtp`).

Wire layouts (payload only, after the 8-byte V2GTP header; all integers big endian):

* request, 0x9000, 2 bytes: security (0x00 TLS, 0x10 no TLS), transport (0x00 TCP;
  0x10 is reserved for UDP).
* response, 0x9001, 20 bytes: SECC IPv6 address (16), SECC port (2), security, transport.
* wireless request, 0x9002, 61 bytes (-20): security, transport, P2PS/PPD flags (2),
  coupling type (1), EVID (20 ASCII), EVSEID (36 ASCII).
* wireless response, 0x9003, 58 bytes (-20): address (16), port (2), security, transport,
  DiagStatus (1), coupling type (1), EVSEID (36 ASCII).

The wireless layouts are taken from how two independent implementations read ISO 15118-20
(the dSPACE dsV2Gshark dissector and an EVerest fork); they agree on field order and sizes
but *not* on the bit values of the P2PS/PPD flags or the coupling type codes, so those are
kept as raw integers here. The standard text was not available to settle it. The EMSP
variants (0x9004/0x9005) are known only by name and stay opaque.

Timing (EVCC side), ISO 15118-2 clause 7.10.1, as cited by RISE-V2G (whose author
co-wrote the standard) and by EVerest:

* [V2G2-159]: after sending a request, wait at least ``SDP_RESPONSE_TIMEOUT`` = 250 ms
  for a response before sending the next one;
* [V2G2-161]: send at most ``SDP_MAX_REQUESTS`` = 50 consecutive requests, then give up
  (DIN SPEC 70121 has the same limit as [V2G-DC-849]).
"""

from __future__ import annotations

import enum
import ipaddress
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar, Final

from iso15118.errors import Iso15118Error
from iso15118.v2gtp import (
    PayloadType,
    V2GTPError,
    encode_frame,
    parse_datagram,
)

if TYPE_CHECKING:
    from iso15118.transport.sdp_io import SDPServerHandle

__all__ = [
    "SDP_MAX_REQUESTS",
    "SDP_MULTICAST_ADDRESS",
    "SDP_PORT",
    "SDP_RESPONSE_TIMEOUT",
    "ClientState",
    "DiagStatus",
    "SDPClient",
    "SDPError",
    "SDPMessage",
    "SDPPayloadError",
    "SDPRequest",
    "SDPRequestWireless",
    "SDPResponse",
    "SDPResponseWireless",
    "SDPServer",
    "SECCInfo",
    "Security",
    "TransportProtocol",
    "choose_security",
    "decode",
    "discover",
    "encode",
    "name_of",
    "reachable_address",
    "serve_sdp",
]

SDP_PORT: Final = 15118
SDP_MULTICAST_ADDRESS: Final = "ff02::1"
SDP_RESPONSE_TIMEOUT: Final = 0.250  # seconds, [V2G2-159]
SDP_MAX_REQUESTS: Final = 50  # [V2G2-161], [V2G-DC-849]

_EVID_LENGTH: Final = 20
_EVSEID_LENGTH: Final = 36


class SDPError(Iso15118Error):
    """Base class of SDP errors."""


class SDPPayloadError(SDPError):
    """An SDP payload has the wrong length or a reserved field value."""


class Security(enum.IntEnum):
    TLS = 0x00
    NO_TLS = 0x10


class TransportProtocol(enum.IntEnum):
    TCP = 0x00
    UDP = 0x10  # reserved by ISO 15118-2; parsed, but no SECC may choose it for V2G


_SECURITY_VALUES: Final = frozenset(int(v) for v in Security)
_TRANSPORT_VALUES: Final = frozenset(int(v) for v in TransportProtocol)


# Reserved field values are kept as plain ints rather than rejected, so that decoding is
# lossless and a log of what a peer really sent can be shown. Real chargers do send them:
# a Qingdao Penodato SERH270 answered with transport protocol 0x08 (uhi22/clara-logs).
# Whether such a message is *usable* is decided by SDPClient / SDPServer, not the codec.


def _security(value: int) -> Security | int:
    return Security(value) if value in _SECURITY_VALUES else value


def _transport(value: int) -> TransportProtocol | int:
    return TransportProtocol(value) if value in _TRANSPORT_VALUES else value


def name_of(value: enum.IntEnum | int) -> str:
    """``TLS``/``TCP`` for known values, ``0x08`` for reserved ones."""
    return value.name if isinstance(value, enum.IntEnum) else f"0x{value:02x}"


def _expect_length(name: str, payload: bytes, length: int) -> None:
    if len(payload) != length:
        raise SDPPayloadError(f"{name} payload must be {length} bytes, got {len(payload)}")


def _ascii_field(name: str, value: str, length: int) -> bytes:
    raw = value.encode("ascii")
    if len(raw) != length:
        raise SDPPayloadError(f"{name} must be exactly {length} ASCII characters, got {len(raw)}")
    return raw


def _address(value: ipaddress.IPv6Address | str | bytes) -> ipaddress.IPv6Address:
    if isinstance(value, ipaddress.IPv6Address):
        return value
    if isinstance(value, str):
        return ipaddress.IPv6Address(value.split("%", 1)[0])
    return ipaddress.IPv6Address(bytes(value))


def _check_port(port: int) -> None:
    if not 0 <= port <= 0xFFFF:
        raise SDPPayloadError(f"port {port} out of range")


# --------------------------------------------------------------------------- messages


@dataclass(frozen=True, slots=True)
class SDPRequest:
    """SECCDiscoveryReq (payload type 0x9000)."""

    security: Security | int = Security.TLS
    transport_protocol: TransportProtocol | int = TransportProtocol.TCP

    payload_type: ClassVar[PayloadType] = PayloadType.SDP_REQUEST

    def payload(self) -> bytes:
        return bytes((self.security, self.transport_protocol))

    @classmethod
    def from_payload(cls, payload: bytes) -> SDPRequest:
        _expect_length("SDP request", payload, 2)
        return cls(_security(payload[0]), _transport(payload[1]))


@dataclass(frozen=True, slots=True)
class SDPResponse:
    """SECCDiscoveryRes (payload type 0x9001)."""

    address: ipaddress.IPv6Address
    port: int
    security: Security | int
    transport_protocol: TransportProtocol | int = TransportProtocol.TCP

    payload_type: ClassVar[PayloadType] = PayloadType.SDP_RESPONSE

    def __post_init__(self) -> None:
        object.__setattr__(self, "address", _address(self.address))
        _check_port(self.port)

    def payload(self) -> bytes:
        return (
            self.address.packed
            + self.port.to_bytes(2, "big")
            + bytes((self.security, self.transport_protocol))
        )

    @classmethod
    def from_payload(cls, payload: bytes) -> SDPResponse:
        _expect_length("SDP response", payload, 20)
        return cls(
            ipaddress.IPv6Address(payload[:16]),
            int.from_bytes(payload[16:18], "big"),
            _security(payload[18]),
            _transport(payload[19]),
        )


@dataclass(frozen=True, slots=True)
class SDPRequestWireless:
    """SDP request for wireless / ACDP communication (payload type 0x9002, ISO 15118-20).

    ``p2ps_ppd`` (16-bit flags naming the positioning/pairing methods) and
    ``coupling_type`` are raw integers: the published readings of -20 disagree on their
    codes (see the module docstring). ``evid`` is 20 and ``evseid`` 36 ASCII characters
    exactly; padding is the caller's business (an EVerest reading of [V2G20-2281] pads an
    unknown EVID as "ZZ00000" right-justified with '0').
    """

    security: Security | int
    transport_protocol: TransportProtocol | int
    p2ps_ppd: int
    coupling_type: int
    evid: str
    evseid: str

    payload_type: ClassVar[PayloadType] = PayloadType.SDP_REQUEST_WIRELESS

    def payload(self) -> bytes:
        return (
            bytes((self.security, self.transport_protocol))
            + self.p2ps_ppd.to_bytes(2, "big")
            + bytes((self.coupling_type,))
            + _ascii_field("EVID", self.evid, _EVID_LENGTH)
            + _ascii_field("EVSEID", self.evseid, _EVSEID_LENGTH)
        )

    @classmethod
    def from_payload(cls, payload: bytes) -> SDPRequestWireless:
        _expect_length("wireless SDP request", payload, 61)
        try:
            evid, evseid = payload[5:25].decode("ascii"), payload[25:61].decode("ascii")
        except UnicodeDecodeError as exc:
            raise SDPPayloadError(f"EVID/EVSEID not ASCII: {exc}") from None
        return cls(
            _security(payload[0]),
            _transport(payload[1]),
            int.from_bytes(payload[2:4], "big"),
            payload[4],
            evid,
            evseid,
        )


class DiagStatus(enum.IntEnum):
    """DiagStatus of the wireless SDP response (both readings of -20 agree on these)."""

    ONGOING = 0x00
    FINISHED_WITH_EVSEID = 0x01
    FINISHED_WITHOUT_EVSEID = 0x02
    ERROR_NO_SECC = 0x10


@dataclass(frozen=True, slots=True)
class SDPResponseWireless:
    """SDP response for wireless / ACDP communication (payload type 0x9003, ISO 15118-20).

    ``diag_status`` is kept as an int so reserved values survive a round trip; compare it
    with :class:`DiagStatus`.
    """

    address: ipaddress.IPv6Address
    port: int
    security: Security | int
    transport_protocol: TransportProtocol | int
    diag_status: int
    coupling_type: int
    evseid: str

    payload_type: ClassVar[PayloadType] = PayloadType.SDP_RESPONSE_WIRELESS

    def __post_init__(self) -> None:
        object.__setattr__(self, "address", _address(self.address))
        _check_port(self.port)

    def payload(self) -> bytes:
        return (
            self.address.packed
            + self.port.to_bytes(2, "big")
            + bytes((self.security, self.transport_protocol, self.diag_status))
            + bytes((self.coupling_type,))
            + _ascii_field("EVSEID", self.evseid, _EVSEID_LENGTH)
        )

    @classmethod
    def from_payload(cls, payload: bytes) -> SDPResponseWireless:
        _expect_length("wireless SDP response", payload, 58)
        try:
            evseid = payload[22:58].decode("ascii")
        except UnicodeDecodeError as exc:
            raise SDPPayloadError(f"EVSEID not ASCII: {exc}") from None
        return cls(
            ipaddress.IPv6Address(payload[:16]),
            int.from_bytes(payload[16:18], "big"),
            _security(payload[18]),
            _transport(payload[19]),
            payload[20],
            payload[21],
            evseid,
        )


SDPMessage = SDPRequest | SDPResponse | SDPRequestWireless | SDPResponseWireless

_CODECS: Final[dict[int, Callable[[bytes], SDPMessage]]] = {
    PayloadType.SDP_REQUEST: SDPRequest.from_payload,
    PayloadType.SDP_RESPONSE: SDPResponse.from_payload,
    PayloadType.SDP_REQUEST_WIRELESS: SDPRequestWireless.from_payload,
    PayloadType.SDP_RESPONSE_WIRELESS: SDPResponseWireless.from_payload,
}


def encode(message: SDPMessage) -> bytes:
    """The whole V2GTP frame (header + payload) carrying ``message``."""
    return encode_frame(message.payload_type, message.payload())


def decode(datagram: bytes) -> SDPMessage:
    """Parse one UDP datagram holding a V2GTP-framed SDP message.

    Raises a :class:`iso15118.v2gtp.V2GTPError` for a bad frame and
    :class:`SDPPayloadError` for a bad payload (including the opaque EMSP variants).
    """
    frame = parse_datagram(datagram, max_payload_length=64, payload_types=_CODECS.keys())
    return _CODECS[frame.payload_type](frame.payload)


# --------------------------------------------------------------------------- results


@dataclass(frozen=True, slots=True)
class SECCInfo:
    """What discovery learnt about one SECC, ready to connect to.

    ``scope_id`` is the interface index the response arrived on: a link-local address
    (fe80::/10, which is what an SECC announces) is only reachable through it.
    """

    address: ipaddress.IPv6Address
    port: int
    security: Security
    transport_protocol: TransportProtocol | int
    scope_id: int = 0
    response: SDPResponse | SDPResponseWireless | None = field(default=None, compare=False)

    @property
    def host(self) -> str:
        """The address in the form ``socket``/``asyncio`` connect to, with ``%scope``."""
        if self.scope_id and self.address.is_link_local:
            return f"{self.address.compressed}%{self.scope_id}"
        return self.address.compressed

    @property
    def tls(self) -> bool:
        return self.security is Security.TLS

    @property
    def description(self) -> str:
        """``host port security transport``, as the CLI prints it."""
        return (
            f"{self.host} {self.port} {name_of(self.security)} {name_of(self.transport_protocol)}"
        )

    @classmethod
    def from_response(
        cls, response: SDPResponse | SDPResponseWireless, scope_id: int = 0
    ) -> SECCInfo:
        if not isinstance(response.security, Security):
            raise SDPPayloadError(f"reserved security value {name_of(response.security)}")
        return cls(
            response.address,
            response.port,
            response.security,
            response.transport_protocol,
            scope_id,
            response,
        )


# --------------------------------------------------------------------------- EVCC side


class ClientState(enum.Enum):
    IDLE = "idle"
    WAITING = "waiting"  # a request is out, its timer running
    DONE = "done"  # at least one usable response arrived
    FAILED = "failed"  # SDP_MAX_REQUESTS requests went unanswered


class SDPClient:
    """The EVCC's SDP retry rule as a clock-agnostic state machine.

    The caller owns the socket and the clock; ``now`` is any monotonic time in seconds.
    Protocol: call :meth:`start` and send the bytes it returns; wait for a datagram or
    until :attr:`deadline`; pass datagrams to :meth:`datagram_received` and expiries to
    :meth:`timeout`, which returns the next request to send or None when done.

    With ``collect=False`` (an EV's behaviour) the first usable response ends discovery.
    With ``collect=True`` (a diagnostic scan) the client keeps listening until the
    current request's 250 ms window ends, so every SECC that answers is reported, and
    sends no further request.
    """

    def __init__(
        self,
        request: SDPRequest | SDPRequestWireless,
        *,
        max_requests: int = SDP_MAX_REQUESTS,
        response_timeout: float = SDP_RESPONSE_TIMEOUT,
        collect: bool = False,
    ) -> None:
        if max_requests < 1:
            raise ValueError("max_requests must be at least 1")
        if response_timeout <= 0:
            raise ValueError("response_timeout must be positive")
        self.request = request
        self.max_requests = max_requests
        self.response_timeout = response_timeout
        self.collect = collect
        self.state = ClientState.IDLE
        self.requests_sent = 0
        self.responses: list[SDPResponse | SDPResponseWireless] = []
        self.ignored = 0  # datagrams that were not a usable response
        self._deadline: float | None = None
        self._frame = encode(request)
        self._expected = (
            PayloadType.SDP_RESPONSE_WIRELESS
            if isinstance(request, SDPRequestWireless)
            else PayloadType.SDP_RESPONSE
        )

    @property
    def deadline(self) -> float | None:
        """When :meth:`timeout` must be called next, or None when finished."""
        return self._deadline

    @property
    def finished(self) -> bool:
        return self.state in (ClientState.DONE, ClientState.FAILED)

    def start(self, now: float) -> bytes:
        if self.state is not ClientState.IDLE:
            raise SDPError("SDPClient.start() called twice")
        return self._send(now)

    def timeout(self, now: float) -> bytes | None:
        """The current request's window ended (``now >= deadline``)."""
        if self._deadline is None or now < self._deadline:
            return None
        if self.state is ClientState.WAITING and self.responses:
            self.state = ClientState.DONE  # collect mode: the listening window is over
        if self.finished:
            self._deadline = None
            return None
        if self.requests_sent >= self.max_requests:
            self.state = ClientState.FAILED  # [V2G2-161]
            self._deadline = None
            return None
        return self._send(now)

    def datagram_received(
        self, data: bytes, now: float
    ) -> SDPResponse | SDPResponseWireless | None:
        """A datagram arrived on the client socket; returns the response if usable."""
        if self.state is not ClientState.WAITING:
            self.ignored += 1
            return None
        try:
            message = decode(data)
        except (V2GTPError, SDPPayloadError):
            self.ignored += 1
            return None
        if message.payload_type != self._expected or not isinstance(
            message, SDPResponse | SDPResponseWireless
        ):
            self.ignored += 1
            return None
        if not isinstance(message.security, Security):
            # Without a valid security byte we cannot know whether to speak TLS. A
            # reserved *transport* byte is tolerated: V2G only ever runs over TCP.
            self.ignored += 1
            return None
        if not self.collect and not _connectable(message):
            # port 0, or an address no SECC has: acting on it ends in a
            # failed connect and no SECC; an EV keeps asking instead ([V2G2-161]), so one
            # broken datagram on the link does not end its discovery (found by fuzz-live's
            # SDP cases as the charger; a diagnostic scan still lists such answers)
            self.ignored += 1
            return None
        if message in self.responses:
            return None  # the same SECC answering a retransmission
        self.responses.append(message)
        if not self.collect:
            self.state = ClientState.DONE
            self._deadline = None
        return message

    def _send(self, now: float) -> bytes:
        self.requests_sent += 1
        self.state = ClientState.WAITING
        self._deadline = now + self.response_timeout  # [V2G2-159]
        return self._frame


def reachable_address(address: ipaddress.IPv6Address) -> bool:
    """Whether an SECC on the link can have this address: not unspecified, multicast,
    loopback (the vehicle itself) or IPv4-mapped (no IPv6 peer)."""
    return not (address.is_unspecified or address.is_multicast or address.is_loopback
                or address.ipv4_mapped is not None)


def _connectable(message: SDPResponse | SDPResponseWireless) -> bool:
    """Whether a TCP connection can reach an SECC where the response points (port not 0,
    an address an SECC can have); a port outside 49152-65535 is usable: real chargers
    announce 15118 or 30000."""
    return message.port != 0 and reachable_address(message.address)


# --------------------------------------------------------------------------- SECC side


def choose_security(requested: Security, offered: frozenset[Security]) -> Security | None:
    """The security an SECC answers with: the EVCC's choice when offered, else the other.

    ISO 15118-2 clause 7.10.1 lets the SECC answer with a different security than the
    request asked for (the EVCC then decides whether to accept it); answering with what was
    asked for whenever possible is what every implementation we know of does.
    """
    if requested in offered:
        return requested
    return next(iter(sorted(offered)), None)


class SDPServer:
    """The SECC's side: stateless, one response per valid request.

    ``endpoints`` maps each offered security to the TCP port serving it (an SECC may
    serve TLS and plain TCP on different ports). Requests that are malformed, use a reserved
    security value or ask for a transport other than TCP get no answer: SDP has no error
    response.
    """

    def __init__(
        self,
        address: ipaddress.IPv6Address | str,
        endpoints: dict[Security, int],
    ) -> None:
        if not endpoints:
            raise ValueError("an SDP server must offer at least one endpoint")
        for port in endpoints.values():
            _check_port(port)
        self.address = _address(address)
        self.endpoints = dict(endpoints)

    def respond(self, request: SDPRequest) -> SDPResponse | None:
        if request.transport_protocol is not TransportProtocol.TCP:
            return None
        if not isinstance(request.security, Security):
            return None
        security = choose_security(request.security, frozenset(self.endpoints))
        if security is None:
            return None
        return SDPResponse(self.address, self.endpoints[security], security)

    def datagram_received(self, data: bytes) -> tuple[SDPRequest | None, bytes | None]:
        """Returns (the request if it parsed, the response frame to send back if any)."""
        try:
            message = decode(data)
        except (V2GTPError, SDPPayloadError):
            return None, None
        if not isinstance(message, SDPRequest):
            return None, None
        response = self.respond(message)
        return message, (encode(response) if response is not None else None)


# --------------------------------------------------------------------------- asyncio


async def discover(
    interface: str | None,
    *,
    tls: bool,
    timeout: float | None = None,
    max_requests: int = SDP_MAX_REQUESTS,
    response_timeout: float = SDP_RESPONSE_TIMEOUT,
    collect: bool = False,
    port: int = SDP_PORT,
) -> list[SECCInfo]:
    """Multicast SDP requests out of ``interface`` until an SECC answers.

    The asyncio adapter lives in :mod:`iso15118.transport.sdp_io`; this wrapper keeps this
    module free of sockets until it is called.
    """
    from iso15118.transport.sdp_io import discover as _discover

    return await _discover(
        interface,
        tls=tls,
        timeout=timeout,
        max_requests=max_requests,
        response_timeout=response_timeout,
        collect=collect,
        port=port,
    )


async def serve_sdp(
    interface: str | None,
    *,
    endpoints: dict[Security, int],
    address: ipaddress.IPv6Address | str | None = None,
    port: int = SDP_PORT,
    on_request: Callable[[SDPRequest, tuple[str, int], bytes | None], None] | None = None,
) -> SDPServerHandle:
    """Start answering SDP requests on UDP ``port``; see :mod:`iso15118.transport.sdp_io`."""
    from iso15118.transport.sdp_io import serve_sdp as _serve_sdp

    return await _serve_sdp(
        interface, endpoints=endpoints, address=address, port=port, on_request=on_request
    )
