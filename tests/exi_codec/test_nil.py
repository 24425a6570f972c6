"""xsi:nil: decoded as :class:`exi_codec.model.Nil`, written back as the reference does.

Non-strict EXI allows ``xsi:nil`` on any element (EXI 1.0, 8.5.4.4.1); the ISO schemas
declare no element nillable, so nil only comes from streams written that way (fuzzers,
odd peers). It must survive XML, JSON and re-encoding instead of turning into "absent"
(or crashing the XML/JSON writers, as it did before).
"""

from __future__ import annotations

import pickle
from typing import Any

import pytest

from exi_codec.model import NIL, Nil
from iso15118 import codec
from iso15118.errors import MessageDecodeError
from iso15118.messages import apphand, xmldsig

# (protocol, stream, what our encoder writes back: the reference's bytes for the same XML)
NIL_STREAMS = [
    pytest.param("iso20-ac", "8046a06f3cebaf", "8046a0", id="iso20-ac-DigestValue"),
    pytest.param("apphand", "8054a9", "805520", id="apphand-ResponseCode"),
]


@pytest.mark.parametrize(("protocol", "hex_", "written"), NIL_STREAMS)
def test_nil_elements_survive_xml_json_and_reencoding(protocol: str, hex_: str,
                                                      written: str) -> None:
    element, value = codec.decode_element(bytes.fromhex(hex_), protocol)
    xml = codec.to_xml(value, protocol, element=element)
    assert 'xsi:nil="true"' in xml
    assert codec.from_xml(xml, protocol) == (element, value)
    text = codec.to_json(value, protocol, element=element)
    assert "null" in text
    assert codec.from_json(text, protocol) == (element, value)
    assert codec.encode(value, protocol, element=element).hex() == written


def test_a_nil_member_is_not_an_absent_member() -> None:
    _, res = codec.decode_element(bytes.fromhex("8054a9"), "apphand")
    assert isinstance(res, apphand.supportedAppProtocolRes)
    assert res.response_code == NIL and res.response_code is not None


@pytest.mark.oracle
@pytest.mark.parametrize(("protocol", "hex_", "written"), NIL_STREAMS)
def test_nil_streams_read_and_write_as_the_reference(protocol: str, hex_: str, written: str,
                                                     oracle: Any) -> None:
    ref_xml = oracle.decode_exi(protocol if protocol != "apphand" else "appHand",
                                bytes.fromhex(hex_))
    assert 'xsi:nil="true"' in ref_xml
    element, value = codec.decode_element(bytes.fromhex(hex_), protocol)
    ours = codec.encode(value, protocol, element=element)
    schema = protocol if protocol != "apphand" else "appHand"
    assert ours == oracle.encode_xml(schema, codec.to_xml(value, protocol, element=element))
    assert ours == oracle.encode_xml(schema, ref_xml)


@pytest.mark.oracle
def test_a_nil_element_with_attributes_round_trips_as_the_reference(oracle: Any) -> None:
    sig = Nil(xmldsig.SignatureType.construct(id="sig1"))
    data = codec.encode(sig, "xmldsig", element="{http://www.w3.org/2000/09/xmldsig#}Signature")
    element, back = codec.decode_element(data, "xmldsig")
    assert back == sig and back.attributes.id == "sig1"
    xml = codec.to_xml(back, "xmldsig", element=element)
    assert 'Id="sig1"' in xml and 'xsi:nil="true"' in xml
    assert oracle.encode_xml("xmldsig", xml) == data
    assert codec.from_json(codec.to_json(back, "xmldsig", element=element), "xmldsig") == (
        element, sig)


def test_strict_decoding_refuses_nil_where_the_schema_does_not_allow_it() -> None:
    with pytest.raises(MessageDecodeError, match="nillable"):
        codec.decode_element(bytes.fromhex("805520"), "apphand", strict=True)


def test_nil_values_pickle_and_compare() -> None:
    assert pickle.loads(pickle.dumps(NIL)) == NIL
    with_attrs = Nil(xmldsig.SignatureType.construct(id="x"))
    assert pickle.loads(pickle.dumps(with_attrs)) == with_attrs
    assert with_attrs != NIL and repr(NIL) == "Nil()"
