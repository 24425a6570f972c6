"""atheris harness: the EXI decoder of one protocol (``--protocol P``).

Per input: decode as a document (lenient and strict) and as a fragment. Beyond "only the
library's errors", one differential check: whatever the decoder accepts, the encoder
(facet checks off) must either refuse with the library's error or write bytes that decode
to the same element and value. A decoder that invents or drops content on the way shows
up there even when it raises nothing.

    python fuzz/fuzz_exi.py --protocol iso2 [--native] fuzz/corpus/exi-iso2 -max_total_time=60
"""

from __future__ import annotations

import argparse
import sys

import _harness


def _options(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--protocol", required=True)


def main() -> None:
    args, argv = _harness.parse_args(_options)
    with _harness.instrumented(args):
        from iso15118 import codec, protocols
        from iso15118.errors import Iso15118Error
        from iso15118.testing import lenient

    protocol = protocols.get(args.protocol).name
    codec.get_codec(protocol)  # compile the grammar before the clock starts

    def test_one_input(data: bytes) -> None:
        try:
            element, value = codec.decode_element(data, protocol)
        except Iso15118Error:
            pass
        else:
            try:
                again = lenient.encode(value, protocol, element=element)
            except Iso15118Error:
                again = None
            if again is not None and codec.decode_element(again, protocol) != (element, value):
                raise AssertionError(
                    f"decode(encode(decode(x))) != decode(x) for x = {data.hex()}")
            try:
                codec.decode_element(data, protocol, strict=True)
            except Iso15118Error:
                pass
        try:
            codec.decode_fragment(data, protocol)
        except Iso15118Error:
            pass

    _harness.fuzz(args, argv, test_one_input)


if __name__ == "__main__":
    sys.exit(main())
