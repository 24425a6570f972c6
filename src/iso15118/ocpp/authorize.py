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
    """One row of the C07 table: what the SECC answers the EV's AuthorizationReq with, and
    the CSMS's reasons (``certificate_status``, ``token_status``), which -2's
    AuthorizationRes cannot carry (its codes say only FAILED) but a station can log or
    show."""

    response_code: str
    evse_processing: str  # "Finished" or "Ongoing"
    accepted: bool | None  # None: not decided yet (keep answering Ongoing)
    certificate_status: str | None = None
    token_status: str | None = None


#: The row for "no AuthorizeResponse yet": OK with EVSEProcessing Ongoing, which the EV
#: repeats AuthorizationReq on (-2 [V2G2-687]-[V2G2-688]; -20 the same in 8.3.4.3)
PENDING = AuthorizationDecision("OK", "Ongoing", None)

#: C07: AuthorizeResponse.certificateStatus -> (-2 ResponseCode, -20 ResponseCode) of the
#: AuthorizationRes. Each column keeps to the codes its standard allows in AuthorizationRes,
#: as Josev 0.31.2 quotes them (``iso15118/secc/states/iso15118_2_states.py``,
#: ``Authorization``: "table 112 of ISO 15118-2": OK, FAILED, FAILED_SequenceError,
#: FAILED_SignatureError, FAILED_UnknownSession, FAILED_ChallengeInvalid;
#: ``iso15118_20_states.py``, ``Authorization``: "table 224 in ISO 15118-20": OK,
#: OK_CertificateExpiresSoon, WARNING_CertificateExpired, _CertificateNotYetValid,
#: _CertificateRevoked, _CertificateValidationError, _eMSPUnknown,
#: _GeneralPnCAuthorizationError, _ChallengeInvalid, _AuthorizationSelectionInvalid,
#: _EIMAuthorizationFailure, FAILED, FAILED_SequenceError, FAILED_UnknownSession).
#: RISE-V2G's SECC agrees for -2: the certificate codes (FAILED_CertChainError,
#: _CertificateExpired, _CertificateRevoked, _ContractCanceled) go in PaymentDetailsRes,
#: AuthorizationRes has FAILED_ChallengeInvalid and FAILED_SignatureError only
#: (``WaitForPaymentDetailsReq.java``, ``WaitForAuthorizationReq.java``).
#:
#: Fixed against those sources (this table had named every status by its -2 code, e.g.
#: FAILED_CertificateRevoked, and sent FAILED_SignatureError / WARNING_NoCertificateAvailable
#: in -20, none of which the AuthorizationRes tables allow). -2 now says FAILED for every
#: refused certificate but a bad signature; the reason stays in
#: :attr:`AuthorizationDecision.certificate_status`. EVerest's station deviates on one row
#: (EVerest/EVerest aa8113f9, ``modules/EVSE/EvseV2G/iso_server.cpp``
#: ``handle_iso_authorization``, PR #1144: CertificateRevoked -> FAILED_CertificateRevoked,
#: the rest FAILED); this table follows the standard's per-message list instead. The -20
#: column's choice of WARNING per status is ours (EVerest's -20 AuthorizationRes has no PnC
#: yet: ``// TODO(SL): Handle PnC``); a chain the CSMS found badly signed or could not find
#: is a WARNING_CertificateValidationError, the closest the -20 table offers.
#:
#: The order of the rows (certificate before token) follows the CSMS answer pairs of OCPP
#: 2.0.1 C07.FR.13/15/16/17, as quoted in citrineos/citrineos-core PR #1056 (and C07.FR.16 in
#: OCTT TC_C_51_CSMS): CertificateExpired + Expired, CertificateRevoked + Invalid,
#: CertChainError + Invalid, ContractCancelled + the token's own status (valid chain, token
#: Blocked / Expired / Invalid / Unknown). The OCA errata text itself was not at hand.
C07_CERTIFICATE_STATUS: dict[str, tuple[str, str]] = {
    "Accepted": ("OK", "OK"),
    "SignatureError": ("FAILED_SignatureError", "WARNING_CertificateValidationError"),
    "CertificateExpired": ("FAILED", "WARNING_CertificateExpired"),
    "CertificateRevoked": ("FAILED", "WARNING_CertificateRevoked"),
    "NoCertificateAvailable": ("FAILED", "WARNING_CertificateValidationError"),
    "CertChainError": ("FAILED", "WARNING_CertificateValidationError"),
    "ContractCancelled": ("FAILED", "WARNING_GeneralPnCAuthorizationError"),
}
#: idTokenInfo.status other than Accepted, with the certificate itself fine
_TOKEN_REFUSED = ("FAILED", "WARNING_GeneralPnCAuthorizationError")
#: -20 has a code for a token its backend does not know (C07.FR.13's Unknown token comes
#: with ContractCancelled, or without a certificate status from a CSMS that checked none)
_TOKEN_UNKNOWN_20 = "WARNING_eMSPUnknown"


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
    not Accepted            any                        :data:`C07_CERTIFICATE_STATUS`
                                                       (-2: FAILED, FAILED_SignatureError;
                                                       -20: its WARNING_), Finished
    Accepted or absent      Accepted                   OK, Finished
    Accepted or absent      anything else              FAILED (-2) / WARNING_General-
                                                       PnCAuthorizationError, Finished
    (no response yet)                                  OK, Ongoing (:data:`PENDING`)
    ======================  =========================  ================================

    -20 only: a token status Unknown gives WARNING_eMSPUnknown where the row would give
    WARNING_GeneralPnCAuthorizationError (ContractCancelled, or no certificate status).
    The certificate row comes first because a CSMS reports a bad certificate together
    with a refused token (C07.FR.15/16/17: CertificateExpired + Expired, CertificateRevoked
    + Invalid, CertChainError + Invalid; C07.FR.13: ContractCancelled + the token's own
    status), and the EV should learn why where its protocol can say it. Sources:
    :data:`C07_CERTIFICATE_STATUS`. The payload is validated against the AuthorizeResponse
    schema first.
    """
    if protocol not in ("iso2", "iso20"):
        raise ValueError(f"protocol must be 'iso2' or 'iso20', not {protocol!r}")
    validate("AuthorizeResponse", payload, version)
    column = 0 if protocol == "iso2" else 1
    status = payload.get("certificateStatus")
    token = payload["idTokenInfo"]["status"]
    code: str
    if status is not None and status != "Accepted":
        code = C07_CERTIFICATE_STATUS[status][column]
        if protocol == "iso20" and status == "ContractCancelled" and token == "Unknown":
            code = _TOKEN_UNKNOWN_20
        return AuthorizationDecision(code, "Finished", False, status, token)
    if token == "Accepted":
        return AuthorizationDecision("OK", "Finished", True, status, token)
    code = _TOKEN_UNKNOWN_20 if protocol == "iso20" and token == "Unknown" \
        else _TOKEN_REFUSED[column]
    return AuthorizationDecision(code, "Finished", False, status, token)
