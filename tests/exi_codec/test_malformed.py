"""Bad input never crashes, hangs or allocates without bound: it raises the library's error."""

from __future__ import annotations

import random

import pytest

from iso15118 import codec as v2g
from iso15118.errors import Iso15118Error, MessageDecodeError, MessageEncodeError

CDR = bytes.fromhex(
    "8098020f228bd4742791ed90d1001c81860fa018818406018619002061425804000308220380610580481081403e00")


def test_every_truncation_raises_a_decode_error() -> None:
    for n in range(len(CDR) - 1):
        with pytest.raises(MessageDecodeError) as info:
            v2g.decode(CDR[:n], "iso2")
        assert info.value.bit_offset >= 0


def test_bit_flips_decode_or_raise_the_library_error() -> None:
    rng = random.Random(1)
    for _ in range(3000):
        data = bytearray(CDR)
        for _ in range(rng.randint(1, 4)):
            i = rng.randrange(len(data) * 8)
            data[i // 8] ^= 0x80 >> (i % 8)
        try:
            v2g.decode(bytes(data), "iso2")
        except Iso15118Error:
            pass


def test_random_bytes_raise_only_the_library_error() -> None:
    rng = random.Random(2)
    for proto in ("apphand", "din", "iso2", "iso20-dc"):
        for _ in range(500):
            data = bytes([0x80]) + bytes(rng.randrange(256) for _ in range(rng.randrange(40)))
            try:
                v2g.decode(data, proto)
            except Iso15118Error:
                pass


def test_huge_length_claims_are_rejected_before_allocation() -> None:
    # SessionSetupReq whose EVCCID (hexBinary) claims 2**40 bytes
    with pytest.raises(MessageDecodeError, match="exceeds"):
        claim = b"\xff\xff\xff\xff\xff\x1f"
        v2g.decode(bytes.fromhex("809802000000000000000011d0") + claim, "iso2")


def test_not_exi_header_is_rejected() -> None:
    with pytest.raises(MessageDecodeError, match="header"):
        v2g.decode(b"\x00\x01", "iso2")


def test_strict_mode_rejects_trailing_bytes() -> None:
    v2g.decode(CDR + b"\x00", "iso2")
    with pytest.raises(MessageDecodeError, match="unused"):
        v2g.decode(CDR + b"\x00", "iso2", strict=True)


def test_encode_errors_name_the_field_path() -> None:
    msg = v2g.decode(CDR, "iso2")
    msg.body.body_element.ev_target_current.multiplier = 7
    with pytest.raises(MessageEncodeError) as info:
        v2g.encode(msg, "iso2")
    assert "EVTargetCurrent" in str(info.value) or "ev_target_current" in str(info.value)
    assert "multiplier" in info.value.path.lower()


def test_encode_rejects_missing_required_field_and_long_values() -> None:
    msg = v2g.decode(CDR, "iso2")
    msg.body.body_element.dc_ev_status = None
    with pytest.raises(MessageEncodeError, match="missing|not allowed"):
        v2g.encode(msg, "iso2")
    msg = v2g.decode(CDR, "iso2")
    msg.header.session_id = b"\x00" * 9
    with pytest.raises(MessageEncodeError, match="maxLength"):
        v2g.encode(msg, "iso2")


def test_object_with_a_field_never_set_is_an_encode_error_with_the_path() -> None:
    from iso15118 import codec
    from iso15118.errors import MessageEncodeError
    from iso15118.messages import iso2

    req = iso2.SessionSetupReqType.__new__(iso2.SessionSetupReqType)  # no __init__: no slots
    msg = iso2.V2G_Message(header=iso2.MessageHeaderType(session_id=bytes(8)),
                           body=iso2.BodyType(body_element=req))
    with pytest.raises(MessageEncodeError, match="SessionSetupReq: .* no field 'evcc_id'"):
        codec.encode(msg, "iso2")


@pytest.mark.parametrize("name", ["{x", "{urn:x}", "a b", "{urn:x}1a"])
def test_bad_names_in_ordered_content_are_encode_errors_everywhere(name: str) -> None:
    from iso15118.messages import xmldsig

    key_value = xmldsig.KeyValueType(children=[(name, xmldsig.anyType())])
    for convert in (lambda: v2g.encode(key_value, "xmldsig"),
                    lambda: v2g.to_xml(key_value, "xmldsig", element="KeyValue")):
        with pytest.raises(MessageEncodeError):
            convert()
