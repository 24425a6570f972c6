"""The built-in certificate backend of ISO 15118-20 Plug & Charge, and its message helpers.

:class:`LocalContractBackend20` plays the CPS and the mobility operator's sub-CA in one
process for a test or demo charger, as :class:`~iso15118.session.pnc_backend.LocalContract
Backend` does for -2: given a -20 CertificateInstallationReq it issues a contract
certificate, encrypts its private key for the vehicle's OEM provisioning key
(:func:`iso15118.pki.encrypt_contract_key_iso20`, ISO 15118-20 7.9.2.5.2) and returns the
CertificateInstallationRes with SignedInstallationData signed by the CPS key (the header
Signature, one Reference to SignedInstallationData's ``Id``).

The ECDHCurve follows the vehicle's OEM provisioning key: secp521r1 gives "SECP521" (a
secp521r1 contract, ECDSA-SHA512 signatures), Ed448 gives "X448" (an Ed448 contract, see
:mod:`iso15118.pki.keyinstall` for how an Ed448 key takes part in X448). A production
charger passes the request on to its real backend instead (OCPP's Get15118EVCertificate
with the request's EXI) and answers through ``SeccSession.complete``.

Never use it outside tests: it holds MO sub-CA keys in the charger.
"""

from __future__ import annotations

import datetime as _dt
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed448

from iso15118 import codec, xmldsig
from iso15118.messages import iso20_common as common
from iso15118.pki import (
    common_name,
    encrypt_contract_key_iso20,
    generate_ed448_contract_key,
    load_certificate,
    parse_emaid,
)
from iso15118.pki.certs import iso20_key_identifier
from iso15118.session.pnc_backend import contract_certificate, new_emaid

__all__ = ["ContractIssuer20", "LocalContractBackend20", "chain20", "chain_der20",
           "contract_chain20", "curve_of_oem", "dh_field", "dh_key", "installation_response"]

PrivateKey = ec.EllipticCurvePrivateKey | ed448.Ed448PrivateKey
#: the Id of SignedInstallationData (ours; the standard only needs it unique)
SIGNED_DATA_ID = "id1"


def chain20(chain: Sequence[bytes]) -> common.CertificateChainType:
    """A -20 CertificateChainType (the CPS chain) from DER certificates, leaf first."""
    subs = common.SubCertificatesType(certificate=list(chain[1:])) if len(chain) > 1 else None
    return common.CertificateChainType(certificate=chain[0], sub_certificates=subs)


def contract_chain20(chain: Sequence[bytes]) -> common.ContractCertificateChainType:
    """A -20 ContractCertificateChainType (its SubCertificates are mandatory)."""
    return common.ContractCertificateChainType(
        certificate=chain[0], sub_certificates=common.SubCertificatesType(
            certificate=list(chain[1:])))


def chain_der20(chain: Any) -> tuple[bytes, ...]:
    """The DER certificates of any received -20 chain type, leaf first."""
    if chain is None or not isinstance(getattr(chain, "certificate", None), bytes):
        return ()
    subs = getattr(chain.sub_certificates, "certificate", None) or []
    return (chain.certificate, *(c for c in subs if isinstance(c, bytes)))


#: the schema's DHPublicKey length (dhPublicKeyType: exactly 133 bytes, an uncompressed
#: secp521r1 point)
DH_FIELD = 133
_X448_KEY = 56


def dh_field(curve: str, key: bytes) -> bytes:
    """DHPublicKey as the schema carries it. Assumed for X448: the raw 56-byte key first,
    then zero bytes up to the schema's fixed 133 (the standard's text on this was not at
    hand; :mod:`iso15118.pki.keyinstall` reads [V2G20-2495] as "56 bytes, no filler", which
    the schema's fixed length cannot carry)."""
    return key if curve == "SECP521" else key.ljust(DH_FIELD, b"\0")


def dh_key(curve: str, field: bytes) -> bytes:
    """The ECDH public key in a received DHPublicKey (see :func:`dh_field`); an X448 key
    whose filler is not all zero is refused (ValueError)."""
    if curve == "SECP521":
        return field
    if any(field[_X448_KEY:]):
        raise ValueError("DHPublicKey: the bytes after the 56-byte X448 key are not zero")
    return field[:_X448_KEY]


def curve_of_oem(public_key: object) -> str:
    """The ECDHCurve for an OEM provisioning key ([V2G20-2487], [V2G20-2488])."""
    if isinstance(public_key, ed448.Ed448PublicKey):
        return "X448"
    if isinstance(public_key, ec.EllipticCurvePublicKey) and \
            isinstance(public_key.curve, ec.SECP521R1):
        return "SECP521"
    raise TypeError("the OEM provisioning certificate has neither a secp521r1 nor an Ed448 key")


