"""Sign then verify every message type ISO 15118-2 and -20 sign, and each way it can fail.

Round trips use the test PKI (P-256 for -2; P-521 and Ed448 for -20), go through EXI
bytes as a peer would receive them, and check what the standards fix: the algorithm
URIs, one canonical-exi transform per reference, the raw signature widths.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed448
from xmldsig_messages import (
    ISO2_SIGNED,
    ISO20_SIGNED,
    iso2_message,
    iso20_message,
)

from exi_codec.instances import InstanceGenerator
from iso15118 import codec, xmldsig
from iso15118.pki.testpki import TestPki

EMBEDDED = {"CertificateInstallationReq", "CertificateUpdateReq", "CertificateInstallationRes"}


def _iso2(pki: TestPki, name: str) -> tuple[Any, str]:
    signer, body = ISO2_SIGNED[name]
    return iso2_message(body(pki)), signer


@pytest.mark.parametrize("name", sorted(ISO2_SIGNED))
def test_iso2_messages_round_trip_with_p256_and_sha256(pki2: TestPki, name: str) -> None:
    msg, signer = _iso2(pki2, name)
    xmldsig.sign(msg, pki2.key(signer))
    sig = msg.header.signature
    assert sig.signed_info.signature_method.algorithm == xmldsig.ECDSA_SHA256
    assert sig.signed_info.canonicalization_method.algorithm == xmldsig.CANONICAL_EXI
    for ref in sig.signed_info.reference:
        assert ref.digest_method.algorithm == xmldsig.DIGEST_SHA256
        assert [t.algorithm for t in ref.transforms.transform] == [xmldsig.CANONICAL_EXI]
        assert len(ref.digest_value) == 32
    assert len(sig.signature_value.value) == 64

    data = codec.encode(msg, "iso2")
    result = xmldsig.verify(data, pki2.cert(signer), protocol="iso2")
    assert result.signer == pki2.cert(signer)
    assert result.references and all(r.uri.startswith("#") for r in result.references)
    if name in EMBEDDED:  # the signer's certificate travels in the message
        assert xmldsig.verify(data, protocol="iso2").signer == pki2.cert(signer)


@pytest.mark.parametrize("kind", ["p521", "ed448"])
@pytest.mark.parametrize("name", sorted(ISO20_SIGNED))
def test_iso20_messages_round_trip_with_p521_and_ed448(pki20: TestPki, name: str,
                                                      kind: str) -> None:
    suffix = "_ed448" if kind == "ed448" else ""
    signer, build = ISO20_SIGNED[name]
    msg = iso20_message(build(pki20, suffix))
    key = pki20.key(signer + suffix)
    xmldsig.sign(msg, key)
    si = msg.header.signature.signed_info
    value = msg.header.signature.signature_value.value
    if kind == "ed448":
        assert isinstance(key, ed448.Ed448PrivateKey)
        assert si.signature_method.algorithm == xmldsig.EDDSA_ED448
        assert len(value) == 114
    else:
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        assert si.signature_method.algorithm == xmldsig.ECDSA_SHA512
        assert len(value) == 132
    assert all(r.digest_method.algorithm == xmldsig.DIGEST_SHA512 and len(r.digest_value) == 64
               for r in si.reference)

    data = codec.encode(msg, "iso20-common")
    result = xmldsig.verify(data, pki20.cert(signer + suffix), protocol="iso20-common")
    assert result.signature_method == si.signature_method.algorithm
    if name in EMBEDDED:
        assert xmldsig.verify(data, protocol="iso20-common").signer == pki20.cert(signer + suffix)


def test_iso20_signs_the_element_the_schema_marks_not_the_whole_message(pki20: TestPki) -> None:
    signer, build = ISO20_SIGNED["AuthorizationReq"]
    msg = iso20_message(build(pki20, ""))
    result = xmldsig.verify(xmldsig.sign(msg, pki20.key(signer)), pki20.cert(signer))
    assert [r.element.split("}")[1] for r in result.references] == ["PnC_AReqAuthorizationMode"]
    assert result.covers("PnC_AReqAuthorizationMode") and result.covers("#ID1")
    assert not result.covers("AuthorizationReq")


@pytest.mark.parametrize("protocol,root", [("iso20-ac", "AC_ChargeParameterDiscoveryRes"),
                                           ("iso20-dc", "DC_ChargeParameterDiscoveryRes")])
def test_elements_without_id_are_signed_as_detached_references(pki20: TestPki, protocol: str,
                                                              root: str) -> None:
    from exi_codec import load_xmlschema
    from iso15118 import protocols

    p = protocols.get(protocol)
    schema = load_xmlschema([protocols.schema_dir() / p.xsd], protocols.xsd_locations(p))
    xml = InstanceGenerator(schema, seed=5).generate_string(f"{{{p.namespace}}}{root}", seed=5)
    qname, msg = codec.from_xml(xml, protocol)
    body = copy.deepcopy(msg)
    body.header.signature = None
    detached = xmldsig.Detached("#cpd", qname, body)
    xmldsig.sign(msg, pki20.key("secc_leaf"), [detached])
    data = codec.encode(msg, protocol)
    result = xmldsig.verify(data, pki20.cert("secc_leaf"), protocol=protocol,
                            detached=[detached])
    assert result.references[0].element == qname
    with pytest.raises(xmldsig.ReferenceNotFoundError):
        xmldsig.verify(data, pki20.cert("secc_leaf"), protocol=protocol)
    changed = copy.deepcopy(body)
    changed.header.session_id = bytes(8)
    with pytest.raises(xmldsig.DigestMismatchError):
        xmldsig.verify(data, pki20.cert("secc_leaf"), protocol=protocol,
                       detached=[xmldsig.Detached("#cpd", root, changed)])


# ---------------------------------------------------------------------------- references


def _two_tariffs() -> Any:
    body = ISO2_SIGNED["ChargeParameterDiscoveryRes"][1](None)  # type: ignore[arg-type]
    tuple_xml = body[body.index("<t:SAScheduleTuple>"):body.index("</t:SAScheduleList>")]
    second = tuple_xml.replace("<t:SAScheduleTupleID>1<", "<t:SAScheduleTupleID>2<").replace(
        't:Id="ST1"', 't:Id="ST2"')
    return iso2_message(body.replace("</t:SAScheduleList>", second + "</t:SAScheduleList>"))


def test_by_default_every_element_with_an_id_is_signed(pki2: TestPki) -> None:
    msg = _two_tariffs()
    result = xmldsig.verify(xmldsig.sign(msg, pki2.key("mo_sub_ca2")), pki2.cert("mo_sub_ca2"))
    assert [r.uri for r in result.references] == ["#ST1", "#ST2"]


def test_references_can_be_ids_or_objects_in_any_order(pki2: TestPki) -> None:
    msg = _two_tariffs()
    tuples = msg.body.body_element.sa_schedules.sa_schedule_tuple
    xmldsig.sign(msg, pki2.key("mo_sub_ca2"), ["#ST2", tuples[0].sales_tariff])
    result = xmldsig.verify(msg, pki2.cert("mo_sub_ca2"))
    assert [r.uri for r in result.references] == ["#ST2", "#ST1"]


def test_an_element_with_an_id_left_unsigned_fails_unless_allowed(pki2: TestPki) -> None:
    msg = xmldsig.sign(_two_tariffs(), pki2.key("mo_sub_ca2"), ["ST1"])
    with pytest.raises(xmldsig.UnsignedElementError) as e:
        xmldsig.verify(msg, pki2.cert("mo_sub_ca2"))
    assert e.value.reference == "#ST2"
    assert xmldsig.verify(msg, pki2.cert("mo_sub_ca2"), require_all_ids=False).covers("#ST1")


def test_duplicate_ids_are_refused_rather_than_guessed(pki2: TestPki) -> None:
    msg = xmldsig.sign(_two_tariffs(), pki2.key("mo_sub_ca2"), ["ST1"])
    msg.body.body_element.sa_schedules.sa_schedule_tuple[1].sales_tariff.id = "ST1"
    with pytest.raises(xmldsig.ReferenceNotFoundError, match="2 elements"):
        xmldsig.verify(msg, pki2.cert("mo_sub_ca2"))
    with pytest.raises(xmldsig.ReferenceNotFoundError):
        xmldsig.sign(msg, pki2.key("mo_sub_ca2"), ["ST1"])


def test_a_signature_copied_onto_a_message_without_its_element_fails(pki2: TestPki) -> None:
    # What RISE-V2G's EVCC does after MeteringReceiptReq (see the real-vector tests).
    signed, signer = _iso2(pki2, "MeteringReceiptReq")
    xmldsig.sign(signed, pki2.key(signer))
    other = iso2_message("<b:ChargingStatusReq/>")
    other.header.signature = signed.header.signature
    with pytest.raises(xmldsig.ReferenceNotFoundError) as e:
        xmldsig.verify(other, pki2.cert(signer))
    assert e.value.reference == "#ID1" and e.value.step == "reference"


def test_sign_refuses_objects_that_are_not_in_the_message_or_have_no_id(pki2: TestPki) -> None:
    msg, signer = _iso2(pki2, "AuthorizationReq")
    stranger, _ = _iso2(pki2, "AuthorizationReq")
    with pytest.raises(xmldsig.ReferenceNotFoundError):
        xmldsig.sign(msg, pki2.key(signer), [stranger.body.body_element])
    msg.body.body_element.id = None
    with pytest.raises(xmldsig.SignatureError, match="nothing to sign"):
        xmldsig.sign(msg, pki2.key(signer))


# ---------------------------------------------------------------------------- failures


@pytest.fixture()
def signed_auth(pki2: TestPki) -> Any:
    msg, signer = _iso2(pki2, "AuthorizationReq")
    return xmldsig.sign(msg, pki2.key(signer))


def test_the_wrong_key_fails_at_the_signature_value(pki2: TestPki, signed_auth: Any) -> None:
    with pytest.raises(xmldsig.SignatureValueError, match="does not verify"):
        xmldsig.verify(signed_auth, pki2.cert("oem_leaf"))
    assert xmldsig.verify(signed_auth, pki2.cert("contract_leaf").public_key())


def test_a_changed_element_fails_at_its_digest(pki2: TestPki, signed_auth: Any) -> None:
    signed_auth.body.body_element.gen_challenge = bytes(16)
    with pytest.raises(xmldsig.DigestMismatchError) as e:
        xmldsig.verify(signed_auth, pki2.cert("contract_leaf"))
    assert e.value.reference == "#ID1" and e.value.step == "digest"


def test_a_changed_digest_value_fails(pki2: TestPki, signed_auth: Any) -> None:
    ref = signed_auth.header.signature.signed_info.reference[0]
    ref.digest_value = bytes(32)
    with pytest.raises(xmldsig.DigestMismatchError):
        xmldsig.verify(signed_auth, pki2.cert("contract_leaf"))


@pytest.mark.parametrize("field,value", [
    ("canonicalization", "http://www.w3.org/2001/10/xml-exc-c14n#"),
    ("signature", "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"),
    ("digest", "http://www.w3.org/2000/09/xmldsig#sha1"),
    ("transform", "http://www.w3.org/2000/09/xmldsig#enveloped-signature"),
])
def test_algorithms_outside_iso15118_are_refused(pki2: TestPki, signed_auth: Any, field: str,
                                                 value: str) -> None:
    si = signed_auth.header.signature.signed_info
    target = {"canonicalization": si.canonicalization_method, "signature": si.signature_method,
              "digest": si.reference[0].digest_method,
              "transform": si.reference[0].transforms.transform[0]}[field]
    target.algorithm = value
    with pytest.raises(xmldsig.UnsupportedAlgorithmError):
        xmldsig.verify(signed_auth, pki2.cert("contract_leaf"))


def test_more_than_one_transform_is_refused(pki2: TestPki, signed_auth: Any) -> None:
    transforms = signed_auth.header.signature.signed_info.reference[0].transforms.transform
    transforms.append(copy.deepcopy(transforms[0]))
    with pytest.raises(xmldsig.UnsupportedAlgorithmError, match="only the canonical-exi"):
        xmldsig.verify(signed_auth, pki2.cert("contract_leaf"))


def test_the_uri_without_trailing_slash_is_accepted(pki2: TestPki) -> None:
    # RISE-V2G writes http://www.w3.org/TR/canonical-exi (oracle README, quirk 6); the
    # signature covers the URI as written, so the signer must write it that way too.
    msg, signer = _iso2(pki2, "AuthorizationReq")
    xmldsig.sign(msg, pki2.key(signer))
    si = msg.header.signature.signed_info
    si.canonicalization_method.algorithm = "http://www.w3.org/TR/canonical-exi"
    si.reference[0].transforms.transform[0].algorithm = "http://www.w3.org/TR/canonical-exi"
    with pytest.raises(xmldsig.SignatureValueError):  # SignedInfo changed
        xmldsig.verify(msg, pki2.cert(signer))
    ec_key = pki2.key(signer)
    assert isinstance(ec_key, ec.EllipticCurvePrivateKey)
    from iso15118.xmldsig.algorithms import sign_bytes

    msg.header.signature.signature_value.value = sign_bytes(
        ec_key, xmldsig.ECDSA_SHA256, xmldsig.signed_info_exi(si))
    assert xmldsig.verify(msg, pki2.cert(signer))


@pytest.mark.parametrize("value", [b"", bytes(63), bytes(65), bytes(114)])
def test_signature_values_of_the_wrong_width_are_refused(pki2: TestPki, signed_auth: Any,
                                                         value: bytes) -> None:
    signed_auth.header.signature.signature_value.value = value
    with pytest.raises(xmldsig.SignatureValueError):
        xmldsig.verify(signed_auth, pki2.cert("contract_leaf"))


def test_a_key_of_the_wrong_type_for_the_method_is_refused(pki2: TestPki, pki20: TestPki,
                                                           signed_auth: Any) -> None:
    with pytest.raises(xmldsig.SignatureValueError, match="EC key"):
        xmldsig.verify(signed_auth, pki20.cert("contract_leaf_ed448"))
    signed_auth.header.signature.signed_info.signature_method.algorithm = xmldsig.EDDSA_ED448
    with pytest.raises(xmldsig.SignatureValueError, match="Ed448 key"):
        xmldsig.verify(signed_auth, pki2.cert("contract_leaf"))
    with pytest.raises(xmldsig.SignatureError, match="Ed448 key"):
        xmldsig.sign(signed_auth, pki2.key("contract_leaf"),
                     signature_method=xmldsig.EDDSA_ED448)


def test_missing_signature_and_missing_signer_are_typed_errors(pki2: TestPki) -> None:
    msg, _ = _iso2(pki2, "AuthorizationReq")
    with pytest.raises(xmldsig.NoSignatureError):
        xmldsig.verify(msg, pki2.cert("contract_leaf"))
    xmldsig.sign(msg, pki2.key("contract_leaf"))
    with pytest.raises(xmldsig.SignatureValueError, match="no certificate given"):
        xmldsig.verify(msg)
    with pytest.raises(xmldsig.SignatureError, match="protocol="):
        xmldsig.verify(codec.encode(msg, "iso2"))
    with pytest.raises(xmldsig.SignatureError):
        xmldsig.sign(object(), pki2.key("contract_leaf"))


def test_every_error_is_an_iso15118_error() -> None:
    from iso15118.errors import Iso15118Error

    for name in ("NoSignatureError", "UnsupportedAlgorithmError", "ReferenceNotFoundError",
                 "DigestMismatchError", "UnsignedElementError", "SignatureValueError"):
        cls = getattr(xmldsig, name)
        assert issubclass(cls, xmldsig.SignatureError) and issubclass(cls, Iso15118Error)


def test_sha384_and_sha512_digests_can_be_chosen_for_iso2(pki2: TestPki) -> None:
    for digest in (xmldsig.DIGEST_SHA384, xmldsig.DIGEST_SHA512):
        msg, signer = _iso2(pki2, "AuthorizationReq")
        xmldsig.sign(msg, pki2.key(signer), digest_method=digest)
        assert xmldsig.verify(msg, pki2.cert(signer)).references[0].digest_method == digest

