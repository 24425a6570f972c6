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
from iso15118.errors import Iso15118Error, MessageEncodeError
from iso15118.messages import iso2
from iso15118.testing.generate import generator_for
from iso15118.testing.mutate import mutate

STREAMS_PER_GRAMMAR = 400


def _render_everything(protocol: str, element: str, value: object) -> None:
    for render in (lambda: codec.to_xml(value, protocol, element=element),
                   lambda: codec.to_json(value, protocol, element=element).encode("utf-8"),
                   lambda: " ".join(f"{k}={v}" for k, v in summary.key_values(value)),
                   lambda: summary.message_name(protocol, element, value)):
        try:
            render()
        except Iso15118Error:
            pass


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
        _render_everything(protocol, element, value)
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
