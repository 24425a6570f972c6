"""TLS 1.2 and 1.3 record protection, decrypt side only, from logged secrets.

What a passive reader needs to turn captured records back into plaintext:

* TLS 1.2 (RFC 5246): the key block is PRF(master secret, "key expansion", server random
  + client random) (clause 6.3), split into MAC keys, write keys and fixed IVs. CBC
  suites are MAC-then-encrypt with an explicit IV per record (clause 6.2.3.2) unless
  encrypt-then-MAC was negotiated (RFC 7366); GCM suites use a 4-byte salt plus an
  8-byte explicit nonce (RFC 5288); ChaCha20-Poly1305 XORs the sequence number into a
  12-byte IV (RFC 7905).
* TLS 1.3 (RFC 8446 clause 7.3): key and IV come from a traffic secret by
  HKDF-Expand-Label; the nonce is the IV XOR the record sequence number; the record
  header is the additional data; the plaintext ends with its real content type and
  zero padding (clause 5.2).

ISO 15118-2 uses TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256; ISO 15118-20 uses TLS 1.3
with OpenSSL's default suites in practice. The table covers those and their common
neighbours. Decryption failures raise :class:`DecryptError`, which the record layer
uses to tell a wrong key from the right one.
"""

from __future__ import annotations

import hmac
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESCCM, AESGCM, ChaCha20Poly1305

from iso15118.errors import Iso15118Error

__all__ = [
    "CIPHER_SUITES",
    "CipherSuite",
    "DecryptError",
    "RecordDecryptor",
    "tls12_decryptors",
    "tls13_decryptor",
]


class DecryptError(Iso15118Error):
    """A record does not authenticate (wrong key, wrong sequence number, or damaged)."""


@dataclass(frozen=True)
class CipherSuite:
    name: str
    kind: str  # "cbc", "gcm", "chacha", "ccm", "ccm8"
    key_length: int
    hash_name: str  # PRF / HKDF hash; also the HMAC hash of CBC suites unless mac_name
    mac_name: str = ""

    @property
    def mac_hash(self) -> str:
        return self.mac_name or self.hash_name

    @property
    def hash_length(self) -> int:
        """Length of the suite's hash, hence of every TLS 1.3 secret it derives."""
        return _HASH_LENGTH[self.hash_name]


def _suites(*suites: tuple[int, CipherSuite]) -> dict[int, CipherSuite]:
    return dict(suites)


