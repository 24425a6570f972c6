"""Tests for exi_codec.instances, the random schema-valid instance generator.

Why these tests: every later codec test trusts the generator to produce valid documents only.
So we check, for every protocol schema, that the instances are valid (xmlschema) and that the
reference encoder (EXIficient, through the shared oracle) accepts them. We also check that the
generator's knobs (force, facets, depth, wildcards, boundaries) do what they claim, using small
inline schemas where the protocol XSDs have no example.
"""

from __future__ import annotations

import functools
import re
import zlib
from pathlib import Path
from typing import Any

import pytest
import xmlschema
from hypothesis import HealthCheck, given, settings
from lxml import etree
from support.oracle import SCHEMA_FILES, XMLDSIG_NS, load_oracle_module, schemas_dir

from exi_codec.instances import (
    InstanceGenerator,
    UngeneratableError,
    instances,
    iter_global_elements,
    substitution_members,
)

PER_ELEMENT = 20

DIN_MSGDEF = "urn:din:70121:2012:MsgDef"
DIN_BODY = "urn:din:70121:2012:MsgBody"
ISO2_MSGDEF = "urn:iso:15118:2:2013:MsgDef"
ISO2_BODY = "urn:iso:15118:2:2013:MsgBody"
ISO2_TYPES = "urn:iso:15118:2:2013:MsgDataTypes"
ISO20_CT = "urn:iso:std:iso:15118:-20:CommonTypes"
ISO20_DC = "urn:iso:std:iso:15118:-20:DC"

#: protocol -> (root element, substitution-group head of the message body)
V2G_ROOTS: dict[str, tuple[str, str]] = {
    "din": (f"{{{DIN_MSGDEF}}}V2G_Message", f"{{{DIN_MSGDEF}}}BodyElement"),
    "iso2": (f"{{{ISO2_MSGDEF}}}V2G_Message", f"{{{ISO2_BODY}}}BodyElement"),
}

_DSIG_NO_WILDCARD = {
    # SignaturePropertyType is a choice of one xs:any with minOccurs=1, so it needs a
    # wildcard child; SignatureProperties requires at least one SignatureProperty.
    f"{{{XMLDSIG_NS}}}SignatureProperties",
    f"{{{XMLDSIG_NS}}}SignatureProperty",
}

#: Global elements that have no valid instance as document root (wildcards=False). The xmldsig
#: ones are listed under "xmldsig" only, because elements_under_test() skips the xmldsig
#: vocabulary in the protocols that import it.
KNOWN_UNGENERATABLE: dict[str, set[str]] = {
    # Their required Id attribute is an xs:IDREF, and nothing below them can carry an xs:ID. In a
    # V2G_Message an ID comes from the Header's ds:Signature, so they work there.
    "din": {f"{{{DIN_BODY}}}CertificateUpdateRes", f"{{{DIN_BODY}}}CertificateInstallationRes"},
    "xmldsig": _DSIG_NO_WILDCARD,
}


@functools.cache
def load_schema(protocol: str) -> xmlschema.XMLSchema:
    """The protocol's XSD; the xmldsig import is pointed at the repository copy.

    Absolute paths matter: a relative ``locations`` entry is resolved against the importing
    XSD, and xmlschema then silently falls back to its own bundled xmldsig copy.
    """
    root = schemas_dir()
    dsig = root / "xmldsig-core-schema.xsd"
    return xmlschema.XMLSchema(
        str(root / SCHEMA_FILES[protocol]), locations=[(XMLDSIG_NS, str(dsig))]
    )


def elements_under_test(protocol: str) -> list[str]:
    """Global elements of the protocol, imported ones included.

    The xmldsig vocabulary is tested once, under "xmldsig", and not again for every
    protocol that imports it.
    """
    schema = load_schema(protocol)
    names = iter_global_elements(schema, include_imported=True)
    if protocol == "xmldsig":
        return list(names)
    return [n for n in names if not n.startswith(f"{{{XMLDSIG_NS}}}")]


@functools.cache
def corpus(protocol: str) -> tuple[dict[str, list[str]], dict[str, str]]:
    """PER_ELEMENT instances for each global element, and the reasons for the failures.

    Cached so that the validity test and the oracle test share the same documents.
    """
    schema = load_schema(protocol)
    generator = InstanceGenerator(schema, seed=20240601)
    docs: dict[str, list[str]] = {}
    failed: dict[str, str] = {}
    for name in elements_under_test(protocol):
        try:
            docs[name] = [generator.generate_string(name) for _ in range(PER_ELEMENT)]
        except UngeneratableError as exc:
            failed[name] = str(exc)
    return docs, failed


