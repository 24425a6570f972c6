"""Contract private key transport of CertificateInstallationRes / CertificateUpdateRes.

Both generations use ephemeral-static ECDH (NIST SP 800-56A): the sender (the MO/eMSP
backend behind the CPS, "party U") makes an ephemeral key pair, sends its public key as
``DHpublickey``, and agrees a secret with the receiver's static key: the OEM provisioning
certificate's key for an installation, the current contract certificate's key for an update
([V2G2-820], [V2G2-821]). The EV ("party V") repeats the agreement with its private key.

ISO 15118-2 (7.9.2.4.3, [V2G2-814]..[V2G2-823]):

* ECDH on secp256r1; ``DHpublickey`` is the uncompressed point, 65 bytes [V2G2-819];
* session key = ConcatKDF (SP 800-56A 5.8.1) with SHA-256, 128 bits, OtherInfo =
  AlgorithmID 0x01 || PartyUInfo 0x55 ("U") || PartyVInfo 0x56 ("V") [V2G2-818];
* AES-128-CBC, random 16-byte IV sent in front of the ciphertext, over the 32-byte
  big-endian private scalar, no padding [V2G2-815]..[V2G2-817];
* the EV checks the scalar is in [1, n) and matches the contract certificate [V2G2-823].

ISO 15118-20 (7.9.2.5.2, [V2G20-2491]..[V2G20-2510]):

* ECDHCurve "SECP521": ECDH on secp521r1, ``DHPublicKey`` uncompressed, 133 bytes
  [V2G20-2489]; "X448": X25519-style X448 (RFC 7748) [V2G20-2710], raw 56-byte key;
* AES-256-GCM [V2G20-2497], 12-byte random IV, 16-byte tag [V2G20-2494];
  AAD = PCID (18 ASCII characters) || SKI of the contract certificate as upper-case hex
  [V2G20-2492];
* SECP521_EncryptedPrivateKey = IV(12) || ciphertext(66) || tag(16) = 94 bytes, the
  521-bit scalar left-padded with 7 zero bits [V2G20-2497]..[V2G20-2499]; the EV rejects
  plaintext whose top 7 bits are not zero [V2G20-2678] and checks the key [V2G20-2507];
* X448_EncryptedPrivateKey = IV(12) || ciphertext(56) || tag(16) = 84 bytes [V2G20-2502].
* Ed448 contracts and OEM certificates (the X448 transport): the key agreement takes its
  public parameters from the EdDSA key [V2G20-2491], i.e. an Ed448 key is used for X448
  through RFC 7748's 4-isogeny (public: u = y^2/x^2 of the Edwards point; private: the
  pruned scalar, the first 56 bytes of SHAKE256(seed, 114), RFC 8032 5.2.5). An Ed448
  private key is a 57-byte seed, but X448_EncryptedPrivateKey holds 56 bytes: this module
  transports Ed448 contract keys whose seed ends in a zero byte (448 random bits, as
  :func:`generate_ed448_contract_key` makes them) as their first 56 bytes. Both are this
  library's reading, not checked against a peer (none implements -20 installation).
* The session key derivation of 7.9.2.5.4 could not be read in the standard's text; this
  module uses the -2 construction scaled to AES-256: ConcatKDF with SHA-512, 256 bits,
  OtherInfo 0x01 0x55 0x56 (:data:`ISO20_KDF_HASH`, :data:`KDF_OTHER_INFO`). Check it
  against a peer before relying on interoperability.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, x448
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.concatkdf import ConcatKDFHash

from iso15118.pki.certs import subject_key_identifier
from iso15118.pki.errors import KeyInstallationError

#: AlgorithmID || PartyUInfo ("U") || PartyVInfo ("V") [V2G2-818].
KDF_OTHER_INFO = b"\x01\x55\x56"
#: Hash of the -20 ConcatKDF (assumed, see the module docstring).
ISO20_KDF_HASH: type[hashes.HashAlgorithm] = hashes.SHA512

_IV2 = 16
_KEY2 = 32
_IV20 = 12
_TAG20 = 16
_P521_LEN = 66
_X448_LEN = 56
_P521_ORDER = int(
    "01FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF"
    "FA51868783BF2F966B7FCC0148F709A5D03BB5C9B8899C47AEBB6FB71E91386409",
    16,
)
_P256_ORDER = int("FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551", 16)


def concat_kdf(shared_secret: bytes, length: int, algorithm: hashes.HashAlgorithm) -> bytes:
    """NIST SP 800-56A single-step KDF over ``shared_secret`` with ISO 15118's OtherInfo."""
    return ConcatKDFHash(algorithm=algorithm, length=length, otherinfo=KDF_OTHER_INFO).derive(
        shared_secret
    )


