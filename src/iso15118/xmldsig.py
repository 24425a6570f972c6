"""XML signatures over EXI: sign and verify ISO 15118-2 and ISO 15118-20 messages.

ISO 15118 signs selected elements of a message (the ones carrying an ``Id`` attribute,
e.g. ``AuthorizationReq`` in -2, ``PnC_AReqAuthorizationMode`` in -20) with an XML
signature in the message header, but it never serialises XML: every octet string that
goes into a hash is EXI (ISO 15118-2 clause 7.9.2.4 and V2G2-771, ISO 15118-20 clause
7.9.2.4). Concretely:

* the digest of a ``Reference`` is taken over the referenced element encoded on its own as
  an EXI *fragment* with the message's grammar (the transform and the canonicalization
  method are both ``http://www.w3.org/TR/canonical-exi/``);
* the signature is taken over ``SignedInfo`` encoded as an EXI fragment with the grammar
  of the xmldsig schema alone, not with the message grammar that encodes the
  ``Signature`` inside the message;
* ECDSA signature values are the raw big-endian ``r || s`` of fixed width (64 bytes on
  P-256, 132 on P-521), not DER; Ed448 values are the 114 bytes of RFC 8032.

Which grammar is "the message's" follows from the model class (``iso15118.messages.iso2``
-> ``iso2``, ``iso15118.messages.iso20_ac`` -> ``iso20-ac`` ...), so one :func:`sign` /
:func:`verify` pair serves every protocol. Defaults follow the two standards: -2 uses
ECDSA P-256 with SHA-256 digests; -20 uses SHA-512 digests with ECDSA P-521/SHA-512 or
Ed448. Every choice can be overridden by algorithm URI.

Verifying a signature proves who signed only relative to the key given; whether that key
is trustworthy (contract, OEM provisioning or CPS chain) is :mod:`iso15118.pki`'s job.
"""

from __future__ import annotations

import hashlib
import hmac
import importlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from types import ModuleType
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed448
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from exi_codec.grammar import M_ATTRIBUTE, M_ELEMENT
from exi_codec.model import Model
from iso15118 import codec, protocols
from iso15118.errors import Iso15118Error

__all__ = [
    "CANONICAL_EXI",
    "DIGEST_SHA256",
    "DIGEST_SHA384",
    "DIGEST_SHA512",
    "ECDSA_SHA256",
    "ECDSA_SHA384",
    "ECDSA_SHA512",
    "EDDSA_ED448",
    "Detached",
    "DigestMismatchError",
    "NoSignatureError",
    "ReferenceCheck",
    "ReferenceNotFoundError",
    "SignatureError",
    "SignatureValueError",
    "UnsignedElementError",
    "UnsupportedAlgorithmError",
    "VerifiedSignature",
    "digest_reference",
    "embedded_signer",
    "find_by_id",
    "id_elements",
    "protocol_of",
    "sign",
    "signed_info_exi",
    "verify",
]

# ----------------------------------------------------------------------------- algorithms

#: Canonicalization and transform algorithm of both standards (EXI canonical form).
CANONICAL_EXI = "http://www.w3.org/TR/canonical-exi/"
# RISE-V2G (and traffic it produced) writes the URI without the trailing slash.
_CANONICAL_EXI_ALIASES = frozenset({CANONICAL_EXI, CANONICAL_EXI.rstrip("/")})

DIGEST_SHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"
DIGEST_SHA384 = "http://www.w3.org/2001/04/xmldsig-more#sha384"
DIGEST_SHA512 = "http://www.w3.org/2001/04/xmlenc#sha512"

ECDSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"
ECDSA_SHA384 = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384"
ECDSA_SHA512 = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha512"
#: RFC 9231 identifier of pure Ed448 (not the pre-hashed variant).
EDDSA_ED448 = "http://www.w3.org/2021/04/xmldsig-more#eddsa-ed448"

_DIGESTS: dict[str, str] = {
    DIGEST_SHA256: "sha256",
    DIGEST_SHA384: "sha384",
    DIGEST_SHA512: "sha512",
}
_ECDSA_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
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
PublicKey = ec.EllipticCurvePublicKey | ed448.Ed448PublicKey

# ----------------------------------------------------------------------------- errors


class SignatureError(Iso15118Error):
    """A signature could not be made or does not verify.

    ``step`` names the failing step (``signature``, ``algorithm``, ``reference``,
    ``digest``, ``coverage``, ``signed-info``, ``signature-value``, ``key``) and
    ``reference`` the URI of the reference concerned, if any.
    """

    step = "signature"

    def __init__(self, message: str, *, reference: str | None = None) -> None:
        super().__init__(message)
        self.reference = reference


class NoSignatureError(SignatureError):
    """The message has no header or no ``Signature`` in it."""

    step = "signature"