@functools.cache
def body_corpus(protocol: str, member: str) -> list[str]:
    """PER_ELEMENT V2G_Messages whose body element is forced to ``member``."""
    root, head = V2G_ROOTS[protocol]
    generator = InstanceGenerator(load_schema(protocol), seed=zlib.crc32(member.encode()))
    return [
        generator.generate_string(root, force={head: member}, seed=i) for i in range(PER_ELEMENT)
    ]


def body_members(protocol: str) -> list[str]:
    return substitution_members(load_schema(protocol), V2G_ROOTS[protocol][1])


def _local(name: str) -> str:
    return name.rsplit("}", 1)[-1]


def assert_valid(schema: xmlschema.XMLSchema, xml: str, what: str) -> None:
    errors = list(schema.iter_errors(xml))
    if errors:
        first = errors[0]
        pytest.fail(f"{what}: invalid at {first.path}: {first.reason}\n{xml[:4000]}")


# ---------------------------------------------------------------------------------------------
# every protocol, every global element


@pytest.mark.parametrize("protocol", list(SCHEMA_FILES))
def test_global_elements_generate_valid_instances(protocol: str) -> None:
    schema = load_schema(protocol)
    docs, failed = corpus(protocol)
    assert set(failed) == KNOWN_UNGENERATABLE.get(protocol, set()), failed
    assert docs, "no element generated at all"
    for name, xmls in docs.items():
        assert len(xmls) == PER_ELEMENT
        for xml in xmls:
            assert_valid(schema, xml, name)
            assert etree.QName(etree.fromstring(xml)).text == name


@pytest.mark.parametrize("protocol", list(V2G_ROOTS))
def test_body_member_list(protocol: str) -> None:
    members = {_local(m) for m in body_members(protocol)}
    assert len(members) == 34
    assert {"SessionSetupReq", "CurrentDemandReq", "CurrentDemandRes"} <= members


@pytest.mark.parametrize(
    ("protocol", "member"),
    [(p, m) for p in V2G_ROOTS for m in body_members(p)],
    ids=lambda v: _local(v) if v.startswith("{") else v,
)
def test_forced_body_member(protocol: str, member: str) -> None:
    schema = load_schema(protocol)
    for xml in body_corpus(protocol, member):
        assert_valid(schema, xml, member)
        root = etree.fromstring(xml)
        body = root[1]
        assert _local(body.tag) == "Body"
        assert [child.tag for child in body] == [member]


# ---------------------------------------------------------------------------------------------
# the oracle accepts what we generate


@pytest.mark.oracle
@pytest.mark.parametrize("protocol", list(SCHEMA_FILES))
def test_oracle_encodes_generated_instances(protocol: str, oracle: Any) -> None:
    docs, _ = corpus(protocol)
    for name, xmls in docs.items():
        for xml in xmls:
            try:
                data = oracle.encode_xml(protocol, xml)
            except Exception as exc:  # noqa: BLE001 - report the document with the error
                pytest.fail(f"oracle rejected {name}: {exc}\n{xml[:4000]}")
            assert data[:1] == b"\x80", data[:4].hex()


@pytest.mark.oracle
@pytest.mark.parametrize("protocol", list(SCHEMA_FILES))
def test_oracle_round_trip_preserves_infoset(protocol: str, oracle: Any) -> None:
    """decode(encode(x)) == x for generated documents (without wildcards).

    So the generated lexical forms are the ones EXI gives back: upper-case hex, canonical
    integers and base64, no whitespace that EXI would drop. Codec round-trip tests can then
    compare XML directly.
    """
    infoset_diff = load_oracle_module().infoset_diff
    docs, _ = corpus(protocol)
    for name, xmls in docs.items():
        for xml in xmls[:5]:
            back = oracle.decode_exi(protocol, oracle.encode_xml(protocol, xml))
            diff = infoset_diff(xml, back)
            assert diff is None, f"{name}: {diff}\n{xml[:4000]}"


@pytest.mark.oracle
@pytest.mark.parametrize("protocol", list(V2G_ROOTS))
def test_oracle_encodes_forced_bodies(protocol: str, oracle: Any) -> None:
    for member in body_members(protocol):
        for xml in body_corpus(protocol, member):
            try:
                oracle.encode_xml(protocol, xml)
            except Exception as exc:  # noqa: BLE001
                pytest.fail(f"oracle rejected {_local(member)}: {exc}\n{xml[:4000]}")


