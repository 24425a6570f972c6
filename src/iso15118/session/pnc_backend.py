"""The built-in certificate backend of Plug & Charge (ISO 15118-2), and its message helpers.

:class:`LocalContractBackend` plays the CPS and the mobility operator's sub-CA in one
process, as a test or demo charger needs: given a CertificateInstallationReq or
CertificateUpdateReq it issues a new contract certificate, encrypts the new private key
for the vehicle (ISO 15118-2 7.9.2.4.3, :func:`iso15118.pki.encrypt_contract_key_iso2`)
and returns the whole CertificateInstallationRes / CertificateUpdateRes signed by the CPS
key (8.4.3.12, 8.4.3.13). A production charger passes the request to its real backend
instead (OCPP's Get15118EVCertificate), see :class:`iso15118.session.pnc.SeccPnc`.

Never use it outside tests: it holds an MO sub-CA key in the charger.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from iso15118 import codec, xmldsig
from iso15118.messages import iso2
from iso15118.pki import (
    compute_check_digit,
    encrypt_contract_key_iso2,
    load_certificate,
    parse_emaid,
)
from iso15118.pki.certs import subject_key_identifier

__all__ = ["LocalContractBackend", "chain_der", "chain_type", "contract_certificate", "new_emaid",
           "response_parts", "signature_for"]

#: the Ids of the four signed fragments of CertificateInstallationRes/UpdateRes, in the
#: order the schema lists them (ContractSignatureCertChain, ContractSignatureEncrypted-
#: PrivateKey, DHpublickey, eMAID); the values are ours, the standard only needs them unique
RESPONSE_IDS = ("id1", "id2", "id3", "id4")
_ALPHANUMERIC = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def chain_type(chain: Sequence[bytes], ident: str | None = None) -> iso2.CertificateChainType:
    """A CertificateChainType from DER certificates, leaf first."""
    subs = iso2.SubCertificatesType(certificate=list(chain[1:])) if len(chain) > 1 else None
    return iso2.CertificateChainType(id=ident, certificate=chain[0], sub_certificates=subs)


def chain_der(chain: Any) -> tuple[bytes, ...]:
    """The DER certificates of a received CertificateChainType, leaf first."""
    if chain is None or not isinstance(chain.certificate, bytes):
        return ()
    subs = getattr(chain.sub_certificates, "certificate", None) or []
    return (chain.certificate, *(c for c in subs if isinstance(c, bytes)))


def signature_for(body: Any, session_id: bytes, key: ec.EllipticCurvePrivateKey,
                  references: Sequence[str]) -> Any:
    """The header Signature over the body's fragments with these Ids (7.9.2.4.2).

    Only the referenced fragments are hashed, never the header, so the message the body
    is wrapped in here is a stand-in; the session wraps it again with its own header."""
    message = iso2.V2G_Message(header=iso2.MessageHeaderType(session_id=session_id),
                               body=iso2.BodyType(body_element=body))
    xmldsig.sign(message, key, references=list(references))
    return message.header.signature


def response_parts(made: iso2.V2G_Message | bytes) -> tuple[Any, Any]:
    """(body, header Signature) of a backend's signed response, given as the model or as
    its EXI (what OCPP's Get15118EVCertificate exiResponse carries, base64-decoded)."""
    message = codec.decode(bytes(made), "iso2") if isinstance(made, (bytes, bytearray)) \
        else made
    body = message.body.body_element if isinstance(message, iso2.V2G_Message) else None
    if not isinstance(body, (iso2.CertificateInstallationResType,
                             iso2.CertificateUpdateResType)):
        raise TypeError(f"not a CertificateInstallationRes/UpdateRes: {type(body).__name__}")
    return body, message.header.signature


@dataclass
class LocalContractBackend:
    """CPS and MO sub-CA in the charger: answers installation and update requests itself.

    ``cps_chain`` is the CPS provisioning chain (DER, leaf first; its leaf's key is
    ``cps_key``); ``mo_chain`` the sub-CAs that issue contracts (DER, issuing sub-CA first,
    sent as the contract chain's SubCertificates; its first key is ``mo_key``). New
    eMAIDs are ``emaid_prefix`` (country and provider) plus nine characters derived from
    the vehicle's OEM provisioning certificate, plus the check digit; an update keeps
    the old contract's eMAID."""

    cps_chain: tuple[bytes, ...]
    cps_key: ec.EllipticCurvePrivateKey
    mo_chain: tuple[bytes, ...]
    mo_key: ec.EllipticCurvePrivateKey
    emaid_prefix: str = "DE8AA"
    contract_days: int = 730
    clock: Callable[[], float] = time.time

    def __call__(self, exi: bytes, message: Any) -> iso2.V2G_Message:
        """The signed response to ``message`` (a CertificateInstallationReq/UpdateReq)."""
        body = message.body.body_element
        res: type[iso2.CertificateInstallationResType] | type[iso2.CertificateUpdateResType]
        if isinstance(body, iso2.CertificateInstallationReqType):
            # installation: the key travels to the OEM provisioning key [V2G2-820]
            receiver = load_certificate(body.oem_provisioning_cert)
            emaid = self._new_emaid(body.oem_provisioning_cert)
            res = iso2.CertificateInstallationResType
        else:
            # update: to the current contract key [V2G2-821]; the contract keeps its eMAID
            receiver = load_certificate(body.contract_signature_cert_chain.certificate)
            emaid = parse_emaid(body.emaid).normalized
            res = iso2.CertificateUpdateResType
        receiver_key = receiver.public_key()
        if not isinstance(receiver_key, ec.EllipticCurvePublicKey):
            raise TypeError("the receiver certificate has no EC key")
        key = ec.generate_private_key(ec.SECP256R1())
        leaf = self.issue(emaid, key.public_key())
        sealed = encrypt_contract_key_iso2(key, receiver_key)
        i1, i2, i3, i4 = RESPONSE_IDS
        response = res(
            response_code=iso2.ResponseCodeType.OK,
            sa_provisioning_certificate_chain=chain_type(self.cps_chain),
            contract_signature_cert_chain=chain_type((leaf, *self.mo_chain), i1),
            contract_signature_encrypted_private_key=iso2.ContractSignatureEncryptedPrivateKeyType(
                id=i2, value=sealed.encrypted_private_key),
            dh_public_key=iso2.DiffieHellmanPublickeyType(id=i3, value=sealed.dh_public_key),
            emaid=iso2.EMAIDType(id=i4, value=emaid))
        session_id = message.header.session_id
        signature = signature_for(response, session_id, self.cps_key, RESPONSE_IDS)
        return iso2.V2G_Message(
            header=iso2.MessageHeaderType(session_id=session_id, signature=signature),
            body=iso2.BodyType(body_element=response))

    def issue(self, emaid: str, public_key: ec.EllipticCurvePublicKey) -> bytes:
        """A contract certificate (Annex F profile as the test PKI makes it), DER."""
        return contract_certificate(
            emaid, public_key, load_certificate(self.mo_chain[0]), self.mo_key,
            _dt.datetime.fromtimestamp(self.clock(), _dt.timezone.utc), self.contract_days,
            x509.SubjectKeyIdentifier.from_public_key(public_key), hashes.SHA256())

    def _new_emaid(self, oem_der: bytes) -> str:
        return new_emaid(self.emaid_prefix, oem_der)


def new_emaid(prefix: str, oem_der: bytes) -> str:
    """A test contract's eMAID: ``prefix`` (country and provider) plus characters derived
    from the vehicle's OEM provisioning certificate, to 14, plus the check digit."""
    number = int.from_bytes(hashlib.sha256(oem_der).digest()[:8], "big")
    instance = ""
    for _ in range(14 - len(prefix)):
        number, digit = divmod(number, 36)
        instance += _ALPHANUMERIC[digit]
    body = prefix + instance
    return body + compute_check_digit(body)


def contract_certificate(emaid: str, public_key: Any, ca: x509.Certificate, ca_key: Any,
                         now: _dt.datetime, days: int, ski: x509.SubjectKeyIdentifier,
                         algorithm: hashes.SHA256 | hashes.SHA512 | None) -> bytes:
    """A contract certificate for ``emaid`` issued by the MO sub-CA ``ca`` (the profile the
    test PKI uses for -2 and -20: the eMAID as CN, DC=MO, valid ``days`` but not past the
    CA), DER. ``ski`` and ``algorithm`` are what differ between the generations (-20: the
    SHA-1-free key identifier, SHA-512 or none for Ed448)."""
    subject = x509.Name([
        x509.NameAttribute(NameOID.COMMON_NAME, emaid),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "iso15118 test PKI"),
        x509.NameAttribute(NameOID.COUNTRY_NAME, emaid[:2]),
        x509.NameAttribute(NameOID.DOMAIN_COMPONENT, "MO"),
    ])
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca.subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _dt.timedelta(minutes=5))
        .not_valid_after(min(now + _dt.timedelta(days=days), ca.not_valid_after_utc))
        .add_extension(ski, critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(
            digital_signature=True, content_commitment=True, key_encipherment=False,
            data_encipherment=False, key_agreement=True, key_cert_sign=False,
            crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
    )
    ca_ski = subject_key_identifier(ca)
    if ca_ski is not None:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(
                x509.SubjectKeyIdentifier(ca_ski)), critical=False)
    return builder.sign(ca_key, algorithm).public_bytes(serialization.Encoding.DER)
