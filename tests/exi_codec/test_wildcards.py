"""Undeclared elements under xmldsig's wildcards (oracle README, quirk 5).

With built-in element grammars disabled, the reference casts every undeclared
element to xs:anyType with an xsi:type attribute written through the built-in
grammar's AT(*), and on later occurrences of the same name its runtime grammar has
one first-level production (a 1-bit escape precedes the code). The vectors in
``tests/vectors/xmldsig_wildcards.jsonl`` were made by EXIficient configured as in
``../shared/tools/exi-oracle``; they are checked without Java, and again against the
live reference when it is there.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from exi_codec.errors import EncodeError
from iso15118 import codec

ROWS = [json.loads(line) for line in
        (Path(__file__).parents[1] / "vectors/xmldsig_wildcards.jsonl").read_text().splitlines()]
IDS = [f"{r['what']}{' (fragment)' if r['fragment'] else ''}" for r in ROWS]


def _decode(c: Any, data: bytes, fragment: bool) -> Any:
    if fragment:
        ((_, value),) = c.decode_fragment(data)
        return value
    return c.decode_value(data)[1]


@pytest.mark.parametrize("row", ROWS, ids=IDS)
def test_undeclared_elements_encode_and_decode_like_the_reference(row: dict[str, Any]) -> None:
    c = codec.get_codec(row["protocol"])
    want = bytes.fromhex(row["hex"])
    qname, value = c.from_xml(row["xml"].encode(), fragment=row["fragment"])
    assert c.encode_value(qname, value, fragment=row["fragment"]) == want
    assert _decode(c, want, row["fragment"]) == value


@pytest.mark.oracle
@pytest.mark.parametrize("row", ROWS, ids=IDS)
def test_vectors_are_what_the_reference_writes(row: dict[str, Any], oracle: Any) -> None:
    assert oracle.encode_xml("xmldsig", row["xml"], fragment=row["fragment"]).hex() == row["hex"]


def test_declared_element_out_of_place_is_refused_not_cast() -> None:
    c = codec.get_codec("xmldsig")
    xml = ('<SignatureMethod xmlns="http://www.w3.org/2000/09/xmldsig#" Algorithm="a">'
           '<x:A xmlns:x="urn:x"/><HMACOutputLength>8</HMACOutputLength></SignatureMethod>')
    qname, value = c.from_xml(xml.encode())
    with pytest.raises(EncodeError, match="HMACOutputLength not allowed here"):
        c.encode_value(qname, value)
