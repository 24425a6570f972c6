"""Certificate profiles of ISO 15118-2 Annex F and ISO 15118-20 as data.

The chain validator walks these tables instead of hard-coding the rules, so a reader can
check every rule against the standard in one place, and a caller can derive a stricter or
looser profile with :func:`dataclasses.replace`.

Sources, and how sure we are of each (the standards are not public; requirement texts were
read where implementations quote them, see the module docstrings of ``chain`` and the
project notes):

* -2 signature algorithm ``ecdsa-with-SHA256`` [V2G2-006] and curve ``secp256r1`` [V2G2-007].
* -2 at most 3 certificate layers below the root, i.e. two sub-CAs and a leaf [V2G2-009];
  the same depth is used for -20 (its PKI has the same root -> sub-CA 1 -> sub-CA 2 -> leaf
  shape).
* -2 DER size of a certificate at most 800 bytes [V2G2-010].
* -20 ``ecdsa-with-SHA512`` on ``secp521r1`` [V2G20-2674] or ``Ed448`` [V2G20-2319].
* Key usages, basic constraints and the domain component: Annex F tables F.1-F.5 as
  reflected by the public test PKIs of RISE-V2G and Josev (which follow Annex F) and by
  [V2G2-925] (a leaf is invalid when its domain component does not match its use).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from cryptography import x509
from cryptography.x509.oid import SignatureAlgorithmOID


class ProtocolVersion(enum.Enum):
    """Which generation's profile to apply."""

    ISO15118_2 = 2
    ISO15118_20 = 20

    @classmethod
    def parse(cls, value: int | str | ProtocolVersion) -> ProtocolVersion:
        """Accept 2, 20, "2", "20" or a member; raise ValueError otherwise."""
        if isinstance(value, ProtocolVersion):
            return value
        number = int(value)
        for member in cls:
            if member.value == number:
                return member
        raise ValueError(f"unknown ISO 15118 version {value!r}; expected 2 or 20")


class Role(enum.Enum):
    """The purpose a leaf certificate is validated for.

    Nothing in a certificate says what it is for, so the caller names it ([V2G2-925]: a
    chain that is fine in itself is invalid when it ends at the wrong root for its use).
    """

    SECC = "secc"
    CONTRACT = "contract"
    OEM = "oem"
    CPS = "cps"


class Curve(enum.Enum):
    """Public key types that appear in the two PKIs."""

    SECP256R1 = "secp256r1"
    SECP521R1 = "secp521r1"
    ED448 = "Ed448"


class KeyUsageBit(enum.Enum):
    """The keyUsage bits the profiles talk about (RFC 5280 4.2.1.3 names)."""

    DIGITAL_SIGNATURE = "digital_signature"
    NON_REPUDIATION = "content_commitment"
    KEY_ENCIPHERMENT = "key_encipherment"
    KEY_AGREEMENT = "key_agreement"
    KEY_CERT_SIGN = "key_cert_sign"
    CRL_SIGN = "crl_sign"


def key_usage_bits(ku: x509.KeyUsage) -> frozenset[KeyUsageBit]:
    """The bits set in a keyUsage extension."""
    bits = {bit for bit in KeyUsageBit if getattr(ku, bit.value)}
    return frozenset(bits)


@dataclass(frozen=True)
class LeafProfile:
    """What a leaf of one role must carry."""

    key_usage: frozenset[KeyUsageBit]
    domain_component: str
    #: [V2G2-925] makes the SECC certificate's DC a validity condition; Annex F marks the DC
    #: of contract and OEM provisioning certificates optional. When False, a *wrong* DC is
    #: still rejected, an absent one is accepted.
    domain_component_required: bool


@dataclass(frozen=True)
class VersionProfile:
    """The algorithm side of one generation's profile."""

    signature_algorithms: frozenset[x509.ObjectIdentifier]
    curves: frozenset[Curve]
    max_sub_cas: int
    max_der_size: int | None
    leaves: dict[Role, LeafProfile]
    ca_key_usage: frozenset[KeyUsageBit]


_CA_USAGE = frozenset({KeyUsageBit.KEY_CERT_SIGN, KeyUsageBit.CRL_SIGN})
_SIG = KeyUsageBit.DIGITAL_SIGNATURE
_AGREE = KeyUsageBit.KEY_AGREEMENT

ISO15118_2_PROFILE = VersionProfile(
    signature_algorithms=frozenset({SignatureAlgorithmOID.ECDSA_WITH_SHA256}),
    curves=frozenset({Curve.SECP256R1}),
    max_sub_cas=2,
    max_der_size=800,
    leaves={
        # TLS 1.2 with the ECDH(E)-ECDSA suites of -2 needs keyAgreement on the SECC key.
        Role.SECC: LeafProfile(frozenset({_SIG, _AGREE}), "CPO", True),
        # keyAgreement: the old contract key is the static ECDH key of CertificateUpdate
        # [V2G2-821], [V2G2-822].
        Role.CONTRACT: LeafProfile(frozenset({_SIG, _AGREE}), "MO", False),
        # keyAgreement: static ECDH key of CertificateInstallation [V2G2-820], [V2G2-822].
        Role.OEM: LeafProfile(frozenset({_SIG, _AGREE}), "OEM", False),
        Role.CPS: LeafProfile(frozenset({_SIG}), "CPS", False),
    },
    ca_key_usage=_CA_USAGE,
)

ISO15118_20_PROFILE = VersionProfile(
    signature_algorithms=frozenset(
        {SignatureAlgorithmOID.ECDSA_WITH_SHA512, SignatureAlgorithmOID.ED448}
    ),
    curves=frozenset({Curve.SECP521R1, Curve.ED448}),
    max_sub_cas=2,
    max_der_size=None,
    leaves={
        # -20 mandates TLS 1.3 where the certificate key only signs.
        Role.SECC: LeafProfile(frozenset({_SIG}), "CPO", True),
        Role.CONTRACT: LeafProfile(frozenset({_SIG}), "MO", False),
        Role.OEM: LeafProfile(frozenset({_SIG}), "OEM", False),
        Role.CPS: LeafProfile(frozenset({_SIG}), "CPS", False),
    },
    ca_key_usage=_CA_USAGE,
)

PROFILES: dict[ProtocolVersion, VersionProfile] = {
    ProtocolVersion.ISO15118_2: ISO15118_2_PROFILE,
    ProtocolVersion.ISO15118_20: ISO15118_20_PROFILE,
}