def _point(public_key: ec.EllipticCurvePublicKey) -> bytes:
    return public_key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )


def _load_point(curve: ec.EllipticCurve, data: bytes, size: int) -> ec.EllipticCurvePublicKey:
    if len(data) != size or data[:1] != b"\x04":
        raise KeyInstallationError(
            f"DHpublickey must be an uncompressed {curve.name} point of {size} bytes"
        )
    try:
        return ec.EllipticCurvePublicKey.from_encoded_point(curve, data)
    except ValueError as exc:
        raise KeyInstallationError(f"DHpublickey is not a point on {curve.name}") from exc


def _check_matches(
    private_key: ec.EllipticCurvePrivateKey,
    contract_certificate: x509.Certificate | None,
    rule: str,
) -> None:
    if contract_certificate is None:
        return
    cert_key = contract_certificate.public_key()
    if not isinstance(cert_key, ec.EllipticCurvePublicKey) or _point(cert_key) != _point(
        private_key.public_key()
    ):
        raise KeyInstallationError(f"decrypted key does not match the contract certificate {rule}")


# --------------------------------------------------------------------------- ISO 15118-2


@dataclass(frozen=True)
class EncryptedContractKey:
    """What the CertificateInstallationRes/UpdateRes carries for the key (-2)."""

    dh_public_key: bytes
    encrypted_private_key: bytes


def encrypt_contract_key_iso2(
    contract_key: ec.EllipticCurvePrivateKey,
    receiver_public_key: ec.EllipticCurvePublicKey,
    *,
    ephemeral_key: ec.EllipticCurvePrivateKey | None = None,
    iv: bytes | None = None,
) -> EncryptedContractKey:
    """Backend side (-2): encrypt ``contract_key`` for the holder of ``receiver_public_key``.

    ``receiver_public_key`` is the OEM provisioning certificate's key (installation) or the
    current contract certificate's key (update). ``ephemeral_key`` and ``iv`` exist for
    known-answer tests; leave them None in production (a reused IV or ephemeral key breaks
    the scheme, [V2G2-815]).
    """
    for key in (contract_key.public_key(), receiver_public_key):
        if not isinstance(key.curve, ec.SECP256R1):
            raise KeyInstallationError("ISO 15118-2 keys must be on secp256r1 [V2G2-007]")
    eph = ephemeral_key or ec.generate_private_key(ec.SECP256R1())
    iv_ = iv if iv is not None else os.urandom(_IV2)
    if len(iv_) != _IV2:
        raise KeyInstallationError("the AES-128-CBC IV is 16 bytes [V2G2-815]")
    session_key = concat_kdf(eph.exchange(ec.ECDH(), receiver_public_key), 16, hashes.SHA256())
    scalar = contract_key.private_numbers().private_value.to_bytes(_KEY2, "big")
    encryptor = Cipher(algorithms.AES(session_key), modes.CBC(iv_)).encryptor()
    ciphertext = encryptor.update(scalar) + encryptor.finalize()
    return EncryptedContractKey(_point(eph.public_key()), iv_ + ciphertext)


