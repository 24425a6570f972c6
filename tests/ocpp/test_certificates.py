"""M01/M02 Get15118EVCertificate and M06 GetCertificateStatus, against real captures
(dSPACE DS5366 <-> RISE V2G, ISO 15118-2 PnC over TLS), the test PKIs and OpenSSL."""

from __future__ import annotations

import base64
import datetime as dt
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import ocsp

from iso15118 import codec, xmldsig
from iso15118.messages import iso2
from iso15118.messages import iso20_common as common
from iso15118.ocpp import (
    ISO2_SCHEMA_VERSION,
    ISO20_SCHEMA_VERSION,
    OcppConversionError,
    OcppPayloadError,
    ev_certificate_response,
    get_15118_ev_certificate_request,
    get_certificate_status_request,
    ocsp_response_from,
)
from iso15118.pki import (
    CertStatus,
    check_ocsp_response,
    decrypt_contract_key_iso20_secp521,
    encrypt_contract_key_iso20,
)
from iso15118.pki.testpki import TEST_PCID, TestPki
from iso15118.session.pnc_backend import response_parts
from iso15118.v2gtp import PayloadType, V2GTPHeader

VERSIONS = ["2.0.1", "2.1"]
Valid = Callable[[str, Any, str], None]


def _row(rows: list[dict[str, Any]], message: str) -> bytes:
    found = [r for r in rows if r.get("message") == message and r["protocol"] == "iso2"]
    assert found, f"no {message} in the vectors"
    return bytes.fromhex(found[0]["hex"])


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize(("message", "action"), [
    ("CertificateInstallationReq", "Install"), ("CertificateUpdateReq", "Update")])
def test_real_iso2_request_becomes_get15118evcertificate(
        real_rows: list[dict[str, Any]], valid: Valid, version: str, message: str,
        action: str) -> None:
    exi = _row(real_rows, message)
    request = get_15118_ev_certificate_request(exi, version)
    valid("Get15118EVCertificateRequest", request, version)
    assert request["action"] == action
    assert request["iso15118SchemaVersion"] == ISO2_SCHEMA_VERSION
    # byte for byte what the EV sent: the signature inside stays verifiable by the CSMS
    assert base64.b64decode(request["exiRequest"], validate=True) == exi
    assert set(request) == {"iso15118SchemaVersion", "action", "exiRequest"}


def test_v2gtp_header_is_stripped_and_checked(real_rows: list[dict[str, Any]]) -> None:
    exi = _row(real_rows, "CertificateInstallationReq")
    framed = V2GTPHeader(PayloadType.SAP_ISO2_DIN, len(exi)).encode() + exi
    request = get_15118_ev_certificate_request(framed, "2.0.1")
    assert base64.b64decode(request["exiRequest"]) == exi
    wrong = V2GTPHeader(PayloadType.SAP_ISO2_DIN, len(exi) + 1).encode() + exi
    with pytest.raises(OcppConversionError, match="V2GTP header"):
        get_15118_ev_certificate_request(wrong, "2.0.1")


@pytest.mark.parametrize("exi", [
    b"", b"\x80", bytes(40),
    bytes.fromhex("809802000000000000000011d01800000000000000"),  # not a certificate request
])
def test_other_bytes_are_refused(exi: bytes) -> None:
    with pytest.raises(OcppConversionError, match="CertificateInstallationReq"):
        get_15118_ev_certificate_request(exi, "2.0.1")


def _iso20_request(pki: TestPki, emaids: list[str]) -> bytes:
    der = [c.public_bytes(serialization.Encoding.DER)
           for c in (pki.cert("oem_leaf"), pki.cert("oem_sub_ca2"), pki.cert("oem_sub_ca1"))]
    roots = [pki.cert("v2g_root")]
    message = common.CertificateInstallationReqType(
        header=common.MessageHeaderType(session_id=bytes(8), time_stamp=1_700_000_000),
        oem_provisioning_certificate_chain=common.SignedCertificateChainType(
            id="ID1", certificate=der[0],
            sub_certificates=common.SubCertificatesType(certificate=der[1:])),
        list_of_root_certificate_ids=common.ListOfRootCertificateIDsType(root_certificate_id=[
            common.X509IssuerSerialType(x509_issuer_name=r.issuer.rfc4514_string(),
                                        x509_serial_number=r.serial_number) for r in roots]),
        maximum_contract_certificate_chains=3,
        prioritized_emaids=common.EMAIDListType(emaid=emaids) if emaids else None)
    return codec.encode(message, "iso20-common")


