"""Every output path is total over what the decoder returns: XML, JSON and the summaries
either render a decoded value or raise the library's error, never another exception.

Mutated streams of every grammar (non-strict decoding accepts much that no schema-valid
encoder writes: nil anywhere, control characters in strings, missing required content)
go through each path; the two crashes that shipped are regression tests of their own.
"""

from __future__ import annotations

import random
import subprocess
import sys

import pytest

from iso15118 import codec, protocols, summary
from iso15118.errors import Iso15118Error, MessageDecodeError, MessageEncodeError
from iso15118.messages import iso2
from iso15118.testing.generate import generator_for
from iso15118.testing.mutate import mutate
from iso15118.testing.outputs import render_paths

STREAMS_PER_GRAMMAR = 400


@pytest.mark.parametrize("protocol", list(protocols.PROTOCOLS))
def test_decoded_mutations_render_or_raise_the_library_error(protocol: str) -> None:
    gen = generator_for(protocol)
    seeds = [codec.encode(d.value, protocol, element=d.element)
             for d in gen.generate_many(24, seed=2)]
    rng = random.Random(protocol)
    decoded = 0
    for _ in range(STREAMS_PER_GRAMMAR):
        raw = mutate(rng.choice(seeds), rng).data
        try:
            element, value = codec.decode_element(raw, protocol)
        except Iso15118Error:
            continue
        decoded += 1
        for _name, render in render_paths(protocol, element, value):
            try:
                render()
            except Iso15118Error:
                pass
    assert decoded > STREAMS_PER_GRAMMAR // 10


@pytest.mark.parametrize("fmt", ["xml", "json"])
def test_the_nil_digest_value_no_longer_crashes_decode_batch(fmt: str) -> None:
    # the fuzz find of the issue: a non-strict decode of xsi:nil on a base64Binary element
    out = subprocess.run([sys.executable, "-m", "iso15118", "decode", "--protocol", "iso20-ac",
                          "--batch", "--format", fmt], input="8046a06f3cebaf\n",
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and "Traceback" not in out.stderr, out.stderr
    assert ("xsi:nil" in out.stdout) if fmt == "xml" else ('"DigestValue": null' in out.stdout)


def test_a_string_xml_cannot_carry_is_an_encode_error_with_the_element() -> None:
    res = iso2.SessionSetupResType(response_code=iso2.ResponseCodeType.OK, evse_id="E\x01")
    msg = iso2.V2G_Message(header=iso2.MessageHeaderType(session_id=bytes(8)),
                           body=iso2.BodyType(body_element=res))
    with pytest.raises(MessageEncodeError, match="U\\+0001"):
        codec.to_xml(msg, "iso2")
    assert '"EVSEID": "E\\u0001"' in codec.to_json(msg, "iso2")


def test_a_surrogate_code_point_is_a_decode_error_not_a_string_nothing_can_print() -> None:
    # fuzz find (fuzz/outputs.py): a Reference whose string holds U+DC43
    stream = bytes.fromhex(
        "8060084919c3b8031e15af37803d3c443173767340d343a3a381d1797b2bc30b6b836329731b7b697baab3"
        "19c3b8031e15af37803d3cf1bc80d9d8990100f4e080e001e9a5c41c803f803ac02c89901d80e4b5b3802"
        "70d44834d0e8e8e0e6745e5eec64ce5ccaf0c2dae0d8ca5ee05ed0ae8112770a787f275ce9200")
    with pytest.raises(MessageDecodeError, match="U\\+DC43 is a surrogate"):
        codec.decode_element(stream, "xmldsig")
    res = iso2.SessionSetupResType(response_code=iso2.ResponseCodeType.OK, evse_id="DE*ABC\udc43")
    with pytest.raises(MessageEncodeError, match="surrogate"):
        codec.encode(iso2.V2G_Message(header=iso2.MessageHeaderType(session_id=bytes(8)),
                                      body=iso2.BodyType(body_element=res)), "iso2")


def test_summaries_show_nil_values_instead_of_failing() -> None:
    from exi_codec.model import NIL

    _, res = codec.decode_element(bytes.fromhex("8054a9"), "apphand")
    assert summary.key_values(res) == [("ResponseCode", "nil")]
    pv = iso2.PhysicalValueType.construct(multiplier=NIL, unit=iso2.UnitSymbolType.V, value=4)
    assert summary.physical_value(pv) is None


def test_integers_past_the_str_limit_round_trip_through_xml_and_json() -> None:
    # an unbounded xs:integer (xmldsig HMACOutputLength) may be longer than the 4,300
    # digits CPython's int <-> str conversion allows
    from iso15118.messages import xmldsig

    ds = "{http://www.w3.org/2000/09/xmldsig#}"
    big = 10 ** 6000 + 7
    value = xmldsig.SignatureMethodType(algorithm="urn:x",
                                        children=[(ds + "HMACOutputLength", big)])
    element = ds + "SignatureMethod"
    data = codec.encode(value, "xmldsig", element=element)
    _, back = codec.decode_element(data, "xmldsig")
    assert back == value
    xml = codec.to_xml(back, "xmldsig", element=element)
    assert codec.from_xml(xml, "xmldsig") == (element, value)
    assert codec.from_json(codec.to_json(back, "xmldsig", element=element), "xmldsig") == (
        element, value)
    summary.key_values(back)  # renders (the summary shows no such field)


def test_summaries_stay_on_one_line_whatever_a_string_holds() -> None:
    res = iso2.SessionSetupResType(response_code=iso2.ResponseCodeType.OK,
                                   evse_id="DE*A\nB\rC\x00")
    msg = iso2.V2G_Message(header=iso2.MessageHeaderType(session_id=bytes(8)),
                           body=iso2.BodyType(body_element=res))
    line = " ".join(f"{k}={v}" for k, v in summary.key_values(msg))
    assert "\n" not in line and "\r" not in line and "\x00" not in line
    assert "EVSEID=DE*A\\nB\\rC\\x00" in line
    assert summary.one_line("plain text") == "plain text"
