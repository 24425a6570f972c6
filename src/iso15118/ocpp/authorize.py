"""Plug & Charge authorization through OCPP: Authorize with the contract (C07).

* :func:`certificate_hash_data` - ``iso15118CertificateHashData``: one OCSPRequestData
  per certificate of the contract chain except the root, leaf first, at most four.
* :func:`authorize_request` - AuthorizeRequest with the eMAID as idToken and either the
  chain as PEM (``certificate``) or the hash data.
* :func:`authorization_decision` - the C07 decision table: idTokenInfo.status and
  certificateStatus of the AuthorizeResponse -> the AuthorizationRes ResponseCode and
  EVSEProcessing the SECC sends (and the ``accepted``/``code`` pair
  ``SeccSession.authorize`` takes).

Call point: :class:`~iso15118.session.events.AuthorizationRequested` carries ``emaid`` and
``contract_chain`` (DER, leaf first) for :func:`authorize_request`; while the CSMS has
not answered the session answers Ongoing by itself (:data:`PENDING` is that row of the
table); the answer goes to ``SeccSession.authorize(d.accepted, d.response_code)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from iso15118.ocpp.certificates import chain_certificates
from iso15118.ocpp.errors import OcppConversionError
from iso15118.ocpp.schemas import V201, validate
from iso15118.pki import EmaidError, OcspError, ocsp_request_data, parse_emaid, responder_urls

__all__ = [
    "C07_CERTIFICATE_STATUS",
    "PENDING",
    "AuthorizationDecision",
    "authorization_decision",
    "authorize_request",
    "certificate_hash_data",
]

#: iso15118CertificateHashData holds at most four entries (OCPP 2.0.1 and 2.1 schemas)
MAX_HASH_DATA = 4
_PEM_MAX = {"2.0.1": 5500, "2.1": 10000}


@dataclass(frozen=True)
class AuthorizationDecision:
    """One row of the C07 table: what the SECC answers the EV's AuthorizationReq with."""

    response_code: str
    evse_processing: str  # "Finished" or "Ongoing"
    accepted: bool | None  # None: not decided yet (keep answering Ongoing)


#: The row for "no AuthorizeResponse yet": OK with EVSEProcessing Ongoing, which the EV
#: repeats AuthorizationReq on (-2 [V2G2-687]-[V2G2-688]; -20 the same in 8.3.4.3)
PENDING = AuthorizationDecision("OK", "Ongoing", None)

#: C07: AuthorizeResponse.certificateStatus -> (-2 ResponseCode, -20 ResponseCode).
#: The -2 column names each status by its -2 code (the OCPP enumeration was named after
#: -2's: ContractCancelled / FAILED_ContractCanceled, ...); the -20 column (assumed: -20 has
#: no FAILED_ codes for certificates, it ends PnC with a WARNING_ and lets the EV fall back
#: to EIM) is ours. Checked against (the OCA errata text itself was not at hand):
#:
#: * the pairs a CSMS must answer with, OCPP 2.0.1 C07.FR.13/15/16/17 as quoted in
#:   citrineos/citrineos-core PR #1056 (and C07.FR.16 in OCTT TC_C_51_CSMS): an expired
#:   chain CertificateExpired + Expired, a revoked one CertificateRevoked + Invalid, an
#:   unverifiable one CertChainError + Invalid, a valid chain with a refused token
#:   ContractCancelled + that token status. Every refused certificate comes with a refused
#:   token, so the certificate row must be read first (else every refusal is a bare FAILED);
#: * EVerest's station (EVerest/EVerest aa8113f9, modules/EVSE/EvseV2G/iso_server.cpp,
#:   ``handle_iso_authorization``; PR #1144): CertificateRevoked -> FAILED_CertificateRevoked,
#:   every other refusal a bare FAILED. It agrees where it is specific; this table is more
#:   specific for the other statuses (a choice, no source requires either). EVerest's -20
#:   AuthorizationRes has no PnC yet (``// TODO(SL): Handle PnC`` in
#:   lib/everest/iso15118/src/iso15118/d20/state/authorization.cpp), so the -20 column has
#:   no peer to compare with.
C07_CERTIFICATE_STATUS: dict[str, tuple[str, str]] = {
    "Accepted": ("OK", "OK"),
    "SignatureError": ("FAILED_SignatureError", "FAILED_SignatureError"),
    "CertificateExpired": ("FAILED_CertificateExpired", "WARNING_CertificateExpired"),
    "CertificateRevoked": ("FAILED_CertificateRevoked", "WARNING_CertificateRevoked"),
    "NoCertificateAvailable": ("FAILED_NoCertificateAvailable",
                               "WARNING_NoCertificateAvailable"),
    "CertChainError": ("FAILED_CertChainError", "WARNING_CertificateValidationError"),
    "ContractCancelled": ("FAILED_ContractCanceled", "WARNING_GeneralPnCAuthorizationError"),
}
#: idTokenInfo.status other than Accepted, with the certificate itself fine
_TOKEN_REFUSED = ("FAILED", "WARNING_GeneralPnCAuthorizationError")