def test_an_iso20_request_that_also_decodes_under_the_iso2_grammar() -> None:
    """Found end to end (X448 under OCPP 2.1, one run in several): the EXI of a -20
    CertificateInstallationReq can decode under the -2 grammar as another global element,
    here a -2 ChargeParameterDiscoveryRes (this SessionID was found by trying 3000); the
    request then raised AttributeError, the station never answered the EV and the
    installation ran into the SECC's 55 s ongoing limit."""
    message = common.CertificateInstallationReqType(
        header=common.MessageHeaderType(session_id=(1067).to_bytes(8, "big"),
                                        time_stamp=1_700_001_067),
        oem_provisioning_certificate_chain=common.SignedCertificateChainType(
            id="ID1", certificate=bytes([1067 % 256]) * 40),
        list_of_root_certificate_ids=common.ListOfRootCertificateIDsType(root_certificate_id=[
            common.X509IssuerSerialType(x509_issuer_name="CN=x", x509_serial_number=1)]),
        maximum_contract_certificate_chains=1)
    exi = codec.encode(message, "iso20-common")
    assert type(codec.decode(exi, "iso2")).__name__ == "ChargeParameterDiscoveryResType"
    request = get_15118_ev_certificate_request(exi, "2.1")
    assert request["iso15118SchemaVersion"] == "urn:iso:std:iso:15118:-20:CommonMessages"
    assert request["exiRequest"] == base64.b64encode(exi).decode()
    # the same trap on the way back: an exiResponse that is another -2 element is refused
    # as a typed error, not an AttributeError
    with pytest.raises(OcppConversionError, match="not a V2G_Message"):
        ev_certificate_response({"status": "Accepted", "exiResponse": request["exiRequest"]},
                                "2.1", protocol="iso2")


@pytest.mark.parametrize("emaids", [[], ["DE8AA1A2B3C4D5E", "DE8AAX1Y2Z3W4V5"]])
@pytest.mark.parametrize("version", VERSIONS)
def test_iso20_request(pki20: TestPki, valid: Valid, version: str, emaids: list[str]) -> None:
    exi = _iso20_request(pki20, emaids)
    request = get_15118_ev_certificate_request(exi, version)
    valid("Get15118EVCertificateRequest", request, version)
    assert request["action"] == "Install"
    assert request["iso15118SchemaVersion"] == ISO20_SCHEMA_VERSION
    assert base64.b64decode(request["exiRequest"]) == exi
    if version == "2.1":
        assert request["maximumContractCertificateChains"] == 3
        assert request.get("prioritizedEMAIDs", []) == emaids
    else:  # 2.0.1 has neither member
        assert "maximumContractCertificateChains" not in request


@pytest.mark.parametrize("version", VERSIONS)
def test_real_iso2_response_reaches_the_session_unchanged(
        real_rows: list[dict[str, Any]], valid: Valid, version: str) -> None:
    exi = _row(real_rows, "CertificateInstallationRes")
    payload = {"status": "Accepted", "exiResponse": base64.b64encode(exi).decode()}
    valid("Get15118EVCertificateResponse", payload, version)
    result = ev_certificate_response(payload, version)
    assert result.accepted and result.exi == exi
    body, signature = response_parts(exi)  # what the session's own backend path reads
    assert result.response_code == "OK" == body.response_code.value
    assert isinstance(result.response, iso2.CertificateInstallationResType)
    # the CPS's signature and the signed fragments are what the EV receives, re-encoded
    # to the same bytes: the message made of them is the captured one
    message = iso2.V2G_Message(header=iso2.MessageHeaderType(
        session_id=codec.decode(exi, "iso2").header.session_id, signature=result.signature),
        body=iso2.BodyType(body_element=result.response))
    assert codec.encode(message, "iso2") == exi
    assert signature is not None


