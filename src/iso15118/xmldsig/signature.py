"""Sign and verify: references hashed over EXI fragments, SignedInfo over xmldsig EXI.

The procedure of ISO 15118-2 clause 7.9.2.4.2 (and the same in ISO 15118-20): for each
element to sign, encode it alone as an EXI fragment with the message's grammar and hash
that; list the hashes in SignedInfo; encode SignedInfo as an EXI fragment with the
xmldsig grammar alone and sign those bytes; put the Signature in the message header.
Verification repeats every step from the received message and compares.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes

from iso15118 import codec, protocols
from iso15118.errors import Iso15118Error
from iso15118.messages import xmldsig as xd
from iso15118.xmldsig.algorithms import (
    CANONICAL_EXI,
    CANONICAL_EXI_ALIASES,
    DIGEST_SHA256,
    DIGESTS,
    ECDSA_HASHES,
    EDDSA_ED448,
    PrivateKey,
    check_signature_value,
    default_digest,
    default_signature_method,
    sign_bytes,
)
from iso15118.xmldsig.errors import (
    DigestMismatchError,
    NoSignatureError,
    ReferenceNotFoundError,
    SignatureError,
    SignatureValueError,
    UnsignedElementError,
    UnsupportedAlgorithmError,
)
from iso15118.xmldsig.tree import (
    convert,
    embedded_signer,
    find_by_id,
    id_elements,
    message_header,
    protocol_of,
)


@dataclass(frozen=True)
class Detached:
    """Content signed by reference although the message cannot point at it by ``Id``.

    The -20 schemas give some elements no ``Id`` attribute (the AC/DC
    ``ChargeParameterDiscoveryRes`` for instance), so a signature over them can only name
    them by a URI both sides agree on. ``element`` is the element name (local or Clark),
    ``value`` its model object; it is encoded with the message's grammar.
    """

    uri: str
    element: str
    value: Any


@dataclass(frozen=True)
class ReferenceCheck:
    """One reference whose digest matched: which element, hashed how."""

    uri: str
    element: str  # Clark name, e.g. "{urn:iso:15118:2:2013:MsgBody}AuthorizationReq"
    digest_method: str
    digest: bytes


@dataclass(frozen=True)
class VerifiedSignature:
    """What :func:`verify` established; raised errors cover every other outcome."""

    signature_method: str
    references: tuple[ReferenceCheck, ...]
    signed_info_exi: bytes
    signer: x509.Certificate | None

    def covers(self, element: str) -> bool:
        """Whether an element (local or Clark name, or ``#Id`` URI) is among the signed ones."""
        for r in self.references:
            if element in (r.uri, r.element) or r.element.endswith("}" + element):
                return True
        return False


def signed_info_exi(signed_info: Any) -> bytes:
    """SignedInfo as the EXI fragment that is signed (xmldsig grammar alone).

    Accepts the SignedInfoType of any protocol's models.
    """
    value = convert(signed_info, "xmldsig")
    return codec.encode_fragment(f"{{{protocols.XMLDSIG_NS}}}SignedInfo", value, "xmldsig")


def digest_reference(element: str, value: Any, protocol: str,
                     digest_method: str = DIGEST_SHA256) -> bytes:
    """The digest of one element: hash of its EXI fragment in ``protocol``'s grammar."""
    algo = DIGESTS.get(digest_method)
    if algo is None:
        raise UnsupportedAlgorithmError(f"digest method {digest_method!r} is not supported")
    return hashlib.new(algo, codec.encode_fragment(element, value, protocol)).digest()


# ----------------------------------------------------------------------------- sign


def sign(message: Any, key: PrivateKey, references: Iterable[Any] | None = None, *,
         protocol: str | None = None, digest_method: str | None = None,
         signature_method: str | None = None) -> Any:
    """Sign elements of ``message`` and put the Signature into its header; returns it.

    ``references`` lists what to sign, each as an ``Id`` value (``"ID1"`` or ``"#ID1"``),
    a model object that sits in the message and carries an ``Id``, or a
    :class:`Detached`; by default every element of the message that carries an ``Id``.
    The message is changed in place (its ``header.signature`` is replaced).
    """
    protocol = protocol or protocol_of(message)
    header = message_header(message)
    digest_method = digest_method or default_digest(protocol)
    signature_method = signature_method or default_signature_method(key)
    targets: list[tuple[str, str, Any]] = []  # (uri, element, value)
    if references is None:
        targets = [("#" + i, q, v) for i, q, v in id_elements(message, protocol)]
    else:
        for ref in references:
            targets.append(_target(message, protocol, ref))
    if not targets:
        raise SignatureError("nothing to sign: the message has no element with an Id")
    refs = [
        xd.ReferenceType(
            uri=uri,
            transforms=xd.TransformsType(transform=[xd.TransformType(algorithm=CANONICAL_EXI)]),
            digest_method=xd.DigestMethodType(algorithm=digest_method),
            digest_value=_digest_for(uri, element, value, protocol, digest_method),
        )
        for uri, element, value in targets
    ]
    signed_info = xd.SignedInfoType(
        canonicalization_method=xd.CanonicalizationMethodType(algorithm=CANONICAL_EXI),
        signature_method=xd.SignatureMethodType(algorithm=signature_method),
        reference=refs,
    )
    value = sign_bytes(key, signature_method, signed_info_exi(signed_info))
    signature = xd.SignatureType(signed_info=signed_info,
                                 signature_value=xd.SignatureValueType(value=value))
    header.signature = convert(signature, protocols.get(protocol).module)
    return message


def _target(message: Any, protocol: str, ref: Any) -> tuple[str, str, Any]:
    if isinstance(ref, Detached):
        return ref.uri, ref.element, ref.value
    if isinstance(ref, str):
        q, v = find_by_id(message, ref, protocol)
        return "#" + ref.lstrip("#"), q, v
    for ident, q, v in id_elements(message, protocol):
        if v is ref:
            return "#" + ident, q, v
    raise ReferenceNotFoundError(
        f"{type(ref).__name__} is not an element of the message that carries an Id")


def _digest_for(uri: str, element: str, value: Any, protocol: str, method: str) -> bytes:
    try:
        return digest_reference(element, value, protocol, method)
    except SignatureError as e:
        e.reference = uri
        raise
    except Iso15118Error as e:
        raise SignatureError(f"reference {uri}: {element} cannot be encoded as an EXI "
                             f"fragment: {e}", reference=uri) from e


def verify(message: Any,
           certificate: x509.Certificate | CertificatePublicKeyTypes | None = None, *,
           protocol: str | None = None, detached: Iterable[Detached] = (),
           require_all_ids: bool = True) -> VerifiedSignature:
    """Check the Signature in the header of ``message``; raise a :class:`SignatureError`.

    ``message`` is a model object or its EXI bytes (then ``protocol`` is required: an EXI
    stream does not name its grammar). ``certificate`` is the signer's certificate or
    public key; when omitted, the certificate the message carries for its signer is used
    (:func:`embedded_signer`). Every reference's digest is recomputed over the EXI
    fragment of the element it names, then SignedInfo is re-encoded with the xmldsig
    grammar and the signature checked. With ``require_all_ids`` (the default) an element
    that carries an ``Id`` but is not covered also fails: in ISO 15118 an ``Id`` exists
    only to be signed, so an uncovered one means content that nobody vouches for.
    """
    if isinstance(message, (bytes, bytearray, memoryview)):
        if protocol is None:
            raise SignatureError("verifying EXI bytes needs protocol= (the stream does not "
                                 "name its grammar)")
        message = codec.decode(bytes(message), protocol)
    protocol = protocol or protocol_of(message)
    signature = message_header(message).signature
    if signature is None or signature.signed_info is None:
        raise NoSignatureError(f"{type(message).__name__} carries no Signature")
    signed_info = signature.signed_info
    c14n = getattr(signed_info.canonicalization_method, "algorithm", None)
    if c14n not in CANONICAL_EXI_ALIASES:
        raise UnsupportedAlgorithmError(f"canonicalization method {c14n!r} is not EXI")
    method = getattr(signed_info.signature_method, "algorithm", None) or ""
    if method != EDDSA_ED448 and method not in ECDSA_HASHES:
        raise UnsupportedAlgorithmError(f"signature method {method!r} is not supported")
    if not signed_info.reference:
        raise SignatureError("SignedInfo has no Reference")
    by_uri = {d.uri: d for d in detached}
    checks: list[ReferenceCheck] = []
    seen: set[str] = set()
    for ref in signed_info.reference:
        checks.append(_check_reference(message, protocol, ref, by_uri))
        seen.add(checks[-1].uri)
    if len(seen) != len(checks):
        raise SignatureError("SignedInfo references the same URI more than once")
    if require_all_ids:
        for ident, q, _v in id_elements(message, protocol):
            if "#" + ident not in seen:
                raise UnsignedElementError(
                    f"{q.split('}')[-1]} (Id {ident!r}) is not covered by the signature",
                    reference="#" + ident)
    try:
        si_exi = signed_info_exi(signed_info)
    except Iso15118Error as e:
        raise SignatureError(f"SignedInfo cannot be encoded with the xmldsig grammar: {e}") from e
    signer = certificate if isinstance(certificate, x509.Certificate) else None
    if certificate is None:
        signer = embedded_signer(message, protocol)
        if signer is None:
            raise SignatureValueError(
                "no certificate given and the message does not carry its signer's")
    value = getattr(signature.signature_value, "value", None)
    check_signature_value(_public_key(signer or certificate), method, si_exi,
                           bytes(value or b""))
    return VerifiedSignature(method, tuple(checks), si_exi, signer)


def verify_signed_info(signed_info: Any, signature_value: bytes,
                       certificate: x509.Certificate | CertificatePublicKeyTypes) -> bytes:
    """Only the last step of :func:`verify`: the signature over SignedInfo.

    For diagnosis, or when a reference's digest has been checked some other way. It
    proves nothing about the referenced elements. Returns the SignedInfo EXI fragment.
    """
    method = getattr(signed_info.signature_method, "algorithm", None) or ""
    si_exi = signed_info_exi(signed_info)
    check_signature_value(_public_key(certificate), method, si_exi, bytes(signature_value))
    return si_exi


def _public_key(certificate: Any) -> Any:
    return certificate.public_key() if isinstance(certificate, x509.Certificate) else certificate


def _check_reference(message: Any, protocol: str, ref: Any,
                     detached: dict[str, Detached]) -> ReferenceCheck:
    uri = ref.uri or ""
    transforms = ref.transforms.transform if ref.transforms is not None else []
    # One transform per reference (V2G2-767), and only EXI canonicalization makes sense:
    # the digest input is defined as the EXI fragment, nothing else.
    if len(transforms) > 1 or any(t.algorithm not in CANONICAL_EXI_ALIASES for t in transforms):
        raise UnsupportedAlgorithmError(
            f"reference {uri}: only the canonical-exi transform is supported", reference=uri)
    digest_method = getattr(ref.digest_method, "algorithm", None) or ""
    if digest_method not in DIGESTS:
        raise UnsupportedAlgorithmError(
            f"reference {uri}: digest method {digest_method!r} is not supported", reference=uri)
    if uri in detached:
        element, value = detached[uri].element, detached[uri].value
        element = element if element.startswith("{") else _qualify(protocol, element)
    elif uri.startswith("#"):
        element, value = find_by_id(message, uri, protocol)
    else:
        raise ReferenceNotFoundError(f"reference URI {uri!r} is not a same-document #Id "
                                     "and no Detached content was given", reference=uri)
    digest = _digest_for(uri, element, value, protocol, digest_method)
    if not hmac.compare_digest(digest, bytes(ref.digest_value or b"")):
        raise DigestMismatchError(
            f"reference {uri}: the digest of {element.split('}')[-1]} does not match",
            reference=uri)
    return ReferenceCheck(uri, element, digest_method, digest)


def _qualify(protocol: str, element: str) -> str:
    matches = [q for q in codec.get_codec(protocol).xml.fragment_types
               if q.split("}", 1)[-1] == element]
    if len(matches) != 1:
        raise ReferenceNotFoundError(f"{element} is not a unique element of {protocol}")
    return str(matches[0])
