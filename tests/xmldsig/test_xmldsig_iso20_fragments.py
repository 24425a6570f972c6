"""The -20 signature inputs encode byte for byte as EXIficient does, and sign/verify over them.

ISO 15118-20 signs elements inside messages (PnC_AReqAuthorizationMode,
OEMProvisioningCertificateChain, SignedInstallationData, SignedMeteringData,
AbsolutePriceSchedule), each hashed as an EXI fragment with the CommonMessages grammar;
SignedInfo is encoded with the xmldsig grammar; and the AC/DC ChargeParameterDiscoveryRes
are fragments of their own grammars. For random schema-valid instances of each (several
per element, fixed seeds), the fragment must equal the reference encoder's bytes, decode
back to the same value, and carry a signature that verifies.
"""

from __future__ import annotations

import copy
import zlib
from functools import cache
from typing import Any

import pytest
from lxml import etree
from xmldsig_messages import ISO20_SIGNED, iso20_message

from exi_codec import load_xmlschema
from exi_codec.instances import InstanceGenerator
from iso15118 import codec, protocols, xmldsig
from iso15118.pki.testpki import TestPki

CM = "urn:iso:std:iso:15118:-20:CommonMessages"
PER_ELEMENT = 6
# (protocol, document element to generate, signed element inside it)
TARGETS = [
    ("iso20-common", f"{{{CM}}}AuthorizationReq", f"{{{CM}}}PnC_AReqAuthorizationMode"),
    ("iso20-common", f"{{{CM}}}CertificateInstallationReq",
     f"{{{CM}}}OEMProvisioningCertificateChain"),
    ("iso20-common", f"{{{CM}}}CertificateInstallationRes", f"{{{CM}}}SignedInstallationData"),
    ("iso20-common", f"{{{CM}}}MeteringConfirmationReq", f"{{{CM}}}SignedMeteringData"),
    ("iso20-common", f"{{{CM}}}ScheduleExchangeRes", f"{{{CM}}}AbsolutePriceSchedule"),
    ("iso20-ac", "{urn:iso:std:iso:15118:-20:AC}AC_ChargeParameterDiscoveryRes", None),
    ("iso20-dc", "{urn:iso:std:iso:15118:-20:DC}DC_ChargeParameterDiscoveryRes", None),
]
SIGNED_ID = "SignedByTest1"


@cache
def _generator(protocol: str) -> InstanceGenerator:
    p = protocols.get(protocol)
    schema = load_xmlschema([protocols.schema_dir() / p.xsd], protocols.xsd_locations(p))
    return InstanceGenerator(schema, seed=zlib.crc32(protocol.encode()))


def _instances(protocol: str, root: str, element: str | None) -> list[etree._Element]:
    """Documents of ``root`` that contain ``element`` (None: the root itself is signed)."""
    out = []
    for seed in range(200):
        doc = _generator(protocol).generate(root, seed=seed)
        if element is None or doc.find(f".//{element}") is not None:
            out.append(doc)
        if len(out) == PER_ELEMENT:
            return out
    raise AssertionError(f"only {len(out)} instances of {root} contain {element}")


def _case_id(target: tuple[str, str, str | None]) -> str:
    return (target[2] or target[1]).split("}")[1]


@pytest.mark.oracle
@pytest.mark.parametrize("target", TARGETS, ids=_case_id)
def test_fragments_are_byte_exact_against_exificient_and_round_trip(
        target: tuple[str, str, str | None], oracle: Any) -> None:
    protocol, root, element = target
    for doc in _instances(protocol, root, element):
        el = doc if element is None else doc.find(f".//{element}")
        xml = etree.tostring(el, encoding="unicode")
        want = oracle.encode_xml(protocol, xml, fragment=True)
        qname, value = codec.from_xml(xml, protocol, fragment=True)
        got = codec.encode_fragment(qname, value, protocol)
        assert got == want, f"{qname}\n ref  {want.hex()}\n ours {got.hex()}\n {xml}"
        assert codec.decode_fragment(want, protocol) == [(qname, value)]


