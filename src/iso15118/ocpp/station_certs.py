"""The station's own ISO 15118 certificates through OCPP (A02/A03 for the SECC
certificate, M03-M05 for the V2G and MO roots).

* :func:`sign_certificate_request` - SignCertificateRequest with a PKCS#10 CSR for the
  SECC certificate (certificateType V2GCertificate; 2.1 V2G20Certificate for a -20 key).
* :func:`certificate_signed` - reads CertificateSignedRequest: the chain must be for our
  key and valid under the V2G root(s) for the SECC role; gives the response and the chain.
* :func:`load_secc_certificate` - puts a chain and key into a live ``ssl.SSLContext``:
  handshakes from then on present the new certificate, open sessions keep theirs, so
  the SECC needs no restart.
* :class:`TrustStore` - InstallCertificate, GetInstalledCertificateIds and
  DeleteCertificate over the station's roots; :meth:`TrustStore.contract_roots` is what
  ``SeccPnc.contract_roots`` trusts (MO roots, plus V2G roots under which contracts may
  be issued), so an installed MO root counts from the next PaymentDetailsReq on.

Conversion rules: certificates travel as PEM (a chain: leaf first); hash data of a
certificate is that of :func:`iso15118.pki.ocsp_request_data` (its issuer's name and key
hashes, serial in hex without leading zeros) and a root is its own issuer; a V2G
certificate chain is reported as its leaf with ``childCertificateHashData`` for the
sub-CAs.
"""

from __future__ import annotations

import datetime as _dt
import os
import ssl
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448
from cryptography.x509.oid import NameOID

from iso15118.errors import Iso15118Error
from iso15118.ocpp.errors import OcppConversionError
from iso15118.ocpp.schemas import V21, validate
from iso15118.pki import (
    OcspError,
    ProtocolVersion,
    Role,
    load_certificates,
    ocsp_request_data,
    signature_is_valid,
    validate_chain,
)

__all__ = [
    "CertificateSigned",
    "TrustStore",
    "certificate_hash_data_of",
    "certificate_signed",
    "load_secc_certificate",
    "sign_certificate_request",
]

SigningKey = ec.EllipticCurvePrivateKey | ed448.Ed448PrivateKey
_PEM_MAX = 5500


def sign_certificate_request(key: SigningKey, version: str, *, common_name: str,
                             organization: str, country: str,
                             iso20: bool = False) -> dict[str, Any]:
    """SignCertificateRequest for the SECC certificate (A02/A03 with certificateType
    V2GCertificate).

    The subject follows the SECC leaf profile (ISO 15118-2 Annex F, -20 Annex B): CN the
    SECC ID (the EVSE ID, or the station's), O the operator, C its country, DC=CPO. The
    CSR is signed with ``key`` (ECDSA SHA-256 for P-256, SHA-512 for P-521, Ed448 as it
    is). In 2.1 a -20 key asks for V2G20Certificate."""
    subject = x509.Name([
        x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
        x509.NameAttribute(NameOID.COUNTRY_NAME, country),
        x509.NameAttribute(NameOID.DOMAIN_COMPONENT, "CPO"),
    ])
    algorithm: hashes.HashAlgorithm | None
    if isinstance(key, ed448.Ed448PrivateKey):
        algorithm = None
    elif isinstance(key, ec.EllipticCurvePrivateKey):
        algorithm = hashes.SHA512() if key.curve.key_size > 384 else hashes.SHA256()
    else:
        raise OcppConversionError("the SECC key must be ECDSA (P-256/P-521) or Ed448")
    csr = x509.CertificateSigningRequestBuilder().subject_name(subject).sign(key, algorithm)
    pem = csr.public_bytes(serialization.Encoding.PEM).decode("ascii")
    kind = "V2G20Certificate" if iso20 and version == V21 else "V2GCertificate"
    return {"csr": pem, "certificateType": kind}


@dataclass(frozen=True)
class CertificateSigned:
    """The outcome of a CertificateSignedRequest: ``response`` to send back, and the
    chain (DER, leaf first) when it was accepted."""

    response: dict[str, Any]
    chain: tuple[bytes, ...] | None
    reason: str | None = None


def _public_der(key: Any) -> bytes:
    return bytes(key.public_bytes(serialization.Encoding.DER,
                                  serialization.PublicFormat.SubjectPublicKeyInfo))


