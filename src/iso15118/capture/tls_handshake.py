"""The TLS handshake messages a passive reader must understand, parsed from bytes alone.

A capture is decrypted with secrets looked up by the ClientHello's random; which of them
apply, and when each key starts, follows from a few fields of a few messages (RFC 8446
clause 4, RFC 5246 clause 7.4):

* ClientHello (clause 4.1.2): the random, the offered versions and suites, whether it
  offers a pre-shared key (resumption, clause 4.2.11) and 0-RTT early data (clause
  4.2.10);
* ServerHello (clause 4.1.3): the chosen version and suite, whether it accepted the
  pre-shared key; a ServerHello whose random is the fixed HelloRetryRequest value is a
  request for another key share, not a ServerHello at all;
* EncryptedExtensions (clause 4.3.1): whether the server accepted the early data;
* KeyUpdate (clause 4.6.3), EndOfEarlyData (clause 4.5);
* Certificate and CertificateRequest (clauses 4.4.2, 4.3.2; RFC 5246 clauses 7.4.2,
  7.4.4): not for the keys but for who proved its identity, e.g. mutual TLS as
  ISO 15118-20 allows it (the EVCC's certificate).

Handshake messages may be split over several records and several may share one record
(clause 5.1), so :class:`HandshakeReassembler` turns record contents back into whole
messages before anything is parsed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from iso15118.errors import Iso15118Error

__all__ = [
    "CERTIFICATE",
    "CERTIFICATE_REQUEST",
    "CLIENT_HELLO",
    "ENCRYPTED_EXTENSIONS",
    "END_OF_EARLY_DATA",
    "KEY_UPDATE",
    "SERVER_HELLO",
    "ClientHello",
    "HandshakeReassembler",
    "MalformedHandshakeError",
    "ServerHello",
    "group_name",
    "has_early_data_extension",
    "parse_certificate_list",
    "parse_client_hello",
    "parse_server_hello",
]

CLIENT_HELLO, SERVER_HELLO, END_OF_EARLY_DATA = 1, 2, 5
ENCRYPTED_EXTENSIONS, KEY_UPDATE = 8, 24
CERTIFICATE, CERTIFICATE_REQUEST = 11, 13
TLS13: Final = 0x0304

_EXT_PRE_SHARED_KEY, _EXT_EARLY_DATA, _EXT_SUPPORTED_VERSIONS = 41, 42, 43
_EXT_KEY_SHARE, _EXT_ENCRYPT_THEN_MAC = 51, 22
#: ServerHello.random of a HelloRetryRequest: SHA-256("HelloRetryRequest") (clause 4.1.3).
HRR_RANDOM: Final = bytes.fromhex(
    "cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c")
_MAX_MESSAGE: Final = 1 << 17  # far beyond any real certificate chain; bounds the buffer

_GROUPS: Final = {0x0017: "secp256r1", 0x0018: "secp384r1", 0x0019: "secp521r1",
                  0x001D: "x25519", 0x001E: "x448", 0x0100: "ffdhe2048", 0x0101: "ffdhe3072",
                  0x0102: "ffdhe4096", 0x11EC: "X25519MLKEM768"}


class MalformedHandshakeError(Iso15118Error):
    """A handshake message is shorter than its own length fields say."""


def group_name(group: int) -> str:
    """The IANA name of a key-exchange group (RFC 8446 clause 4.2.7), or its number."""
    return _GROUPS.get(group, f"group 0x{group:04x}")


class _Reader:
    """Bounds-checked reads of the TLS presentation language (RFC 8446 clause 3)."""

    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise MalformedHandshakeError("handshake message ends inside a field")
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out

    def uint(self, n: int) -> int:
        return int.from_bytes(self.take(n), "big")

    def vector(self, length_bytes: int) -> bytes:
        return self.take(self.uint(length_bytes))

    @property
    def left(self) -> int:
        return len(self.data) - self.pos


def _extensions(r: _Reader) -> dict[int, bytes]:
    out: dict[int, bytes] = {}
    if not r.left:  # extensions are optional before TLS 1.3
        return out
    block = _Reader(r.vector(2))
    while block.left:
        etype = block.uint(2)
        out[etype] = block.vector(2)
    return out


def _pairs(data: bytes) -> tuple[int, ...]:
    return tuple(int.from_bytes(data[i:i + 2], "big") for i in range(0, len(data) - 1, 2))


@dataclass(frozen=True, slots=True)
class ClientHello:
    random: bytes
    suites: tuple[int, ...]
    versions: tuple[int, ...]  # supported_versions, empty when absent (TLS 1.2 and older)
    key_share_groups: tuple[int, ...]
    offers_psk: bool
    offers_early_data: bool

    @property
    def offers_tls13(self) -> bool:
        return TLS13 in self.versions


@dataclass(frozen=True, slots=True)
class ServerHello:
    random: bytes
    version: int  # from supported_versions in TLS 1.3, else legacy_version
    suite: int
    retry: bool  # a HelloRetryRequest
    psk_accepted: bool  # pre_shared_key present: the session is resumed
    group: int | None  # key_share: the group used, or (retry) the group asked for
    encrypt_then_mac: bool


def parse_client_hello(body: bytes) -> ClientHello:
    r = _Reader(body)
    r.take(2)  # legacy_version
    random = r.take(32)
    r.vector(1)  # legacy_session_id
    suites = _pairs(r.vector(2))
    r.vector(1)  # compression methods
    ext = _extensions(r)
    versions = _pairs(_Reader(ext[_EXT_SUPPORTED_VERSIONS]).vector(1)) if (
        _EXT_SUPPORTED_VERSIONS in ext) else ()
    groups: list[int] = []
    if _EXT_KEY_SHARE in ext:
        shares = _Reader(_Reader(ext[_EXT_KEY_SHARE]).vector(2))
        while shares.left:
            groups.append(shares.uint(2))
            shares.vector(2)
    return ClientHello(random, suites, versions, tuple(groups), _EXT_PRE_SHARED_KEY in ext,
                       _EXT_EARLY_DATA in ext)


def parse_server_hello(body: bytes) -> ServerHello:
    r = _Reader(body)
    version = r.uint(2)
    random = r.take(32)
    r.vector(1)  # legacy_session_id_echo
    suite = r.uint(2)
    r.take(1)  # legacy_compression_method
    ext = _extensions(r)
    if _EXT_SUPPORTED_VERSIONS in ext:
        version = _Reader(ext[_EXT_SUPPORTED_VERSIONS]).uint(2)
    group = _Reader(ext[_EXT_KEY_SHARE]).uint(2) if _EXT_KEY_SHARE in ext else None
    return ServerHello(random, version, suite, random == HRR_RANDOM,
                       _EXT_PRE_SHARED_KEY in ext, group, _EXT_ENCRYPT_THEN_MAC in ext)


def parse_certificate_list(body: bytes, tls13: bool) -> tuple[bytes, ...]:
    """The DER certificates of a Certificate message, sender's own first; empty when the
    sender had none to give (a client may answer a CertificateRequest so). TLS 1.3 adds a
    request context before the list and extensions after each entry (RFC 8446 clause
    4.4.2); TLS 1.2 lists the certificates alone (RFC 5246 clause 7.4.2)."""
    r = _Reader(body)
    if tls13:
        r.vector(1)  # certificate_request_context
    entries = _Reader(r.vector(3))
    out = []
    while entries.left:
        out.append(entries.vector(3))
        if tls13:
            entries.vector(2)  # the entry's extensions (OCSP status, SCTs)
    return tuple(out)


def has_early_data_extension(encrypted_extensions: bytes) -> bool:
    """Did the server accept 0-RTT? (the early_data extension in EncryptedExtensions)."""
    return _EXT_EARLY_DATA in _extensions(_Reader(encrypted_extensions))


class HandshakeReassembler:
    """Whole handshake messages (type, body) out of record contents, in order.

    Raises :class:`MalformedHandshakeError` for a message longer than any real one,
    which means the bytes were not handshake messages (or were decrypted wrongly).
    """

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[tuple[int, bytes]]:
        self._buffer += data
        out = []
        while len(self._buffer) >= 4:
            length = int.from_bytes(self._buffer[1:4], "big")
            if length > _MAX_MESSAGE:
                self._buffer.clear()
                raise MalformedHandshakeError(f"handshake message of {length} bytes")
            if len(self._buffer) < 4 + length:
                break
            out.append((self._buffer[0], bytes(self._buffer[4:4 + length])))
            del self._buffer[:4 + length]
        return out

    @property
    def pending(self) -> int:
        """Bytes of an incomplete message waiting for the next record."""
        return len(self._buffer)
