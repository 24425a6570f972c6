"""Algorithm identifiers of ISO 15118 XML signatures and the raw signature primitives.

ISO 15118-2 signs with ECDSA on secp256r1 and SHA-256; ISO 15118-20 with
ECDSA on secp521r1 and SHA-512, or with Ed448. Both transmit ECDSA values as the raw
big-endian ``r || s`` of fixed width rather than DER, so this module converts at the
boundary to :mod:`cryptography`, which speaks DER.
"""

from __future__ import annotations

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed448
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from iso15118.xmldsig.errors import SignatureError, SignatureValueError, UnsupportedAlgorithmError

#: Canonicalization and transform algorithm of both standards (EXI canonical form).
CANONICAL_EXI = "http://www.w3.org/TR/canonical-exi/"
# RISE-V2G (and traffic it produced) writes the URI without the trailing slash.
CANONICAL_EXI_ALIASES = frozenset({CANONICAL_EXI, CANONICAL_EXI.rstrip("/")})

DIGEST_SHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"
DIGEST_SHA384 = "http://www.w3.org/2001/04/xmldsig-more#sha384"
DIGEST_SHA512 = "http://www.w3.org/2001/04/xmlenc#sha512"

ECDSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"
ECDSA_SHA384 = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384"
ECDSA_SHA512 = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha512"
#: RFC 9231 identifier of pure Ed448 (not the pre-hashed variant).
EDDSA_ED448 = "http://www.w3.org/2021/04/xmldsig-more#eddsa-ed448"

DIGESTS: dict[str, str] = {
    DIGEST_SHA256: "sha256",
    DIGEST_SHA384: "sha384",
    DIGEST_SHA512: "sha512",
}
ECDSA_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    ECDSA_SHA256: hashes.SHA256,
    ECDSA_SHA384: hashes.SHA384,
    ECDSA_SHA512: hashes.SHA512,
}
_ECDSA_BY_CURVE: dict[str, str] = {
    "secp256r1": ECDSA_SHA256,
    "secp384r1": ECDSA_SHA384,
    "secp521r1": ECDSA_SHA512,
}

PrivateKey = ec.EllipticCurvePrivateKey | ed448.Ed448PrivateKey


def _ecdsa_width(key: ec.EllipticCurvePublicKey | ec.EllipticCurvePrivateKey) -> int:
    return (key.curve.key_size + 7) // 8


def sign_bytes(key: PrivateKey, method: str, data: bytes) -> bytes:
    """The SignatureValue of ``data``: raw fixed-width ``r || s`` for ECDSA, RFC 8032 for Ed448."""
    if method == EDDSA_ED448:
        if not isinstance(key, ed448.Ed448PrivateKey):
            raise SignatureError(f"{method} needs an Ed448 key, not {type(key).__name__}")
        return key.sign(data)
    hash_cls = ECDSA_HASHES.get(method)
    if hash_cls is None:
        raise UnsupportedAlgorithmError(f"signature method {method!r} is not supported")
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise SignatureError(f"{method} needs an EC key, not {type(key).__name__}")
    r, s = decode_dss_signature(key.sign(data, ec.ECDSA(hash_cls())))
    width = _ecdsa_width(key)
    return r.to_bytes(width, "big") + s.to_bytes(width, "big")


def check_signature_value(key: CertificatePublicKeyTypes, method: str, data: bytes,
                          value: bytes) -> None:
    """Raise :class:`SignatureValueError` unless ``value`` signs ``data`` under ``key``."""
    if not value:
        raise SignatureValueError("the SignatureValue is empty")
    if method == EDDSA_ED448:
        if not isinstance(key, ed448.Ed448PublicKey):
            raise SignatureValueError(f"{method} needs an Ed448 key, not {type(key).__name__}")
        if len(value) != 114:
            raise SignatureValueError(f"an Ed448 signature has 114 bytes, not {len(value)}")
        try:
            key.verify(value, data)
        except InvalidSignature:
            raise SignatureValueError("the signature does not verify over SignedInfo") from None
        return
    hash_cls = ECDSA_HASHES.get(method)
    if hash_cls is None:
        raise UnsupportedAlgorithmError(f"signature method {method!r} is not supported")
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise SignatureValueError(f"{method} needs an EC key, not {type(key).__name__}")
    width = _ecdsa_width(key)
    if len(value) != 2 * width:
        raise SignatureValueError(
            f"an ECDSA {key.curve.name} signature is r||s of {2 * width} bytes, "
            f"not {len(value)}")
    r = int.from_bytes(value[:width], "big")
    s = int.from_bytes(value[width:], "big")
    try:
        key.verify(encode_dss_signature(r, s), data, ec.ECDSA(hash_cls()))
    except InvalidSignature:
        raise SignatureValueError("the signature does not verify over SignedInfo") from None


def default_signature_method(key: PrivateKey) -> str:
    """The method the standards pair with a key: P-256/SHA-256, P-521/SHA-512, Ed448."""
    if isinstance(key, ed448.Ed448PrivateKey):
        return EDDSA_ED448
    if isinstance(key, ec.EllipticCurvePrivateKey):
        method = _ECDSA_BY_CURVE.get(key.curve.name)
        if method is not None:
            return method
        raise UnsupportedAlgorithmError(f"no ISO 15118 signature method for {key.curve.name}")
    raise UnsupportedAlgorithmError(f"cannot sign with a {type(key).__name__}")


def default_digest(protocol: str) -> str:
    """The DigestMethod a protocol uses unless told otherwise."""
    # -2 and DIN: SHA-256, the hash of their P-256 profile; -20: SHA-512, that of P-521.
    # The -20 digest for Ed448 signatures is taken to be SHA-512 too; pass
    # digest_method= where a profile says otherwise.
    return DIGEST_SHA512 if protocol.startswith("iso20") else DIGEST_SHA256
