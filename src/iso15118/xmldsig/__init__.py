"""XML signatures over EXI: sign and verify ISO 15118-2 and ISO 15118-20 messages.

ISO 15118 signs selected elements of a message (the ones carrying an ``Id`` attribute,
e.g. ``AuthorizationReq`` in -2, ``PnC_AReqAuthorizationMode`` in -20) with an XML
signature in the message header, but it never serialises XML: every octet string that
goes into a hash is EXI (ISO 15118-2 clause 7.9.2.4.2, "XML Signature mechanism"; -20
works the same way):

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

Layout: :mod:`.algorithms` (URIs, raw signature values), :mod:`.tree` (finding elements
by ``Id``, signers carried in messages), :mod:`.signature` (the procedure),
:mod:`.errors` (one error class per failing step).
"""

from iso15118.xmldsig.algorithms import (
    CANONICAL_EXI,
    DIGEST_SHA256,
    DIGEST_SHA384,
    DIGEST_SHA512,
    ECDSA_SHA256,
    ECDSA_SHA384,
    ECDSA_SHA512,
    EDDSA_ED448,
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
from iso15118.xmldsig.signature import (
    Detached,
    ReferenceCheck,
    VerifiedSignature,
    digest_reference,
    sign,
    signed_info_exi,
    verify,
    verify_signed_info,
)
from iso15118.xmldsig.tree import embedded_signer, find_by_id, id_elements, protocol_of

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
    "verify_signed_info",
]
