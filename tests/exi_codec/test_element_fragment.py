"""Fragments of elements declared with several types (EXI 1.0, 8.5.3).

ISO 15118-2's ``eMAID`` is declared as ``EMAIDType`` (with an ``Id``, signed in
CertificateInstallationRes/UpdateRes) and as the plain ``eMAIDType``. A fragment has no
parent to tell them apart, so the reference codes it with the relaxed element fragment
grammar, whose event codes run over every attribute and element of the schema. The
first vector is RISE-V2G's published digest input for eMAID (see
``tests/vectors/xmldsig``); the others were made by EXIficient configured as in
``../shared/tools/exi-oracle``.
"""

from __future__ import annotations

from typing import Any

import pytest

from iso15118 import codec
from iso15118.messages import iso2

MSGBODY = "urn:iso:15118:2:2013:MsgBody"
VECTORS = [
    ('<eMAID xmlns="urn:iso:15118:2:2013:MsgBody" xmlns:t="urn:iso:15118:2:2013:MsgDataTypes"'
     ' t:Id="id4">DEABCC123ABC56</eMAID>',
     "80ec0202b4b21a40041111505090d0cc4c8cd05090cd4dbd3d00"),
    ('<eMAID xmlns="urn:iso:15118:2:2013:MsgBody">DE8ACC1234567A</eMAID>',
     "80ec800822229c20a1a19899199a1a9b1ba0fa7a00"),
    ('<eMAID xmlns="urn:iso:15118:2:2013:MsgBody" xmlns:t="urn:iso:15118:2:2013:MsgDataTypes"'
     ' t:Id="e"></eMAID>',
     "80ec0201b2bffd00"),
]


@pytest.mark.parametrize(("xml", "hex_"), VECTORS)
def test_ambiguous_element_fragment_matches_the_reference(xml: str, hex_: str) -> None:
    c = codec.get_codec("iso2")
    qname, value = c.from_xml(xml.encode(), fragment=True)
    assert c.encode_value(qname, value, fragment=True).hex() == hex_
    ((q, decoded),) = c.decode_fragment(bytes.fromhex(hex_))
    assert q == f"{{{MSGBODY}}}eMAID"
    assert decoded == value


def test_fragment_is_made_from_the_element_as_it_stands_in_the_message() -> None:
    # the signature path digests the EMAIDType object of a CertificateInstallationRes
    emaid = iso2.EMAIDType(id="id4", value="DEABCC123ABC56")
    assert codec.encode_fragment("eMAID", emaid, "iso2").hex() == VECTORS[0][1]
    assert codec.encode_fragment("eMAID", "DE8ACC1234567A", "iso2").hex() == VECTORS[1][1]


@pytest.mark.oracle
@pytest.mark.parametrize(("xml", "hex_"), VECTORS)
def test_vectors_are_what_the_reference_writes(xml: str, hex_: str, oracle: Any) -> None:
    assert oracle.encode_xml("iso2", xml, fragment=True).hex() == hex_
