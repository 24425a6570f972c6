"""Decoder findings of the property tests and the fuzz campaign, kept as regression tests.

All six are fixed in the core; each test pins the input that showed the problem. (The
descriptions below say what the decoder did before the fix.)

Finding 1: ``strict=True`` is documented as rejecting what is not schema-valid, but it
accepts streams that leave out required children or required attributes. Non-strict EXI
grammars have an undeclared ``EE`` production in every state (EXI 1.0 section 8.5.4.4.1),
so such a stream is well-formed EXI; strict decoding does not check afterwards that the
content model was satisfied. Protocol auto-detection (which trusts strict decoding) can
therefore take a 3-byte stream for a complete message.

Finding 2 (fuzz/fuzz_exi.py): a length claim of 2**61 or more in a string value or a
literal local name raises ``MemoryError`` instead of the decode error. The checks
``n * 8 > remaining`` (string values) and ``(n - 1) * 8 > remaining`` (local names) in
``_core.pyx`` multiply a 64-bit length by 8, which wraps to a small number for
n = 2**61 (+1), so the check passes and ``chars()`` asks for a 2**61-byte buffer. Python
refuses it, so nothing is allocated, but the exception is untyped. (``BitReader.length``,
used for URIs, rejects anything above 2**31 first and is not affected.)

Finding 3 (fuzz/fuzz_exi.py, re-encode check): the decoder follows an ``xsi:type`` to any
type the schema declares, also one not derived from the element's type, even with
``strict=True``. A 10-byte ISO-2 stream gives a ``SessionSetupRes`` whose ``evse_id``
(an ``xs:string`` facet type) holds a ``ds:X509IssuerSerialType`` object; application code
expecting ``str`` fails later, and re-encoding writes ``"X509IssuerSerialType()"``. Built-in
types too: 8 bytes of DIN give a ``ds:MgmtData`` (``xs:string``) that is the int ``0``.

Finding 4 (fuzz/fuzz_exi.py): ``Decoder.xsi_type`` splits the qname text at ``}`` when it
starts with ``{``. A qname with an empty URI whose local name starts with ``{`` (the
stream may define any local name) has no ``}``, and the decoder raises
``ValueError("need more than 1 value to unpack")`` instead of the decode error.

Finding 5 (fuzz/fuzz_exi.py, re-encode check): the same root as finding 4 outside
xsi:type. Names the stream defines are taken as they come, NCName or not (braces, NUL),
and an undeclared element under a wildcard is returned as Clark text ``{uri}local``,
which such a name makes ambiguous: the local name ``{}p...`` under the empty URI comes
back as ``"{}p..."``, which the encoder reads as the local name ``p...``, so
decode(encode(decode(x))) differs from decode(x); a name ``{...`` without ``}`` came back
as text the encoder could not split at all (``ValueError`` from ``Grammar._lookup_qname``,
also for a hand-made model through the safe ``codec.encode``). Fixed: the decoder refuses
local names that are not XML NCNames and URIs with braces or control characters, and the
encoder refuses such names with its own error.

Finding 6 (fuzz/fuzz_exi.py): an out-of-range integer of more than 4300 digits
(EXI integers are unbounded; 2 KB of stream carry one) makes strict decoding raise
Python's ``ValueError("Exceeds the limit (4300 digits) for integer string conversion")``:
the facet error message formats the value with ``%r``. The safe encoder does the same
with such a value.
"""

from __future__ import annotations

import pytest

from iso15118 import codec
from iso15118.errors import Iso15118Error
from iso15118.testing import lenient

MISSING_REQUIRED = [
    # (supportedAppProtocolRes 8054a9 marks ResponseCode xsi:nil: that is not missing
    # content but a nil value, which re-encodes as the reference does; tests/exi_codec/
    # test_nil.py)
    # Scheduled_DC_CLReqControlMode without any of its required children
    pytest.param("iso20-dc", "809600", id="iso20-dc-controlmode-empty"),
    # ds:CanonicalizationMethod without its required Algorithm attribute
    pytest.param("xmldsig", "800400", id="xmldsig-without-algorithm"),
    # V2G_Message whose Header has a ds:Signature without SignedInfo
    pytest.param("iso2", "809800ccd0310c0080", id="iso2-signature-without-signedinfo"),
]


@pytest.mark.parametrize(("protocol", "hex_"), MISSING_REQUIRED)
def test_strict_decoding_rejects_missing_required_content(protocol: str, hex_: str) -> None:
    with pytest.raises(Iso15118Error):
        codec.decode_element(bytes.fromhex(hex_), protocol, strict=True)


@pytest.mark.parametrize(("protocol", "hex_"), MISSING_REQUIRED)
def test_the_safe_encoder_refuses_what_those_streams_decode_to(protocol: str, hex_: str) -> None:
    element, value = codec.decode_element(bytes.fromhex(hex_), protocol)
    with pytest.raises(Iso15118Error, match="missing"):
        codec.encode(value, protocol, element=element)


