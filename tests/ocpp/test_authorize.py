"""C07: Authorize with the contract (hash data or PEM) and the decision table."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from iso15118.messages import iso2, iso20_types
from iso15118.ocpp import (
    C07_CERTIFICATE_STATUS,
    PENDING,
    OcppConversionError,
    OcppPayloadError,
    authorization_decision,
    authorize_request,
    certificate_hash_data,
    schemas,
)
from iso15118.pki import load_certificates
from iso15118.pki.testpki import TestPki

VERSIONS = ["2.0.1", "2.1"]
Valid = Callable[[str, Any, str], None]


def _contract(pki: TestPki) -> list[x509.Certificate]:
    return [pki.cert("contract_leaf"), pki.cert("mo_sub_ca2"), pki.cert("mo_sub_ca1")]


def _openssl_serial_and_hashes(tmp_path: Path, cert: x509.Certificate,
                               issuer: x509.Certificate) -> tuple[str, str, str]:
    for name, c in (("c", cert), ("i", issuer)):
        (tmp_path / f"{name}.pem").write_bytes(c.public_bytes(serialization.Encoding.PEM))
    subprocess.run(["openssl", "ocsp", "-issuer", str(tmp_path / "i.pem"), "-sha256", "-cert",
                    str(tmp_path / "c.pem"), "-no_nonce", "-reqout", str(tmp_path / "r.der")],
                   check=True, capture_output=True, timeout=30)
    text = subprocess.run(["openssl", "ocsp", "-reqin", str(tmp_path / "r.der"), "-req_text"],
                          check=True, capture_output=True, text=True, timeout=30).stdout
    f = dict(line.strip().split(": ", 1) for line in text.splitlines() if ": " in line)
    return (f["Issuer Name Hash"].lower(), f["Issuer Key Hash"].lower(),
            f["Serial Number"].lower().lstrip("0"))


def test_hash_data_is_every_certificate_but_the_root(tmp_path: Path, pki2: TestPki) -> None:
    chain, root = _contract(pki2), pki2.cert("mo_root")
    entries = certificate_hash_data(chain, roots=[root])
    assert len(entries) == 3
    issuers = [chain[1], chain[2], root]
    for entry, cert, issuer in zip(entries, chain, issuers, strict=True):
        name, key, serial = _openssl_serial_and_hashes(tmp_path, cert, issuer)
        assert (entry["issuerNameHash"], entry["issuerKeyHash"], entry["serialNumber"]) == (
            name, key, serial)
        assert entry["hashAlgorithm"] == "SHA256" and entry["responderURL"] == pki2.ocsp_url
    # the root sent along by the EV changes nothing: roots are never hash data
    assert certificate_hash_data([*chain, root]) == entries


def test_hash_data_without_the_root_leaves_out_the_top_sub_ca(pki2: TestPki) -> None:
    entries = certificate_hash_data(_contract(pki2))
    assert [e["serialNumber"] for e in entries] == [
        format(c.serial_number, "x") for c in _contract(pki2)[:2]]


def test_hash_data_needs_the_leafs_issuer(pki2: TestPki) -> None:
    with pytest.raises(OcppConversionError, match="issuer"):
        certificate_hash_data([pki2.cert("contract_leaf")])
    with pytest.raises(OcppConversionError, match="empty"):
        certificate_hash_data([])


def test_hash_data_has_at_most_four_entries(pki2: TestPki) -> None:
    # the chain twice: six certificates whose issuers are known; only four are sent
    chain = _contract(pki2)
    entries = certificate_hash_data(chain * 2, roots=[pki2.cert("mo_root")])
    assert len(entries) == 4


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("emaid", ["DE-8AA-1A2B3C4D5-6", "de8aa1a2b3c4d5"])
def test_authorize_request_with_hash_data(pki2: TestPki, valid: Valid, version: str,
                                          emaid: str) -> None:
    request = authorize_request(emaid, _contract(pki2), version, roots=[pki2.cert("mo_root")])
    valid("AuthorizeRequest", request, version)
    assert request["idToken"]["type"] == "eMAID"
    assert request["idToken"]["idToken"].startswith("DE8AA1A2B3C4D5")
    assert "-" not in request["idToken"]["idToken"]
    assert len(request["iso15118CertificateHashData"]) == 3
    assert "certificate" not in request


@pytest.mark.parametrize("version", VERSIONS)
def test_authorize_request_with_pem(pki2: TestPki, valid: Valid, version: str) -> None:
    chain = [*_contract(pki2), pki2.cert("mo_root")]
    request = authorize_request("DE8AA1A2B3C4D5", chain, version, send_certificate=True)
    valid("AuthorizeRequest", request, version)
    sent = load_certificates(request["certificate"].encode())
    assert sent == _contract(pki2)  # leaf first, root left out
    assert "iso15118CertificateHashData" not in request


def test_pem_longer_than_the_version_allows(pki2: TestPki) -> None:
    chain = _contract(pki2) * 3  # about 7 kB of PEM
    with pytest.raises(OcppConversionError, match="5500"):
        authorize_request("DE8AA1A2B3C4D5", chain, "2.0.1", send_certificate=True)
    authorize_request("DE8AA1A2B3C4D5", chain, "2.1", send_certificate=True)


def test_bad_emaid_is_a_typed_error(pki2: TestPki) -> None:
    with pytest.raises(OcppConversionError, match="idToken"):
        authorize_request("not an emaid", _contract(pki2), "2.0.1")


# ----------------------------------------------------------------------- the C07 table

TOKEN_STATUSES = ["Accepted", "Blocked", "ConcurrentTx", "Expired", "Invalid", "NoCredit",
                  "NotAllowedTypeEVSE", "NotAtThisLocation", "NotAtThisTime", "Unknown"]
#: certificateStatus, idTokenInfo.status -> (-2 code, -20 code, EVSEProcessing, accepted)
C07 = [
    (None, "Accepted", "OK", "OK", "Finished", True),
    ("Accepted", "Accepted", "OK", "OK", "Finished", True),
    *[(c, s, "FAILED", "WARNING_eMSPUnknown" if s == "Unknown"
       else "WARNING_GeneralPnCAuthorizationError", "Finished", False)
      for c in (None, "Accepted") for s in TOKEN_STATUSES[1:]],
    # a certificate status other than Accepted wins over the token's
    *[(c, s, iso2_code, iso20_code, "Finished", False)
      for c, (iso2_code, iso20_code) in C07_CERTIFICATE_STATUS.items() if c != "Accepted"
      for s in ("Accepted", "Invalid")],
]


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize(("certificate", "token", "code2", "code20", "processing", "accepted"),
                         C07)
def test_c07_table(schemas_available: None, version: str, certificate: str | None, token: str,
                   code2: str, code20: str, processing: str, accepted: bool) -> None:
    payload: dict[str, Any] = {"idTokenInfo": {"status": token}}
    if certificate is not None:
        payload["certificateStatus"] = certificate
    for protocol, code in (("iso2", code2), ("iso20", code20)):
        decision = authorization_decision(payload, version, protocol)
        assert (decision.response_code, decision.evse_processing, decision.accepted) == (
            code, processing, accepted)


#: The pairs a CSMS answers with by C07's requirements (OCPP 2.0.1 C07.FR.13/15/16/17, as
#: quoted in citrineos/citrineos-core PR #1056 and OCTT TC_C_51_CSMS), and what the EV
#: then gets: -2's AuthorizationRes can only say FAILED, -20's names the reason.
C07_REQUIREMENT_PAIRS = [
    # C07.FR.15: expired chain
    ("CertificateExpired", "Expired", "FAILED", "WARNING_CertificateExpired"),
    # C07.FR.16: revoked chain
    ("CertificateRevoked", "Invalid", "FAILED", "WARNING_CertificateRevoked"),
    # C07.FR.17: chain that cannot be verified or is invalid
    ("CertChainError", "Invalid", "FAILED", "WARNING_CertificateValidationError"),
    # C07.FR.13: valid chain, the token one of Blocked, Expired, Invalid, Unknown
    *[("ContractCancelled", t, "FAILED", "WARNING_GeneralPnCAuthorizationError")
      for t in ("Blocked", "Expired", "Invalid")],
    ("ContractCancelled", "Unknown", "FAILED", "WARNING_eMSPUnknown"),
]
#: The codes AuthorizationRes may carry, as Josev 0.31.2 quotes ISO 15118-2 table 112 and
#: ISO 15118-20 table 224 (iso15118/secc/states/iso15118_2_states.py and
#: iso15118_20_states.py, class Authorization)
AUTHORIZATION_RES_CODES = {
    "iso2": {"OK", "FAILED", "FAILED_SequenceError", "FAILED_SignatureError",
             "FAILED_UnknownSession", "FAILED_ChallengeInvalid"},
    "iso20": {"OK", "OK_CertificateExpiresSoon", "WARNING_CertificateExpired",
              "WARNING_CertificateNotYetValid", "WARNING_CertificateRevoked",
              "WARNING_CertificateValidationError", "WARNING_eMSPUnknown",
              "WARNING_GeneralPnCAuthorizationError", "WARNING_ChallengeInvalid",
              "WARNING_AuthorizationSelectionInvalid", "WARNING_EIMAuthorizationFailure",
              "FAILED", "FAILED_SequenceError", "FAILED_UnknownSession"},
}


def test_c07_codes_are_ones_authorization_res_may_carry() -> None:
    """Found checking the table against its sources: it named every certificate status
    by its -2 code (FAILED_CertificateRevoked, ...), which belong to PaymentDetailsRes, and
    sent FAILED_SignatureError / WARNING_NoCertificateAvailable in -20's AuthorizationRes."""
    for row in C07:
        assert row[2] in AUTHORIZATION_RES_CODES["iso2"], row
        assert row[3] in AUTHORIZATION_RES_CODES["iso20"], row


