"""Stored tables read back equal to what the compiler made, and damaged ones are refused."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

import exi_codec
from exi_codec import stored
from exi_codec.errors import SchemaError
from exi_codec.grammar import compile_schema
from exi_codec.tables import to_tables

XSD = """<?xml version="1.0"?>
<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="urn:t"
           xmlns="urn:t" elementFormDefault="qualified">
  <xs:simpleType name="dec"><xs:restriction base="xs:decimal">
    <xs:enumeration value="1.5"/><xs:enumeration value="-2.25"/></xs:restriction></xs:simpleType>
  <xs:simpleType name="flt"><xs:restriction base="xs:float">
    <xs:enumeration value="0.1"/><xs:enumeration value="3"/></xs:restriction></xs:simpleType>
  <xs:simpleType name="hex"><xs:restriction base="xs:hexBinary">
    <xs:enumeration value="00FF"/></xs:restriction></xs:simpleType>
  <xs:simpleType name="big"><xs:restriction base="xs:integer">
    <xs:minInclusive value="-99999999999999999999999"/></xs:restriction></xs:simpleType>
  <xs:simpleType name="ints"><xs:list itemType="xs:int"/></xs:simpleType>
  <xs:element name="Root"><xs:complexType><xs:sequence>
    <xs:element name="D" type="dec"/><xs:element name="F" type="flt"/>
    <xs:element name="H" type="hex" minOccurs="0"/><xs:element name="B" type="big"/>
    <xs:element name="L" type="ints" maxOccurs="3"/>
    <xs:element name="S" type="xs:string" nillable="true" minOccurs="0"/>
  </xs:sequence><xs:attribute name="n" type="xs:boolean"/></xs:complexType></xs:element>
</xs:schema>
"""


@pytest.fixture(scope="module")
def compiled(tmp_path_factory: pytest.TempPathFactory) -> exi_codec.grammar.CompiledSchema:
    path = Path(tmp_path_factory.mktemp("xsd")) / "t.xsd"
    path.write_text(XSD)
    return compile_schema(exi_codec.load_xmlschema([path]))


def _text(cs: exi_codec.grammar.CompiledSchema) -> str:
    return stored.dumps(to_tables(cs), comment="made by a test", header={"what": "test"})


def test_tables_read_back_equal_with_every_kind_of_enumeration_value(compiled) -> None:
    tables = to_tables(compiled)
    values = {v for d in tables["datatypes"] for v in d["values"]}
    assert {Decimal("1.5"), 0.1, bytes.fromhex("00ff")} <= values
    back = stored.loads(_text(compiled))
    assert back.tables == tables
    assert back.header["what"] == "test"


def test_the_compiler_records_are_rebuilt_equal(compiled) -> None:
    back = stored.loads(_text(compiled))
    assert back.types == compiled.types
    assert back.datatypes == compiled.datatypes
    lists = [d for d in back.datatypes if d.item is not None]
    assert lists and all(d.item is back.datatypes[d.item.id] for d in lists)


def test_a_codec_from_stored_tables_encodes_like_the_compiled_one(compiled) -> None:
    xml = ("<Root xmlns='urn:t' n='true'><D>-2.25</D><F>0.1</F>"
           "<B>-99999999999999999999</B><L>1 2</L><L>3</L><S>a&#10;b</S></Root>")
    fresh = exi_codec.Codec(compiled)
    loaded = exi_codec.Codec(stored.loads(_text(compiled)))
    data = fresh.encode(xml)
    assert loaded.encode(xml) == data
    assert loaded.decode_value(data)[0] == fresh.decode_value(data)[0]


def test_first_line_is_the_comment_and_one_state_per_line(compiled) -> None:
    text = _text(compiled)
    lines = text.splitlines()
    assert lines[0] == "# made by a test"
    assert len(lines) > len(compiled.states) + len(compiled.types) + len(compiled.datatypes)


def test_an_edited_body_is_refused(compiled) -> None:
    text = _text(compiled)
    edited = text.replace("[13,-1,-1,-1,-1]", "[13,-1,-1,-1,0]", 1)
    assert edited != text
    with pytest.raises(SchemaError, match="changed after"):
        stored.loads(edited)


def test_tables_for_other_compiler_records_are_refused(compiled) -> None:
    text = _text(compiled)
    comment, head, body = text.split("\n", 2)
    h = json.loads(head)
    h["layout"]["Member"].append("new_field")
    with pytest.raises(SchemaError, match="other compiler records"):
        stored.loads("\n".join([comment, json.dumps(h), body]))
    h["format"] = 99
    with pytest.raises(SchemaError, match="format"):
        stored.loads("\n".join([comment, json.dumps(h), body]))


@pytest.mark.parametrize("text", ["", "no comment\n{}\n{}", "# c\nnot json\n{}", "# c\n[1]\n{}"])
def test_garbage_is_a_schema_error(text: str) -> None:
    with pytest.raises(SchemaError):
        stored.loads(text)


def test_a_comment_must_be_one_line(compiled) -> None:
    with pytest.raises(SchemaError):
        stored.dumps(to_tables(compiled), comment="two\nlines")


def test_compiler_fingerprint_is_stable_hex() -> None:
    a = stored.compiler_fingerprint()
    assert a == stored.compiler_fingerprint() and len(a) == 64