def installation_response(made: common.CertificateInstallationResType | bytes
                          ) -> common.CertificateInstallationResType:
    """A backend's -20 CertificateInstallationRes, given as the model or as its EXI (what
    OCPP's Get15118EVCertificate exiResponse carries, base64-decoded)."""
    response = codec.decode(bytes(made), "iso20-common") \
        if isinstance(made, (bytes, bytearray)) else made
    if not isinstance(response, common.CertificateInstallationResType):
        raise TypeError(f"not a -20 CertificateInstallationRes: {type(response).__name__}")
    return response


@dataclass
class ContractIssuer20:
    """One key family of the CPS and MO: the CPS chain (DER, leaf first) and its leaf's
    key, the MO sub-CAs that issue contracts (issuing sub-CA first) and its key."""

    cps_chain: tuple[bytes, ...]
    cps_key: PrivateKey
    mo_chain: tuple[bytes, ...]
    mo_key: PrivateKey


@dataclass
class LocalContractBackend20:
    """CPS and MO sub-CA in the charger: answers -20 CertificateInstallationReq itself.

    ``issuers`` by ECDHCurve ("SECP521", "X448"); a vehicle whose OEM key needs a curve
    without an issuer is refused (TypeError, which the SECC answers
    WARNING_NoCertificateAvailable). New eMAIDs are the vehicle's first PrioritizedEMAID,
    else ``emaid_prefix`` and characters derived from its OEM provisioning certificate."""

    issuers: dict[str, ContractIssuer20] = field(default_factory=dict)
    emaid_prefix: str = "DE8AA"
    contract_days: int = 730
    clock: Callable[[], float] = time.time

    def __call__(self, exi: bytes, message: Any) -> common.CertificateInstallationResType:
        """The signed response to ``message`` (a -20 CertificateInstallationReq)."""
        if not isinstance(message, common.CertificateInstallationReqType):
            raise TypeError(f"not a -20 CertificateInstallationReq: {type(message).__name__}")
        oem_der = message.oem_provisioning_certificate_chain.certificate
        oem = load_certificate(oem_der)
        receiver = oem.public_key()
        curve = curve_of_oem(receiver)
        issuer = self.issuers.get(curve)
        if issuer is None:
            raise TypeError(f"no contract issuer for ECDHCurve {curve}")
        pcid = common_name(oem) or ""
        wished = getattr(message.prioritized_emaids, "emaid", None) or []
        emaid = parse_emaid(wished[0]).normalized if wished else \
            new_emaid(self.emaid_prefix, oem_der)
        key: PrivateKey = ec.generate_private_key(ec.SECP521R1()) if curve == "SECP521" \
            else generate_ed448_contract_key()
        leaf = self.issue(issuer, emaid, key)
        sealed = encrypt_contract_key_iso20(key, receiver, pcid,  # type: ignore[arg-type]
                                            load_certificate(leaf))
        encrypted: dict[str, Any] = {
            "secp521_encrypted_private_key" if curve == "SECP521"
            else "x448_encrypted_private_key": sealed.encrypted_private_key}
        data = common.SignedInstallationDataType(
            id=SIGNED_DATA_ID, contract_certificate_chain=contract_chain20(
                (leaf, *issuer.mo_chain)),
            ecdh_curve=common.EcdhCurveType(curve),
            dh_public_key=dh_field(curve, sealed.dh_public_key),
            **encrypted)
        response = common.CertificateInstallationResType(
            header=common.MessageHeaderType(session_id=message.header.session_id,
                                            time_stamp=int(self.clock())),
            response_code=common.ResponseCodeType.OK,
            evse_processing=common.ProcessingType.Finished,
            cps_certificate_chain=chain20(issuer.cps_chain), signed_installation_data=data,
            remaining_contract_certificate_chains=0)
        xmldsig.sign(response, issuer.cps_key, references=[SIGNED_DATA_ID])
        return response

    def issue(self, issuer: ContractIssuer20, emaid: str, key: PrivateKey) -> bytes:
        """A -20 contract certificate (the profile the test PKI uses), DER."""
        public = key.public_key()
        algorithm = None if isinstance(issuer.mo_key, ed448.Ed448PrivateKey) \
            else hashes.SHA512()
        return contract_certificate(
            emaid, public, load_certificate(issuer.mo_chain[0]), issuer.mo_key,
            _dt.datetime.fromtimestamp(self.clock(), _dt.timezone.utc), self.contract_days,
            iso20_key_identifier(public), algorithm)
