"""Typed messages over a V2G connection: the step between V2GTP frames and the application.

:class:`iso15118.transport.V2GConnection` moves V2GTP frames; :mod:`iso15118.codec`
turns messages into EXI. A :class:`MessageChannel` joins the two the way every EVCC
and SECC must: the payload type follows from the message (0x8001 for appHandshake,
DIN and ISO 15118-2; 0x8002-0x8006 for the -20 namespaces, ISO 15118-20 Table 12),
and an incoming 0x8001 payload is decoded with the protocol in force, which is
appHandshake until the supportedAppProtocol exchange has chosen DIN or ISO-2.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from iso15118 import codec, protocols
from iso15118.errors import Iso15118Error
from iso15118.transport.connection import _UNSET, V2GConnection, _Unset
from iso15118.transport.errors import ConnectionClosedError
from iso15118.v2gtp import PAYLOAD_TYPE_PROTOCOLS, PayloadType

__all__ = ["MessageChannel", "UnexpectedPayloadTypeError", "payload_type_of"]

_SAP_ISO2_DIN = ("apphand", "din", "iso2")
_BY_PROTOCOL = {p: t for t, p in PAYLOAD_TYPE_PROTOCOLS.items() if p.startswith("iso20")}
_BY_MODULE = {p.module: p.name for p in protocols.PROTOCOLS.values()}


class UnexpectedPayloadTypeError(Iso15118Error):
    """A frame arrived whose payload type does not carry the messages of this session."""


def protocol_of(message: Any) -> str:
    """The protocol whose generated models ``message`` belongs to (``iso2``, ``iso20-dc``...)."""
    module = type(message).__module__.rsplit(".", 1)[-1]
    name = _BY_MODULE.get(module)
    if name is None or name == "xmldsig":
        raise Iso15118Error(f"{type(message).__name__} is not a message model of "
                            "iso15118.messages")
    return name


def payload_type_of(protocol: str) -> int:
    """The V2GTP payload type that carries ``protocol``'s messages."""
    name = protocols.get(protocol).name
    if name in _SAP_ISO2_DIN:
        return int(PayloadType.SAP_ISO2_DIN)
    try:
        return int(_BY_PROTOCOL[name])
    except KeyError:
        raise Iso15118Error(f"{name} messages are not sent on their own") from None


class MessageChannel:
    """Send and receive typed messages on one connection.

    ``protocol`` decodes 0x8001 payloads: ``apphand`` at first; set it to ``din`` or
    ``iso2`` once supportedAppProtocol has chosen (``channel.protocol = "iso2"``). -20
    payloads name their namespace in the payload type, so they need no setting.
    """

    def __init__(self, connection: V2GConnection, protocol: str = "apphand") -> None:
        self.connection = connection
        self.protocol = protocol

    @property
    def protocol(self) -> str:
        return self._protocol

    @protocol.setter
    def protocol(self, name: str) -> None:
        name = protocols.get(name).name
        if name not in _SAP_ISO2_DIN:
            raise Iso15118Error(f"payload type 0x8001 carries apphand, din or iso2, not {name}")
        self._protocol = name

    async def send(self, message: Any) -> None:
        """Encode ``message`` with its own protocol and send it with the matching type."""
        protocol = protocol_of(message)
        await self.connection.send(payload_type_of(protocol), codec.encode(message, protocol))

    async def receive(self, timeout: float | None | _Unset = _UNSET) -> Any:
        """The next message, decoded (errors: the transport's, or the codec's
        :class:`iso15118.errors.MessageDecodeError`, or :class:`UnexpectedPayloadTypeError`)."""
        frame = await self.connection.receive(timeout)
        if frame.payload_type == PayloadType.SAP_ISO2_DIN:
            return codec.decode(frame.payload, self._protocol)
        protocol = PAYLOAD_TYPE_PROTOCOLS.get(frame.payload_type)
        if protocol is None:
            raise UnexpectedPayloadTypeError(
                f"payload type 0x{frame.payload_type:04x} does not carry V2G messages")
        return codec.decode(frame.payload, protocol)

    async def exchange(self, message: Any, timeout: float | None | _Unset = _UNSET) -> Any:
        """Send a request and wait for the next message (the response)."""
        await self.send(message)
        return await self.receive(timeout)

    def __aiter__(self) -> AsyncIterator[Any]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Any]:
        while True:
            try:
                yield await self.receive()
            except ConnectionClosedError:
                return
