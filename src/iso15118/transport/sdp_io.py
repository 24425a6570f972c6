"""asyncio SDP over IPv6 UDP: the EVCC's discovery and the SECC's responder.

Thin adapters around :class:`iso15118.sdp.SDPClient` and :class:`iso15118.sdp.SDPServer`.
The EVCC multicasts to the link-local all-nodes group ``ff02::1`` port 15118 out of one
interface ([V2G2-139] as cited by EVerest) with hop limit 1 (the request must not leave
the link); the SECC listens on UDP 15118 and answers by unicast to the request's sender.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import socket
import struct
from collections.abc import Callable, Iterable
from typing import Any

from iso15118.sdp import (
    SDP_MAX_REQUESTS,
    SDP_MULTICAST_ADDRESS,
    SDP_PORT,
    SDP_RESPONSE_TIMEOUT,
    SDPClient,
    SDPRequest,
    SDPServer,
    SECCInfo,
    Security,
)
from iso15118.transport.errors import TransportError

__all__ = ["SDPServerHandle", "discover", "interface_index", "link_local_address", "serve_sdp"]

logger = logging.getLogger(__name__)

_SO_BINDTODEVICE = getattr(socket, "SO_BINDTODEVICE", 25)


def interface_index(interface: str | None) -> int:
    """Interface name (or decimal index) -> index; None -> 0 (let the kernel choose)."""
    if interface is None:
        return 0
    if interface.isdigit():
        return int(interface)
    try:
        return socket.if_nametoindex(interface)
    except OSError as exc:
        raise TransportError(f"no such network interface: {interface!r}") from exc


#: Address flags (linux/if_addr.h) of addresses that cannot be used yet or at all: still
#: in duplicate address detection, or failed it. Announcing one in an SDP response would
#: send the EV to an address nobody answers on.
_IFA_F_DADFAILED = 0x08
_IFA_F_TENTATIVE = 0x40


def link_local_from_table(lines: Iterable[str], index: int) -> ipaddress.IPv6Address | None:
    """The first usable link-local address of interface ``index`` in /proc/net/if_inet6."""
    for line in lines:
        fields = line.split()
        # address, ifindex, prefix length, scope, flags, name (numbers in hex)
        if len(fields) < 6 or int(fields[1], 16) != index or fields[3] != "20":
            continue
        if int(fields[4], 16) & (_IFA_F_TENTATIVE | _IFA_F_DADFAILED):
            continue
        return ipaddress.IPv6Address(bytes.fromhex(fields[0]))
    return None


def link_local_address(interface: str | int) -> ipaddress.IPv6Address:
    """The (first) IPv6 link-local address of an interface: what an SECC announces."""
    index = interface if isinstance(interface, int) else interface_index(interface)
    with contextlib.suppress(OSError):
        with open("/proc/net/if_inet6", encoding="ascii") as table:
            found = link_local_from_table(table, index)
        if found is not None:
            return found
    # Elsewhere: ask the kernel which source address it would use towards ff02::1.
    with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect((SDP_MULTICAST_ADDRESS, 9, 0, index))
        except OSError as exc:
            raise TransportError(f"interface {interface!r} has no usable IPv6 address") from exc
        candidate = ipaddress.IPv6Address(probe.getsockname()[0].split("%", 1)[0])
    if not candidate.is_link_local:
        raise TransportError(f"interface {interface!r} has no IPv6 link-local address")
    return candidate


class _Datagrams(asyncio.DatagramProtocol):
    def __init__(self, on_datagram: Callable[[bytes, Any], None]) -> None:
        self._on_datagram = on_datagram
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self._on_datagram(data, addr)

    def error_received(self, exc: Exception) -> None:
        logger.debug("SDP socket error: %s", exc)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)


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
    """Find the SECC(s) on the link behind ``interface``.

    Sends an SDP request (security TLS if ``tls`` else no TLS, transport TCP) to
    ``ff02::1`` and repeats it every ``response_timeout`` until an SECC answers or
    ``max_requests`` went unanswered (ISO 15118-2 [V2G2-159], [V2G2-161]); ``timeout``
    bounds the whole search in seconds as well. Returns the SECCs that answered (empty
    when none did), each with the interface's scope so a link-local address can be
    connected to. With ``collect=True`` every SECC answering within the first answered
    request's window is reported, not just the first.
    """
    index = interface_index(interface)
    request = SDPRequest(Security.TLS if tls else Security.NO_TLS)
    client = SDPClient(
        request, max_requests=max_requests, response_timeout=response_timeout, collect=collect
    )
    loop = asyncio.get_running_loop()
    inbox: asyncio.Queue[tuple[bytes, Any]] = asyncio.Queue()

    sock = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    try:
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, index)
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 1)
        sock.bind(("::", 0))
        sock.setblocking(False)
    except OSError as exc:
        sock.close()
        raise TransportError(f"cannot open the SDP client socket: {exc}") from exc
    transport, _ = await loop.create_datagram_endpoint(
        lambda: _Datagrams(lambda data, addr: inbox.put_nowait((data, addr))), sock=sock
    )
    destination = (SDP_MULTICAST_ADDRESS, port, 0, index)
    scopes: dict[int, int] = {}
    try:
        give_up_at = None if timeout is None else loop.time() + timeout
        transport.sendto(client.start(loop.time()), destination)
        while not client.finished:
            deadline = client.deadline
            assert deadline is not None
            if give_up_at is not None:
                deadline = min(deadline, give_up_at)
            try:
                data, addr = await asyncio.wait_for(inbox.get(), max(0.0, deadline - loop.time()))
            except asyncio.TimeoutError:
                if give_up_at is not None and loop.time() >= give_up_at:
                    break
                again = client.timeout(loop.time())
                if again is not None:
                    transport.sendto(again, destination)
                continue
            if client.datagram_received(data, loop.time()) is not None:
                # the interface the answer came in on is the one its link-local address
                # belongs to
                scopes[len(client.responses) - 1] = (addr[3] if len(addr) > 3 else 0) or index
    finally:
        transport.close()
    return [
        SECCInfo.from_response(response, scopes.get(i, index))
        for i, response in enumerate(client.responses)
    ]


class SDPServerHandle:
    """A running SDP responder. ``async with`` it, or ``close()`` and ``wait_closed()``."""

    def __init__(
        self, transport: asyncio.DatagramTransport, protocol: _Datagrams, server: SDPServer
    ) -> None:
        self._transport = transport
        self._protocol = protocol
        self.server = server
        self.answered = 0

    @property
    def sockname(self) -> Any:
        return self._transport.get_extra_info("sockname")

    def close(self) -> None:
        self._transport.close()

    async def wait_closed(self) -> None:
        await self._protocol.closed

    async def serve_forever(self) -> None:
        try:
            await self.wait_closed()
        finally:
            self.close()

    async def __aenter__(self) -> SDPServerHandle:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self.close()
        await self.wait_closed()


def _join_all_nodes(sock: socket.socket, index: int) -> None:
    # Interfaces are members of ff02::1 anyway; joining on the socket as well keeps us
    # independent of platforms that deliver group traffic only to joined sockets.
    group = socket.inet_pton(socket.AF_INET6, SDP_MULTICAST_ADDRESS)
    with contextlib.suppress(OSError):
        sock.setsockopt(
            socket.IPPROTO_IPV6, socket.IPV6_JOIN_GROUP, group + struct.pack("@I", index)
        )


async def serve_sdp(
    interface: str | None,
    *,
    endpoints: dict[Security, int],
    address: ipaddress.IPv6Address | str | None = None,
    port: int = SDP_PORT,
    on_request: Callable[[SDPRequest, Any, bytes | None], None] | None = None,
) -> SDPServerHandle:
    """Answer SDP requests arriving on UDP ``port`` (15118) of ``interface``.

    ``endpoints`` maps each offered security to the V2G TCP port serving it;
    ``address`` defaults to the interface's link-local address. ``on_request(request,
    sender, response_frame)`` is called for every well-formed request (response_frame is
    None when it was not answered).
    """
    index = interface_index(interface)
    if address is None:
        if not index:
            raise TransportError("serve_sdp needs an interface or an explicit address")
        address = link_local_address(index)
    server = SDPServer(address, endpoints)
    loop = asyncio.get_running_loop()

    sock = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if interface is not None and not interface.isdigit():
            # Only answer on the charging link (needs CAP_NET_RAW; best effort otherwise).
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, _SO_BINDTODEVICE, interface.encode())
        sock.bind(("::", port))
        _join_all_nodes(sock, index)
        sock.setblocking(False)
    except OSError as exc:
        sock.close()
        raise TransportError(f"cannot open the SDP server socket on port {port}: {exc}") from exc

    handle: SDPServerHandle | None = None

    def on_datagram(data: bytes, sender: Any) -> None:
        request, response = server.datagram_received(data)
        if request is None:
            logger.debug("ignoring datagram from %s: not an SDP request", sender)
            return
        if response is not None and handle is not None:
            handle._transport.sendto(response, sender)
            handle.answered += 1
        if on_request is not None:
            on_request(request, sender, response)

    transport, protocol = await loop.create_datagram_endpoint(
        lambda: _Datagrams(on_datagram), sock=sock
    )
    handle = SDPServerHandle(transport, protocol, server)
    return handle