def test_iso20_response_keeps_the_signed_installation_data(pki20: TestPki) -> None:
    """A -20 CertificateInstallationRes made by the test PKI's CPS goes through the JSON
    and the EV still verifies the CPS signature and decrypts the contract key."""
    oem_key = pki20.key("oem_leaf")
    contract_key = pki20.key("contract_leaf")
    contract = pki20.cert("contract_leaf")
    assert isinstance(oem_key, ec.EllipticCurvePrivateKey)
    assert isinstance(contract_key, ec.EllipticCurvePrivateKey)
    sealed = encrypt_contract_key_iso20(contract_key, oem_key.public_key(), TEST_PCID, contract)
    der = lambda c: c.public_bytes(serialization.Encoding.DER)  # noqa: E731
    response = common.CertificateInstallationResType(
        header=common.MessageHeaderType(session_id=bytes(8), time_stamp=1_700_000_000),
        response_code=common.ResponseCodeType.OK, evse_processing=common.ProcessingType.Finished,
        cps_certificate_chain=common.CertificateChainType(
            certificate=der(pki20.cert("cps_leaf")), sub_certificates=common.SubCertificatesType(
                certificate=[der(pki20.cert("cps_sub_ca2")), der(pki20.cert("cps_sub_ca1"))])),
        signed_installation_data=common.SignedInstallationDataType(
            id="ID1", contract_certificate_chain=common.ContractCertificateChainType(
                certificate=der(contract), sub_certificates=common.SubCertificatesType(
                    certificate=[der(pki20.cert("mo_sub_ca2")),
                                 der(pki20.cert("mo_sub_ca1"))])),
            ecdh_curve=common.EcdhCurveType.SECP521, dh_public_key=sealed.dh_public_key,
            secp521_encrypted_private_key=sealed.encrypted_private_key),
        remaining_contract_certificate_chains=0)
    xmldsig.sign(response, pki20.key("cps_leaf"), references=["ID1"])
    exi = codec.encode(response, "iso20-common")
    result = ev_certificate_response(
        {"status": "Accepted", "exiResponse": base64.b64encode(exi).decode(),
         "remainingContracts": 0}, "2.1", protocol="iso20")
    assert result.exi == exi and result.remaining_contracts == 0
    received = result.response
    assert codec.encode(received, "iso20-common") == exi
    assert xmldsig.verify(received, pki20.cert("cps_leaf")).covers("SignedInstallationData")
    data = received.signed_installation_data
    key = decrypt_contract_key_iso20_secp521(data.secp521_encrypted_private_key,
                                             data.dh_public_key, oem_key, TEST_PCID, contract)
    assert key.private_numbers() == contract_key.private_numbers()


