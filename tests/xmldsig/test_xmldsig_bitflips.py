"""A flipped bit anywhere in signed content makes verification fail, exhaustively.

Four places a bit can flip: in the whole message as received (then only bits outside the
signed content, such as the SessionID or the final padding, may leave it valid), in the
EXI fragment of a signed element, in the EXI of SignedInfo, and in the signature value.
Each is tried for every bit. A flip that the decoder rejects counts as detected too.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from xmldsig_messages import ISO2_SIGNED, ISO20_SIGNED, iso2_message, iso20_message

from iso15118 import codec, xmldsig
from iso15118.errors import Iso15118Error
from iso15118.pki.testpki import TestPki
from iso15118.xmldsig.tree import convert


def _flip(data: bytes, bit: int) -> bytes:
    out = bytearray(data)
    out[bit // 8] ^= 0x80 >> (bit % 8)
    return bytes(out)


def _padding_bits(data: bytes, decodes_same: list[int]) -> None:
    """Flips that decode to the same content can only be in the last byte's padding."""
    assert len(decodes_same) <= 7 and all(b >= 8 * (len(data) - 1) for b in decodes_same)


def _every_bit_of_the_message(data: bytes, protocol: str, cert: Any) -> dict[str, int]:
    msg = codec.decode(data, protocol)
    counts = {"rejected by the decoder": 0, "detected by verify": 0, "outside signed content": 0}
    for bit in range(len(data) * 8):
        try:
            other = codec.decode(_flip(data, bit), protocol)
        except Iso15118Error:
            counts["rejected by the decoder"] += 1
            continue
        try:
            xmldsig.verify(other, cert, protocol=protocol)
        except xmldsig.SignatureError:
            counts["detected by verify"] += 1
            continue
        # Accepted: then nothing signed may have changed (the header's SessionID is not
        # signed, and neither are padding bits).
        assert other.body == msg.body and other.header.signature == msg.header.signature, bit
        counts["outside signed content"] += 1
    return counts


def test_every_bit_of_a_signed_iso2_message(pki2: TestPki) -> None:
    signer, body = ISO2_SIGNED["AuthorizationReq"]
    msg = xmldsig.sign(iso2_message(body(pki2)), pki2.key(signer))
    data = codec.encode(msg, "iso2")
    counts = _every_bit_of_the_message(data, "iso2", pki2.cert(signer))
    assert counts["detected by verify"] > 0
    # 64 SessionID bits at most, plus padding.
    assert counts["outside signed content"] <= 64 + 7, counts


def test_every_bit_of_a_real_rise_v2g_authorization_req(dsv2gshark: list[dict[str, Any]]) -> None:
    from cryptography import x509

    by_session: dict[bytes, Any] = {}
    target = None
    for row in dsv2gshark:
        m = codec.decode(bytes.fromhex(row["hex"]), "iso2")
        name = type(m.body.body_element).__name__
        if name == "PaymentDetailsReqType":
            by_session[m.header.session_id] = x509.load_der_x509_certificate(
                m.body.body_element.contract_signature_cert_chain.certificate)
        elif name == "AuthorizationReqType" and m.header.signature is not None and target is None:
            target = (bytes.fromhex(row["hex"]), m.header.session_id)
    assert target is not None
    data, session = target
    counts = _every_bit_of_the_message(data, "iso2", by_session[session])
    assert counts["outside signed content"] <= 64 + 7, counts


def _every_bit_of_the_fragment(msg: Any, ident: str, protocol: str, cert: Any) -> int:
    qname, value = xmldsig.find_by_id(msg, ident, protocol)
    fragment = codec.encode_fragment(qname, value, protocol)
    same: list[int] = []
    detected = 0
    for bit in range(len(fragment) * 8):
        try:
            ((q2, v2),) = codec.decode_fragment(_flip(fragment, bit), protocol)
        except (Iso15118Error, ValueError):
            detected += 1
            continue
        if q2 == qname and v2 == value:
            same.append(bit)
            continue
        # Put the altered element where the original was, as an attacker would.
        tampered = copy.deepcopy(msg)
        _replace(tampered, value, v2, protocol)
        with pytest.raises(xmldsig.SignatureError):
            xmldsig.verify(tampered, cert, protocol=protocol)
        detected += 1
    _padding_bits(fragment, same)
    return detected