def decrypt_contract_key_iso2(
    encrypted_private_key: bytes,
    dh_public_key: bytes,
    receiver_private_key: ec.EllipticCurvePrivateKey,
    contract_certificate: x509.Certificate | None = None,
) -> ec.EllipticCurvePrivateKey:
    """EV side (-2): recover the contract private key.

    ``receiver_private_key`` is the OEM provisioning key or the old contract key. When
    ``contract_certificate`` is given the key must match it [V2G2-823]; pass it whenever
    you have it.
    """
    if len(encrypted_private_key) != _IV2 + _KEY2:
        raise KeyInstallationError(
            f"ContractSignatureEncryptedPrivateKey must be 48 bytes, got "
            f"{len(encrypted_private_key)}"
        )
    peer = _load_point(ec.SECP256R1(), dh_public_key, 65)
    try:
        shared = receiver_private_key.exchange(ec.ECDH(), peer)
    except ValueError as exc:
        raise KeyInstallationError(f"ECDH failed: {exc}") from exc
    session_key = concat_kdf(shared, 16, hashes.SHA256())
    iv, ciphertext = encrypted_private_key[:_IV2], encrypted_private_key[_IV2:]
    decryptor = Cipher(algorithms.AES(session_key), modes.CBC(iv)).decryptor()
    scalar = int.from_bytes(decryptor.update(ciphertext) + decryptor.finalize(), "big")
    if not 0 < scalar < _P256_ORDER:
        raise KeyInstallationError("decrypted scalar is not in [1, n) [V2G2-823]")
    key = ec.derive_private_key(scalar, ec.SECP256R1())
    _check_matches(key, contract_certificate, "[V2G2-823]")
    return key


# -------------------------------------------------------------------------- ISO 15118-20


@dataclass(frozen=True)
class EncryptedContractKey20:
    """``ECDHCurve``, ``DHPublicKey`` and the encrypted key field of a -20 response."""

    ecdh_curve: str
    dh_public_key: bytes
    encrypted_private_key: bytes


def installation_aad(pcid: str, contract_ski: bytes | x509.Certificate) -> bytes:
    """AAD of [V2G20-2492]: PCID (18 characters) || SKI as upper-case hex."""
    ski = (
        subject_key_identifier(contract_ski)
        if isinstance(contract_ski, x509.Certificate)
        else contract_ski
    )
    if ski is None:
        raise KeyInstallationError("contract certificate has no subjectKeyIdentifier")
    if len(pcid) != 18 or not pcid.isascii() or not pcid.isalnum() or pcid.upper() != pcid:
        raise KeyInstallationError(
            f"PCID must be 18 upper-case letters/digits without separators: {pcid!r}"
        )
    return pcid.encode("ascii") + ski.hex().upper().encode("ascii")


def _seal(session_key: bytes, plaintext: bytes, aad: bytes, iv: bytes | None) -> bytes:
    iv_ = iv if iv is not None else os.urandom(_IV20)
    if len(iv_) != _IV20:
        raise KeyInstallationError("the AES-GCM IV is 96 bits [V2G20-2497]")
    return iv_ + AESGCM(session_key).encrypt(iv_, plaintext, aad)


def _open(session_key: bytes, field: bytes, body_len: int, aad: bytes) -> bytes:
    if len(field) != _IV20 + body_len + _TAG20:
        raise KeyInstallationError(
            f"encrypted private key must be {_IV20 + body_len + _TAG20} bytes, got {len(field)}"
        )
    try:
        return AESGCM(session_key).decrypt(field[:_IV20], field[_IV20:], aad)
    except InvalidTag:
        raise KeyInstallationError("AES-GCM authentication failed [V2G20-2504]") from None


