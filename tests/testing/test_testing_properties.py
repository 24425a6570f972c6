"""The codec's promises, stated as properties over generated messages of every protocol.

* decode(encode(m)) == m for every message the schema allows;
* any damage to a valid stream either decodes to a schema-valid message (one the safe
  encoder accepts and that survives its own round trip) or raises the library's error;
* a facet violation written by the lenient encoder is refused by strict decoding.

Examples per protocol are kept modest (``V2G_PROPERTY_EXAMPLES``, default 50) so that the
suite stays fast; the fuzz campaign (fuzz/README.md) is where volume comes from.
"""

from __future__ import annotations

import os
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from iso15118 import codec, protocols
from iso15118.errors import Iso15118Error
from iso15118.testing import lenient
from iso15118.testing import strategies as v2gst
from iso15118.testing.generate import Document

EXAMPLES = int(os.environ.get("V2G_PROPERTY_EXAMPLES", "50"))
PROTOCOLS = list(protocols.PROTOCOLS)

_settings = settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
                     suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_decode_of_encode_is_identity(protocol: str) -> None:
    @_settings
    @given(v2gst.documents(protocol))
    def check(doc: Document) -> None:
        data = doc.to_bytes()
        element, value = codec.decode_element(data, protocol, strict=True)
        assert element == doc.element
        assert value == doc.value

    check()


def _schema_valid(protocol: str, element: str, value: Any) -> None:
    """A decoded value is schema-valid when the facet-checking encoder takes it and the
    bytes it writes decode to the same value again."""
    again = codec.encode(value, protocol, element=element)
    assert codec.decode_element(again, protocol, strict=True) == (element, value)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_every_mutation_decodes_to_a_valid_message_or_raises_the_library_error(
        protocol: str) -> None:
    @_settings
    @given(st.data())
    def check(data: st.DataObject) -> None:
        doc = data.draw(v2gst.documents(protocol))
        damaged = data.draw(v2gst.mutated(doc.to_bytes()))
        try:
            codec.decode(damaged, protocol)  # lenient decoding: may succeed, may raise
        except Iso15118Error:
            pass
        try:
            element, value = codec.decode_element(damaged, protocol, strict=True)
        except Iso15118Error:
            return
        _schema_valid(protocol, element, value)

    check()


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_lenient_violations_are_refused_by_strict_decoding(protocol: str) -> None:
    @settings(_settings, max_examples=max(10, EXAMPLES // 2))
    @given(v2gst.violating_documents(protocol))
    def check(pair: tuple[Document, list[lenient.Violation]]) -> None:
        doc, found = pair
        data = lenient.encode(doc.value, protocol, element=doc.element)
        if not found:
            return
        with pytest.raises(Iso15118Error):
            codec.decode_element(data, protocol, strict=True)
        try:
            element, value = codec.decode_element(data, protocol)
        except Iso15118Error as e:  # only a wrong enumeration index is beyond decoding
            assert "enumeration" in str(e), (found, e)
        else:
            assert value == doc.value, found

    check()
