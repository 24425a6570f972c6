"""OCSP (RFC 6960) for ISO 15118 chains, without I/O.

* :func:`build_ocsp_request` makes the DER request a client POSTs to a responder.
* :func:`ocsp_request_data` gives the fields of OCPP 2.0.1 ``OCSPRequestDataType``
  (hashAlgorithm, issuerNameHash, issuerKeyHash, serialNumber, responderURL) that a charging
  station forwards to its CSMS instead of asking the responder itself (OCPP 2.0.1 part 2,
  2.36 OCSPRequestDataType; hashes hex encoded as its string lengths 128/40 imply).
* :func:`check_ocsp_response` verifies a response (signature by the issuer or by a delegated
  responder the issuer certified for OCSPSigning, RFC 6960 4.2.2.2; freshness) and returns
  the status of one certificate.

Fetching over HTTP lives in :mod:`iso15118.pki.ocsp_client`, a thin layer on top.
"""

from __future__ import annotations

import datetime as _dt
import enum
from collections.abc import Iterable
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed448
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509 import ocsp
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID

from iso15118.pki.certs import signature_is_valid
from iso15118.pki.errors import OcspError

#: Hash algorithms OCPP 2.0.1 HashAlgorithmEnumType allows, by their OCPP names.
_OCPP_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "SHA256": hashes.SHA256,
    "SHA384": hashes.SHA384,
    "SHA512": hashes.SHA512,
}

#: Clock skew tolerated on thisUpdate/nextUpdate.
DEFAULT_SKEW = _dt.timedelta(minutes=5)


class CertStatus(enum.Enum):
    """The certStatus of a SingleResponse (RFC 6960 4.2.1)."""

    GOOD = "good"
    REVOKED = "revoked"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class OcspRequestData:
    """OCPP 2.0.1 ``OCSPRequestDataType`` for one certificate."""

    hash_algorithm: str
    issuer_name_hash: str
    issuer_key_hash: str
    serial_number: str
    responder_url: str

    def to_ocpp(self) -> dict[str, str]:
        """The JSON object with OCPP's field names."""
        return {
            "hashAlgorithm": self.hash_algorithm,
            "issuerNameHash": self.issuer_name_hash,
            "issuerKeyHash": self.issuer_key_hash,
            "serialNumber": self.serial_number,
            "responderURL": self.responder_url,
        }


@dataclass(frozen=True)
class OcspResult:
    """A verified answer about one certificate."""

    status: CertStatus
    serial_number: int
    this_update: _dt.datetime
    next_update: _dt.datetime | None
    revocation_time: _dt.datetime | None = None
    revocation_reason: str | None = None


def responder_urls(cert: x509.Certificate) -> list[str]:
    """The OCSP URIs of the authorityInfoAccess extension (Annex F puts the responder there)."""
    try:
        aia = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    except x509.ExtensionNotFound:
        return []
    return [
        str(d.access_location.value)
        for d in aia
        if d.access_method == AuthorityInformationAccessOID.OCSP
        and isinstance(d.access_location, x509.UniformResourceIdentifier)
    ]


def _hash_for(name: str) -> hashes.HashAlgorithm:
    try:
        return _OCPP_HASHES[name.upper()]()
    except KeyError:
        raise OcspError(
            f"hash algorithm {name!r} is not one of OCPP's SHA256/SHA384/SHA512"
        ) from None


def build_ocsp_request(
    cert: x509.Certificate, issuer: x509.Certificate, hash_algorithm: str = "SHA256"
) -> bytes:
    """DER ``OCSPRequest`` for ``cert``, whose issuer is ``issuer``."""
    builder = ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, _hash_for(hash_algorithm))
    return builder.build().public_bytes(Encoding.DER)


def ocsp_request_data(
    cert: x509.Certificate,
    issuer: x509.Certificate,
    hash_algorithm: str = "SHA256",
    responder_url: str | None = None,
) -> OcspRequestData:
    """The OCPP ``OCSPRequestData`` of ``cert``.

    ``responder_url`` defaults to the first OCSP URI of the certificate's AIA extension; a
    certificate without one raises :class:`OcspError` (OCPP makes responderURL required).
    """
    url = responder_url
    if url is None:
        urls = responder_urls(cert)
        if not urls:
            raise OcspError("certificate has no OCSP responder URL in authorityInfoAccess")
        url = urls[0]
    request = ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, _hash_for(hash_algorithm))
    req = request.build()
    return OcspRequestData(
        hash_algorithm=hash_algorithm.upper(),
        issuer_name_hash=req.issuer_name_hash.hex(),
        issuer_key_hash=req.issuer_key_hash.hex(),
        serial_number=format(req.serial_number, "x"),
        responder_url=url,
    )


def _cert_id_matches(
    single: ocsp.OCSPSingleResponse, cert: x509.Certificate, issuer: x509.Certificate
) -> bool:
    if single.serial_number != cert.serial_number:
        return False
    algorithm = single.hash_algorithm
    probe = ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, algorithm).build()
    return (
        probe.issuer_name_hash == single.issuer_name_hash
        and probe.issuer_key_hash == single.issuer_key_hash
    )


