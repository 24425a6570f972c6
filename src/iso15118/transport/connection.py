"""asyncio V2G connections: V2GTP frames over TCP or TLS, with timeouts and typed errors.

A thin adapter around :class:`iso15118.v2gtp.V2GTPParser`: it moves bytes between an
asyncio stream and the parser and turns the parser's events into frames or exceptions.
The API is bytes based (``send(payload_type, payload)`` / ``async for frame in conn``);
EXI encoding happens in the layer above.

The EVCC is always the TCP client and the SECC the server (ISO 15118-2 clause 7.7;
[V2G2-068] as cited by other implementations: the SECC is always the TLS server).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import enum
import logging
import ssl
from collections.abc import AsyncIterator, Callable
from typing import Any

from iso15118.sdp import SECCInfo
from iso15118.transport.errors import (
    ConnectionClosedError,
    ConnectTimeoutError,
    PeerProtocolError,
    ReceiveTimeoutError,
    SecurityMismatchError,
    SendTimeoutError,
    TLSError,
    TransportError,
)
from iso15118.v2gtp import (
    DEFAULT_MAX_PAYLOAD_LENGTH,
    Frame,
    FrameDiscarded,
    ProtocolViolation,
    V2GTPParser,
    encode_frame,
)

__all__ = ["V2GConnection", "connect", "open_connection"]

logger = logging.getLogger(__name__)

READ_LIMIT = 65536  # bytes per read, and the stream buffer limit
_CLOSE_TIMEOUT = 2.0  # for the peer to answer a TLS close_notify


class _Unset(enum.Enum):
    UNSET = 0


_UNSET = _Unset.UNSET
DEFAULT_CONNECT_TIMEOUT = 10.0


class V2GConnection:
    """One V2G connection (either side) exchanging V2GTP frames.

    Discarded frames (unknown payload type, too long; see :mod:`iso15118.v2gtp`) are
    skipped as the standard prescribes and reported to ``on_discard``; with
    ``close_on_discard=True`` the connection is closed instead and
    :class:`PeerProtocolError` raised. A version error always closes the connection.
    """

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        max_payload_length: int = DEFAULT_MAX_PAYLOAD_LENGTH,
        receive_timeout: float | None = None,
        send_timeout: float | None = None,
        close_on_discard: bool = False,
        on_discard: Callable[[FrameDiscarded], None] | None = None,
    ) -> None:
        self._reader = reader
        self._writer = writer
        self._parser = V2GTPParser(max_payload_length=max_payload_length)
        self._pending: collections.deque[Frame] = collections.deque()
        self.receive_timeout = receive_timeout
        self.send_timeout = send_timeout
        self.close_on_discard = close_on_discard
        self.on_discard = on_discard
        self.discarded = 0
        self._closed = False
        self._eof = False
        self._failure: PeerProtocolError | None = None
        # Read once, while the transport is open: asyncio's TLS transport cannot answer
        # get_extra_info once it is closed, and a session asks after its end.
        self._peer = writer.get_extra_info("peername")
        self._local = writer.get_extra_info("sockname")
        obj = writer.get_extra_info("ssl_object")
        self._ssl_object = obj if isinstance(obj, ssl.SSLObject) else None
        cipher = self._ssl_object.cipher() if self._ssl_object is not None else None
        self._tls_version = self._ssl_object.version() if self._ssl_object is not None else None
        self._cipher = cipher[0] if cipher else None
        self._peer_certificate = (self._ssl_object.getpeercert(binary_form=True)
                                  if self._ssl_object is not None else None)

    # ----------------------------------------------------------------- introspection

    @property
    def peer(self) -> Any:
        return self._peer

    @property
    def local(self) -> Any:
        return self._local

    @property
    def ssl_object(self) -> ssl.SSLObject | None:
        return self._ssl_object

    @property
    def tls_version(self) -> str | None:
        """The negotiated TLS version ("TLSv1.2", "TLSv1.3"), or None for plain TCP."""
        return self._tls_version

    @property
    def cipher(self) -> str | None:
        return self._cipher

    @property
    def peer_certificate(self) -> bytes | None:
        """The peer's leaf certificate (DER), if it sent one."""
        return self._peer_certificate

    @property
    def closed(self) -> bool:
        return self._closed

    # ----------------------------------------------------------------- sending

    async def send(self, payload_type: int, payload: bytes) -> None:
        if self._closed:
            raise ConnectionClosedError("send() on a closed connection")
        self._writer.write(encode_frame(payload_type, payload))
        try:
            await asyncio.wait_for(self._writer.drain(), self.send_timeout)
        except asyncio.TimeoutError:
            raise SendTimeoutError(
                f"peer did not accept data within {self.send_timeout} s"
            ) from None
        except (ConnectionError, OSError) as exc:
            await self._abort()
            raise ConnectionClosedError(f"connection lost while sending: {exc}") from exc

    async def send_frame(self, frame: Frame) -> None:
        await self.send(frame.payload_type, frame.payload)

    # ----------------------------------------------------------------- receiving

    async def receive(self, timeout: float | None | _Unset = _UNSET) -> Frame:
        """The next frame. ``timeout`` defaults to the connection's ``receive_timeout``.

        Raises :class:`ConnectionClosedError` when the peer closed cleanly,
        :class:`iso15118.v2gtp.TruncatedStreamError` when it closed mid-frame,
        :class:`PeerProtocolError` when it broke V2GTP and :class:`ReceiveTimeoutError`.
        """
        if isinstance(timeout, _Unset):
            timeout = self.receive_timeout
        if self._pending:
            return self._pending.popleft()
        if self._failure is not None:
            raise self._failure
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while not self._pending:
            if self._failure is not None:
                raise self._failure
            if self._eof or self._closed:
                raise ConnectionClosedError("connection closed")
            remaining = None if deadline is None else max(0.0, deadline - loop.time())
            try:
                data = await asyncio.wait_for(self._reader.read(READ_LIMIT), remaining)
            except asyncio.TimeoutError:
                raise ReceiveTimeoutError(f"no V2GTP frame within {timeout} s") from None
            except (ConnectionError, OSError) as exc:
                await self._abort()
                raise ConnectionClosedError(f"connection lost: {exc}") from exc
            if not data:
                self._eof = True
                try:
                    self._parser.feed_eof()
                finally:
                    await self.close()
                raise ConnectionClosedError("peer closed the connection")
            await self._absorb(self._parser.feed(data))
        return self._pending.popleft()

    async def _absorb(self, events: list[Frame | FrameDiscarded | ProtocolViolation]) -> None:
        """Queue frames; on a fatal event, cut the connection but keep the frames that came
        before it: they are delivered first, then the error is raised."""
        for event in events:
            if isinstance(event, Frame):
                self._pending.append(event)
            elif isinstance(event, FrameDiscarded):
                self.discarded += 1
                logger.warning("discarding V2GTP frame from %s: %s", self.peer, event.error)
                if self.on_discard is not None:
                    self.on_discard(event)
                if self.close_on_discard:
                    await self._abort()
                    self._failure = PeerProtocolError(event.error)
                    return
            else:
                await self._abort()
                self._failure = PeerProtocolError(event.error)
                return

    def __aiter__(self) -> AsyncIterator[Frame]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Frame]:
        while True:
            try:
                yield await self.receive()
            except ConnectionClosedError:
                return

    # ----------------------------------------------------------------- closing

    async def close(self) -> None:
        """Close gracefully (TLS: close_notify), within a bound; cancelled, cut at once.

        The bound matters at shutdown: a peer that never answers the close_notify would
        otherwise keep the transport open past the end of the event loop.
        """
        if self._closed:
            return
        self._closed = True
        self._writer.close()
        try:
            await asyncio.wait_for(self._writer.wait_closed(), _CLOSE_TIMEOUT)
        except asyncio.TimeoutError:
            self._writer.transport.abort()
        except (ConnectionError, OSError, ssl.SSLError):
            pass
        except asyncio.CancelledError:
            self._writer.transport.abort()
            raise

    async def _abort(self) -> None:
        """Close without a graceful TLS shutdown: the peer misbehaved."""
        if self._closed:
            return
        self._closed = True
        transport = self._writer.transport
        transport.abort()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._writer.wait_closed(), 1.0)

    async def __aenter__(self) -> V2GConnection:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()