class UnsupportedAlgorithmError(SignatureError):
    """An algorithm URI (canonicalization, transform, digest, signature) is not supported."""

    step = "algorithm"


class ReferenceNotFoundError(SignatureError):
    """A reference URI names no element of the message (or more than one)."""

    step = "reference"


class DigestMismatchError(SignatureError):
    """A referenced element's EXI fragment does not hash to the signed DigestValue."""

    step = "digest"


class UnsignedElementError(SignatureError):
    """An element of the message carries an ``Id`` but no reference covers it."""

    step = "coverage"


class SignatureValueError(SignatureError):
    """The SignatureValue is malformed or does not verify over SignedInfo with the key."""

    step = "signature-value"


# ----------------------------------------------------------------------------- results


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


# ----------------------------------------------------------------------------- the model tree


def protocol_of(message: Any) -> str:
    """The protocol whose grammar encodes ``message``, from the module of its class."""
    module = type(message).__module__
    prefix = "iso15118.messages."
    if module.startswith(prefix):
        name = module[len(prefix):]
        for p in protocols.PROTOCOLS.values():
            if p.module == name:
                return p.name
    raise SignatureError(
        f"{type(message).__name__} is not a generated ISO 15118 model; pass protocol=")


def _root_qname(protocol: str, message: Any) -> str:
    p = protocols.get(protocol)
    if p.root:
        return p.root
    c = codec.get_codec(protocol)
    tid = type(message)._exi_type
    for q, t in c.xml.global_types.items():
        if t == tid:
            return str(q)
    raise SignatureError(f"{type(message).__name__} is not a message of {p.name}")


def _child(c: Any, member: dict[str, Any], item: Any) -> tuple[int, int]:
    """(qname id, type id) of one child: the member itself or a substitution-group member."""
    if len(member["qnames"]) == 1:
        return member["qnames"][0], member["child_types"][0]
    for q, ct in zip(member["qnames"], member["child_types"], strict=True):
        if c.classes[ct] is not None and type(item) is c.classes[ct]:
            return q, ct
    for q, ct in zip(member["qnames"], member["child_types"], strict=True):
        if c.tables["types"][ct]["simple"]:
            return q, ct
    raise SignatureError(f"{type(item).__name__} cannot stand for {member['xml_name']}")


def _walk(c: Any, qname: str, value: Any, tid: int) -> Iterator[tuple[str, Any, str | None]]:
    """Every element below and including ``value``: (Clark name, value, its Id or None)."""
    t = c.tables["types"][tid]
    if t["simple"] or not isinstance(value, Model):
        yield qname, value, None
        return
    ident = None
    for m in t["members"]:
        if m["kind"] == M_ATTRIBUTE and m["xml_name"] == "Id":
            ident = getattr(value, m["name"], None)
    yield qname, value, ident
    for m in t["members"]:
        if m["kind"] != M_ELEMENT:
            continue
        v = getattr(value, m["name"], None)
        if v is None:
            continue
        for item in v if m["is_list"] else (v,):
            q, ct = _child(c, m, item)
            yield from _walk(c, c.grammar.qname_of(q), item, ct)


def id_elements(message: Any, protocol: str | None = None) -> list[tuple[str, str, Any]]:
    """Every element of the message that carries an ``Id``: (Id, Clark name, value).

    The signature itself is skipped: its ``Id`` attributes name signature parts, never
    content that the standards sign.
    """
    protocol = protocol or protocol_of(message)
    c = codec.get_codec(protocol)
    out: list[tuple[str, str, Any]] = []
    for q, v, ident in _walk(c, _root_qname(protocol, message), message, type(message)._exi_type):
        if ident is not None and not q.startswith("{" + protocols.XMLDSIG_NS + "}"):
            out.append((ident, q, v))
    return out


def find_by_id(message: Any, ident: str, protocol: str | None = None) -> tuple[str, Any]:
    """The element whose ``Id`` is ``ident`` (a leading ``#`` is accepted): (name, value).

    Raises :class:`ReferenceNotFoundError` when no element or more than one carries it:
    XML IDs are unique, and resolving a duplicate would invite signature-wrapping attacks.
    """
    key = ident[1:] if ident.startswith("#") else ident
    hits = [(q, v) for i, q, v in id_elements(message, protocol) if i == key]
    if not hits:
        raise ReferenceNotFoundError(f"no element has Id {key!r}", reference="#" + key)
    if len(hits) > 1:
        raise ReferenceNotFoundError(f"{len(hits)} elements have Id {key!r}",
                                     reference="#" + key)
    return hits[0]


# ----------------------------------------------------------------------------- the steps


def digest_reference(element: str, value: Any, protocol: str,
                     digest_method: str = DIGEST_SHA256) -> bytes:
    """The digest of one element: hash of its EXI fragment in ``protocol``'s grammar."""
    algo = _DIGESTS.get(digest_method)
    if algo is None:
        raise UnsupportedAlgorithmError(f"digest method {digest_method!r} is not supported")
    return hashlib.new(algo, codec.encode_fragment(element, value, protocol)).digest()


