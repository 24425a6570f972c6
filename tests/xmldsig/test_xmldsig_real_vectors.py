"""Signed ISO 15118-2 messages from real test sessions verify with the right certificates.

The dSPACE captures (``../shared/vectors/real/dsv2gshark.jsonl``, read in place, never
copied) hold Plug & Charge sessions between a DS5366 test system and RISE-V2G. Which
certificate verifies which message is decided the way a peer would:

* AuthorizationReq and MeteringReceiptReq: the contract certificate that the
  PaymentDetailsReq of the same session (same SessionID) carried;
* CertificateInstallationReq / CertificateUpdateReq: the OEM provisioning / contract
  certificate the request itself carries; the two responses: the SA provisioning (CPS)
  certificate they carry.

The EVCC in these sessions also signs the MeteringReceiptReq's SignedInfo again into the
header of the ChargingStatusReq/PowerDeliveryReq that follow; such a header points at an
element that is not there, and verification must say so.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import pytest
from cryptography import x509
from lxml import etree

from iso15118 import codec, xmldsig

CONTRACT_SIGNED = {"AuthorizationReqType", "MeteringReceiptReqType"}
SELF_CARRIED = {"CertificateInstallationReqType", "CertificateUpdateReqType"}
PROVISIONING = {"CertificateInstallationResType", "CertificateUpdateResType"}


class Capture:
    """The signed messages of the captures, decoded, with each session's contract cert."""

    def __init__(self, rows: list[dict[str, Any]]) -> None:
        self.signed: list[tuple[str, bytes, Any]] = []
        self.contract: dict[bytes, x509.Certificate] = {}
        for row in rows:
            data = bytes.fromhex(row["hex"])
            msg = codec.decode(data, "iso2")
            body = msg.body.body_element
            if type(body).__name__ == "PaymentDetailsReqType":
                self.contract[msg.header.session_id] = x509.load_der_x509_certificate(
                    body.contract_signature_cert_chain.certificate)
            if msg.header.signature is not None:
                self.signed.append((row["id"], data, msg))

    def of(self, kinds: set[str]) -> list[tuple[str, bytes, Any]]:
        return [s for s in self.signed if type(s[2].body.body_element).__name__ in kinds]


@pytest.fixture(scope="module")
def capture(dsv2gshark: list[dict[str, Any]]) -> Capture:
    return Capture(dsv2gshark)


def test_pnc_requests_verify_with_the_contract_certificate_of_their_session(
        capture: Capture) -> None:
    done = []
    for row_id, data, msg in capture.of(CONTRACT_SIGNED):
        cert = capture.contract[msg.header.session_id]
        result = xmldsig.verify(data, cert, protocol="iso2")
        assert result.signature_method == xmldsig.ECDSA_SHA256, row_id
        assert result.covers(type(msg.body.body_element).__name__[:-4]), row_id
        done.append(row_id)
    # 4 AuthorizationReq (4 sessions) and 2 MeteringReceiptReq.
    assert len(done) >= 6, done


def test_certificate_requests_verify_with_the_certificate_they_carry(capture: Capture) -> None:
    done = []
    for row_id, data, _msg in capture.of(SELF_CARRIED):
        result = xmldsig.verify(data, protocol="iso2")
        assert result.signer is not None, row_id
        done.append((row_id, result.signer.subject.rfc4514_string()))
    assert len(done) >= 2, done
    assert any("OEM" in subject for _, subject in done)


def _check_all_but_emaid(msg: Any) -> list[str]:
    """Every step of verify but the eMAID digest, done by hand; returns URIs checked."""
    checked = []
    for ref in msg.header.signature.signed_info.reference:
        qname, value = xmldsig.find_by_id(msg, ref.uri)
        if qname.endswith("}eMAID"):
            continue
        assert xmldsig.digest_reference(qname, value, "iso2") == ref.digest_value, ref.uri
        checked.append(ref.uri)
    signer = xmldsig.embedded_signer(msg)
    assert signer is not None
    sig = msg.header.signature
    xmldsig.verify_signed_info(sig.signed_info, sig.signature_value.value, signer)
    return checked


def test_provisioning_responses_are_signed_by_the_certificate_they_carry(
        capture: Capture) -> None:
    responses = capture.of(PROVISIONING)
    assert len(responses) >= 2
    for row_id, _data, msg in responses:
        assert len(_check_all_but_emaid(msg)) == 3, row_id


@pytest.mark.oracle
def test_provisioning_responses_emaid_digest_with_the_reference_encoder(
        capture: Capture, oracle: Any) -> None:
    """The eMAID fragment as EXIficient encodes it hashes to the signed DigestValue, and
    ours is the same bytes."""
    import hashlib

    for row_id, _data, msg in capture.of(PROVISIONING):
        root = etree.fromstring(codec.to_xml(msg, "iso2").encode())
        emaid = root.find(".//{urn:iso:15118:2:2013:MsgBody}eMAID")
        ident = emaid.get("{urn:iso:15118:2:2013:MsgDataTypes}Id")
        fragment = oracle.encode_xml("iso2", etree.tostring(emaid).decode(), fragment=True)
        listed = {r.uri: r.digest_value for r in msg.header.signature.signed_info.reference}
        assert hashlib.sha256(fragment).digest() == listed["#" + ident], row_id
        assert codec.encode_fragment("eMAID", xmldsig.find_by_id(msg, "#" + ident)[1],
                                     "iso2") == fragment, row_id


def test_provisioning_responses_verify_in_full(capture: Capture) -> None:
    for _row_id, data, _msg in capture.of(PROVISIONING):
        xmldsig.verify(data, protocol="iso2")


def test_re_sent_signature_headers_point_at_nothing(capture: Capture) -> None:
    known = CONTRACT_SIGNED | SELF_CARRIED | PROVISIONING
    stale = [s for s in capture.signed if type(s[2].body.body_element).__name__ not in known]
    assert stale
    receipts: dict[bytes, list[Any]] = defaultdict(list)
    for _row_id, _data, msg in capture.of({"MeteringReceiptReqType"}):
        receipts[msg.header.session_id].append(msg.header.signature.signed_info)
    for row_id, data, msg in stale:
        contract = capture.contract[msg.header.session_id]
        with pytest.raises(xmldsig.ReferenceNotFoundError) as e:
            xmldsig.verify(data, contract, protocol="iso2")
        assert e.value.reference is not None, row_id
        # The EVCC re-signed the SignedInfo of an earlier MeteringReceiptReq: the signature
        # over it is fresh and valid, but what it vouches for is not in this message.
        sig = msg.header.signature
        assert sig.signed_info in receipts[msg.header.session_id], row_id
        xmldsig.verify_signed_info(sig.signed_info, sig.signature_value.value, contract)


def test_a_signature_does_not_verify_with_another_roles_certificate(capture: Capture) -> None:
    row_id, data, _ = capture.of({"AuthorizationReqType"})[0]
    oem = next(xmldsig.embedded_signer(m) for _, _, m in capture.of(
        {"CertificateInstallationReqType"}))
    assert oem is not None
    with pytest.raises(xmldsig.SignatureValueError):
        xmldsig.verify(data, oem, protocol="iso2")
