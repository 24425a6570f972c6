"""The charger role's own SDP responder and decoy listener (asyncio adapters).

As the charger the fuzzer answers the vehicle's SECCDiscoveryReq (ISO 15118-2 7.10.1)
itself instead of through :func:`iso15118.transport.serve_sdp`, because an SDP case must
*hold* the next request and answer it with damaged datagrams
(:mod:`.sdp_answers`); between SDP cases every well-formed request gets the correct
answer from :class:`iso15118.sdp.SDPServer`, so the vehicle reaches the session cases.

The decoy is a TCP listener on a port of its own that serves nothing: damaged answers
name it, so a vehicle connecting there is one that took a damaged answer. Connections
are recorded and closed at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import ipaddress
import socket
import struct
from dataclasses import dataclass, field
from typing import Any

from iso15118.sdp import SDP_MULTICAST_ADDRESS, SDPRequest, SDPServer, Security, encode
from iso15118.session.runner import dynamic_port
from iso15118.transport.sdp_io import interface_index, link_local_address

__all__ = ["Decoy", "HeldRequest", "SdpResponder", "open_responder"]

_SO_BINDTODEVICE = getattr(socket, "SO_BINDTODEVICE", 25)


@dataclass(frozen=True)
class HeldRequest:
    """A well-formed request the responder did not answer (a case holds it)."""

    request: SDPRequest
    sender: Any
    data: bytes
    time: float


@dataclass
class SdpResponder(asyncio.DatagramProtocol):
    """Answers well-formed SECCDiscoveryReqs correctly, unless :attr:`holding`: then
    they queue in :attr:`held` for the case to answer."""

    server: SDPServer
    holding: bool = False
    requests: int = 0
    answered: int = 0
    held: asyncio.Queue[HeldRequest] = field(default_factory=asyncio.Queue)
    transport: Any = None

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: Any) -> None:
        request, _response = self.server.datagram_received(data)
        if request is None:
            return  # not a request: SDP has no error answer
        self.requests += 1
        if self.holding:
            self.held.put_nowait(HeldRequest(request, addr, data,
                                             asyncio.get_running_loop().time()))
        else:
            self.answer(request, addr)

    def error_received(self, exc: Exception) -> None:
        pass  # an ICMP error for an answer: the vehicle's socket is gone, nothing to do

    def answer(self, request: SDPRequest, sender: Any) -> bytes | None:
        """The correct answer to ``request``, sent (None when it gets none)."""
        response = self.server.respond(request)
        if response is None or self.transport is None:
            return None
        data = encode(response)
        self.transport.sendto(data, sender)
        self.answered += 1
        return data

    def send(self, data: bytes, to: Any) -> None:
        if self.transport is not None:
            self.transport.sendto(data, to)

    def drain(self) -> None:
        while not self.held.empty():
            self.held.get_nowait()

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    @property
    def address(self) -> ipaddress.IPv6Address:
        return self.server.address

    @property
    def port(self) -> int:
        return int(next(iter(self.server.endpoints.values())))


async def open_responder(interface: str, endpoints: dict[Security, int],
                         port: int) -> SdpResponder:
    """An :class:`SdpResponder` on UDP ``port`` of ``interface`` (as serve_sdp binds)."""
    index = interface_index(interface)
    server = SDPServer(link_local_address(index), endpoints)
    sock = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if not interface.isdigit():
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, _SO_BINDTODEVICE, interface.encode())
        sock.bind(("::", port))
        group = socket.inet_pton(socket.AF_INET6, SDP_MULTICAST_ADDRESS)
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_JOIN_GROUP,
                            group + struct.pack("@I", index))
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    responder = SdpResponder(server)
    await asyncio.get_running_loop().create_datagram_endpoint(lambda: responder, sock=sock)
    return responder


@dataclass
class Decoy:
    """TCP listeners that serve nothing; :attr:`hits` holds (port, peer, time) of every
    connection made to them."""

    hits: list[tuple[int, str, float]] = field(default_factory=list)
    servers: dict[int, asyncio.AbstractServer] = field(default_factory=dict)
    port: int = 0

    async def start(self) -> int:
        """The campaign-long decoy on a free dynamic port."""
        for _ in range(64):
            candidate = dynamic_port()
            if await self.listen(candidate):
                self.port = candidate
                return candidate
        raise OSError(errno.EADDRINUSE, "no free TCP port for the SDP decoy")

    async def listen(self, port: int) -> bool:
        """Listen on ``port`` too (False when it cannot be bound: in use, or port 0)."""
        if port in self.servers:
            return True
        if port == 0:
            return False
        loop = asyncio.get_running_loop()

        async def on_connect(_reader: asyncio.StreamReader,
                             writer: asyncio.StreamWriter) -> None:
            peer = writer.get_extra_info("peername")
            self.hits.append((port, str(peer[0]) if peer else "?", loop.time()))
            writer.transport.abort()

        try:
            self.servers[port] = await asyncio.start_server(on_connect, "::", port)
        except OSError:
            return False
        return True

    def stop(self, port: int) -> None:
        server = self.servers.pop(port, None)
        if server is not None:
            server.close()

    def close(self) -> None:
        for port in list(self.servers):
            self.stop(port)
