"""Conformance vectors: XML with the reference's EXI (made by EXIficient), checked without Java.

``vectors/conformance.jsonl`` holds generated messages of every protocol with the bytes
the reference produced for them (``tools/oracle_corpus.py``); ``vectors/oracle_samples``
are the hand-written samples of the oracle (documents and signature fragments).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from iso15118 import codec as v2g

HERE = Path(__file__).resolve().parent.parent / "vectors"
PROTO = {"appHand": "apphand"}


def _rows() -> list[dict[str, str]]:
    with open(HERE / "conformance.jsonl", encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def _samples() -> list[Path]:
    return sorted((HERE / "oracle_samples").glob("*/*.xml"))


@pytest.mark.parametrize("row", _rows(), ids=lambda r: f"{r['protocol']}-{r['element'][-30:]}")
def test_generated_vector_encodes_and_decodes_byte_exact(row: dict[str, str]) -> None:
    c = v2g.get_codec(PROTO.get(row["protocol"], row["protocol"]))
    want = bytes.fromhex(row["hex"])
    assert c.encode(row["xml"].encode("utf-8")) == want
    q, value = c.decode_value(want)
    assert value == c.from_xml(row["xml"].encode("utf-8"))[1]
    assert c.encode_value(q, value) == want


@pytest.mark.parametrize("path", _samples(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_oracle_sample_is_byte_exact(path: Path) -> None:
    proto = PROTO.get(path.parent.name, path.parent.name)
    c = v2g.get_codec(proto)
    fragment = path.name.endswith(".frag.xml")
    want = bytes.fromhex(path.with_name(path.name[:-4] + ".exi.hex").read_text().strip())
    assert c.encode(path.read_bytes(), fragment=fragment) == want
    back = c.decode(want, fragment=fragment)
    assert c.encode(back, fragment=fragment) == want


def test_empty_element_forms_both_decode_and_both_encode() -> None:
    """Quirk 3: EE (EXIficient) and CH("") (C codecs) for an empty SessionID."""
    c = v2g.get_codec("din")
    c_form = bytes.fromhex("809a001150400000c80006400000")  # OpenV2G PreChargeReq, CH("")
    q, msg = c.decode_value(c_form)
    assert msg.header.session_id == b""
    assert c.encode_value(q, msg, empty_as_ch=True) == c_form
    ee_form = c.encode_value(q, msg)
    assert len(ee_form) == len(c_form) - 1
    assert c.decode_value(ee_form)[1] == msg


def test_third_party_apphand_request_decodes() -> None:
    """RISE-V2G's supportedAppProtocolReq (EXIficient encoder) decodes and re-encodes."""
    c = v2g.get_codec("apphand")
    req = bytes.fromhex(
        "8000dbab9371d3234b71d1b981899189d191818991d26b9b3a232b30020000000001d75726e3a69736f"
        "3a31353131383a323a323031333a4d73674465660040000080880")
    q, msg = c.decode_value(req)
    assert msg.app_protocol[0].protocol_namespace == "urn:din:70121:2012:MsgDef"
    assert c.encode_value(q, msg) == req