#: Cipher suites by IANA number.
CIPHER_SUITES: Final[dict[int, CipherSuite]] = _suites(
    (0x003C, CipherSuite("TLS_RSA_WITH_AES_128_CBC_SHA256", "cbc", 16, "sha256")),
    (0x003D, CipherSuite("TLS_RSA_WITH_AES_256_CBC_SHA256", "cbc", 32, "sha256")),
    (0x009C, CipherSuite("TLS_RSA_WITH_AES_128_GCM_SHA256", "gcm", 16, "sha256")),
    (0x009D, CipherSuite("TLS_RSA_WITH_AES_256_GCM_SHA384", "gcm", 32, "sha384")),
    (0xC009, CipherSuite("TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", "cbc", 16, "sha256", "sha1")),
    (0xC00A, CipherSuite("TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA", "cbc", 32, "sha256", "sha1")),
    (0xC013, CipherSuite("TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", "cbc", 16, "sha256", "sha1")),
    (0xC014, CipherSuite("TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA", "cbc", 32, "sha256", "sha1")),
    (0xC023, CipherSuite("TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256", "cbc", 16, "sha256")),
    (0xC024, CipherSuite("TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384", "cbc", 32, "sha384")),
    (0xC025, CipherSuite("TLS_ECDH_ECDSA_WITH_AES_128_CBC_SHA256", "cbc", 16, "sha256")),
    (0xC026, CipherSuite("TLS_ECDH_ECDSA_WITH_AES_256_CBC_SHA384", "cbc", 32, "sha384")),
    (0xC027, CipherSuite("TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256", "cbc", 16, "sha256")),
    (0xC028, CipherSuite("TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384", "cbc", 32, "sha384")),
    (0xC02B, CipherSuite("TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "gcm", 16, "sha256")),
    (0xC02C, CipherSuite("TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "gcm", 32, "sha384")),
    (0xC02F, CipherSuite("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "gcm", 16, "sha256")),
    (0xC030, CipherSuite("TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "gcm", 32, "sha384")),
    (0xCCA8, CipherSuite("TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256", "chacha", 32,
                         "sha256")),
    (0xCCA9, CipherSuite("TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", "chacha", 32,
                         "sha256")),
    (0x1301, CipherSuite("TLS_AES_128_GCM_SHA256", "gcm", 16, "sha256")),
    (0x1302, CipherSuite("TLS_AES_256_GCM_SHA384", "gcm", 32, "sha384")),
    (0x1303, CipherSuite("TLS_CHACHA20_POLY1305_SHA256", "chacha", 32, "sha256")),
    (0x1304, CipherSuite("TLS_AES_128_CCM_SHA256", "ccm", 16, "sha256")),
    (0x1305, CipherSuite("TLS_AES_128_CCM_8_SHA256", "ccm8", 16, "sha256")),
)

_HASH_LENGTH: Final = {"sha1": 20, "sha256": 32, "sha384": 48}
_Aead = AESGCM | ChaCha20Poly1305 | AESCCM


def _hmac(hash_name: str, key: bytes, data: bytes) -> bytes:
    return hmac.new(key, data, hash_name).digest()


def tls12_prf(hash_name: str, secret: bytes, label: bytes, seed: bytes, length: int) -> bytes:
    """P_hash of RFC 5246 clause 5."""
    out = b""
    a = label + seed
    while len(out) < length:
        a = _hmac(hash_name, secret, a)
        out += _hmac(hash_name, secret, a + label + seed)
    return out[:length]


def hkdf_expand_label(hash_name: str, secret: bytes, label: str, length: int) -> bytes:
    """HKDF-Expand-Label of RFC 8446 clause 7.1, with an empty context."""
    full = b"tls13 " + label.encode()
    info = struct.pack(">HB", length, len(full)) + full + b"\x00"
    out, block, counter = b"", b"", 1
    while len(out) < length:
        block = _hmac(hash_name, secret, block + info + bytes([counter]))
        out += block
        counter += 1
    return out[:length]


def _aead(kind: str, key: bytes) -> _Aead:
    if kind == "gcm":
        return AESGCM(key)
    if kind == "chacha":
        return ChaCha20Poly1305(key)
    return AESCCM(key, tag_length=8 if kind == "ccm8" else 16)


class RecordDecryptor:
    """Decrypts the records of one direction with one key, counting sequence numbers.

    ``decrypt`` returns ``(content type, plaintext)``; the sequence number advances only
    when a record authenticates, so a failed trial leaves the state unchanged.
    """

    def __init__(self, decrypt: Callable[[int, int, bytes, bytes], tuple[int, bytes]]) -> None:
        self._decrypt = decrypt
        self.seq = 0

    def decrypt(self, content_type: int, version: bytes, fragment: bytes) -> tuple[int, bytes]:
        result = self._decrypt(self.seq, content_type, version, fragment)
        self.seq += 1
        return result


def tls12_decryptors(suite: CipherSuite, master_secret: bytes, client_random: bytes,
                     server_random: bytes, *, encrypt_then_mac: bool = False
                     ) -> tuple[RecordDecryptor, RecordDecryptor]:
    """(client-to-server, server-to-client) decryptors of a TLS 1.2 session."""
    mac_len = _HASH_LENGTH[suite.mac_hash] if suite.kind == "cbc" else 0
    iv_len = {"cbc": 16, "gcm": 4, "chacha": 12}.get(suite.kind, 4)
    block = tls12_prf(suite.hash_name, master_secret, b"key expansion",
                      server_random + client_random, 2 * (mac_len + suite.key_length + iv_len))
    parts: list[bytes] = []
    pos = 0
    for n in (mac_len, mac_len, suite.key_length, suite.key_length, iv_len, iv_len):
        parts.append(block[pos:pos + n])
        pos += n
    c_mac, s_mac, c_key, s_key, c_iv, s_iv = parts
    if suite.kind == "cbc":
        return (RecordDecryptor(_cbc(suite, c_key, c_mac, encrypt_then_mac)),
                RecordDecryptor(_cbc(suite, s_key, s_mac, encrypt_then_mac)))
    if suite.kind in ("gcm", "ccm", "ccm8"):
        return (RecordDecryptor(_explicit_nonce(suite, c_key, c_iv)),
                RecordDecryptor(_explicit_nonce(suite, s_key, s_iv)))
    return (RecordDecryptor(_xor_nonce_tls12(suite, c_key, c_iv)),
            RecordDecryptor(_xor_nonce_tls12(suite, s_key, s_iv)))


def _cbc(suite: CipherSuite, key: bytes, mac_key: bytes, etm: bool
         ) -> Callable[[int, int, bytes, bytes], tuple[int, bytes]]:
    mac_len = len(mac_key)

    def mac(seq: int, ctype: int, version: bytes, content: bytes) -> bytes:
        header = struct.pack(">QB", seq, ctype) + version + struct.pack(">H", len(content))
        return _hmac(suite.mac_hash, mac_key, header + content)

    def decrypt(seq: int, ctype: int, version: bytes, fragment: bytes) -> tuple[int, bytes]:
        if etm:
            body, tag = fragment[:-mac_len], fragment[-mac_len:]
            if not hmac.compare_digest(mac(seq, ctype, version, body), tag):
                raise DecryptError("record MAC does not match")
            fragment = body
        if len(fragment) < 32 or len(fragment) % 16:
            raise DecryptError(f"CBC record of {len(fragment)} bytes is not whole blocks")
        dec = Cipher(algorithms.AES(key), modes.CBC(fragment[:16])).decryptor()
        plain = dec.update(fragment[16:]) + dec.finalize()
        pad = plain[-1]
        if pad + 1 > len(plain) or plain[-pad - 1:] != bytes([pad]) * (pad + 1):
            raise DecryptError("CBC padding is malformed")
        plain = plain[:-pad - 1]
        if etm:
            return ctype, plain
        if len(plain) < mac_len:
            raise DecryptError("record is shorter than its MAC")
        content, tag = plain[:len(plain) - mac_len], plain[len(plain) - mac_len:]
        if not hmac.compare_digest(mac(seq, ctype, version, content), tag):
            raise DecryptError("record MAC does not match")
        return ctype, content

    return decrypt


def _explicit_nonce(suite: CipherSuite, key: bytes, salt: bytes
                    ) -> Callable[[int, int, bytes, bytes], tuple[int, bytes]]:
    aead = _aead(suite.kind, key)
    tag_len = 8 if suite.kind == "ccm8" else 16

    def decrypt(seq: int, ctype: int, version: bytes, fragment: bytes) -> tuple[int, bytes]:
        if len(fragment) < 8 + tag_len:
            raise DecryptError("AEAD record is too short")
        nonce = salt + fragment[:8]
        aad = struct.pack(">QB", seq, ctype) + version + struct.pack(
            ">H", len(fragment) - 8 - tag_len)
        try:
            return ctype, aead.decrypt(nonce, fragment[8:], aad)
        except InvalidTag:
            raise DecryptError("record does not authenticate") from None

    return decrypt


def _xor(iv: bytes, seq: int) -> bytes:
    return bytes(a ^ b for a, b in zip(iv, seq.to_bytes(len(iv), "big"), strict=True))


def _xor_nonce_tls12(suite: CipherSuite, key: bytes, iv: bytes
                     ) -> Callable[[int, int, bytes, bytes], tuple[int, bytes]]:
    aead = _aead(suite.kind, key)

    def decrypt(seq: int, ctype: int, version: bytes, fragment: bytes) -> tuple[int, bytes]:
        aad = struct.pack(">QB", seq, ctype) + version + struct.pack(">H", len(fragment) - 16)
        try:
            return ctype, aead.decrypt(_xor(iv, seq), fragment, aad)
        except InvalidTag:
            raise DecryptError("record does not authenticate") from None

    return decrypt


def tls13_decryptor(suite: CipherSuite, traffic_secret: bytes) -> RecordDecryptor:
    """The decryptor of one direction under one TLS 1.3 traffic secret."""
    key = hkdf_expand_label(suite.hash_name, traffic_secret, "key", suite.key_length)
    iv = hkdf_expand_label(suite.hash_name, traffic_secret, "iv", 12)
    aead = _aead(suite.kind, key)

    def decrypt(seq: int, ctype: int, version: bytes, fragment: bytes) -> tuple[int, bytes]:
        aad = struct.pack(">B", ctype) + version + struct.pack(">H", len(fragment))
        try:
            inner = aead.decrypt(_xor(iv, seq), fragment, aad)
        except InvalidTag:
            raise DecryptError("record does not authenticate") from None
        content = inner.rstrip(b"\x00")
        if not content:
            raise DecryptError("TLS 1.3 record has no content type")
        return content[-1], content[:-1]

    return RecordDecryptor(decrypt)