def certificate_hash_data(chain: Sequence[bytes | x509.Certificate],
                          roots: Sequence[bytes | x509.Certificate] = (),
                          hash_algorithm: str = "SHA256") -> list[dict[str, str]]:
    """``iso15118CertificateHashData`` for a contract chain (C07, OCPP 2.0.1 2.36
    OCSPRequestDataType).

    Conversion rules: one entry per certificate, leaf first, each built by
    :func:`iso15118.pki.ocsp_request_data` from the certificate and its issuer (found in
    the chain or in ``roots``): issuerNameHash and issuerKeyHash in hex, serialNumber in
    hex without leading zeros, responderURL the first OCSP URI of the certificate's AIA, or
    empty when it has none (the hash data still names the certificate; the CSMS knows its
    responders; contracts without AIA exist, the built-in test backend issues them). Self-signed
    certificates (the root) are excluded; so is a sub-CA whose issuer the station does not
    hold (the CSMS cannot ask about it without the issuer key); at most four entries.
    A leaf without its issuer raises :class:`OcppConversionError`: without it there is
    nothing to authorize on.
    """
    certs = chain_certificates(chain)
    if not certs:
        raise OcppConversionError("the contract chain is empty")
    known = certs + chain_certificates(roots)
    out: list[dict[str, str]] = []
    for index, cert in enumerate(certs):
        if cert.issuer == cert.subject:
            continue  # the root: never part of the hash data
        issuer = next((c for c in known if c.subject == cert.issuer and c is not cert), None)
        if issuer is None:
            if index == 0:
                raise OcppConversionError("the contract certificate's issuer is not in the "
                                          "chain or the roots")
            continue
        url = (responder_urls(cert) or [""])[0]
        try:
            out.append(ocsp_request_data(cert, issuer, hash_algorithm, url).to_ocpp())
        except OcspError as exc:
            raise OcppConversionError(f"certificate {index}: {exc}") from None
        if len(out) == MAX_HASH_DATA:
            break
    return out


def authorize_request(emaid: str, chain: Sequence[bytes | x509.Certificate], version: str,
                      *, roots: Sequence[bytes | x509.Certificate] = (),
                      send_certificate: bool = False) -> dict[str, Any]:
    """AuthorizeRequest for a PnC contract (C07).

    Conversion rules: ``idToken`` is the eMAID in its normalized form (no hyphens, upper
    case, with its check digit if the EV sent one; type ``eMAID``); with
    ``send_certificate`` the chain (leaf first, root excluded) goes as concatenated PEM in
    ``certificate`` (for a CSMS that validates itself; too long for the version's 5500 /
    10000 characters raises :class:`OcppConversionError`), else the hash data of
    :func:`certificate_hash_data`.
    """
    try:
        token = parse_emaid(emaid).normalized
    except EmaidError as exc:
        raise OcppConversionError(f"idToken: {exc}") from None
    out: dict[str, Any] = {"idToken": {"idToken": token, "type": "eMAID"}}
    if send_certificate:
        pem = "".join(c.public_bytes(Encoding.PEM).decode("ascii")
                      for c in chain_certificates(chain) if c.issuer != c.subject)
        if len(pem) > _PEM_MAX[version]:
            raise OcppConversionError(f"certificate: the PEM chain has {len(pem)} characters; "
                                      f"OCPP {version} allows {_PEM_MAX[version]}")
        out["certificate"] = pem
    else:
        out["iso15118CertificateHashData"] = certificate_hash_data(chain, roots)
    return out


def authorization_decision(payload: dict[str, Any], version: str = V201,
                           protocol: str = "iso2") -> AuthorizationDecision:
    """The C07 table: an AuthorizeResponse -> the AuthorizationRes for the EV.

    Rows, first match wins:

    ======================  =========================  ================================
    certificateStatus       idTokenInfo.status         ResponseCode, EVSEProcessing
    ======================  =========================  ================================
    not Accepted            any                        that status's FAILED_ code (-2) /
                                                       WARNING_ code (-20), Finished
    Accepted or absent      Accepted                   OK, Finished
    Accepted or absent      anything else              FAILED (-2) / WARNING_General-
                                                       PnCAuthorizationError, Finished
    (no response yet)                                  OK, Ongoing (:data:`PENDING`)
    ======================  =========================  ================================

    The certificate row comes first because a CSMS reports a bad certificate together
    with a refused token (C07.FR.15/16/17: CertificateExpired + Expired, CertificateRevoked
    + Invalid, CertChainError + Invalid; C07.FR.13: ContractCancelled + the token's own
    status), and the EV should learn why. Sources: :data:`C07_CERTIFICATE_STATUS`.
    The payload is validated against the AuthorizeResponse schema first.
    """
    if protocol not in ("iso2", "iso20"):
        raise ValueError(f"protocol must be 'iso2' or 'iso20', not {protocol!r}")
    validate("AuthorizeResponse", payload, version)
    column = 0 if protocol == "iso2" else 1
    status = payload.get("certificateStatus")
    if status is not None and status != "Accepted":
        return AuthorizationDecision(C07_CERTIFICATE_STATUS[status][column], "Finished", False)
    if payload["idTokenInfo"]["status"] == "Accepted":
        return AuthorizationDecision("OK", "Finished", True)
    return AuthorizationDecision(_TOKEN_REFUSED[column], "Finished", False)