def certificate_signed(payload: dict[str, Any], version: str, *, key: SigningKey,
                       v2g_roots: Sequence[x509.Certificate], iso20: bool = False,
                       at: _dt.datetime | None = None) -> CertificateSigned:
    """Read a CertificateSignedRequest for the SECC certificate (A02/A03).

    Validated first (a ChargingStationCertificate is not ours: :class:`OcppConversionError`).
    Rejected, with the reason in statusInfo, when the PEM holds no certificate, the
    leaf's key is not ``key`` (A02.FR.xx: the station keeps its old certificate), or the
    chain is not valid for the SECC role under the -2 / -20 profile and ``v2g_roots``."""
    validate("CertificateSignedRequest", payload, version)
    kind = payload.get("certificateType", "V2GCertificate")
    if kind == "ChargingStationCertificate":
        raise OcppConversionError("certificateType: ChargingStationCertificate is the OCPP "
                                  "client's certificate, not the SECC's")

    def rejected(reason: str, code: str) -> CertificateSigned:
        return CertificateSigned({"status": "Rejected", "statusInfo": {
            "reasonCode": code, "additionalInfo": reason[:512]}}, None, reason)

    try:
        certs = load_certificates(payload["certificateChain"].encode("ascii"))
    except (Iso15118Error, UnicodeEncodeError, ValueError):
        return rejected("certificateChain holds no PEM certificate", "InvalidCertificate")
    if not certs:
        return rejected("certificateChain holds no PEM certificate", "InvalidCertificate")
    if _public_der(certs[0].public_key()) != _public_der(key.public_key()):
        return rejected("the certificate is not for the key of our CSR", "InvalidCertificate")
    verdict = validate_chain(certs[0], certs[1:], v2g_roots, role=Role.SECC,
                             version=ProtocolVersion.ISO15118_20 if iso20
                             else ProtocolVersion.ISO15118_2, at=at)
    if not verdict.valid:
        why = "; ".join(f"{c.rule.value} on certificate {c.index}" for c in verdict.failures)
        return rejected(f"not a valid SECC chain: {why}", "InvalidCertChain")
    chain = tuple(c.public_bytes(serialization.Encoding.DER) for c in certs)
    return CertificateSigned({"status": "Accepted"}, chain)


def load_secc_certificate(context: ssl.SSLContext, chain: Sequence[bytes], key: SigningKey
                          ) -> None:
    """Load a new SECC chain (DER, leaf first) and its key into a live server context.

    ``ssl`` reads certificates only from files, so they pass through a private temporary
    directory (mode 0700) that is removed before returning."""
    pem = b"".join(x509.load_der_x509_certificate(c).public_bytes(serialization.Encoding.PEM)
                   for c in chain)
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    with tempfile.TemporaryDirectory(prefix="secc-cert-") as where:
        cert_path = os.path.join(where, "chain.pem")
        key_path = os.path.join(where, "key.pem")
        with open(cert_path, "wb") as f:
            f.write(pem)
        fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(key_pem)
        try:
            context.load_cert_chain(cert_path, key_path)
        except ssl.SSLError as exc:
            raise OcppConversionError(f"the SSL context refused the chain: {exc}") from None


def certificate_hash_data_of(cert: x509.Certificate, issuer: x509.Certificate,
                             hash_algorithm: str = "SHA256") -> dict[str, str]:
    """OCPP CertificateHashDataType of ``cert`` (a root is its own ``issuer``)."""
    try:
        data = ocsp_request_data(cert, issuer, hash_algorithm, responder_url="").to_ocpp()
    except OcspError as exc:
        raise OcppConversionError(str(exc)) from None
    data.pop("responderURL")
    return data


#: InstallCertificate's certificate types the SECC side cares about, and which of them
#: contracts may chain to (V2G roots: -2 allows contracts issued under the V2G root)
ROOT_TYPES = ("V2GRootCertificate", "MORootCertificate", "CSMSRootCertificate",
              "ManufacturerRootCertificate", "OEMRootCertificate")


