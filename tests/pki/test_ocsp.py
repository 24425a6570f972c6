"""OCSP against a real responder on 127.0.0.1: request data, good/revoked/unknown, trust."""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from iso15118.pki import (
    CertStatus,
    OcspError,
    Role,
    Rule,
    build_ocsp_request,
    check_ocsp_response,
    fetch_ocsp_response,
    ocsp_request_data,
    validate_chain,
)
from iso15118.pki.testpki import TestPki

# The fixture object (tests/pki/conftest.py); typed loosely to avoid importing conftest.
OcspResponder = Any


def _spki_bit_string(cert: x509.Certificate) -> bytes:
    # The uncompressed point is the content of the subjectPublicKey BIT STRING for EC keys.
    return cert.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )


def test_ocpp_request_data_fields_are_computed_per_rfc_6960(pki2: TestPki) -> None:
    leaf, issuer = pki2.cert("secc_leaf"), pki2.cert("cpo_sub_ca2")
    data = ocsp_request_data(leaf, issuer)
    issuer_subject_der = issuer.subject.public_bytes()
    assert data.hash_algorithm == "SHA256"
    assert data.issuer_name_hash == hashlib.sha256(issuer_subject_der).hexdigest()
    assert data.issuer_key_hash == hashlib.sha256(_spki_bit_string(issuer)).hexdigest()
    assert int(data.serial_number, 16) == leaf.serial_number
    assert data.responder_url == pki2.ocsp_url  # from the AIA extension
    assert set(data.to_ocpp()) == {
        "hashAlgorithm",
        "issuerNameHash",
        "issuerKeyHash",
        "serialNumber",
        "responderURL",
    }


def test_ocpp_request_data_with_sha512_and_override_url(pki20: TestPki) -> None:
    leaf, issuer = pki20.cert("contract_leaf"), pki20.cert("mo_sub_ca2")
    data = ocsp_request_data(leaf, issuer, "sha512", responder_url="http://127.0.0.1:1/x")
    assert data.hash_algorithm == "SHA512"
    assert len(data.issuer_name_hash) == 128
    assert data.responder_url == "http://127.0.0.1:1/x"


def test_request_data_refuses_non_ocpp_hash_and_missing_url(pki2: TestPki) -> None:
    with pytest.raises(OcspError):
        ocsp_request_data(pki2.cert("secc_leaf"), pki2.cert("cpo_sub_ca2"), "SHA1")
    root = pki2.cert("v2g_root")  # roots carry no AIA
    with pytest.raises(OcspError, match="responder URL"):
        ocsp_request_data(root, root)


@pytest.mark.parametrize("status", ["good", "revoked", "unknown"])
def test_status_from_loopback_responder(
    pki2: TestPki, ocsp_responder: OcspResponder, status: str
) -> None:
    leaf, issuer = pki2.cert("secc_leaf"), pki2.cert("cpo_sub_ca2")
    ocsp_responder.set_status(leaf, status)
    der = fetch_ocsp_response(leaf, issuer, url=ocsp_responder.url)
    result = check_ocsp_response(der, leaf, issuer)
    assert result.status is CertStatus(status)
    assert result.serial_number == leaf.serial_number
    if status == "revoked":
        assert result.revocation_reason == "key_compromise"
        assert result.revocation_time is not None
    assert ocsp_responder.requests == 1


@pytest.mark.parametrize(
    ("status", "outcome"),
    [("good", True), ("revoked", False), ("unknown", None)],
)
def test_chain_verdict_uses_supplied_ocsp_responses(
    pki2: TestPki, ocsp_responder: OcspResponder, status: str, outcome: bool | None
) -> None:
    leaf, inter, roots = pki2.chain_certs("secc")
    ocsp_responder.set_status(leaf, status)
    der = fetch_ocsp_response(leaf, inter[0], url=ocsp_responder.url)
    verdict = validate_chain(leaf, inter, roots, role=Role.SECC, ocsp_responses=[der])
    leaf_revocation = [c for c in verdict if c.rule is Rule.REVOCATION and c.index == 0]
    assert len(leaf_revocation) == 1
    assert verdict.valid is (outcome is not False)
    if outcome is False:
        assert verdict.failure_keys() == {(Rule.REVOCATION, 0)}
    elif outcome is None:
        assert "does not know" in leaf_revocation[0].detail
    # The sub-CAs are not covered by that response: still "not checked".
    assert {(c.index, c.detail) for c in verdict.not_checked if c.index > 0} == {
        (1, "no supplied OCSP response covers this certificate"),
        (2, "no supplied OCSP response covers this certificate"),
    }