@pytest.mark.oracle
def test_oracle_encodes_wildcard_content(oracle: Any) -> None:
    """With wildcards=True the xmldsig wildcards get foreign children and mixed text."""
    schema = load_schema("xmldsig")
    generator = InstanceGenerator(schema, seed=5, wildcards=True, optional_probability=0.9)
    seen_foreign = False
    for name in iter_global_elements(schema):
        for _ in range(10):
            xml = generator.generate_string(name)
            assert_valid(schema, xml, name)
            seen_foreign |= "urn:x-exi-codec:generated-wildcard" in xml
            oracle.encode_xml("xmldsig", xml)
    assert seen_foreign


# ---------------------------------------------------------------------------------------------
# force, namespaces, attributes, IDs


def test_forced_member_from_other_namespace_nested_group() -> None:
    """-20: ct:CLReqControlMode's members live in the DC namespace, two levels deep."""
    schema = load_schema("iso20-dc")
    head = f"{{{ISO20_CT}}}CLReqControlMode"
    members = substitution_members(schema, head)
    wanted = f"{{{ISO20_DC}}}BPT_Scheduled_DC_CLReqControlMode"
    assert wanted in members  # transitive: member of Scheduled_DC_CLReqControlMode
    generator = InstanceGenerator(schema, seed=1)
    for i in range(10):
        root = generator.generate(f"{{{ISO20_DC}}}DC_ChargeLoopReq", force={head: wanted}, seed=i)
        assert schema.is_valid(root)
        assert root.find(f"{{{ISO20_DC}}}BPT_Scheduled_DC_CLReqControlMode") is not None


def test_force_rejects_non_members() -> None:
    schema = load_schema("iso2")
    generator = InstanceGenerator(schema)
    root, head = V2G_ROOTS["iso2"]
    with pytest.raises(ValueError):
        generator.generate(root, force={head: f"{{{ISO2_MSGDEF}}}V2G_Message"})
    with pytest.raises(KeyError):
        generator.generate(root, force={head: "NoSuchElement"})


def test_forced_member_reached_through_optional_content() -> None:
    """DIN's Body holds BodyElement with minOccurs=0: forcing must still include it."""
    schema = load_schema("din")
    generator = InstanceGenerator(schema, seed=3, optional_probability=0.0)
    root_name, head = V2G_ROOTS["din"]
    root = generator.generate(root_name, force={head: f"{{{DIN_BODY}}}SessionStopReq"})
    assert [c.tag for c in root[1]] == [f"{{{DIN_BODY}}}SessionStopReq"]


def test_din_idref_points_at_generated_id() -> None:
    """DIN's required Id is an xs:IDREF: the generator adds a ds:Signature with an ID to target."""
    schema = load_schema("din")
    root_name, head = V2G_ROOTS["din"]
    generator = InstanceGenerator(schema, seed=9)
    for i in range(10):
        root = generator.generate(
            root_name, force={head: f"{{{DIN_BODY}}}CertificateInstallationRes"}, seed=i
        )
        assert schema.is_valid(root)
        body = root[1][0]
        ref = body.get("Id")  # unqualified in DIN
        assert ref is not None
        ids = {e.get("Id") for e in root.iter(f"{{{XMLDSIG_NS}}}*") if e.get("Id")}
        assert ref in ids


def test_iso2_attributes_are_qualified() -> None:
    schema = load_schema("iso2")
    generator = InstanceGenerator(schema, seed=2, optional_probability=1.0)
    root = generator.generate(f"{{{ISO2_BODY}}}MeteringReceiptReq")
    assert f"{{{ISO2_BODY}}}Id" in root.attrib
    assert "Id" not in root.attrib
    assert schema.is_valid(root)


def test_xmldsig_attributes_unqualified_and_ids_unique() -> None:
    schema = load_schema("xmldsig")
    generator = InstanceGenerator(schema, seed=4, optional_probability=1.0, max_list=3)
    for i in range(10):
        root = generator.generate(f"{{{XMLDSIG_NS}}}Signature", seed=i)
        ids = [e.get("Id") for e in root.iter() if e.get("Id") is not None]
        assert ids and len(ids) == len(set(ids))
        assert all(re.fullmatch(r"[A-Za-z_][\w.-]*", v) for v in ids)
        assert schema.is_valid(root)


