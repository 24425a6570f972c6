"""A TLS 1.3 conversation written from RFC 8446 alone, for record shapes OpenSSL never sends.

OpenSSL puts every handshake message in a record of its own; the RFC also allows several
messages in one record and one message over many (clause 5.1), and other stacks do both.
This writer builds a PSK resumption handshake (clause 2.2, ``psk_dhe_ke`` with X25519)
with optional 0-RTT data, computes every secret by the key schedule of clause 7.1
(HKDF from ``cryptography``, not the code under test), the PSK binder (clause 4.2.11.2)
and Finished values (clause 4.4.4), encrypts with the record protection of clause 5.2,
and packs the handshake messages into records as the test asks. Its output is what a
passive reader would see: the records of each side in wire order, and the NSS key log
the endpoints would have written.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import struct
from dataclasses import dataclass, field

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDFExpand

CLIENT, SERVER = 0, 1
_SUITES = {0x1301: ("sha256", AESGCM, 16), 0x1302: ("sha384", AESGCM, 32),
           0x1303: ("sha256", ChaCha20Poly1305, 32)}
_HRR_RANDOM = hashlib.sha256(b"HelloRetryRequest").digest()


def _ext(etype: int, body: bytes) -> bytes:
    return struct.pack(">HH", etype, len(body)) + body


def _vec(length_bytes: int, body: bytes) -> bytes:
    return len(body).to_bytes(length_bytes, "big") + body


def _message(mtype: int, body: bytes) -> bytes:
    return bytes([mtype]) + _vec(3, body)


class _Schedule:
    """The key schedule of RFC 8446 clause 7.1 for one hash."""

    def __init__(self, hash_name: str) -> None:
        self.name = hash_name
        self.algorithm = {"sha256": hashes.SHA256(), "sha384": hashes.SHA384()}[hash_name]
        self.length = self.algorithm.digest_size

    def hash(self, data: bytes) -> bytes:
        return hashlib.new(self.name, data).digest()

    def extract(self, salt: bytes, ikm: bytes) -> bytes:
        return hmac.new(salt or bytes(self.length), ikm or bytes(self.length), self.name).digest()

    def expand_label(self, secret: bytes, label: str, context: bytes, length: int) -> bytes:
        info = struct.pack(">H", length) + _vec(1, b"tls13 " + label.encode()) + _vec(1, context)
        return HKDFExpand(self.algorithm, length, info).derive(secret)

    def derive(self, secret: bytes, label: str, transcript: bytes) -> bytes:
        return self.expand_label(secret, label, self.hash(transcript), self.length)

    def finished(self, base_key: bytes, transcript: bytes) -> bytes:
        key = self.expand_label(base_key, "finished", b"", self.length)
        return hmac.new(key, self.hash(transcript), self.name).digest()


class _Writer:
    """Record protection of one direction under one traffic secret (clause 5.2)."""

    def __init__(self, schedule: _Schedule, suite: int, secret: bytes) -> None:
        _, aead, key_length = _SUITES[suite]
        self.aead = aead(schedule.expand_label(secret, "key", b"", key_length))
        self.iv = schedule.expand_label(secret, "iv", b"", 12)
        self.secret, self.schedule, self.suite, self.seq = secret, schedule, suite, 0

    def record(self, content_type: int, content: bytes) -> bytes:
        inner = content + bytes([content_type])
        header = b"\x17\x03\x03" + struct.pack(">H", len(inner) + 16)
        nonce = bytes(a ^ b for a, b in zip(self.iv, self.seq.to_bytes(12, "big"), strict=True))
        self.seq += 1
        return header + self.aead.encrypt(nonce, inner, header)

    def updated(self) -> _Writer:
        """The writer after a KeyUpdate (clause 7.2)."""
        nxt = self.schedule.expand_label(self.secret, "traffic upd", b"", self.schedule.length)
        return _Writer(self.schedule, self.suite, nxt)


def _cut(data: bytes, size: int) -> list[bytes]:
    return [data[i:i + size] for i in range(0, len(data), size)]


@dataclass
class Conversation:
    """The records of a synthetic session, in wire order, and its key log."""

    records: list[tuple[int, bytes]] = field(default_factory=list)
    keylog_lines: list[str] = field(default_factory=list)

    @property
    def keylog(self) -> str:
        return "\n".join(self.keylog_lines) + "\n"

    def stream(self, side: int) -> bytes:
        return b"".join(r for s, r in self.records if s == side)


def psk_session(client_data: list[bytes], server_data: list[bytes], *, suite: int = 0x1301,
                fragment: int | None = None, coalesce: bool = False,
                early_data: bytes | None = None, accept_early: bool = True,
                key_update: bool = False, retry: bool = False) -> Conversation:
    """A resumed TLS 1.3 session carrying ``client_data`` then ``server_data``.

    ``coalesce``: all handshake messages of a flight (and NewSessionTicket with
    KeyUpdate) share records; ``fragment``: no record carries more than that many bytes
    of handshake, so messages spread over several records (the ClientHello too).
    ``early_data`` goes as 0-RTT, which the server accepts or not. ``retry``: a
    HelloRetryRequest first (then no early data, clause 4.2.10).
    """
    s = _Schedule(_SUITES[suite][0])
    out = Conversation()
    psk, identity = os.urandom(s.length), os.urandom(32)
    client_random = os.urandom(32)
    client_key, server_key = X25519PrivateKey.generate(), X25519PrivateKey.generate()
    raw = serialization.Encoding.Raw, serialization.PublicFormat.Raw

    def log(label: str, secret: bytes) -> None:
        out.keylog_lines.append(f"{label} {client_random.hex()} {secret.hex()}")

    def plain_records(side: int, data: bytes) -> None:
        for piece in _cut(data, fragment or 1 << 14):
            out.records.append((side, b"\x16\x03\x03" + _vec(2, piece)))

    def protected(side: int, writer: _Writer, messages: list[bytes]) -> None:
        groups = [b"".join(messages)] if coalesce else messages
        for group in groups:
            for piece in _cut(group, fragment or 1 << 14):
                out.records.append((side, writer.record(22, piece)))

    def client_hello(with_early: bool) -> bytes:
        exts = [_ext(43, _vec(1, b"\x03\x04")), _ext(10, _vec(2, b"\x00\x1d")),
                _ext(13, _vec(2, b"\x08\x07\x04\x03")), _ext(45, _vec(1, b"\x01")),
                _ext(51, _vec(2, b"\x00\x1d" + _vec(2, client_key.public_key()
                                                     .public_bytes(*raw))))]
        if with_early:
            exts.append(_ext(42, b""))
        identities = _vec(2, _vec(2, identity) + b"\x00\x00\x00\x2a")
        binders_length = 2 + 1 + s.length
        psk_ext_length = len(identities) + binders_length
        body_head = (b"\x03\x03" + client_random + _vec(1, os.urandom(32))
                     + _vec(2, struct.pack(">H", suite)) + b"\x01\x00")
        ext_block = b"".join(exts) + struct.pack(">HH", 41, psk_ext_length) + identities
        ext_length = len(ext_block) + binders_length
        partial = _message(1, body_head + struct.pack(">H", ext_length) + ext_block
                           + bytes(binders_length))[:-binders_length]
        binder = s.finished(s.derive(early, "res binder", b""), transcript + partial)
        return partial + _vec(2, _vec(1, binder))

    early = s.extract(b"", psk)
    transcript = b""
    offer_early = early_data is not None and not retry
    if retry:
        ch1 = client_hello(False)
        hrr = _message(2, b"\x03\x03" + _HRR_RANDOM + _vec(1, b"") + struct.pack(">H", suite)
                       + b"\x00" + _vec(2, _ext(43, b"\x03\x04") + _ext(51, b"\x00\x1d")))
        plain_records(CLIENT, ch1)
        plain_records(SERVER, hrr)
        out.records.append((SERVER, b"\x14\x03\x03\x00\x01\x01"))  # compatibility CCS
        out.records.append((CLIENT, b"\x14\x03\x03\x00\x01\x01"))
        # clause 4.4.1: the first ClientHello enters the transcript as message_hash
        transcript = b"\xfe\x00\x00" + bytes([s.length]) + s.hash(ch1) + hrr
    ch = client_hello(offer_early)
    transcript += ch
    plain_records(CLIENT, ch)
    if offer_early:
        assert early_data is not None
        c_early = s.derive(early, "c e traffic", transcript)
        log("CLIENT_EARLY_TRAFFIC_SECRET", c_early)
        early_writer = _Writer(s, suite, c_early)
        out.records.append((CLIENT, b"\x14\x03\x03\x00\x01\x01"))  # compatibility CCS
        out.records.append((CLIENT, early_writer.record(23, early_data)))
    sh = _message(2, b"\x03\x03" + os.urandom(32) + _vec(1, b"") + struct.pack(">H", suite)
                  + b"\x00" + _vec(2, _ext(43, b"\x03\x04") + _ext(41, b"\x00\x00")
                                   + _ext(51, b"\x00\x1d" + _vec(2, server_key.public_key()
                                                                 .public_bytes(*raw)))))
    transcript += sh
    plain_records(SERVER, sh)
    if not retry and not offer_early:
        out.records.append((SERVER, b"\x14\x03\x03\x00\x01\x01"))  # compatibility CCS
    shared = client_key.exchange(server_key.public_key())
    handshake = s.extract(s.derive(early, "derived", b""), shared)
    c_hs, s_hs = (s.derive(handshake, label, transcript)
                  for label in ("c hs traffic", "s hs traffic"))
    log("SERVER_HANDSHAKE_TRAFFIC_SECRET", s_hs)
    log("CLIENT_HANDSHAKE_TRAFFIC_SECRET", c_hs)
    ee = _message(8, _vec(2, _ext(42, b"") if offer_early and accept_early else b""))
    transcript += ee
    server_finished = _message(20, s.finished(s_hs, transcript))
    transcript += server_finished
    protected(SERVER, _Writer(s, suite, s_hs), [ee, server_finished])
    master = s.extract(s.derive(handshake, "derived", b""), b"")
    c_ap, s_ap = (s.derive(master, label, transcript) for label in ("c ap traffic", "s ap traffic"))
    log("SERVER_TRAFFIC_SECRET_0", s_ap)
    log("CLIENT_TRAFFIC_SECRET_0", c_ap)
    client_flight = []
    if offer_early and accept_early:
        eoed = _message(5, b"")
        out.records.append((CLIENT, early_writer.record(22, eoed)))
        transcript += eoed
    client_flight.append(_message(20, s.finished(c_hs, transcript)))
    protected(CLIENT, _Writer(s, suite, c_hs), client_flight)
    client_writer, server_writer = _Writer(s, suite, c_ap), _Writer(s, suite, s_ap)
    ticket = _message(4, struct.pack(">II", 7200, 1) + _vec(1, b"\x00") + _vec(2, os.urandom(32))
                      + _vec(2, b""))
    protected(SERVER, server_writer, [ticket, _message(24, b"\x01")] if key_update else [ticket])
    if key_update:
        server_writer = server_writer.updated()
    for data in client_data:
        out.records.append((CLIENT, client_writer.record(23, data)))
    if key_update:  # the client answers the request before its next data
        out.records.append((CLIENT, client_writer.record(22, _message(24, b"\x00"))))
        client_writer = client_writer.updated()
    for data in server_data:
        out.records.append((SERVER, server_writer.record(23, data)))
    out.records.append((CLIENT, client_writer.record(21, b"\x01\x00")))  # close_notify
    return out