@dataclass
class TrustStore:
    """The station's roots by OCPP certificate type, and the SECC's own chain.

    ``contracts_under_v2g_root``: also trust contracts that chain to a V2G root (-2
    allows the V2G root as contract root; an operator may not want it)."""

    roots: dict[str, list[x509.Certificate]] = field(default_factory=dict)
    secc_chain: tuple[x509.Certificate, ...] = ()
    contracts_under_v2g_root: bool = True

    def contract_roots(self) -> tuple[x509.Certificate, ...]:
        """What ``SeccPnc.contract_roots`` should be now."""
        out = list(self.roots.get("MORootCertificate", []))
        if self.contracts_under_v2g_root:
            out += self.roots.get("V2GRootCertificate", [])
        return tuple(out)

    def install(self, payload: dict[str, Any], version: str) -> dict[str, Any]:
        """InstallCertificateResponse for an InstallCertificateRequest (M05).

        Accepted: one self-signed CA certificate (basicConstraints cA) that verifies with
        its own key, stored under its type (again: no duplicate). Rejected otherwise."""
        validate("InstallCertificateRequest", payload, version)
        try:
            certs = load_certificates(payload["certificate"].encode("ascii"))
        except (Iso15118Error, UnicodeEncodeError, ValueError):
            certs = []
        if len(certs) != 1:
            return {"status": "Rejected", "statusInfo": {
                "reasonCode": "InvalidCertificate",
                "additionalInfo": "certificate must hold exactly one PEM certificate"}}
        cert = certs[0]
        if not _is_ca_root(cert):
            return {"status": "Rejected", "statusInfo": {
                "reasonCode": "InvalidCertificate",
                "additionalInfo": "not a self-signed CA certificate"}}
        bucket = self.roots.setdefault(payload["certificateType"], [])
        if all(c != cert for c in bucket):
            bucket.append(cert)
        return {"status": "Accepted"}

    def installed_ids(self, payload: dict[str, Any], version: str) -> dict[str, Any]:
        """GetInstalledCertificateIdsResponse (M03): the roots of the asked types (all
        when none asked) and, for V2GCertificateChain, the SECC chain."""
        validate("GetInstalledCertificateIdsRequest", payload, version)
        kinds = payload.get("certificateType") or [*ROOT_TYPES, "V2GCertificateChain"]
        if version != V21:
            kinds = [k for k in kinds if k != "OEMRootCertificate"]
        chains = []
        for kind in kinds:
            if kind == "V2GCertificateChain":
                if self.secc_chain:
                    chains.append(self._chain_entry())
                continue
            for cert in self.roots.get(kind, []):
                chains.append({"certificateType": kind,
                               "certificateHashData": certificate_hash_data_of(cert, cert)})
        if not chains:
            return {"status": "NotFound"}
        return {"status": "Accepted", "certificateHashDataChain": chains}

    def delete(self, payload: dict[str, Any], version: str) -> dict[str, Any]:
        """DeleteCertificateResponse (M04): the root whose hash data matches is removed.
        Deleting the SECC's own chain is Failed (the SECC would have nothing to offer)."""
        validate("DeleteCertificateRequest", payload, version)
        wanted = _normal(payload["certificateHashData"])
        if self.secc_chain and _normal(self._chain_entry()["certificateHashData"]) == wanted:
            return {"status": "Failed"}
        for certs in self.roots.values():
            for cert in certs:
                if _normal(certificate_hash_data_of(cert, cert, wanted["hashAlgorithm"])) \
                        == wanted:
                    certs.remove(cert)
                    return {"status": "Accepted"}
        return {"status": "NotFound"}

    def _chain_entry(self) -> dict[str, Any]:
        chain = list(self.secc_chain)
        known = chain + [c for lst in self.roots.values() for c in lst]

        def issuer_of(cert: x509.Certificate) -> x509.Certificate:
            found = next((c for c in known if c.subject == cert.issuer), None)
            if found is None:
                raise OcppConversionError(f"no issuer for {cert.subject.rfc4514_string()}")
            return found

        entry: dict[str, Any] = {"certificateType": "V2GCertificateChain",
                                 "certificateHashData": certificate_hash_data_of(
                                     chain[0], issuer_of(chain[0]))}
        children = [certificate_hash_data_of(c, issuer_of(c)) for c in chain[1:5]]
        if children:
            entry["childCertificateHashData"] = children
        return entry


def _normal(data: dict[str, str]) -> dict[str, str]:
    """Hash data compared without case or leading zeros (a CSMS may spell hex either way)."""
    return {"hashAlgorithm": data["hashAlgorithm"],
            "issuerNameHash": data["issuerNameHash"].lower(),
            "issuerKeyHash": data["issuerKeyHash"].lower(),
            "serialNumber": data["serialNumber"].lower().lstrip("0") or "0"}


def _is_ca_root(cert: x509.Certificate) -> bool:
    if cert.issuer != cert.subject:
        return False
    try:
        bc = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        return False
    if not bc.ca:
        return False
    return signature_is_valid(cert, cert.public_key())