def test_same_seed_same_document() -> None:
    schema = load_schema("iso2")
    root = V2G_ROOTS["iso2"][0]
    a = InstanceGenerator(schema, seed=42).generate_string(root)
    b = InstanceGenerator(schema, seed=42).generate_string(root)
    c = InstanceGenerator(schema).generate_string(root, seed=42)
    d = InstanceGenerator(schema).generate_string(root, seed=42)
    assert a == b
    assert c == d


def test_iter_global_elements_scopes() -> None:
    app = load_schema("appHand")
    # xmldsig is loaded because of locations=, but appHand does not import it
    assert {_local(n) for n in iter_global_elements(app, include_imported=True)} == {
        "supportedAppProtocolReq",
        "supportedAppProtocolRes",
    }
    din = load_schema("din")
    assert list(iter_global_elements(din)) == [f"{{{DIN_MSGDEF}}}V2G_Message"]
    assert f"{{{DIN_MSGDEF}}}BodyElement" in iter_global_elements(din, include_abstract=True)


# ---------------------------------------------------------------------------------------------
# facets and structure on small inline schemas

FACETS_XSD = """\
<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns="urn:t" targetNamespace="urn:t"
           elementFormDefault="qualified">
  <xs:simpleType name="range"><xs:restriction base="xs:short">
    <xs:minExclusive value="-5"/><xs:maxInclusive value="7"/></xs:restriction></xs:simpleType>
  <xs:simpleType name="s23"><xs:restriction base="xs:string">
    <xs:minLength value="2"/><xs:maxLength value="3"/></xs:restriction></xs:simpleType>
  <xs:simpleType name="s5"><xs:restriction base="xs:string">
    <xs:length value="5"/></xs:restriction></xs:simpleType>
  <xs:simpleType name="hex4"><xs:restriction base="xs:hexBinary">
    <xs:length value="4"/></xs:restriction></xs:simpleType>
  <xs:simpleType name="b64"><xs:restriction base="xs:base64Binary">
    <xs:maxLength value="10"/></xs:restriction></xs:simpleType>
  <xs:simpleType name="color"><xs:restriction base="xs:string">
    <xs:enumeration value="red"/><xs:enumeration value="green"/></xs:restriction></xs:simpleType>
  <xs:simpleType name="ints"><xs:list itemType="xs:byte"/></xs:simpleType>
  <xs:complexType name="Base" abstract="true"><xs:sequence>
    <xs:element name="b" type="xs:boolean"/></xs:sequence></xs:complexType>
  <xs:complexType name="Derived"><xs:complexContent><xs:extension base="Base"><xs:sequence>
    <xs:element name="d" type="xs:unsignedByte"/></xs:sequence></xs:extension></xs:complexContent>
  </xs:complexType>
  <xs:element name="head" type="Base" abstract="true"/>
  <xs:element name="member" type="Derived" substitutionGroup="head"/>
  <xs:element name="root">
    <xs:complexType>
      <xs:sequence>
        <xs:element name="big" type="xs:integer"/>
        <xs:element name="ulong" type="xs:unsignedLong"/>
        <xs:element name="byte" type="xs:byte"/>
        <xs:element name="range" type="range"/>
        <xs:element name="s23" type="s23"/>
        <xs:element name="s5" type="s5"/>
        <xs:element name="str" type="xs:string"/>
        <xs:element name="hex4" type="hex4"/>
        <xs:element name="b64" type="b64"/>
        <xs:element name="color" type="color"/>
        <xs:element name="ints" type="ints"/>
        <xs:element name="uri" type="xs:anyURI"/>
        <xs:element name="dec" type="xs:decimal"/>
        <xs:element name="dbl" type="xs:double"/>
        <xs:element name="when" type="xs:dateTime"/>
        <xs:element name="rep" type="xs:byte" minOccurs="0" maxOccurs="40"/>
        <xs:choice><xs:element name="c1" type="xs:int"/><xs:element name="c2" type="xs:int"/>
          <xs:element ref="head"/></xs:choice>
        <xs:element ref="head"/>
      </xs:sequence>
      <xs:attribute name="id" type="xs:ID"/>
      <xs:attribute name="req" type="xs:unsignedShort" use="required"/>
      <xs:attribute name="fixed" type="xs:string" fixed="F"/>
    </xs:complexType>
  </xs:element>
  <xs:element name="node">
    <xs:complexType><xs:choice>
      <xs:element ref="node" maxOccurs="2"/>
      <xs:element name="leaf" type="xs:boolean"/>
    </xs:choice></xs:complexType>
  </xs:element>
</xs:schema>
"""


@functools.cache
def facets_schema() -> xmlschema.XMLSchema:
    return xmlschema.XMLSchema(FACETS_XSD)


