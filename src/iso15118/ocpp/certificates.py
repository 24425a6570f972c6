"""The EV's contract certificate through OCPP: Get15118EVCertificate and GetCertificateStatus.

* M01/M02 (installation and update of the EV's contract certificate):
  :func:`get_15118_ev_certificate_request` turns the EV's CertificateInstallationReq /
  CertificateUpdateReq (-2) or CertificateInstallationReq (-20) into the
  Get15118EVCertificateRequest; :func:`ev_certificate_response` turns the CSMS's answer
  back into the response the SECC sends to the EV.
* M06 (certificate status): :func:`get_certificate_status_request` asks the CSMS for an
  OCSP response about a certificate, :func:`ocsp_response_from` reads its answer.

Call points: the SECC emits :class:`~iso15118.session.events.CertificateInstallationRequested`
(its ``exi`` is what :func:`get_15118_ev_certificate_request` takes) and the
``certificate_backend`` of :class:`~iso15118.session.pnc.SeccPnc` returns None to defer;
the adapter answers with ``SeccSession.complete(now, result.response_code,
result.response, signature=result.signature)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cryptography import x509

from iso15118 import codec
from iso15118.detect import split_v2gtp
from iso15118.errors import Iso15118Error
from iso15118.messages import iso2
from iso15118.messages import iso20_common as common
from iso15118.ocpp._json import b64decode, b64encode
from iso15118.ocpp.errors import OcppConversionError
from iso15118.ocpp.schemas import V21, validate
from iso15118.pki import OcspError, load_certificate, ocsp_request_data

__all__ = [
    "ISO2_SCHEMA_VERSION",
    "ISO20_SCHEMA_VERSION",
    "EVCertificateResponse",
    "ev_certificate_response",
    "get_15118_ev_certificate_request",
    "get_certificate_status_request",
    "ocsp_response_from",
]

#: iso15118SchemaVersion of a -2 request: the namespace of the -2 message set, which is
#: also what -2 announces in supportedAppProtocolReq
ISO2_SCHEMA_VERSION = "urn:iso:15118:2:2013:MsgDef"
#: iso15118SchemaVersion of a -20 request: the namespace of the message itself
#: (CommonMessages), not the DC/AC namespace the session negotiated, because that is the
#: grammar a CSMS needs to decode exiRequest with
ISO20_SCHEMA_VERSION = "urn:iso:std:iso:15118:-20:CommonMessages"
#: exiRequest's maxLength per version (base64 characters)
_EXI_REQUEST_MAX = {"2.0.1": 5600, "2.1": 11000}


@dataclass(frozen=True)
class _Request:
    protocol: str  # "iso2" or "iso20-common"
    action: str  # "Install" or "Update"
    message: Any


def _read_request(exi: bytes) -> _Request:
    """Which request the EXI is: -2 V2G_Message first, then the -20 CommonMessages one."""
    errors = []
    try:
        message = codec.decode(exi, "iso2")
        # A -20 stream can decode under the -2 grammar as another global element (the
        # first event code picks the element by index; found end to end: one -20
        # CertificateInstallationReq in a few hundred read as a -2 ChargeParameterDiscoveryRes)
        if not isinstance(message, iso2.V2G_Message):
            errors.append(f"iso2: a {type(message).__name__}, not a V2G_Message")
        elif isinstance(message.body.body_element, iso2.CertificateInstallationReqType):
            return _Request("iso2", "Install", message)
        elif isinstance(message.body.body_element, iso2.CertificateUpdateReqType):
            return _Request("iso2", "Update", message)
        else:
            errors.append(f"iso2: a {type(message.body.body_element).__name__}")
    except Iso15118Error as exc:
        errors.append(f"iso2: {exc}")
    try:
        name, message = codec.decode_element(exi, "iso20-common")
        if isinstance(message, common.CertificateInstallationReqType):
            return _Request("iso20-common", "Install", message)
        errors.append(f"iso20: a {type(message).__name__}")
    except Iso15118Error as exc:
        errors.append(f"iso20: {exc}")
    raise OcppConversionError("not a CertificateInstallationReq or CertificateUpdateReq "
                              f"({'; '.join(errors)})")


def get_15118_ev_certificate_request(exi: bytes, version: str) -> dict[str, Any]:
    """Get15118EVCertificateRequest for the EV's request (OCPP M01 install, M02 update).

    Conversion rules: ``exiRequest`` is the base64 of the EXI stream exactly as given,
    without the V2GTP header (a leading header is stripped after its length is checked);
    ``action`` is Install for CertificateInstallationReq, Update for CertificateUpdateReq;
    ``iso15118SchemaVersion`` the message's namespace (:data:`ISO2_SCHEMA_VERSION`,
    :data:`ISO20_SCHEMA_VERSION`). In 2.1 a -20 request also fills
    ``maximumContractCertificateChains`` and ``prioritizedEMAIDs`` from the EXI. The
    EXI is decoded only to learn these; a stream that is neither request raises
    :class:`OcppConversionError`, as does one longer than the version's exiRequest.
    """
    try:
        _, payload = split_v2gtp(bytes(exi))
    except Iso15118Error as exc:
        raise OcppConversionError(str(exc)) from None
    req = _read_request(payload)
    text = b64encode(payload)
    if len(text) > _EXI_REQUEST_MAX[version]:
        raise OcppConversionError(f"exiRequest would be {len(text)} characters; OCPP {version} "
                                  f"allows {_EXI_REQUEST_MAX[version]}")
    out: dict[str, Any] = {
        "iso15118SchemaVersion": ISO2_SCHEMA_VERSION if req.protocol == "iso2"
        else ISO20_SCHEMA_VERSION,
        "action": req.action,
        "exiRequest": text,
    }
    if version == V21 and req.protocol == "iso20-common":
        out["maximumContractCertificateChains"] = req.message.maximum_contract_certificate_chains
        emaids = getattr(req.message.prioritized_emaids, "emaid", None) or []
        if emaids:
            out["prioritizedEMAIDs"] = list(emaids)[:8]
    return out


@dataclass(frozen=True)
class EVCertificateResponse:
    """What the SECC answers the EV with, from a Get15118EVCertificateResponse.

    ``response`` and ``signature`` go to ``SeccSession.complete`` as they are: for -2 the
    CertificateInstallationRes/UpdateRes body and the header Signature (with the CPS's
    signature over its four fragments, untouched); for -20 the whole
    CertificateInstallationRes (its header carries the signature). ``exi`` is the
    decoded exiResponse, byte for byte."""

    accepted: bool
    response_code: str
    exi: bytes | None
    response: Any
    signature: Any
    remaining_contracts: int | None = None
    reason: str | None = None


def ev_certificate_response(payload: dict[str, Any], version: str,
                            protocol: str = "iso2") -> EVCertificateResponse:
    """The EV's response from a Get15118EVCertificateResponse (M01/M02).

    The payload is validated first. Accepted: exiResponse is strict base64 of an EXI
    CertificateInstallationRes/UpdateRes of ``protocol`` (``iso2`` or ``iso20``), decoded
    to check it is one; its response code is the one the EV gets. Failed: no response is
    decoded and the code is FAILED_NoCertificateAvailable (assumed: the standards name no
    code for "the backend failed"; -2's closest is this one, which the EV reads as
    "try later").
    """
    validate("Get15118EVCertificateResponse", payload, version)
    remaining = payload.get("remainingContracts")
    if payload["status"] != "Accepted":
        info = payload.get("statusInfo") or {}
        return EVCertificateResponse(False, "FAILED_NoCertificateAvailable", None, None, None,
                                     remaining, info.get("reasonCode"))
    exi = b64decode(payload["exiResponse"], "exiResponse")
    try:
        if protocol == "iso2":
            message = codec.decode(exi, "iso2")
            if not isinstance(message, iso2.V2G_Message):  # another global element
                raise OcppConversionError(f"exiResponse holds a {type(message).__name__}, "
                                          "not a V2G_Message")
            body = message.body.body_element
            if not isinstance(body, (iso2.CertificateInstallationResType,
                                     iso2.CertificateUpdateResType)):
                raise OcppConversionError(f"exiResponse holds a {type(body).__name__}, not a "
                                          "CertificateInstallationRes/UpdateRes")
            code = body.response_code.value
            return EVCertificateResponse(True, code, exi, body, message.header.signature,
                                         remaining)
        if protocol == "iso20":
            _, message = codec.decode_element(exi, "iso20-common")
            if not isinstance(message, common.CertificateInstallationResType):
                raise OcppConversionError(f"exiResponse holds a {type(message).__name__}, not "
                                          "a -20 CertificateInstallationRes")
            return EVCertificateResponse(True, message.response_code.value, exi, message, None,
                                         remaining)
    except Iso15118Error as exc:
        if isinstance(exc, OcppConversionError):
            raise
        raise OcppConversionError(f"exiResponse is not EXI of {protocol}: {exc}") from None
    raise ValueError(f"protocol must be 'iso2' or 'iso20', not {protocol!r}")


def get_certificate_status_request(certificate: bytes | x509.Certificate,
                                   issuer: bytes | x509.Certificate, version: str,
                                   hash_algorithm: str = "SHA256",
                                   responder_url: str | None = None) -> dict[str, Any]:
    """GetCertificateStatusRequest for one certificate (M06; also the station's check of a
    contract chain it validates locally, C07).

    Conversion rule: ``ocspRequestData`` is :func:`iso15118.pki.ocsp_request_data`:
    hashes of the issuer's name and key in hex, the serial in hex without leading zeros,
    the responder URL from the certificate's authorityInfoAccess unless given."""
    cert = certificate if isinstance(certificate, x509.Certificate) \
        else load_certificate(certificate)
    parent = issuer if isinstance(issuer, x509.Certificate) else load_certificate(issuer)
    try:
        data = ocsp_request_data(cert, parent, hash_algorithm, responder_url)
    except OcspError as exc:
        raise OcppConversionError(str(exc)) from None
    return {"ocspRequestData": data.to_ocpp()}


def ocsp_response_from(payload: dict[str, Any], version: str) -> bytes | None:
    """The DER OCSP response of a GetCertificateStatusResponse (None when Failed).

    Validated first; ``ocspResult`` is strict base64. The caller checks the response with
    :func:`iso15118.pki.check_ocsp_response` (or hands it to ``SeccPnc.ocsp``): the CSMS
    relays it, so it is no more trusted than the responder's signature makes it."""
    validate("GetCertificateStatusResponse", payload, version)
    if payload["status"] != "Accepted":
        return None
    result = payload.get("ocspResult")
    if not result:
        raise OcppConversionError("ocspResult: Accepted without an OCSP response")
    return b64decode(result, "ocspResult")


def chain_certificates(chain: Sequence[bytes | x509.Certificate]) -> list[x509.Certificate]:
    """DER or loaded certificates as loaded ones."""
    return [c if isinstance(c, x509.Certificate) else load_certificate(c) for c in chain]
