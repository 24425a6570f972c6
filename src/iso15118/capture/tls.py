"""Follow a captured TLS connection and decrypt it with logged secrets, without I/O.

The record layer (RFC 5246 clause 6.2, RFC 8446 clause 5) is parsed from each direction's
reassembled TCP bytes. The plaintext ClientHello and ServerHello give what the secrets
are looked up by and used with: client random, server random, negotiated version
(``supported_versions`` for TLS 1.3) and cipher suite, and whether encrypt-then-MAC
(RFC 7366) is on. Then:

* TLS 1.2: each direction's records are encrypted after its ChangeCipherSpec, under the
  keys expanded from the ``CLIENT_RANDOM`` master secret;
* TLS 1.3: every record of outer type application_data after the ServerHello is
  encrypted, first under the handshake traffic secret, then under the application
  traffic secret. Where one key stops and the next begins is invisible from outside,
  so each record is tried with the current key and, failing that, the next one: AEAD
  authentication makes a wrong key fail reliably. KeyUpdate messages are followed.

The two sides are called 0 and 1, in the order the caller first saw them; the side that
sends the ClientHello is the client, whatever the order.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Final

from iso15118.capture.keylog import KeyLog
from iso15118.capture.tls_crypto import (
    CIPHER_SUITES,
    CipherSuite,
    DecryptError,
    RecordDecryptor,
    hkdf_expand_label,
    tls12_decryptors,
    tls13_decryptor,
)

__all__ = ["TlsNotice", "TlsPlaintext", "TlsSession", "looks_like_tls"]

_CCS, _ALERT, _HANDSHAKE, _APPDATA = 20, 21, 22, 23
_CLIENT_HELLO, _SERVER_HELLO, _KEY_UPDATE = 1, 2, 24
_EXT_SUPPORTED_VERSIONS, _EXT_ENCRYPT_THEN_MAC = 43, 22
_TLS12, _TLS13 = 0x0303, 0x0304
#: ServerHello.random of a HelloRetryRequest (RFC 8446 clause 4.1.3).
_HRR_RANDOM: Final = bytes.fromhex(
    "cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c")
_MAX_RECORD: Final = (1 << 14) + 2048  # RFC 8446 clause 5.2 ciphertext limit

_ALERTS: Final = {0: "close_notify", 10: "unexpected_message", 20: "bad_record_mac",
                  40: "handshake_failure", 42: "bad_certificate", 43: "unsupported_certificate",
                  44: "certificate_revoked", 45: "certificate_expired",
                  46: "certificate_unknown", 47: "illegal_parameter", 48: "unknown_ca",
                  50: "decode_error", 51: "decrypt_error", 70: "protocol_version",
                  80: "internal_error", 90: "user_canceled", 109: "missing_extension",
                  116: "certificate_required"}


def looks_like_tls(data: bytes) -> bool:
    """Does a TCP stream start with a TLS handshake record?"""
    return len(data) >= 3 and data[0] == _HANDSHAKE and data[1] == 3 and data[2] <= 4


@dataclass(frozen=True, slots=True)
class TlsPlaintext:
    """Application data recovered from ``side``'s records."""

    side: int
    data: bytes


@dataclass(frozen=True, slots=True)
class TlsNotice:
    """Something a reader of the capture should know (handshake, alert, missing key)."""

    side: int
    text: str
    problem: bool = False


@dataclass
class _Direction:
    buffer: bytearray = field(default_factory=bytearray)
    handshake: bytearray = field(default_factory=bytearray)  # plaintext handshake bytes
    ccs_seen: bool = False
    current: RecordDecryptor | None = None
    upcoming: list[RecordDecryptor] = field(default_factory=list)
    app_secret: bytes | None = None  # TLS 1.3, for KeyUpdate
    undecrypted: int = 0
    broken: bool = False


