"""Errors of the asyncio transport layer (connections, TLS, discovery sockets).

Framing errors themselves are the :mod:`iso15118.v2gtp` classes; the transport wraps a
peer's framing violation in :class:`PeerProtocolError` so callers can tell "the peer broke
the protocol" (remote) from "we misused the API" (:class:`iso15118.v2gtp.LocalProtocolError`).
"""

from __future__ import annotations

from iso15118.errors import Iso15118Error
from iso15118.v2gtp import RemoteProtocolError

__all__ = [
    "ConnectTimeoutError",
    "ConnectionClosedError",
    "PeerProtocolError",
    "ReceiveTimeoutError",
    "SecurityMismatchError",
    "SendTimeoutError",
    "TLSError",
    "TransportError",
]


class TransportError(Iso15118Error):
    """Base class of transport-layer errors."""


class ConnectTimeoutError(TransportError, TimeoutError):
    """The TCP connection (and TLS handshake) did not complete in time."""


class ReceiveTimeoutError(TransportError, TimeoutError):
    """No complete V2GTP frame arrived in time. The connection stays open; whether this ends
    the session is the application's decision (its message timeouts, e.g. ISO 15118-2
    V2G_EVCC_Msg_Timeout, live above this layer)."""


class SendTimeoutError(TransportError, TimeoutError):
    """The peer did not take our bytes in time (its receive window stayed full)."""


class ConnectionClosedError(TransportError):
    """The peer closed the connection cleanly, between two frames."""


class PeerProtocolError(TransportError):
    """The peer broke V2GTP; ``error`` says how. The connection has been closed."""

    side = "remote"

    def __init__(self, error: RemoteProtocolError) -> None:
        super().__init__(f"peer broke V2GTP: {error}")
        self.error = error


class TLSError(TransportError):
    """The TLS handshake failed (version, cipher suite, certificate)."""


class SecurityMismatchError(TransportError):
    """The SECC's announced security and the caller's TLS configuration disagree."""