OVERFLOWING_LENGTHS = [
    # ds:CanonicalizationMethod's Algorithm attribute (anyURI), string length 2**61
    # (the EXI unsigned integer 2**61 + 2 starts at bit 22, so it is not byte-aligned)
    pytest.param("xmldsig", "80020a0202020202020080", id="string-value-2**61"),
    # an xsi:type qname whose literal local name claims 2**61 characters (fuzzer find,
    # minimised)
    pytest.param("iso2",
                 "80980215d32c4eee9c29c18a0424a218ad2a3081eeae4dc74f074a89e94aa86d4f280aa0"
                 "e2da0ab03221ac2c86a5cdeca6898a2b472804803bc2ba3b33c201e9af2eee48882a0a6e"
                 "49ef2a48a2000c8c9045c9b8e9e0e95de941a905b4ddb5dd0100ecd594840424a2193c32"
                 "b2404500773d51030dd0c088f0afd5df1d3a78421200012200400101f030c3fc04462002"
                 "04048004840404040404040100000004040404040487fff808188000",
                 id="local-name-2**61"),
]


@pytest.mark.parametrize(("protocol", "hex_"), OVERFLOWING_LENGTHS)
def test_length_claims_beyond_2_61_raise_the_decode_error(protocol: str, hex_: str) -> None:
    with pytest.raises(Iso15118Error):
        codec.decode(bytes.fromhex(hex_), protocol)


XSI_TYPE_CASTS = [
    # SessionSetupRes/EVSEID (string) -> ds:X509IssuerSerialType
    pytest.param("iso2", "80801c95008101000000", "X509IssuerSerialType", id="string-to-complex"),
    # ds:MgmtData (string) -> a built-in integer type
    pytest.param("din", "804f2b0000300000", "int", id="string-to-integer"),
]


@pytest.mark.parametrize(("protocol", "hex_", "_got"), XSI_TYPE_CASTS)
def test_strict_decoding_rejects_xsi_type_to_an_unrelated_type(protocol: str, hex_: str,
                                                               _got: str) -> None:
    with pytest.raises(Iso15118Error):
        codec.decode_element(bytes.fromhex(hex_), protocol, strict=True)


@pytest.mark.parametrize(("protocol", "hex_", "got"), XSI_TYPE_CASTS)
def test_lenient_decoding_still_follows_the_cast(protocol: str, hex_: str, got: str) -> None:
    """Non-strict decoding reads what the stream says (captures stay readable)."""
    _, value = codec.decode_element(bytes.fromhex(hex_), protocol)
    field = value.evse_id if protocol == "iso2" else value
    assert type(field).__name__ == got


def test_xsi_type_with_a_local_name_starting_with_a_brace_raises_the_decode_error() -> None:
    data = bytes.fromhex("807c04215e3315610f42528c1012200052a7fe000be21c12411edfd060")
    with pytest.raises(Iso15118Error):
        codec.decode(data, "iso20-wpt")


def test_a_stream_defined_name_that_is_no_xml_name_raises_the_decode_error() -> None:
    # ds:KeyValue holding an undeclared element named with braces and NULs
    data = bytes.fromhex("804100d7d7") + bytes(11) + b"\xd7" + bytes(125)
    with pytest.raises(Iso15118Error, match="not a namespace URI|not an XML name"):
        codec.decode_element(data, "iso20-acdp")


def test_undeclared_element_names_that_are_xml_names_round_trip() -> None:
    xml = ('<KeyValue xmlns="http://www.w3.org/2000/09/xmldsig#">'
           '<x:Key-1.a xmlns:x="urn:x">v</x:Key-1.a></KeyValue>')
    element, value = codec.from_xml(xml, "xmldsig")
    again = codec.encode(value, "xmldsig", element=element)
    assert codec.decode_element(again, "xmldsig") == (element, value)


def _huge_integer_stream() -> tuple[bytes, object]:
    """ISO-2 CurrentDemandReq whose EVTargetCurrent/Value (xs:short) is 10**4300."""
    cdr = bytes.fromhex("8098020f228bd4742791ed90d1001c81860fa018818406018619002061425804"
                        "000308220380610580481081403e00")
    message = codec.decode(cdr, "iso2")
    message.body.body_element.ev_target_current.value = 10**4300
    return lenient.encode(message, "iso2"), message


def test_strict_decoding_of_a_4300_digit_integer_raises_the_decode_error() -> None:
    data, _ = _huge_integer_stream()
    codec.decode(data, "iso2")  # lenient decoding is fine
    with pytest.raises(Iso15118Error):
        codec.decode(data, "iso2", strict=True)


def test_safe_encoding_of_a_4300_digit_integer_raises_the_encode_error() -> None:
    _, message = _huge_integer_stream()
    with pytest.raises(Iso15118Error):
        codec.encode(message, "iso2")


def test_an_ordered_item_named_with_an_unclosed_brace_raises_the_encode_error() -> None:
    from iso15118.messages import xmldsig

    key_value = xmldsig.KeyValueType(children=[("{x", xmldsig.anyType())])
    with pytest.raises(Iso15118Error):
        codec.encode(key_value, "xmldsig")