class TlsSession:
    """One TLS connection seen from outside; decrypts when the key log has its secrets."""

    def __init__(self, keylog: KeyLog | None = None) -> None:
        self.keylog = keylog or KeyLog()
        self.client_side: int | None = None
        self.client_random: bytes | None = None
        self.server_random: bytes | None = None
        self.version: int | None = None
        self.suite: CipherSuite | None = None
        self.encrypt_then_mac = False
        self.have_keys = False
        self._dirs = (_Direction(), _Direction())

    @property
    def version_name(self) -> str:
        return {_TLS12: "TLS 1.2", _TLS13: "TLS 1.3"}.get(self.version or 0, "TLS")

    @property
    def undecrypted_records(self) -> int:
        return self._dirs[0].undecrypted + self._dirs[1].undecrypted

    def feed(self, side: int, data: bytes) -> list[TlsPlaintext | TlsNotice]:
        d = self._dirs[side]
        if d.broken:
            return []
        d.buffer += data
        out: list[TlsPlaintext | TlsNotice] = []
        while len(d.buffer) >= 5:
            ctype, version, length = struct.unpack_from(">B2sH", d.buffer)
            if ctype not in (_CCS, _ALERT, _HANDSHAKE, _APPDATA, 24) or length > _MAX_RECORD:
                d.broken = True
                out.append(TlsNotice(side, f"not a TLS record (type {ctype}, length {length}); "
                                     "the rest of this direction is skipped", True))
                break
            if len(d.buffer) < 5 + length:
                break
            fragment = bytes(d.buffer[5:5 + length])
            del d.buffer[:5 + length]
            out.extend(self._record(side, ctype, version, fragment))
        return out

    # ------------------------------------------------------------------ records

    def _record(self, side: int, ctype: int, version: bytes, fragment: bytes
                ) -> list[TlsPlaintext | TlsNotice]:
        d = self._dirs[side]
        encrypted = (ctype == _APPDATA and self.version == _TLS13) or (
            d.ccs_seen and ctype != _CCS)
        if not encrypted:
            if ctype == _HANDSHAKE:
                d.handshake += fragment
                return self._handshake(side)
            if ctype == _CCS:
                if self.version != _TLS13:
                    d.ccs_seen = True
                    d.current = d.upcoming.pop(0) if d.upcoming else None
                return []
            if ctype == _ALERT:
                return [self._alert(side, fragment)]
            # application data with no handshake seen: the capture began mid-session
            d.undecrypted += 1
            return [TlsNotice(side, self._no_key_reason(), True)] if d.undecrypted == 1 else []
        if d.current is None and not d.upcoming:
            d.undecrypted += 1
            return [TlsNotice(side, self._no_key_reason(), True)] if d.undecrypted == 1 else []
        inner_type, plain = self._decrypt(d, ctype, version, fragment)
        if inner_type is None:
            # Before the first success this is expected in TLS 1.3 when only the
            # application secrets were logged: the handshake records stay opaque.
            d.undecrypted += 1
            if d.current is None:
                return []
            return [TlsNotice(side, f"record of {len(fragment)} bytes does not decrypt", True)]
        if inner_type == _APPDATA:
            return [TlsPlaintext(side, plain)]
        if inner_type == _ALERT:
            return [self._alert(side, plain)]
        if inner_type == _HANDSHAKE and self.version == _TLS13 and plain[:1] == bytes(
                [_KEY_UPDATE]) and d.app_secret is not None and self.suite is not None:
            d.app_secret = hkdf_expand_label(self.suite.hash_name, d.app_secret, "traffic upd",
                                             len(d.app_secret))
            d.upcoming = [tls13_decryptor(self.suite, d.app_secret)]
            d.current = None
            return [TlsNotice(side, "key update")]
        return []

    def _decrypt(self, d: _Direction, ctype: int, version: bytes, fragment: bytes
                 ) -> tuple[int | None, bytes]:
        if d.current is not None:
            try:
                return d.current.decrypt(ctype, version, fragment)
            except DecryptError:
                pass
        for i, candidate in enumerate(d.upcoming):
            try:
                result = candidate.decrypt(ctype, version, fragment)
            except DecryptError:
                continue
            d.current = candidate
            del d.upcoming[:i + 1]
            return result
        return None, b""

    def _alert(self, side: int, body: bytes) -> TlsNotice:
        if len(body) != 2:
            return TlsNotice(side, "encrypted alert", True)
        name = _ALERTS.get(body[1], f"alert {body[1]}")
        return TlsNotice(side, f"TLS alert {name}", body[1] != 0)

    def _no_key_reason(self) -> str:
        if self.client_random is None:
            return "encrypted records, but the ClientHello was not captured: cannot decrypt"
        if self.suite is None:
            return (f"{self.version_name}: cipher suite not supported for decryption: "
                    "records stay encrypted")
        return (f"{self.version_name} {self.suite.name}: no key log entry for client random "
                f"{self.client_random.hex()[:16]}...: records stay encrypted")

    # ------------------------------------------------------------------ handshake

    def _handshake(self, side: int) -> list[TlsPlaintext | TlsNotice]:
        d = self._dirs[side]
        out: list[TlsPlaintext | TlsNotice] = []
        while len(d.handshake) >= 4:
            mtype = d.handshake[0]
            length = int.from_bytes(d.handshake[1:4], "big")
            if len(d.handshake) < 4 + length:
                break
            body = bytes(d.handshake[4:4 + length])
            del d.handshake[:4 + length]
            try:
                if mtype == _CLIENT_HELLO:
                    self._client_hello(side, body)
                elif mtype == _SERVER_HELLO:
                    notice = self._server_hello(side, body)
                    if notice is not None:
                        out.append(notice)
            except (IndexError, struct.error):
                out.append(TlsNotice(side, "malformed TLS hello message", True))
        return out

    def _client_hello(self, side: int, body: bytes) -> None:
        self.client_side = side
        self.client_random = body[2:34]

    def _server_hello(self, side: int, body: bytes) -> TlsNotice | None:
        random = body[2:34]
        if random == _HRR_RANDOM:
            return None
        self.server_random = random
        pos = 34
        pos += 1 + body[pos]  # session id
        suite_id = struct.unpack_from(">H", body, pos)[0]
        pos += 3  # suite, compression method
        version = struct.unpack_from(">H", body, 0)[0]
        etm = False
        if pos + 2 <= len(body):
            end = pos + 2 + struct.unpack_from(">H", body, pos)[0]
            pos += 2
            while pos + 4 <= end:
                etype, elen = struct.unpack_from(">HH", body, pos)
                if etype == _EXT_SUPPORTED_VERSIONS and elen == 2:
                    version = struct.unpack_from(">H", body, pos + 4)[0]
                elif etype == _EXT_ENCRYPT_THEN_MAC:
                    etm = True
                pos += 4 + elen
        self.version = version
        self.suite = CIPHER_SUITES.get(suite_id)
        self.encrypt_then_mac = etm
        suite_name = self.suite.name if self.suite else f"cipher suite 0x{suite_id:04x}"
        self._setup_keys()
        state = "decrypted" if self.have_keys else "not decrypted (no keys)"
        return TlsNotice(side, f"{self.version_name} {suite_name}, {state}")

    def _setup_keys(self) -> None:
        if self.suite is None or self.client_random is None or self.server_random is None:
            return
        client = self._dirs[self.client_side or 0]
        server = self._dirs[1 - (self.client_side or 0)]
        secret = self.keylog.secret
        cr = self.client_random
        if self.version == _TLS13:
            for d, prefix in ((client, "CLIENT"), (server, "SERVER")):
                keys = []
                hs = secret(cr, f"{prefix}_HANDSHAKE_TRAFFIC_SECRET")
                app = secret(cr, f"{prefix}_TRAFFIC_SECRET_0")
                if hs is not None:
                    keys.append(tls13_decryptor(self.suite, hs))
                if app is not None:
                    keys.append(tls13_decryptor(self.suite, app))
                    d.app_secret = app
                d.upcoming = keys
                self.have_keys = self.have_keys or app is not None
            return
        master = secret(cr, "CLIENT_RANDOM")
        if master is None:
            return
        c, s = tls12_decryptors(self.suite, master, cr, self.server_random,
                                encrypt_then_mac=self.encrypt_then_mac)
        client.upcoming, server.upcoming = [c], [s]
        self.have_keys = True