def _replace(msg: Any, old: Any, new: Any, protocol: str) -> None:
    """Swap the object equal to ``old`` for ``new`` in the message tree (by attribute)."""
    def walk(obj: Any) -> bool:
        for name, *_ in getattr(type(obj), "_exi_members", ()):
            v = getattr(obj, name, None)
            if v == old and type(v) is type(old):
                setattr(obj, name, new)
                return True
            if isinstance(v, list):
                if any(walk(i) for i in v):
                    return True
            elif v is not None and hasattr(type(v), "_exi_members") and walk(v):
                return True
        return False

    assert walk(msg)


def test_every_bit_of_a_signed_iso2_fragment(pki2: TestPki) -> None:
    signer, body = ISO2_SIGNED["MeteringReceiptReq"]
    msg = xmldsig.sign(iso2_message(body(pki2)), pki2.key(signer))
    assert _every_bit_of_the_fragment(msg, "ID1", "iso2", pki2.cert(signer)) > 0


@pytest.mark.parametrize("suffix", ["", "_ed448"])
def test_every_bit_of_a_signed_iso20_fragment(pki20: TestPki, suffix: str) -> None:
    signer, build = ISO20_SIGNED["MeteringConfirmationReq"]
    msg = xmldsig.sign(iso20_message(build(pki20, suffix)), pki20.key(signer + suffix))
    assert _every_bit_of_the_fragment(msg, "ID1", "iso20-common",
                                      pki20.cert(signer + suffix)) > 0


def _every_bit_of_signed_info(msg: Any, protocol: str, cert: Any) -> None:
    si = msg.header.signature.signed_info
    module = type(msg).__module__.rsplit(".", 1)[1]
    data = xmldsig.signed_info_exi(si)
    same: list[int] = []
    for bit in range(len(data) * 8):
        try:
            ((_q, v2),) = codec.decode_fragment(_flip(data, bit), "xmldsig")
        except (Iso15118Error, ValueError):
            continue
        other = convert(v2, module)
        if other == si:
            same.append(bit)
            continue
        tampered = copy.deepcopy(msg)
        tampered.header.signature.signed_info = other
        with pytest.raises(xmldsig.SignatureError):
            xmldsig.verify(tampered, cert, protocol=protocol)
    _padding_bits(data, same)


def _every_bit_of_the_signature_value(msg: Any, protocol: str, cert: Any) -> None:
    value = msg.header.signature.signature_value.value
    for bit in range(len(value) * 8):
        tampered = copy.deepcopy(msg)
        tampered.header.signature.signature_value.value = _flip(value, bit)
        with pytest.raises(xmldsig.SignatureValueError):
            xmldsig.verify(tampered, cert, protocol=protocol)


def test_every_bit_of_iso2_signed_info_and_signature_value(pki2: TestPki) -> None:
    signer, body = ISO2_SIGNED["AuthorizationReq"]
    msg = xmldsig.sign(iso2_message(body(pki2)), pki2.key(signer))
    _every_bit_of_signed_info(msg, "iso2", pki2.cert(signer))
    _every_bit_of_the_signature_value(msg, "iso2", pki2.cert(signer))


@pytest.mark.parametrize("suffix", ["", "_ed448"])
def test_every_bit_of_iso20_signed_info_and_signature_value(pki20: TestPki,
                                                            suffix: str) -> None:
    signer, build = ISO20_SIGNED["AuthorizationReq"]
    msg = xmldsig.sign(iso20_message(build(pki20, suffix)), pki20.key(signer + suffix))
    _every_bit_of_signed_info(msg, "iso20-common", pki20.cert(signer + suffix))
    _every_bit_of_the_signature_value(msg, "iso20-common", pki20.cert(signer + suffix))
