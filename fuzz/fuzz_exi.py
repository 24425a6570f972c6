"""atheris harness: the EXI decoder of one protocol (``--protocol P``).

Per input: decode as a document (lenient and strict) and as a fragment. Beyond "only the
library's errors", one differential check: whatever the decoder accepts, the encoder
(facet checks off) must either refuse with the library's error or write bytes that decode
to the same element and value. A decoder that invents or drops content on the way shows
up there even when it raises nothing.

    python fuzz/fuzz_exi.py --protocol iso2 [--native] fuzz/corpus/exi-iso2 -max_total_time=60

Lenient decoding follows an ``xsi:type`` to any declared type, as the reference does
(strict decoding refuses types not derived from the declared one), so such a value can
hold an object its field does not declare and cannot round trip. ``--allow-known`` skips
the re-encode check for those (counted as ``lenient-xsi-type-cast``); every finding of the
campaigns is fixed and pinned in tests/testing/test_testing_decoder_findings.py, so
nothing else is tolerated.
"""

from __future__ import annotations

import argparse
from typing import Any

import _harness


def _options(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--protocol", required=True)


def has_cast(c: Any, tid: int, value: Any, depth: int = 0) -> bool:
    """Whether a decoded value holds a value no declared type of its field has: what an
    ``xsi:type`` to an unrelated type produces (finding 3)."""
    from exi_codec.grammar import M_CHILDREN, M_ELEMENT
    from exi_codec.model import Model

    types = c.tables["types"]
    if types[tid]["simple"]:
        return not _fits_datatype(c, types[tid]["datatype"], value)
    if type(value) is not c.classes[tid]:
        return True
    if depth > 64:
        return False
    for m in types[tid]["members"]:
        item = getattr(value, m["name"], None)
        if m["kind"] == M_CHILDREN and item:
            local = dict(zip(m["qnames"], m["child_types"], strict=True))
            if any(_ordered_cast(c, local, it, depth) for it in item):
                return True
        if m["kind"] != M_ELEMENT or item is None:
            continue
        for it in (item if m["is_list"] else [item]):
            if isinstance(it, Model):
                match = [ct for ct in m["child_types"]
                         if not types[ct]["simple"] and c.classes[ct] is type(it)]
                if not match or has_cast(c, match[0], it, depth + 1):
                    return True
            elif not any(types[ct]["simple"] and _fits_datatype(c, types[ct]["datatype"], it)
                         for ct in m["child_types"]):
                return True
    return False


def _ordered_cast(c: Any, local: dict[int, int], item: Any, depth: int) -> bool:
    """An item of ordered content, ``(qname, value)``: checked against the type its
    name has here (a local declaration) or globally."""
    from exi_codec.errors import ExiError

    if not isinstance(item, tuple) or len(item) != 2 or not isinstance(item[0], str):
        return False
    try:
        q = c.qname_id(item[0])
        tid = local[q] if q in local else c.element_type(item[0])
    except ExiError:
        return False  # a wildcard's undeclared element: any content is its own
    return has_cast(c, tid, item[1], depth + 1)


def _fits_datatype(c: Any, dt: int, value: Any) -> bool:
    """Whether a decoded simple value has the Python type its declared datatype gives."""
    from decimal import Decimal

    from exi_codec import datatypes as d

    kind = c.tables["datatypes"][dt]["kind"] if dt >= 0 else -1
    if kind == d.DT_ENUM:
        return any(type(value) is type(x) and value == x
                   for x in c.tables["datatypes"][dt]["decoded"])
    expected: dict[int, tuple[type, ...]] = {
        d.DT_STRING: (str,), d.DT_BOOLEAN: (bool,), d.DT_NBIT: (int,), d.DT_UNSIGNED: (int,),
        d.DT_INTEGER: (int,), d.DT_BINARY_HEX: (bytes,), d.DT_BINARY_BASE64: (bytes,),
        d.DT_DECIMAL: (Decimal,), d.DT_FLOAT: (float,), d.DT_LIST: (list, tuple),
    }
    if kind not in expected:
        return True  # dates: nothing to compare with
    if isinstance(value, bool) and kind != d.DT_BOOLEAN:
        return False
    return isinstance(value, expected[kind])


def main() -> None:
    args, argv = _harness.parse_args(_options)
    with _harness.instrumented(args):
        from iso15118 import codec, protocols
        from iso15118.errors import Iso15118Error
        from iso15118.testing import lenient

    protocol = protocols.get(args.protocol).name
    codec.get_codec(protocol)  # compile the grammar before the clock starts

    c = codec.get_codec(protocol)

    def test_one_input(data: bytes) -> None:
        checked(data)

    def redecoded(data: bytes) -> tuple[str, Any] | None:
        try:
            return codec.decode_element(data, protocol)
        except Iso15118Error:
            return None  # the encoder wrote what the decoder refuses: a mismatch too

    def checked(data: bytes) -> None:
        try:
            element, value = codec.decode_element(data, protocol)
        except Iso15118Error:
            pass
        else:
            try:
                again = lenient.encode(value, protocol, element=element)
            except Iso15118Error:
                again = None
            if again is not None and redecoded(again) != (element, value):
                # lenient decoding follows any xsi:type, as the reference does (strict
                # decoding refuses it: finding 3): such values cannot round trip
                if has_cast(c, c.element_type(element), value) \
                        and _harness.known(args, "lenient-xsi-type-cast"):
                    return
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
    main()