def _values(docs: list[etree._Element], local: str) -> list[str]:
    return [e.text or "" for d in docs for e in d.iter(f"{{urn:t}}{local}")]


@functools.cache
def facets_docs() -> list[etree._Element]:
    generator = InstanceGenerator(facets_schema(), seed=11)
    return [generator.generate("root") for _ in range(400)]


def test_inline_schema_instances_valid() -> None:
    schema = facets_schema()
    for doc in facets_docs():
        assert schema.is_valid(doc), etree.tostring(doc, encoding="unicode")
        assert doc.get("req") is not None


def test_integer_ranges_and_big_values() -> None:
    docs = facets_docs()
    big = [int(v) for v in _values(docs, "big")]
    assert any(abs(v) >= 2**64 for v in big), "no xs:integer beyond 64 bits"
    assert all(0 <= int(v) < 2**64 for v in _values(docs, "ulong"))
    assert {int(v) for v in _values(docs, "ulong")} & {0, 2**64 - 1}
    assert all(-128 <= int(v) <= 127 for v in _values(docs, "byte"))
    ranged = {int(v) for v in _values(docs, "range")}
    assert ranged <= set(range(-4, 8)) and {-4, 7} <= ranged


def test_string_lengths_count_code_points_and_no_edge_whitespace() -> None:
    docs = facets_docs()
    assert all(2 <= len(v) <= 3 for v in _values(docs, "s23"))
    assert all(len(v) == 5 for v in _values(docs, "s5"))
    texts = _values(docs, "str") + _values(docs, "s5") + _values(docs, "s23")
    assert all(v == v.strip() for v in texts)
    assert any(any(ord(c) > 0xFFFF for c in v) for v in texts), "no astral character"
    assert any(any(0x7F < ord(c) <= 0xFFFF for c in v) for v in texts), "no BMP non-ASCII"


def test_binary_lengths_enumerations_lists() -> None:
    docs = facets_docs()
    assert all(re.fullmatch(r"[0-9A-F]{8}", v) for v in _values(docs, "hex4"))
    import base64

    assert all(len(base64.b64decode(v)) <= 10 for v in _values(docs, "b64"))
    assert set(_values(docs, "color")) == {"red", "green"}
    assert all(all(-128 <= int(x) <= 127 for x in v.split()) for v in _values(docs, "ints"))


def test_repetition_boundary_and_substitution() -> None:
    docs = facets_docs()
    counts = [len(d.findall("{urn:t}rep")) for d in docs]
    assert 0 in counts and max(counts) == 40, "maxOccurs boundary never reached"
    assert all(d.find("{urn:t}head") is None for d in docs), "abstract element instantiated"
    assert all(d.find("{urn:t}member") is not None for d in docs)
    assert all(d.get("fixed") in (None, "F") for d in docs)


def test_depth_bound_on_recursive_schema() -> None:
    schema = facets_schema()
    generator = InstanceGenerator(schema, seed=1, max_depth=4, max_list=2)

    def depth(e: etree._Element) -> int:
        return 1 + max((depth(c) for c in e), default=0)

    for _ in range(50):
        doc = generator.generate("node")
        assert schema.is_valid(doc)
        assert depth(doc) <= 6


def test_wildcards_off_by_default() -> None:
    schema = load_schema("xmldsig")
    generator = InstanceGenerator(schema, seed=8, optional_probability=1.0)
    for _ in range(20):
        doc = generator.generate(f"{{{XMLDSIG_NS}}}Signature")
        assert all(etree.QName(e).namespace == XMLDSIG_NS for e in doc.iter())
        assert all((e.tail or "").strip() == "" for e in doc.iter())
    assert not generator.can_generate(f"{{{XMLDSIG_NS}}}SignatureProperty")
    assert InstanceGenerator(schema, wildcards=True).can_generate(
        f"{{{XMLDSIG_NS}}}SignatureProperty"
    )


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(doc=instances(load_schema("iso2"), V2G_ROOTS["iso2"][0]))
def test_hypothesis_strategy(doc: etree._Element) -> None:
    assert load_schema("iso2").is_valid(doc)


def test_repo_and_shared_schemas_match(shared_dir: Path) -> None:
    """The generator reads the repository XSDs, the oracle reads its own copy: same bytes."""
    shared = shared_dir / "schemas"
    if not shared.is_dir():
        pytest.skip("no shared/schemas")
    for rel in SCHEMA_FILES.values():
        assert (schemas_dir() / rel).read_bytes() == (shared / rel).read_bytes(), rel