@cache
def _classes_by_name(module_name: str) -> dict[tuple[str, str], type[Model]]:
    module: ModuleType = importlib.import_module(f"iso15118.messages.{module_name}")
    return {(k._exi_namespace, k._exi_name): k for k in module.CLASSES.values()}


def _convert(value: Any, module_name: str) -> Any:
    """The same xmldsig value with the classes of another protocol's model module.

    Each generated module has its own copy of the xmldsig types (they are compiled into
    each grammar), and SignedInfo must be encoded with the xmldsig module's ones.
    """
    if isinstance(value, Model):
        cls = type(value)
        target = _classes_by_name(module_name).get((cls._exi_namespace, cls._exi_name))
        if target is None:
            raise SignatureError(f"{cls._exi_name} has no counterpart in {module_name}")
        if target is cls:
            return value
        return target(**{m[0]: _convert(getattr(value, m[0]), module_name)
                         for m in cls._exi_members})
    if isinstance(value, list):
        return [_convert(v, module_name) for v in value]
    if isinstance(value, tuple):
        return tuple(_convert(v, module_name) for v in value)
    return value


def signed_info_exi(signed_info: Any) -> bytes:
    """SignedInfo as the EXI fragment that is signed (xmldsig grammar alone).

    Accepts the SignedInfoType of any protocol's models.
    """
    value = _convert(signed_info, "xmldsig")
    return codec.encode_fragment(f"{{{protocols.XMLDSIG_NS}}}SignedInfo", value, "xmldsig")


def _ecdsa_width(key: ec.EllipticCurvePublicKey | ec.EllipticCurvePrivateKey) -> int:
    return (key.curve.key_size + 7) // 8


def _sign_bytes(key: PrivateKey, method: str, data: bytes) -> bytes:
    if method == EDDSA_ED448:
        if not isinstance(key, ed448.Ed448PrivateKey):
            raise SignatureError(f"{method} needs an Ed448 key, not {type(key).__name__}")
        return key.sign(data)
    hash_cls = _ECDSA_HASHES.get(method)
    if hash_cls is None:
        raise UnsupportedAlgorithmError(f"signature method {method!r} is not supported")
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise SignatureError(f"{method} needs an EC key, not {type(key).__name__}")
    r, s = decode_dss_signature(key.sign(data, ec.ECDSA(hash_cls())))
    width = _ecdsa_width(key)
    return r.to_bytes(width, "big") + s.to_bytes(width, "big")


def _check_signature_value(key: PublicKey, method: str, data: bytes, value: bytes) -> None:
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
    hash_cls = _ECDSA_HASHES.get(method)
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


def _default_signature_method(key: PrivateKey) -> str:
    if isinstance(key, ed448.Ed448PrivateKey):
        return EDDSA_ED448
    if isinstance(key, ec.EllipticCurvePrivateKey):
        method = _ECDSA_BY_CURVE.get(key.curve.name)
        if method is not None:
            return method
        raise UnsupportedAlgorithmError(f"no ISO 15118 signature method for {key.curve.name}")
    raise UnsupportedAlgorithmError(f"cannot sign with a {type(key).__name__}")


def _default_digest(protocol: str) -> str:
    # -2 and DIN: SHA-256 (V2G2-771 ff.); -20: SHA-512, the hash of its P-521 profile.
    return DIGEST_SHA512 if protocol.startswith("iso20") else DIGEST_SHA256


def _header(message: Any) -> Any:
    header = getattr(message, "header", None)
    if header is None or not hasattr(header, "signature"):
        raise NoSignatureError(f"{type(message).__name__} has no message header")
    return header


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
    header = _header(message)
    digest_method = digest_method or _default_digest(protocol)
    signature_method = signature_method or _default_signature_method(key)
    targets: list[tuple[str, str, Any]] = []  # (uri, element, value)
    if references is None:
        targets = [("#" + i, q, v) for i, q, v in id_elements(message, protocol)]
    else:
        for ref in references:
            targets.append(_target(message, protocol, ref))
    if not targets:
        raise SignatureError("nothing to sign: the message has no element with an Id")
    xd = importlib.import_module("iso15118.messages.xmldsig")
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
    value = _sign_bytes(key, signature_method, signed_info_exi(signed_info))
    signature = xd.SignatureType(signed_info=signed_info,
                                 signature_value=xd.SignatureValueType(value=value))
    header.signature = _convert(signature, protocols.get(protocol).module)
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


# ----------------------------------------------------------------------------- verify