@pytest.mark.parametrize(("certificate", "token", "code2", "code20"), C07_REQUIREMENT_PAIRS)
def test_c07_the_pairs_the_requirements_prescribe(schemas_available: None, certificate: str,
                                                  token: str, code2: str, code20: str) -> None:
    payload = {"idTokenInfo": {"status": token}, "certificateStatus": certificate}
    for protocol, code in (("iso2", code2), ("iso20", code20)):
        decision = authorization_decision(payload, "2.0.1", protocol)
        assert (decision.response_code, decision.evse_processing, decision.accepted) == (
            code, "Finished", False)
        # the reasons stay with the decision, whatever the code could say
        assert (decision.certificate_status, decision.token_status) == (certificate, token)


def test_c07_codes_exist_in_each_protocol() -> None:
    """Every code of the table is a member of the protocol's ResponseCodeType, so the
    session can send it as it is."""
    codes2 = {c.value for c in iso2.ResponseCodeType}
    codes20 = {c.value for c in iso20_types.ResponseCodeType}
    for row in C07:
        assert row[2] in codes2 and row[3] in codes20
    assert PENDING.evse_processing == "Ongoing" and PENDING.accepted is None
    # the table covers every certificateStatus of both schemas
    if schemas.VERSIONS:
        pytest.importorskip("ocpp")
        for version in VERSIONS:
            enum = schemas.schema("AuthorizeResponse", version)["definitions"][
                "AuthorizeCertificateStatusEnumType"]["enum"]
            assert set(enum) == set(C07_CERTIFICATE_STATUS)