@pytest.mark.parametrize("kind", ["", "_ed448"])
@pytest.mark.parametrize("target", TARGETS, ids=_case_id)
def test_sign_and_verify_over_each_iso20_signature_input(
        target: tuple[str, str, str | None], kind: str, pki20: TestPki) -> None:
    protocol, root, element = target
    key, cert = pki20.key("secc_leaf" + kind), pki20.cert("secc_leaf" + kind)
    for doc in _instances(protocol, root, element):
        if element is None:
            qname, msg = codec.from_xml(etree.tostring(doc), protocol)
            content = copy.deepcopy(msg)
            content.header.signature = None
            detached = [xmldsig.Detached("#" + SIGNED_ID, qname, content)]
            xmldsig.sign(msg, key, detached)
            result = xmldsig.verify(codec.encode(msg, protocol), cert, protocol=protocol,
                                    detached=detached)
        else:
            el = doc.find(f".//{element}")
            ns = element[1:].split("}")[0]
            if el.get(f"{{{ns}}}Id") is None:  # AbsolutePriceSchedule's Id is optional
                el.set(f"{{{ns}}}Id", SIGNED_ID)
            ident = el.get(f"{{{ns}}}Id")
            msg = codec.from_xml(etree.tostring(doc), protocol)[1]
            xmldsig.sign(msg, key)  # every element with an Id, ours among them
            result = xmldsig.verify(codec.encode(msg, protocol), cert, protocol=protocol)
            assert result.covers("#" + ident) and result.covers(element)
        assert all(r.digest_method == xmldsig.DIGEST_SHA512 for r in result.references)


@pytest.mark.oracle
def test_generated_signed_info_is_byte_exact_with_the_xmldsig_grammar(oracle: Any) -> None:
    ds = protocols.XMLDSIG_NS
    gen = _generator("xmldsig")
    for seed in range(PER_ELEMENT * 4):
        xml = gen.generate_string(f"{{{ds}}}SignedInfo", seed=seed)
        qname, value = codec.from_xml(xml, "xmldsig", fragment=True)
        want = oracle.encode_xml("xmldsig", xml, fragment=True)
        assert codec.encode_fragment(qname, value, "xmldsig") == want, xml
        assert codec.decode_fragment(want, "xmldsig") == [(qname, value)]


@pytest.mark.oracle
@pytest.mark.parametrize("kind", ["", "_ed448"])
def test_iso20_signed_info_as_signed_is_byte_exact(kind: str, pki20: TestPki,
                                                   oracle: Any) -> None:
    """The bytes sign() signs are EXIficient's encoding of the SignedInfo it writes."""
    doc = _instances("iso20-common", TARGETS[0][1], TARGETS[0][2])[0]
    msg = codec.from_xml(etree.tostring(doc), "iso20-common")[1]
    xmldsig.sign(msg, pki20.key("contract_leaf" + kind))
    si = msg.header.signature.signed_info
    from iso15118.xmldsig.tree import convert

    xml = codec.to_xml(convert(si, "xmldsig"), "xmldsig",
                       element=f"{{{protocols.XMLDSIG_NS}}}SignedInfo", fragment=True)
    assert oracle.encode_xml("xmldsig", xml, fragment=True) == xmldsig.signed_info_exi(si)
    result = xmldsig.verify(msg, pki20.cert("contract_leaf" + kind))
    assert result.signed_info_exi == xmldsig.signed_info_exi(si)


@pytest.mark.oracle
@pytest.mark.parametrize("kind", ["", "_ed448"])
@pytest.mark.parametrize("name", sorted(ISO20_SIGNED))
def test_hand_built_iso20_references_are_byte_exact(name: str, kind: str, pki20: TestPki,
                                                    oracle: Any) -> None:
    """The same for the realistic messages of the round-trip tests (real certificates)."""
    signer, build = ISO20_SIGNED[name]
    msg = iso20_message(build(pki20, kind))
    xmldsig.sign(msg, pki20.key(signer + kind))
    for ref in msg.header.signature.signed_info.reference:
        qname, value = xmldsig.find_by_id(msg, ref.uri)
        xml = codec.to_xml(value, "iso20-common", element=qname, fragment=True)
        want = oracle.encode_xml("iso20-common", xml, fragment=True)
        assert codec.encode_fragment(qname, value, "iso20-common") == want
