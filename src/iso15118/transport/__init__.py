"""asyncio transport for V2G: TCP/TLS connections carrying V2GTP frames, TLS contexts for
ISO 15118-2 and -20, and SDP discovery over IPv6 link-local multicast.

The protocol logic lives in the sans-IO modules :mod:`iso15118.v2gtp` and
:mod:`iso15118.sdp`; this package only moves their bytes through sockets.
"""

from iso15118.transport.connection import V2GConnection, connect, open_connection
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
from iso15118.transport.sdp_io import (
    SDPServerHandle,
    discover,
    interface_index,
    link_local_address,
    serve_sdp,
)
from iso15118.transport.server import V2GServer, serve
from iso15118.transport.tls import (
    iso2_client_context,
    iso2_server_context,
    iso20_client_context,
    iso20_server_context,
    supported_iso2_cipher_suites,
)

__all__ = [
    "ConnectTimeoutError",
    "ConnectionClosedError",
    "PeerProtocolError",
    "ReceiveTimeoutError",
    "SDPServerHandle",
    "SecurityMismatchError",
    "SendTimeoutError",
    "TLSError",
    "TransportError",
    "V2GConnection",
    "V2GServer",
    "connect",
    "discover",
    "interface_index",
    "iso20_client_context",
    "iso20_server_context",
    "iso2_client_context",
    "iso2_server_context",
    "link_local_address",
    "open_connection",
    "serve",
    "serve_sdp",
    "supported_iso2_cipher_suites",
]