_EMBEDDED_SIGNERS: dict[tuple[str, str], tuple[str, ...]] = {
    # ISO 15118-2: CertificateInstallationReq is signed with the OEM provisioning key
    # (V2G2-811), CertificateUpdateReq with the contract key whose chain it carries,
    # the two responses with the key of the SA/CPS provisioning certificate.
    ("iso2", "CertificateInstallationReqType"): ("oem_provisioning_cert",),
    ("iso2", "CertificateUpdateReqType"): ("contract_signature_cert_chain", "certificate"),
    ("iso2", "CertificateInstallationResType"): ("sa_provisioning_certificate_chain",
                                                 "certificate"),
    ("iso2", "CertificateUpdateResType"): ("sa_provisioning_certificate_chain", "certificate"),
    # ISO 15118-20: the request carries the OEM provisioning chain, the response the CPS chain.
    ("iso20-common", "CertificateInstallationReqType"): ("oem_provisioning_certificate_chain",
                                                         "certificate"),
    ("iso20-common", "CertificateInstallationResType"): ("cps_certificate_chain",
                                                         "certificate"),
}


def embedded_signer(message: Any, protocol: str | None = None) -> x509.Certificate | None:
    """The certificate of the signer when the message itself carries it, else None.

    Only the messages whose signer's leaf certificate travels in the same message
    qualify. The certificate is not validated here (see :mod:`iso15118.pki`).
    """
    protocol = protocol or protocol_of(message)
    body = message
    if protocol in ("iso2", "din"):
        body = getattr(getattr(message, "body", None), "body_element", None)
    path = _EMBEDDED_SIGNERS.get((protocol, type(body).__name__))
    if path is None:
        return None
    value: Any = body
    for attr in path:
        value = getattr(value, attr, None)
        if value is None:
            return None
    try:
        return x509.load_der_x509_certificate(bytes(value))
    except ValueError as e:
        raise SignatureError(f"the embedded signer certificate is not DER X.509: {e}") from e


def verify(message: Any, certificate: x509.Certificate | PublicKey | None = None, *,
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
    signature = _header(message).signature
    if signature is None or signature.signed_info is None:
        raise NoSignatureError(f"{type(message).__name__} carries no Signature")
    signed_info = signature.signed_info
    c14n = getattr(signed_info.canonicalization_method, "algorithm", None)
    if c14n not in _CANONICAL_EXI_ALIASES:
        raise UnsupportedAlgorithmError(f"canonicalization method {c14n!r} is not EXI")
    method = getattr(signed_info.signature_method, "algorithm", None) or ""
    if method != EDDSA_ED448 and method not in _ECDSA_HASHES:
        raise UnsupportedAlgorithmError(f"signature method {method!r} is not supported")
    if not signed_info.reference:
        raise SignatureError("SignedInfo has no Reference")
    by_uri = {d.uri: d for d in detached}
    checks: list[ReferenceCheck] = []
    seen: set[str] = set()
    for ref in signed_info.reference:
        checks.append(_check_reference(message, protocol, ref, by_uri))
        seen.add(checks[-1].uri)
    if require_all_ids:
        for ident, q, _v in id_elements(message, protocol):
            if "#" + ident not in seen:
                raise UnsignedElementError(
                    f"{q.split('}')[-1]} (Id {ident!r}) is not covered by the signature",
                    reference="#" + ident)
    if len(seen) != len(checks):
        raise SignatureError("SignedInfo references the same URI more than once")
    try:
        si_exi = signed_info_exi(signed_info)
    except Iso15118Error as e:
        raise SignatureError(f"SignedInfo cannot be encoded with the xmldsig grammar: {e}") from e
    signer: x509.Certificate | None = None
    if certificate is None:
        signer = embedded_signer(message, protocol)
        if signer is None:
            raise SignatureValueError(
                "no certificate given and the message does not carry its signer's")
        key: Any = signer.public_key()
    elif isinstance(certificate, x509.Certificate):
        signer = certificate
        key = certificate.public_key()
    else:
        key = certificate
    value = getattr(signature.signature_value, "value", None)
    if not value:
        raise SignatureValueError("the SignatureValue is empty")
    _check_signature_value(key, method, si_exi, bytes(value))
    return VerifiedSignature(method, tuple(checks), si_exi, signer)


def _check_reference(message: Any, protocol: str, ref: Any,
                     detached: dict[str, Detached]) -> ReferenceCheck:
    uri = ref.uri or ""
    transforms = ref.transforms.transform if ref.transforms is not None else []
    # V2G2-767: at most one transform, and only the EXI canonicalization makes sense.
    if len(transforms) > 1 or any(t.algorithm not in _CANONICAL_EXI_ALIASES for t in transforms):
        raise UnsupportedAlgorithmError(
            f"reference {uri}: only the canonical-exi transform is supported", reference=uri)
    digest_method = getattr(ref.digest_method, "algorithm", None) or ""
    if digest_method not in _DIGESTS:
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
