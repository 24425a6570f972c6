"""Decoder findings of the property tests and the fuzz campaign, pinned as reproducers.

Each test states the behaviour we expect and is marked ``xfail(strict=True)`` while the
decoder does otherwise: when the core is fixed the test passes, the strict xfail turns
that into a failure, and whoever fixed it removes the mark (and the matching allowance in
``test_testing_properties.py``).

Finding 1: ``strict=True`` is documented as rejecting what is not schema-valid, but it
accepts streams that leave out required children or required attributes. Non-strict EXI
grammars have an undeclared ``EE`` production in every state (EXI 1.0 section 8.5.4.4.1),
so such a stream is well-formed EXI; strict decoding does not check afterwards that the
content model was satisfied. Protocol auto-detection (which trusts strict decoding) can
therefore take a 3-byte stream for a complete message.
"""

from __future__ import annotations

import pytest

from iso15118 import codec
from iso15118.errors import Iso15118Error

MISSING_REQUIRED = [
    # supportedAppProtocolRes without its required ResponseCode
    pytest.param("apphand", "8054a9", id="apphand-res-without-responsecode"),
    # Scheduled_DC_CLReqControlMode without any of its required children
    pytest.param("iso20-dc", "809600", id="iso20-dc-controlmode-empty"),
    # ds:CanonicalizationMethod without its required Algorithm attribute
    pytest.param("xmldsig", "800400", id="xmldsig-without-algorithm"),
    # V2G_Message whose Header has a ds:Signature without SignedInfo
    pytest.param("iso2", "809800ccd0310c0080", id="iso2-signature-without-signedinfo"),
]


@pytest.mark.xfail(strict=True, reason="strict decoding does not check required content "
                   "(finding 1 in the module docstring)")
@pytest.mark.parametrize(("protocol", "hex_"), MISSING_REQUIRED)
def test_strict_decoding_rejects_missing_required_content(protocol: str, hex_: str) -> None:
    with pytest.raises(Iso15118Error):
        codec.decode_element(bytes.fromhex(hex_), protocol, strict=True)


@pytest.mark.parametrize(("protocol", "hex_"), MISSING_REQUIRED)
def test_the_safe_encoder_refuses_what_those_streams_decode_to(protocol: str, hex_: str) -> None:
    element, value = codec.decode_element(bytes.fromhex(hex_), protocol)
    with pytest.raises(Iso15118Error, match="missing"):
        codec.encode(value, protocol, element=element)