@pytest.mark.parametrize(("payload", "error", "match"), [
    ({"status": "Accepted"}, OcppPayloadError, "exiResponse"),
    ({"status": "Accepted", "exiResponse": "not base64!"}, OcppConversionError, "base64"),
    ({"status": "Accepted", "exiResponse": base64.b64encode(b"\x80\x00junk").decode()},
     OcppConversionError, "not EXI"),
    # a valid -2 message that is not the response: SessionSetupReq
    ({"status": "Accepted", "exiResponse": base64.b64encode(
        bytes.fromhex("809802000000000000000011d01800000000000000")).decode()}, OcppConversionError,
     "SessionSetupReq"),
])
def test_bad_responses_are_typed_errors(schemas_available: None, payload: dict[str, Any],
                                        error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        ev_certificate_response(payload, "2.0.1")


def test_failed_response(schemas_available: None) -> None:
    result = ev_certificate_response({"status": "Failed", "exiResponse": "",
                                      "statusInfo": {"reasonCode": "NoContract"}}, "2.0.1")
    assert not result.accepted and result.response is None
    assert result.response_code == "FAILED_NoCertificateAvailable"
    assert result.reason == "NoContract"


# ------------------------------------------------------------------ GetCertificateStatus


def _openssl_request_text(tmp_path: Path, cert: x509.Certificate,
                          issuer: x509.Certificate) -> str:
    for name, c in (("cert", cert), ("issuer", issuer)):
        (tmp_path / f"{name}.pem").write_bytes(c.public_bytes(serialization.Encoding.PEM))
    subprocess.run(["openssl", "ocsp", "-issuer", str(tmp_path / "issuer.pem"), "-sha256", "-cert",
                    str(tmp_path / "cert.pem"), "-no_nonce", "-reqout",
                    str(tmp_path / "req.der")], check=True, capture_output=True, timeout=30)
    return subprocess.run(["openssl", "ocsp", "-reqin", str(tmp_path / "req.der"),
                           "-req_text"], check=True, capture_output=True, text=True,
                          timeout=30).stdout


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize(("leaf", "issuer"), [
    ("contract_leaf", "mo_sub_ca2"), ("mo_sub_ca2", "mo_sub_ca1"),
    ("mo_sub_ca1", "mo_root")])
def test_certificate_status_request_matches_openssl(
        tmp_path: Path, pki2: TestPki, valid: Valid, version: str, leaf: str,
        issuer: str) -> None:
    request = get_certificate_status_request(pki2.cert(leaf), pki2.cert(issuer), version)
    valid("GetCertificateStatusRequest", request, version)
    data = request["ocspRequestData"]
    text = _openssl_request_text(tmp_path, pki2.cert(leaf), pki2.cert(issuer))
    fields = dict(line.strip().split(": ", 1) for line in text.splitlines()
                  if line.strip().startswith(("Issuer Name Hash", "Issuer Key Hash",
                                              "Serial Number")))
    assert data["issuerNameHash"] == fields["Issuer Name Hash"].lower()
    assert data["issuerKeyHash"] == fields["Issuer Key Hash"].lower()
    # OpenSSL prints the serial's DER bytes (a leading 00 when the top bit is set);
    # OCPP wants the number in hex without leading zeros
    assert data["serialNumber"] == fields["Serial Number"].lower().lstrip("0")
    assert not data["serialNumber"].startswith("0")
    assert data["responderURL"] == pki2.ocsp_url


def test_serial_without_leading_zeros(pki2: TestPki) -> None:
    issuer, key = pki2.cert("mo_sub_ca2"), pki2.key("mo_sub_ca2")
    subject = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(issuer.subject).issuer_name(issuer.subject)
            .public_key(subject.public_key()).serial_number(0x0A0B)
            .not_valid_before(now).not_valid_after(now + dt.timedelta(days=1))
            .sign(key, hashes.SHA256()))  # type: ignore[arg-type]
    data = get_certificate_status_request(cert, issuer, "2.0.1",
                                          responder_url="http://ocsp.example")
    assert data["ocspRequestData"]["serialNumber"] == "a0b"


def test_certificate_without_responder_is_a_typed_error(pki2: TestPki) -> None:
    root = pki2.cert("mo_root")  # roots carry no AIA
    with pytest.raises(OcppConversionError, match="responder"):
        get_certificate_status_request(root, root, "2.0.1")


@pytest.mark.parametrize("version", VERSIONS)
def test_ocsp_result_comes_back_as_der(pki2: TestPki, valid: Valid, version: str) -> None:
    leaf, issuer = pki2.cert("contract_leaf"), pki2.cert("mo_sub_ca2")
    now = dt.datetime.now(dt.timezone.utc)
    der = ocsp.OCSPResponseBuilder().add_response(
        cert=leaf, issuer=issuer, algorithm=hashes.SHA256(),
        cert_status=ocsp.OCSPCertStatus.REVOKED, this_update=now,
        next_update=now + dt.timedelta(hours=1), revocation_time=now,
        revocation_reason=x509.ReasonFlags.key_compromise,
    ).responder_id(ocsp.OCSPResponderEncoding.HASH, issuer).sign(
        pki2.key("mo_sub_ca2"), hashes.SHA256()).public_bytes(  # type: ignore[arg-type]
        serialization.Encoding.DER)
    payload = {"status": "Accepted", "ocspResult": base64.b64encode(der).decode()}
    valid("GetCertificateStatusResponse", payload, version)
    got = ocsp_response_from(payload, version)
    assert got == der
    assert check_ocsp_response(got, leaf, issuer).status is CertStatus.REVOKED
    assert ocsp_response_from({"status": "Failed"}, version) is None
    with pytest.raises(OcppConversionError, match="ocspResult"):
        ocsp_response_from({"status": "Accepted"}, version)