def encrypt_contract_key_iso20(
    contract_key: ec.EllipticCurvePrivateKey | x448.X448PrivateKey | ed448.Ed448PrivateKey,
    receiver_public_key: ec.EllipticCurvePublicKey | x448.X448PublicKey | ed448.Ed448PublicKey,
    pcid: str,
    contract_ski: bytes | x509.Certificate,
    *,
    ephemeral_key: ec.EllipticCurvePrivateKey | x448.X448PrivateKey | None = None,
    iv: bytes | None = None,
) -> EncryptedContractKey20:
    """Backend side (-20): encrypt a secp521r1 or 448-bit contract key.

    The curve follows the receiver's key: secp521r1 gives ECDHCurve "SECP521", X448 gives
    "X448" ([V2G20-2487], [V2G20-2488]); an Ed448 receiver key (an Ed448 OEM provisioning
    certificate) is used as X448 (see the module docstring), and so can an Ed448 contract
    key be sent when its seed ends in a zero byte.
    """
    aad = installation_aad(pcid, contract_ski)
    if isinstance(receiver_public_key, ed448.Ed448PublicKey):
        receiver_public_key = x448_public_from_ed448(receiver_public_key)
    if isinstance(receiver_public_key, ec.EllipticCurvePublicKey):
        if not isinstance(receiver_public_key.curve, ec.SECP521R1) or not isinstance(
            contract_key, ec.EllipticCurvePrivateKey
        ):
            raise KeyInstallationError("SECP521 transport needs secp521r1 keys [V2G20-2674]")
        eph = ephemeral_key or ec.generate_private_key(ec.SECP521R1())
        if not isinstance(eph, ec.EllipticCurvePrivateKey):
            raise KeyInstallationError("ephemeral key must be secp521r1")
        shared = eph.exchange(ec.ECDH(), receiver_public_key)
        session_key = concat_kdf(shared, 32, ISO20_KDF_HASH())
        scalar = contract_key.private_numbers().private_value.to_bytes(_P521_LEN, "big")
        field = _seal(session_key, scalar, aad, iv)
        return EncryptedContractKey20("SECP521", _point(eph.public_key()), field)
    if not isinstance(contract_key, (x448.X448PrivateKey, ed448.Ed448PrivateKey)):
        raise KeyInstallationError("X448 transport carries a 56-byte X448 or Ed448 key")
    eph448 = ephemeral_key or x448.X448PrivateKey.generate()
    if not isinstance(eph448, x448.X448PrivateKey):
        raise KeyInstallationError("ephemeral key must be X448")
    session_key = concat_kdf(eph448.exchange(receiver_public_key), 32, ISO20_KDF_HASH())
    raw = contract_key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    if isinstance(contract_key, ed448.Ed448PrivateKey):
        if raw[_X448_LEN:] != b"\0":
            raise KeyInstallationError(
                "an Ed448 contract key travels as 56 bytes: its seed must end in a zero byte "
                "(generate_ed448_contract_key)"
            )
        raw = raw[:_X448_LEN]
    field = _seal(session_key, raw, aad, iv)
    pub = eph448.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    return EncryptedContractKey20("X448", pub, field)


def decrypt_contract_key_iso20_secp521(
    encrypted_private_key: bytes,
    dh_public_key: bytes,
    receiver_private_key: ec.EllipticCurvePrivateKey,
    pcid: str,
    contract_certificate: x509.Certificate,
) -> ec.EllipticCurvePrivateKey:
    """EV side (-20, ECDHCurve "SECP521"): recover and check the contract key."""
    aad = installation_aad(pcid, contract_certificate)
    peer = _load_point(ec.SECP521R1(), dh_public_key, 133)
    try:
        shared = receiver_private_key.exchange(ec.ECDH(), peer)
    except ValueError as exc:
        raise KeyInstallationError(f"ECDH failed: {exc}") from exc
    plain = _open(concat_kdf(shared, 32, ISO20_KDF_HASH()), encrypted_private_key, _P521_LEN, aad)
    if plain[0] & 0xFE:
        raise KeyInstallationError("top 7 bits of the decrypted key are not zero [V2G20-2678]")
    scalar = int.from_bytes(plain, "big")
    if not 0 < scalar < _P521_ORDER:
        raise KeyInstallationError("decrypted scalar is not in [1, n) [V2G20-2507]")
    key = ec.derive_private_key(scalar, ec.SECP521R1())
    _check_matches(key, contract_certificate, "[V2G20-2507]")
    return key


def _open_x448(receiver_private_key: x448.X448PrivateKey, dh_public_key: bytes,
               encrypted_private_key: bytes, aad: bytes) -> bytes:
    """The 56 bytes sealed for ``receiver_private_key`` (X448 agreement, the -20 KDF)."""
    if len(dh_public_key) != _X448_LEN:
        raise KeyInstallationError("X448 DHPublicKey must be 56 bytes [V2G20-2495]")
    peer = x448.X448PublicKey.from_public_bytes(dh_public_key)
    try:
        shared = receiver_private_key.exchange(peer)
    except ValueError as exc:
        raise KeyInstallationError(f"X448 failed: {exc}") from exc
    return _open(concat_kdf(shared, 32, ISO20_KDF_HASH()), encrypted_private_key, _X448_LEN, aad)