# --------------------------------------------------------------------------- client


async def open_connection(
    host: str,
    port: int,
    *,
    ssl_context: ssl.SSLContext | None = None,
    server_hostname: str | None = None,
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
    **connection_options: Any,
) -> V2GConnection:
    """Connect to ``host`` (IPv4, IPv6, or ``fe80::1%eth0`` with a scope) over TCP or TLS.

    ``connection_options`` go to :class:`V2GConnection`.
    """
    kwargs: dict[str, Any] = {}
    if ssl_context is not None:
        kwargs["ssl"] = ssl_context
        # SNI is never sent for address literals; with check_hostname the address is
        # matched against the certificate's IP SANs.
        kwargs["server_hostname"] = server_hostname or host.split("%", 1)[0]
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(host, port, limit=READ_LIMIT, **kwargs), connect_timeout
        )
    except asyncio.TimeoutError:
        raise ConnectTimeoutError(f"connecting to [{host}]:{port} timed out") from None
    except ssl.SSLError as exc:
        raise TLSError(f"TLS handshake with [{host}]:{port} failed: {exc}") from exc
    except ConnectionRefusedError as exc:
        raise TransportError(f"cannot connect to [{host}]:{port}: {exc}") from exc
    except ConnectionError as exc:
        if ssl_context is not None:
            # a server refusing our TLS version or suites often just drops the connection
            raise TLSError(
                f"[{host}]:{port} closed the connection during the TLS handshake"
            ) from exc
        raise TransportError(f"cannot connect to [{host}]:{port}: {exc}") from exc
    except OSError as exc:
        raise TransportError(f"cannot connect to [{host}]:{port}: {exc}") from exc
    return V2GConnection(reader, writer, **connection_options)


async def connect(
    secc: SECCInfo,
    *,
    ssl_context: ssl.SSLContext | None = None,
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
    **connection_options: Any,
) -> V2GConnection:
    """Connect to an SECC found by discovery, with the security it announced.

    An SECC announcing TLS needs an ``ssl_context`` and one announcing plain TCP must not
    get one: silently downgrading or upgrading is the caller's decision, not ours.
    """
    if secc.tls and ssl_context is None:
        raise SecurityMismatchError("the SECC announced TLS but no ssl_context was given")
    if not secc.tls and ssl_context is not None:
        raise SecurityMismatchError("the SECC announced plain TCP but an ssl_context was given")
    return await open_connection(
        secc.host,
        secc.port,
        ssl_context=ssl_context,
        connect_timeout=connect_timeout,
        **connection_options,
    )