def _delegate(pki2: TestPki, with_eku: bool) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    issuer, issuer_key = pki2.cert("cpo_sub_ca2"), pki2.key("cpo_sub_ca2")
    signer_key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.timezone.utc)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "OCSP signer")]))
        .issuer_name(issuer.subject)
        .public_key(signer_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
    )
    if with_eku:
        eku = x509.ExtendedKeyUsage([ExtendedKeyUsageOID.OCSP_SIGNING])
        builder = builder.add_extension(eku, critical=True)
    return builder.sign(issuer_key, hashes.SHA256()), signer_key  # type: ignore[arg-type]


def test_response_signed_by_a_delegated_ocsp_signer(
    pki2: TestPki, ocsp_responder: OcspResponder
) -> None:
    ocsp_responder.signer = _delegate(pki2, with_eku=True)
    leaf, issuer = pki2.cert("secc_leaf"), pki2.cert("cpo_sub_ca2")
    ocsp_responder.set_status(leaf, "good")
    der = fetch_ocsp_response(leaf, issuer, url=ocsp_responder.url)
    assert check_ocsp_response(der, leaf, issuer).status is CertStatus.GOOD


def test_delegate_without_ocsp_signing_eku_is_rejected(
    pki2: TestPki, ocsp_responder: OcspResponder
) -> None:
    ocsp_responder.signer = _delegate(pki2, with_eku=False)
    leaf, issuer = pki2.cert("secc_leaf"), pki2.cert("cpo_sub_ca2")
    ocsp_responder.set_status(leaf, "revoked")
    der = fetch_ocsp_response(leaf, issuer, url=ocsp_responder.url)
    with pytest.raises(OcspError, match="authorised"):
        check_ocsp_response(der, leaf, issuer)
    verdict = validate_chain(
        leaf,
        [issuer, pki2.cert("cpo_sub_ca1")],
        [pki2.cert("v2g_root")],
        role="secc",
        ocsp_responses=[der],
    )
    assert verdict.valid  # an untrustworthy "revoked" proves nothing either way ...
    leaf_rev = next(c for c in verdict.not_checked if c.index == 0)
    assert leaf_rev.detail.startswith("OCSP response rejected")  # ... and the verdict says so


def test_tampered_response_signature_is_rejected(
    pki2: TestPki, ocsp_responder: OcspResponder
) -> None:
    leaf, issuer = pki2.cert("secc_leaf"), pki2.cert("cpo_sub_ca2")
    ocsp_responder.set_status(leaf, "good")
    der = bytearray(fetch_ocsp_response(leaf, issuer, url=ocsp_responder.url))
    der[-1] ^= 0x01  # last byte of the ECDSA signature (no certificates follow it)
    with pytest.raises(OcspError, match="signature"):
        check_ocsp_response(bytes(der), leaf, issuer)


def test_stale_response_is_rejected(pki2: TestPki, ocsp_responder: OcspResponder) -> None:
    leaf, issuer = pki2.cert("secc_leaf"), pki2.cert("cpo_sub_ca2")
    ocsp_responder.set_status(leaf, "good")
    der = fetch_ocsp_response(leaf, issuer, url=ocsp_responder.url)
    later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=3)
    with pytest.raises(OcspError, match="nextUpdate"):
        check_ocsp_response(der, leaf, issuer, at=later)


def test_response_for_another_certificate_does_not_cover(
    pki2: TestPki, ocsp_responder: OcspResponder
) -> None:
    leaf, issuer = pki2.cert("secc_leaf"), pki2.cert("cpo_sub_ca2")
    other = pki2.cert("broken_wrong_dc")
    ocsp_responder.set_status(other, "revoked")
    der = fetch_ocsp_response(other, issuer, url=ocsp_responder.url)
    with pytest.raises(OcspError, match="does not cover"):
        check_ocsp_response(der, leaf, issuer)


def test_request_builds_and_garbage_is_typed(pki2: TestPki) -> None:
    req = build_ocsp_request(pki2.cert("secc_leaf"), pki2.cert("cpo_sub_ca2"), "SHA384")
    assert req[0] == 0x30
    with pytest.raises(OcspError):
        check_ocsp_response(b"\x00garbage", pki2.cert("secc_leaf"), pki2.cert("cpo_sub_ca2"))


def test_unreachable_responder_raises_ocsp_error(pki2: TestPki) -> None:
    leaf, issuer = pki2.cert("secc_leaf"), pki2.cert("cpo_sub_ca2")
    with pytest.raises(OcspError):
        fetch_ocsp_response(leaf, issuer, url="http://127.0.0.1:9/ocsp", timeout=2)
    with pytest.raises(OcspError, match="http"):
        fetch_ocsp_response(leaf, issuer, url="file:///etc/passwd")