def decrypt_contract_key_iso20_x448(
    encrypted_private_key: bytes,
    dh_public_key: bytes,
    receiver_private_key: x448.X448PrivateKey,
    pcid: str,
    contract_certificate: x509.Certificate,
) -> x448.X448PrivateKey:
    """EV side (-20, ECDHCurve "X448"): recover the 56-byte key.

    When the contract certificate carries an X448 public key the decrypted key must match
    it ([V2G20-2510]); for any other key type the match cannot be computed here and is left
    to the caller.
    """
    aad = installation_aad(pcid, contract_certificate)
    plain = _open_x448(receiver_private_key, dh_public_key, encrypted_private_key, aad)
    key = x448.X448PrivateKey.from_private_bytes(plain)
    cert_key = contract_certificate.public_key()
    if isinstance(cert_key, x448.X448PublicKey) and cert_key.public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    ) != key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw):
        raise KeyInstallationError("decrypted key does not match the contract certificate")
    return key


# ------------------------------------------------------------- Ed448 keys used for X448

_P448 = 2**448 - 2**224 - 1
_ED448_D = -39081 % _P448


def x448_public_from_ed448(public_key: ed448.Ed448PublicKey) -> x448.X448PublicKey:
    """The X448 public key of an Ed448 key: u = y^2 / x^2 (RFC 7748 4.2, the 4-isogeny
    from edwards448 to curve448), the Edwards point decoded as RFC 8032 5.2.3 says."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    y = int.from_bytes(raw[:56], "little")
    if y >= _P448:
        raise KeyInstallationError("the Ed448 public key is not a canonical point")
    u, v = (y * y - 1) % _P448, (_ED448_D * y * y - 1) % _P448
    x2 = u * pow(v, _P448 - 2, _P448) % _P448
    x = pow(x2, (_P448 + 1) // 4, _P448)
    if x * x % _P448 != x2 or x == 0:
        raise KeyInstallationError("the Ed448 public key is not a point on edwards448")
    mont_u = y * y * pow(x * x, _P448 - 2, _P448) % _P448
    return x448.X448PublicKey.from_public_bytes(mont_u.to_bytes(56, "little"))


def x448_private_from_ed448(private_key: ed448.Ed448PrivateKey) -> x448.X448PrivateKey:
    """The X448 private key whose public key is :func:`x448_public_from_ed448` of this
    key's: the Ed448 secret scalar (SHAKE256 of the seed, first 56 bytes; X448 prunes it
    the way RFC 8032 5.2.5 does)."""
    seed = private_key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    return x448.X448PrivateKey.from_private_bytes(hashlib.shake_256(seed).digest(114)[:56])


def generate_ed448_contract_key() -> ed448.Ed448PrivateKey:
    """An Ed448 key that fits X448_EncryptedPrivateKey: 56 random bytes and a zero byte as
    its seed (448 bits of entropy, twice Ed448's security level)."""
    return ed448.Ed448PrivateKey.from_private_bytes(os.urandom(_X448_LEN) + b"\0")


def decrypt_contract_key_iso20_ed448(
    encrypted_private_key: bytes,
    dh_public_key: bytes,
    receiver_private_key: x448.X448PrivateKey | ed448.Ed448PrivateKey,
    pcid: str,
    contract_certificate: x509.Certificate,
) -> ed448.Ed448PrivateKey:
    """EV side (-20, ECDHCurve "X448", an Ed448 contract certificate): recover the Ed448
    contract key (the 56 bytes sent plus the zero byte) and check it is the certificate's
    ([V2G20-2510]). An Ed448 receiver key (the OEM provisioning key) is used as X448."""
    if isinstance(receiver_private_key, ed448.Ed448PrivateKey):
        receiver_private_key = x448_private_from_ed448(receiver_private_key)
    cert_key = contract_certificate.public_key()
    if not isinstance(cert_key, ed448.Ed448PublicKey):
        raise KeyInstallationError("the contract certificate carries no Ed448 key")
    aad = installation_aad(pcid, contract_certificate)
    plain = _open_x448(receiver_private_key, dh_public_key, encrypted_private_key, aad)
    key = ed448.Ed448PrivateKey.from_private_bytes(plain + b"\0")
    raw = serialization.Encoding.Raw, serialization.PublicFormat.Raw
    if key.public_key().public_bytes(*raw) != cert_key.public_bytes(*raw):
        raise KeyInstallationError(
            "decrypted key does not match the contract certificate [V2G20-2510]"
        )
    return key