def _responder_is_authorised(
    response: ocsp.OCSPResponse, issuer: x509.Certificate
) -> x509.Certificate | None:
    """The certificate whose key must have signed the response, per RFC 6960 4.2.2.2."""
    if _responder_matches(response, issuer):
        return issuer
    for candidate in response.certificates:
        if not _responder_matches(response, candidate):
            continue
        if candidate.issuer != issuer.subject:
            continue
        if not signature_is_valid(candidate, issuer.public_key()):
            continue
        try:
            eku = candidate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        except x509.ExtensionNotFound:
            continue
        if ExtendedKeyUsageOID.OCSP_SIGNING in eku:
            return candidate
    return None


def _responder_matches(response: ocsp.OCSPResponse, cert: x509.Certificate) -> bool:
    if response.responder_name is not None:
        return response.responder_name == cert.subject
    key_hash = response.responder_key_hash
    if key_hash is None:
        return False
    digest = x509.SubjectKeyIdentifier.from_public_key(cert.public_key()).digest
    return bool(digest == key_hash)


def _response_signature_is_valid(response: ocsp.OCSPResponse, signer: x509.Certificate) -> bool:
    key = signer.public_key()
    try:
        if isinstance(key, ec.EllipticCurvePublicKey):
            algorithm = response.signature_hash_algorithm
            if algorithm is None:
                return False
            key.verify(response.signature, response.tbs_response_bytes, ec.ECDSA(algorithm))
            return True
        if isinstance(key, ed448.Ed448PublicKey):
            key.verify(response.signature, response.tbs_response_bytes)
            return True
    except (InvalidSignature, ValueError, TypeError):
        return False
    return False


def parse_ocsp_response(data: bytes) -> ocsp.OCSPResponse:
    """Parse DER bytes into an OCSP response, raising :class:`OcspError` on garbage."""
    try:
        return ocsp.load_der_ocsp_response(data)
    except ValueError as exc:
        raise OcspError(f"not an OCSP response: {exc}") from exc


def response_covers(
    data: bytes | ocsp.OCSPResponse, cert: x509.Certificate, issuer: x509.Certificate
) -> bool:
    """Whether a (successful) response has a SingleResponse for ``cert``."""
    response = parse_ocsp_response(data) if isinstance(data, bytes) else data
    if response.response_status != ocsp.OCSPResponseStatus.SUCCESSFUL:
        return False
    return any(_cert_id_matches(s, cert, issuer) for s in response.responses)


def check_ocsp_response(
    data: bytes | ocsp.OCSPResponse,
    cert: x509.Certificate,
    issuer: x509.Certificate,
    at: _dt.datetime | None = None,
    skew: _dt.timedelta = DEFAULT_SKEW,
) -> OcspResult:
    """Verify ``data`` and return the status it gives ``cert``.

    Raises :class:`OcspError` when the response is not successful, does not cover ``cert``,
    is not signed by the issuer or an authorised delegate, or is not fresh at ``at``.
    """
    response = parse_ocsp_response(data) if isinstance(data, bytes) else data
    if response.response_status != ocsp.OCSPResponseStatus.SUCCESSFUL:
        raise OcspError(f"responder answered {response.response_status.name}")
    now = at if at is not None else _dt.datetime.now(_dt.timezone.utc)
    signer = _responder_is_authorised(response, issuer)
    if signer is None:
        raise OcspError("response is not signed by the issuer or an authorised OCSP responder")
    if not _response_signature_is_valid(response, signer):
        raise OcspError("OCSP response signature does not verify")
    for single in response.responses:
        if not _cert_id_matches(single, cert, issuer):
            continue
        this_update = single.this_update_utc
        next_update = single.next_update_utc
        if this_update - skew > now:
            raise OcspError(f"OCSP response thisUpdate {this_update} is in the future")
        if next_update is not None and next_update + skew < now:
            raise OcspError(f"OCSP response expired at nextUpdate {next_update}")
        status = {
            ocsp.OCSPCertStatus.GOOD: CertStatus.GOOD,
            ocsp.OCSPCertStatus.REVOKED: CertStatus.REVOKED,
            ocsp.OCSPCertStatus.UNKNOWN: CertStatus.UNKNOWN,
        }[single.certificate_status]
        reason = single.revocation_reason
        return OcspResult(
            status=status,
            serial_number=single.serial_number,
            this_update=this_update,
            next_update=next_update,
            revocation_time=single.revocation_time_utc,
            revocation_reason=reason.name if reason is not None else None,
        )
    raise OcspError("OCSP response does not cover this certificate")


def find_and_check(
    responses: Iterable[bytes | ocsp.OCSPResponse],
    cert: x509.Certificate,
    issuer: x509.Certificate,
    at: _dt.datetime | None = None,
) -> OcspResult | OcspError | None:
    """Check the first response covering ``cert``; None when no response covers it.

    Returns (rather than raises) an :class:`OcspError` so a chain validator can record
    "revocation not checked: <why>" without aborting.
    """
    for data in responses:
        try:
            response = parse_ocsp_response(data) if isinstance(data, bytes) else data
        except OcspError:
            continue  # garbage covers nothing; another response may
        if not response_covers(response, cert, issuer):
            continue
        try:
            return check_ocsp_response(response, cert, issuer, at)
        except OcspError as exc:
            return exc
    return None
