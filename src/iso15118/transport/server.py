"""The SECC's listening side: accept V2G connections and run a handler for each, owning them.

asyncio's own ``start_server`` runs each handler as a task nobody holds. When that task
is cancelled (the server shuts down, ``asyncio.run`` ends, a task group around
``serve_forever`` fails), Python 3.11's stream protocol asks the cancelled task for its
exception from a done-callback, which raises and prints "Exception in callback
StreamReaderProtocol.connection_made..." with a traceback; and ``Server.close()`` leaves
the connections running, so ``wait_closed()`` returns while handlers still hold sockets.

:class:`V2GServer` holds its connection tasks itself instead: closing it stops listening,
cancels every handler, closes every connection (TLS close_notify, bounded in time) and
waits for them, so a shutdown leaves no task, socket or log line behind. It has the
methods of :class:`asyncio.AbstractServer`, so code written for ``asyncio.Server``
(``async with``, ``serve_forever``, ``sockets``) keeps working.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Awaitable, Callable
from typing import Any

from iso15118.transport.connection import READ_LIMIT, V2GConnection
from iso15118.transport.errors import ConnectionClosedError, PeerProtocolError
from iso15118.v2gtp import RemoteProtocolError

__all__ = ["V2GServer", "serve"]

logger = logging.getLogger("iso15118.transport.connection")  # where these lines have always gone

Handler = Callable[[V2GConnection], Awaitable[None]]


class V2GServer(asyncio.AbstractServer):
    """Listening sockets and the connections accepted on them; see the module docstring."""

    def __init__(self, handler: Handler, connection_options: dict[str, Any]) -> None:
        self._handler = handler
        self._options = connection_options
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._connections: set[V2GConnection] = set()
        self._closing = False

    async def _listen(self, host: str | None, port: int, **kwargs: Any) -> None:
        self._server = await asyncio.start_server(self._accept, host, port, limit=READ_LIMIT,
                                                  **kwargs)

    @property
    def _listener(self) -> asyncio.Server:
        assert self._server is not None, "V2GServer is made by serve()"
        return self._server

    # ----------------------------------------------------------------- the server API

    @property
    def sockets(self) -> tuple[Any, ...]:
        return tuple(self._listener.sockets)

    @property
    def connections(self) -> frozenset[V2GConnection]:
        """The connections whose handler is still running."""
        return frozenset(self._connections)

    def get_loop(self) -> asyncio.AbstractEventLoop:
        return self._listener.get_loop()

    def is_serving(self) -> bool:
        return self._listener.is_serving()

    async def start_serving(self) -> None:
        await self._listener.start_serving()

    def close(self) -> None:
        """Stop listening and cancel every handler; :meth:`wait_closed` waits for them."""
        self._closing = True
        self._listener.close()
        for task in self._tasks:
            task.cancel()

    async def wait_closed(self) -> None:
        """Wait until :meth:`close` is called and every connection is closed."""
        await self._listener.wait_closed()
        while self._tasks:  # none start after close(), so this ends
            await asyncio.wait(set(self._tasks))

    async def serve_forever(self) -> None:
        """Accept until cancelled; then close as :meth:`close` and :meth:`wait_closed` do."""
        await self.start_serving()
        try:
            await asyncio.get_running_loop().create_future()
        finally:
            self.close()
            await self.wait_closed()

    async def __aenter__(self) -> V2GServer:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self.close()
        await self.wait_closed()

    # ----------------------------------------------------------------- connections

    def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Called by the stream protocol; a plain function, so the protocol attaches no
        done-callback of its own to the task (the callback that prints the traceback)."""
        conn = V2GConnection(reader, writer, **self._options)
        if self._closing:  # a TLS handshake that finished after close()
            writer.transport.abort()
            return
        task = asyncio.get_running_loop().create_task(self._run(conn),
                                                      name=f"V2G connection {conn.peer}")
        self._tasks.add(task)
        self._connections.add(conn)
        task.add_done_callback(lambda t: self._done(t, conn))

    def _done(self, task: asyncio.Task[None], conn: V2GConnection) -> None:
        self._tasks.discard(task)
        self._connections.discard(conn)
        if not task.cancelled() and task.exception() is not None:  # retrieved: never unlogged
            logger.error("V2G connection task for %s failed", conn.peer,
                         exc_info=task.exception())

    async def _run(self, conn: V2GConnection) -> None:
        try:
            await self._handler(conn)
        except (ConnectionClosedError, PeerProtocolError, RemoteProtocolError) as exc:
            logger.info("V2G connection from %s ended: %s", conn.peer, exc)
        except Exception:
            logger.exception("V2G connection handler failed for %s", conn.peer)
        finally:
            await conn.close()


async def serve(
    handler: Handler,
    host: str | None,
    port: int,
    *,
    ssl_context: ssl.SSLContext | None = None,
    ssl_handshake_timeout: float | None = None,
    **connection_options: Any,
) -> V2GServer:
    """Accept V2G connections and run ``handler(connection)`` for each.

    The connection is closed when the handler returns; a peer closing or breaking the
    protocol inside the handler is logged, not propagated (one bad EV must not stop the
    server). Use the returned :class:`V2GServer` as an async context manager, or
    ``close()`` and ``await wait_closed()``: either cancels the running handlers and
    closes their connections. ``connection_options`` go to :class:`V2GConnection`.
    """
    kwargs: dict[str, Any] = {}
    if ssl_context is not None:
        kwargs["ssl"] = ssl_context
        if ssl_handshake_timeout is not None:
            kwargs["ssl_handshake_timeout"] = ssl_handshake_timeout
    server = V2GServer(handler, connection_options)
    await server._listen(host, port, **kwargs)
    return server