def test_c07_consumes_only_valid_responses(schemas_available: None) -> None:
    with pytest.raises(OcppPayloadError) as info:
        authorization_decision({"idTokenInfo": {"status": "Accepted"},
                                "certificateStatus": "Revoked"}, "2.0.1")
    assert info.value.field == "certificateStatus"


def test_a_certificate_without_ocsp_responder_gets_an_empty_url(pki2: TestPki,
                                                                valid: Valid) -> None:
    """The built-in test backend issues contracts without AIA: their hash data still names
    them, with an empty responderURL (schema-valid), instead of refusing PnC."""
    import datetime as dt

    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    issuer = pki2.cert("mo_sub_ca2")
    now = dt.datetime.now(dt.timezone.utc)
    leaf = (x509.CertificateBuilder().subject_name(pki2.cert("contract_leaf").subject)
            .issuer_name(issuer.subject)
            .public_key(ec.generate_private_key(ec.SECP256R1()).public_key())
            .serial_number(77).not_valid_before(now).not_valid_after(now + dt.timedelta(days=1))
            .sign(pki2.key("mo_sub_ca2"), hashes.SHA256()))  # type: ignore[arg-type]
    entries = certificate_hash_data([leaf, pki2.cert("mo_sub_ca2"), pki2.cert("mo_sub_ca1")])
    assert entries[0]["responderURL"] == "" and entries[0]["serialNumber"] == "4d"
    assert entries[1]["responderURL"] == pki2.ocsp_url
    valid("AuthorizeRequest", {"idToken": {"idToken": "DE8AA1A2B3C4D5", "type": "eMAID"},
                               "iso15118CertificateHashData": entries}, "2.0.1")
