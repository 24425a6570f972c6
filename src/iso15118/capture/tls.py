"""Follow a captured TLS connection and decrypt it with logged secrets, without I/O.

The record layer (RFC 5246 clause 6.2, RFC 8446 clause 5) is parsed from each direction's
reassembled TCP bytes; the handshake messages that decide the keys are parsed by
:mod:`.tls_handshake`. The ClientHello's random is what the key log is looked up by.

* TLS 1.2: each direction's records are encrypted after its ChangeCipherSpec, under the
  keys expanded from the ``CLIENT_RANDOM`` master secret.
* TLS 1.3: every record of outer type application_data is encrypted; ChangeCipherSpec
  records are only there for middleboxes and never start encryption (RFC 8446 clause 5,
  appendix D.4), wherever they appear. The keys of a direction follow each other: 0-RTT
  early data (client only, ``CLIENT_EARLY_TRAFFIC_SECRET``), handshake, application, then
  one more per KeyUpdate (``traffic upd``, clause 7.2). Where one key stops and the next
  begins is invisible from outside, so each record is tried with the current key and,
  failing that, the next one: AEAD authentication makes a wrong key fail reliably.
* A HelloRetryRequest (clause 4.1.3) is a ServerHello with a fixed random: it asks for
  another key share, and the ClientHello that follows keeps the random (clause 4.1.2),
  so the same key log entry applies. Early data offered before it is refused.
* 0-RTT early data (clause 4.2.10) reaches the server's application only if the server
  accepts it, which shows in EncryptedExtensions (or in the client's EndOfEarlyData, or
  the absence of both). Early data is held back until that is known: accepted, it is
  delivered; refused, it is reported and not delivered, because the server never read it.
* Certificates (TLS 1.2 in the clear, TLS 1.3 once decrypted) are kept per side, so a
  reader can tell mutual TLS (the client sent a certificate) from server-only TLS.

Whatever cannot be decrypted is said once per direction, with the reason (no key log
entry for this client random, a label missing from it, suite not supported, handshake
not captured). The two sides are called 0 and 1, in the order the caller first saw them;
the side that sends the ClientHello is the client, whatever the order.
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
from iso15118.capture.tls_handshake import (
    CERTIFICATE,
    CERTIFICATE_REQUEST,
    CLIENT_HELLO,
    ENCRYPTED_EXTENSIONS,
    END_OF_EARLY_DATA,
    KEY_UPDATE,
    SERVER_HELLO,
    ClientHello,
    HandshakeReassembler,
    MalformedHandshakeError,
    ServerHello,
    group_name,
    has_early_data_extension,
    parse_certificate_list,
    parse_client_hello,
    parse_server_hello,
)

__all__ = ["TlsNotice", "TlsPlaintext", "TlsSession", "looks_like_tls"]

_CCS, _ALERT, _HANDSHAKE, _APPDATA, _HEARTBEAT = 20, 21, 22, 23, 24
_TLS12, _TLS13 = 0x0303, 0x0304
_MAX_RECORD: Final = (1 << 14) + 2048  # RFC 8446 clause 5.2 ciphertext limit
_EARLY, _HS, _APP = "early", "handshake", "application"

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
class _Key:
    """One key of one direction; TLS 1.3 keys keep their secret for the next KeyUpdate."""

    stage: str  # _EARLY, _HS, _APP; "" for TLS 1.2
    decryptor: RecordDecryptor
    secret: bytes = b""
    suite: CipherSuite | None = None


@dataclass
class _Direction:
    buffer: bytearray = field(default_factory=bytearray)
    plain: HandshakeReassembler = field(default_factory=HandshakeReassembler)
    protected: HandshakeReassembler = field(default_factory=HandshakeReassembler)
    ccs_seen: bool = False  # TLS 1.2: encryption has started
    current: _Key | None = None
    upcoming: list[_Key] = field(default_factory=list)
    undecrypted: int = 0
    reported: bool = False  # the reason records stay encrypted was given
    broken: bool = False


Event = TlsPlaintext | TlsNotice


class TlsSession:
    """One TLS connection seen from outside; decrypts when the key log has its secrets."""

    def __init__(self, keylog: KeyLog | None = None) -> None:
        self.keylog = keylog or KeyLog()
        self.client_side: int | None = None
        self.client_hello: ClientHello | None = None
        self.server_hello: ServerHello | None = None
        self.retry: ServerHello | None = None  # the HelloRetryRequest, if there was one
        self.version: int | None = None
        self.suite_id: int | None = None
        self.suite: CipherSuite | None = None
        self.encrypt_then_mac = False
        self.have_keys = False
        #: 0-RTT: None (not offered), "offered" (undecided), "accepted", "refused"
        self.early_data: str | None = None
        self.key_updates = 0
        #: the certificates each side sent (DER, its own first), None where none was seen
        self.certificates: list[tuple[bytes, ...] | None] = [None, None]
        self.certificate_requested = False  # the server asked the client for one
        self._early_plain: list[bytes] = []
        self._early_key_known = False
        self._dirs = (_Direction(), _Direction())

    # ------------------------------------------------------------------ what is known

    @property
    def client_random(self) -> bytes | None:
        return self.client_hello.random if self.client_hello else None

    @property
    def server_random(self) -> bytes | None:
        return self.server_hello.random if self.server_hello else None

    @property
    def resumed(self) -> bool:
        """TLS 1.3 resumption: the server accepted a pre-shared key (RFC 8446 clause 2.2)."""
        return bool(self.server_hello and self.version == _TLS13
                    and self.server_hello.psk_accepted)

    @property
    def client_certificates(self) -> tuple[bytes, ...] | None:
        """The client's certificate chain; empty if it answered a request with none, None
        if no client Certificate message was read (not asked, or not decrypted)."""
        return None if self.client_side is None else self.certificates[self.client_side]

    @property
    def server_certificates(self) -> tuple[bytes, ...] | None:
        return None if self.client_side is None else self.certificates[1 - self.client_side]

    @property
    def mutual(self) -> bool:
        """The client authenticated with a certificate too (mutual TLS)."""
        return bool(self.client_certificates)

    @property
    def version_name(self) -> str:
        return {_TLS12: "TLS 1.2", _TLS13: "TLS 1.3"}.get(self.version or 0, "TLS")

    @property
    def suite_name(self) -> str:
        if self.suite is not None:
            return self.suite.name
        if self.suite_id is not None:
            return f"cipher suite 0x{self.suite_id:04x}"
        return "unknown cipher suite"

    @property
    def undecrypted_records(self) -> int:
        return self._dirs[0].undecrypted + self._dirs[1].undecrypted

    @property
    def description(self) -> str:
        """One line for a summary: version, suite, handshake shape, decrypted or why not."""
        shape = []
        if self.retry is not None:
            shape.append("after HelloRetryRequest")
        if self.resumed:
            shape.append("resumed with PSK")
        if self.early_data in ("accepted", "refused"):
            shape.append(f"0-RTT {self.early_data}")
        if self.key_updates:
            shape.append(f"{self.key_updates} key update{'s' * (self.key_updates > 1)}")
        extra = f" ({', '.join(shape)})" if shape else ""
        if self.have_keys:
            return f"{self.version_name} {self.suite_name}{extra}, decrypted"
        side = next((s for s in (0, 1) if self._dirs[s].undecrypted), None)
        return (f"{self.version_name} {self.suite_name}{extra}, not decrypted "
                f"({self.reason(side)})")

    def reason(self, side: int | None = None) -> str:
        """Why ``side``'s records (or the session's, for None) cannot be decrypted."""
        hello = self.client_hello
        if hello is None:
            return "the ClientHello was not captured"
        random = f"client random {hello.random.hex()[:16]}..."
        labels = self.keylog.labels(hello.random)
        if self.server_hello is None:
            if side == self.client_side and self.early_data is not None:
                if "CLIENT_EARLY_TRAFFIC_SECRET" not in labels:
                    return ("0-RTT early data, but the key log has no "
                            f"CLIENT_EARLY_TRAFFIC_SECRET for {random}")
                return "0-RTT early data does not decrypt with the logged secret"
            return "the ServerHello was not captured: version and cipher suite unknown"
        head = f"{self.version_name} {self.suite_name}"
        if self.suite is None:
            return f"{head} is not supported for decryption"
        if not labels:
            return f"{head}: no key log entry for {random}"
        if self.version == _TLS13:
            prefixes = ["CLIENT", "SERVER"] if side is None else [
                "CLIENT" if side == self.client_side else "SERVER"]
            needed = [f"{p}_{label}" for p in prefixes
                      for label in ("HANDSHAKE_TRAFFIC_SECRET", "TRAFFIC_SECRET_0")]
        else:
            needed = ["CLIENT_RANDOM"]
        missing = [label for label in needed if label not in labels]
        if missing:
            return f"{head}: the key log has no {' or '.join(missing)} for {random}"
        return f"{head}: the records do not decrypt with the logged secrets"

    # ------------------------------------------------------------------ records

    def feed(self, side: int, data: bytes) -> list[Event]:
        d = self._dirs[side]
        if d.broken:
            return []
        d.buffer += data
        out: list[Event] = []
        while len(d.buffer) >= 5:
            ctype, version, length = struct.unpack_from(">B2sH", d.buffer)
            if ctype not in (_CCS, _ALERT, _HANDSHAKE, _APPDATA, _HEARTBEAT) or (
                    length > _MAX_RECORD):
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

    def finish(self) -> list[Event]:
        """The capture ended: say what stayed undecided or encrypted and was not said yet."""
        out: list[Event] = []
        if self.early_data == "offered" and self._early_plain:
            out.extend(self._early_decided(True, "", unknown=True))
        for side in (0, 1):
            d = self._dirs[side]
            if d.undecrypted and not d.reported:
                d.reported = True
                out.append(TlsNotice(side, f"{d.undecrypted} record"
                                     f"{'s' * (d.undecrypted > 1)} stay encrypted: "
                                     f"{self.reason(side)}", True))
        return out

    def _record(self, side: int, ctype: int, version: bytes, fragment: bytes) -> list[Event]:
        d = self._dirs[side]
        if ctype == _CCS:
            if self.version is not None and self.version < _TLS13:
                d.ccs_seen = True
                d.current = d.upcoming.pop(0) if d.upcoming else None
            return []  # TLS 1.3, or before any ServerHello: compatibility only
        if self._protected(side, ctype):
            return self._encrypted(side, ctype, version, fragment)
        if ctype == _HANDSHAKE:
            return self._plain_handshake(side, fragment)
        if ctype == _ALERT:
            return [self._alert(side, fragment)]
        return self._opaque(side)  # application data, no handshake: capture began mid-session

    def _protected(self, side: int, ctype: int) -> bool:
        if self.version == _TLS13:
            return ctype == _APPDATA
        if self.version is not None:
            return self._dirs[side].ccs_seen
        # before the ServerHello only the client's 0-RTT data is encrypted
        return ctype == _APPDATA and side == self.client_side and self.early_data is not None

    def _opaque(self, side: int) -> list[Event]:
        d = self._dirs[side]
        d.undecrypted += 1
        if d.reported:
            return []
        d.reported = True
        if self.client_hello is None:
            text = "encrypted records, but the ClientHello was not captured: cannot decrypt"
        else:
            text = f"{self.reason(side)}: records stay encrypted"
        return [TlsNotice(side, text, True)]

    def _encrypted(self, side: int, ctype: int, version: bytes, fragment: bytes
                   ) -> list[Event]:
        d = self._dirs[side]
        if d.current is None and not d.upcoming:
            return self._opaque(side)
        key, inner_type, plain = self._decrypt(d, ctype, version, fragment)
        if key is None:
            d.undecrypted += 1
            if d.current is None:
                # expected when only the application secrets were logged: the handshake
                # records stay opaque; finish() says so if nothing else did
                return []
            d.reported = True
            return [TlsNotice(side, f"record of {len(fragment)} bytes does not decrypt", True)]
        out: list[Event] = []
        if (side == self.client_side and key.stage != _EARLY and self.early_data == "offered"
                and self._early_key_known):
            # an accepting server gets EndOfEarlyData under the early key first (clause 4.5)
            out.extend(self._early_decided(False, "the client sent no EndOfEarlyData"))
        if inner_type == _APPDATA:
            if key.stage == _EARLY and self.early_data != "accepted":
                self._early_plain.append(plain)
            else:
                out.append(TlsPlaintext(side, plain))
        elif inner_type == _ALERT:
            out.append(self._alert(side, plain))
        elif inner_type == _HANDSHAKE and key.stage:
            out.extend(self._protected_handshake(side, plain))
        return out

    def _decrypt(self, d: _Direction, ctype: int, version: bytes, fragment: bytes
                 ) -> tuple[_Key | None, int, bytes]:
        if d.current is not None:
            try:
                return (d.current, *d.current.decryptor.decrypt(ctype, version, fragment))
            except DecryptError:
                pass
        for i, candidate in enumerate(d.upcoming):
            try:
                inner, plain = candidate.decryptor.decrypt(ctype, version, fragment)
            except DecryptError:
                continue
            d.current = candidate
            del d.upcoming[:i + 1]
            return candidate, inner, plain
        return None, 0, b""

    def _alert(self, side: int, body: bytes) -> TlsNotice:
        if len(body) != 2:
            return TlsNotice(side, "encrypted alert", True)
        name = _ALERTS.get(body[1], f"alert {body[1]}")
        return TlsNotice(side, f"TLS alert {name}", body[1] != 0)

    # ------------------------------------------------------------------ TLS 1.3 protected

    def _protected_handshake(self, side: int, plain: bytes) -> list[Event]:
        d = self._dirs[side]
        try:
            messages = d.protected.feed(plain)
        except MalformedHandshakeError as e:
            return [TlsNotice(side, f"encrypted handshake: {e}", True)]
        out: list[Event] = []
        for mtype, body in messages:
            if mtype == ENCRYPTED_EXTENSIONS and side != self.client_side:
                try:
                    accepted = has_early_data_extension(body)
                except MalformedHandshakeError:
                    out.append(TlsNotice(side, "malformed EncryptedExtensions", True))
                    continue
                out.extend(self._early_decided(accepted, "no early_data in EncryptedExtensions"))
            elif mtype == END_OF_EARLY_DATA and side == self.client_side:
                out.extend(self._early_decided(True, ""))
            elif mtype == KEY_UPDATE:
                out.append(self._key_update(side, body))
            elif mtype in (CERTIFICATE, CERTIFICATE_REQUEST):
                out.extend(self._certificate_message(side, mtype, body))
        return out

    def _certificate_message(self, side: int, mtype: int, body: bytes) -> list[Event]:
        if mtype == CERTIFICATE_REQUEST:
            self.certificate_requested = True
            return []
        try:
            self.certificates[side] = parse_certificate_list(body, self.version == _TLS13)
        except MalformedHandshakeError:
            return [TlsNotice(side, "malformed TLS Certificate message", True)]
        return []

    def _key_update(self, side: int, body: bytes) -> TlsNotice:
        """The sender's next records use the next secret (RFC 8446 clauses 4.6.3, 7.2)."""
        d = self._dirs[side]
        key = d.current
        asks = " (and asks the peer to update too)" if body[:1] == b"\x01" else ""
        if key is None or key.stage != _APP or key.suite is None:
            return TlsNotice(side, "key update, but this direction's traffic secret is "
                             "unknown: its later records stay encrypted", True)
        secret = hkdf_expand_label(key.suite.hash_name, key.secret, "traffic upd",
                                   len(key.secret))
        d.current = _Key(_APP, tls13_decryptor(key.suite, secret), secret, key.suite)
        d.upcoming.clear()
        self.key_updates += 1
        return TlsNotice(side, f"key update{asks}")

    def _early_decided(self, accepted: bool, why: str, unknown: bool = False) -> list[Event]:
        if self.early_data != "offered":
            return []
        self.early_data = "accepted" if accepted else "refused"
        side = self.client_side or 0
        data, self._early_plain = self._early_plain, []
        size = sum(len(b) for b in data)
        if unknown:
            text = (f"0-RTT early data ({size} bytes): the capture ends before the server "
                    "accepted or refused it; shown as sent")
        elif accepted:
            text = f"0-RTT early data accepted by the server ({size} bytes)"
        else:
            text = f"0-RTT early data refused ({why})"
            if size:
                text += (f": {size} bytes the server never read, not shown (a client sends "
                         "them again after the handshake)")
        out: list[Event] = [TlsNotice(side, text)]
        if accepted:
            out.extend(TlsPlaintext(side, b) for b in data)
        return out

    # ------------------------------------------------------------------ plaintext handshake

    def _plain_handshake(self, side: int, fragment: bytes) -> list[Event]:
        d = self._dirs[side]
        try:
            messages = d.plain.feed(fragment)
        except MalformedHandshakeError as e:
            return [TlsNotice(side, f"malformed TLS handshake: {e}", True)]
        out: list[Event] = []
        for mtype, body in messages:
            try:
                if mtype == CLIENT_HELLO:
                    out.extend(self._client_hello(side, body))
                elif mtype == SERVER_HELLO:
                    out.extend(self._server_hello(side, body))
                elif mtype in (CERTIFICATE, CERTIFICATE_REQUEST):
                    out.extend(self._certificate_message(side, mtype, body))
            except MalformedHandshakeError:
                out.append(TlsNotice(side, "malformed TLS hello message", True))
        return out

    def _client_hello(self, side: int, body: bytes) -> list[Event]:
        hello = parse_client_hello(body)
        first = self.client_hello
        if first is None:
            self.client_side, self.client_hello = side, hello
            if hello.offers_early_data and hello.offers_tls13:
                self.early_data = "offered"
                self._early_keys(side)
            return []
        if hello.random == first.random:
            return []  # the ClientHello after a HelloRetryRequest (RFC 8446 clause 4.1.2)
        if not self.keylog.labels(first.random) and self.keylog.labels(hello.random):
            self.client_hello = hello
        return [TlsNotice(side, "the second ClientHello has another random than the first "
                          "(RFC 8446 clause 4.1.2 forbids it)", True)]

    def _early_keys(self, side: int) -> None:
        """0-RTT keys for each suite the client offers whose hash fits the logged secret:
        the suite of early data is the resumed session's, which no plaintext names."""
        assert self.client_hello is not None
        secret = self.keylog.secret(self.client_hello.random, "CLIENT_EARLY_TRAFFIC_SECRET")
        if secret is None:
            return
        suites = [CIPHER_SUITES[s] for s in self.client_hello.suites
                  if s >> 8 == 0x13 and s in CIPHER_SUITES]
        self._dirs[side].upcoming = [_Key(_EARLY, tls13_decryptor(s, secret), secret, s)
                                     for s in suites if s.hash_length == len(secret)]
        self._early_key_known = bool(self._dirs[side].upcoming)

    def _server_hello(self, side: int, body: bytes) -> list[Event]:
        hello = parse_server_hello(body)
        if hello.retry:
            self.retry = hello
            offered = self.client_hello.key_share_groups if self.client_hello else ()
            text = "TLS 1.3 HelloRetryRequest"
            if hello.group is not None:
                text += f": the server asks for a {group_name(hello.group)} key share"
                if offered:
                    text += f" (offered: {', '.join(group_name(g) for g in offered)})"
            return [TlsNotice(side, text),
                    *self._early_decided(False, "after a HelloRetryRequest")]
        self.server_hello = hello
        self.version, self.suite_id = hello.version, hello.suite
        self.suite = CIPHER_SUITES.get(hello.suite)
        self.encrypt_then_mac = hello.encrypt_then_mac
        self._setup_keys()
        out: list[Event] = []
        if self.resumed:
            out.append(TlsNotice(side, "TLS 1.3 session resumed with a pre-shared key"))
        state = "decrypted" if self.have_keys else f"not decrypted ({self.reason()})"
        out.append(TlsNotice(side, f"{self.version_name} {self.suite_name}, {state}"))
        if not self.resumed:
            out.extend(self._early_decided(False, "the server did not accept the "
                                                  "pre-shared key"))
        return out

    def _setup_keys(self) -> None:
        if self.suite is None or self.client_hello is None or self.server_hello is None:
            return
        client_side = self.client_side or 0
        client, server = self._dirs[client_side], self._dirs[1 - client_side]
        secret = self.keylog.secret
        cr = self.client_hello.random
        if self.version == _TLS13:
            suite = self.suite
            for d, prefix in ((client, "CLIENT"), (server, "SERVER")):
                keys = [k for k in d.upcoming if k.stage == _EARLY]
                keys.sort(key=lambda k: k.suite is not suite)
                for stage, label in ((_HS, "HANDSHAKE_TRAFFIC_SECRET"), (_APP, "TRAFFIC_SECRET_0")):
                    value = secret(cr, f"{prefix}_{label}")
                    if value is not None:
                        keys.append(_Key(stage, tls13_decryptor(suite, value), value, suite))
                        self.have_keys = self.have_keys or stage == _APP
                d.upcoming = keys
            return
        master = secret(cr, "CLIENT_RANDOM")
        if master is None:
            return
        c, s = tls12_decryptors(self.suite, master, cr, self.server_hello.random,
                                encrypt_then_mac=self.encrypt_then_mac)
        client.upcoming, server.upcoming = [_Key("", c)], [_Key("", s)]
        self.have_keys = True
