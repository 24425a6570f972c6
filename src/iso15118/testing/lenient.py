"""A lenient encoder for researchers: messages that break their schema on purpose.

A peer's decoder is tested best with input our safe API refuses to write:
:func:`iso15118.codec.encode` checks every facet, because a charger must never send an
out-of-range value. Here those checks are off. :func:`encode` writes a value that breaks
its facets whenever its EXI representation can still carry it:

* strings and binaries longer or shorter than their length facets;
* unsigned and signed integers outside their min/max facets (EXI integers have no size
  limit, so any value works);
* n-bit integers (bounded ranges of at most 4096 values, EXI 1.0 section 7.1.9) outside
  the facet range but inside the ``n`` bits: ``percentValueType`` 0..100 travels in 7 bits,
  so 101..127 can be written, 128 cannot;
* enumerations given as a raw index below ``2**width``: a wrong index (``unitSymbolType``
  has 7 values in 3 bits, so index 7 is writable).

What cannot be written, and why: more list items than a *bounded* ``maxOccurs``. A
schema-informed grammar unrolls the bound (EXI 1.0 section 8.5.4.1.6), so after the last
allowed item the state simply has no production for another one; only the non-strict
second-level ``SE(*)`` production could carry it, as an undeclared element the receiver
must match by name. The compiled encoder has no way to emit that event, and a decoder that
honours the grammar treats such an element as unknown content rather than as item
``maxOccurs + 1``, so this module does not pretend to offer it. Lists with an unbounded
``maxOccurs`` (DIN's ``ProfileEntry``, xmldsig's ``Reference``) loop in the grammar: any
length is valid there, and the safe encoder writes long lists already.

:func:`violations` lists every single-field violation a message admits, :func:`apply`
makes one, and :func:`violate` picks some at random, so a test can walk them
systematically or sample them. The byte-level damage (truncation, bit flips, claimed
lengths) lives in :mod:`iso15118.testing.mutate`.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Final

from exi_codec.datatypes import (
    DT_BINARY_BASE64,
    DT_BINARY_HEX,
    DT_ENUM,
    DT_INTEGER,
    DT_NBIT,
    DT_STRING,
    DT_UNSIGNED,
)
from exi_codec.errors import ExiError
from exi_codec.grammar import M_ATTRIBUTE, M_ELEMENT, M_VALUE
from iso15118 import codec, protocols
from iso15118.errors import Iso15118Error, wrap_codec_error

__all__ = ["Violation", "apply", "document_element", "encode", "violate", "violations"]

#: Cap on the length of over-long strings/binaries we propose: one past the facet is the
#: interesting case, and a facet of 65535 must not make every violation 64 KiB long.
_MAX_OVERLONG: Final = 4097

Step = tuple[str, int | None]  # (python field name, list index or None)


@dataclass(frozen=True)
class Violation:
    """One field set to a value its facets forbid.

    ``path`` is the field path as the encoder reports it (``EVTargetCurrent/Multiplier``);
    ``steps`` address the same field in the model object; ``facet`` names the broken rule.
    """

    path: str
    steps: tuple[Step, ...]
    facet: str
    value: Any

    def __str__(self) -> str:
        return f"{self.path}: {self.facet} broken by {_short(self.value)}"


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else f"{text[:24]}... ({len(value)} long)"


def document_element(protocol: str, value: Any) -> str:
    """The document element a message object is encoded as (the protocol's root, or the
    global element whose type is the object's class)."""
    p = protocols.get(protocol)
    if p.root:
        return p.root
    c = codec.get_codec(protocol)
    for q, t in c.tables["element_types"].items():
        if t >= 0 and c.classes[t] is type(value):
            return str(c.grammar.qname_of(q))
    raise Iso15118Error(f"{type(value).__name__} is not a message of {p.name}")


def encode(value: Any, protocol: str, *, element: str | None = None, fragment: bool = False,
           empty_as_ch: bool = False) -> bytes:
    """EXI bytes for ``value`` with the facet checks off (see the module docstring).

    Structure is still checked (a missing required field, an item where the grammar has no
    production) and values EXI cannot carry at all are still refused: those raise
    :class:`iso15118.errors.MessageEncodeError`.
    """
    c = codec.get_codec(protocol)
    qname = element or document_element(protocol, value)
    if not qname.startswith("{"):
        table = c.xml.fragment_types if fragment else c.xml.global_types
        matches = [q for q in table if q.rsplit("}", 1)[-1] == qname]
        if len(matches) != 1:
            raise Iso15118Error(f"{qname} is not a unique element of {protocol}")
        qname = matches[0]
    try:
        return c.encode_value(qname, value, fragment=fragment, empty_as_ch=empty_as_ch,
                              lenient=True)
    except ExiError as e:
        raise wrap_codec_error(e) from None


# ------------------------------------------------------------------ finding violations


def violations(value: Any, protocol: str, *, element: str | None = None) -> list[Violation]:
    """Every single-field violation :func:`encode` can write for this message.

    For each field with a facet: one past each length bound, one past each value bound,
    the farthest n-bit value, the first and last invalid enumeration index. Deterministic,
    in field order, so a test can try them all.
    """
    c = codec.get_codec(protocol)
    qname = element or document_element(protocol, value)
    tid = c.element_type(qname)
    local = qname.rsplit("}", 1)[-1]
    return list(_walk(c, tid, value, (), local))


def _walk(c: Any, tid: int, value: Any, steps: tuple[Step, ...], path: str
          ) -> Iterator[Violation]:
    t = c.tables["types"][tid]
    if t["simple"]:
        yield from _for_datatype(c, t["datatype"], value, steps, path)
        return
    for m in t["members"]:
        field = m["name"]
        item = getattr(value, field, None)
        if item is None:
            continue
        if m["kind"] == M_ATTRIBUTE:
            yield from _for_datatype(c, m["datatype"], item, steps + ((field, None),),
                                     f"{path}/@{m['xml_name']}")
        elif m["kind"] == M_VALUE:
            yield from _for_datatype(c, m["datatype"], item, steps + ((field, None),), path)
        elif m["kind"] == M_ELEMENT:
            items = list(enumerate(item)) if m["is_list"] else [(None, item)]
            for index, child in items:
                child_tid = _child_type(c, m, child)
                if child_tid is None:
                    continue
                label = _element_label(c, m, child_tid)
                label += f"[{index}]" if index is not None else ""
                yield from _walk(c, child_tid, child, steps + ((field, index),),
                                 f"{path}/{label}")


def _child_type(c: Any, member: dict[str, Any], child: Any) -> int | None:
    """Which child type an item has: the only one, or the one whose class it is."""
    types = member["child_types"]
    if len(types) == 1:
        return int(types[0])
    for ct in types:
        if ct >= 0 and c.classes[ct] is type(child):
            return int(ct)
    return None  # simple-typed alternatives cannot be told apart by the value alone


def _element_label(c: Any, member: dict[str, Any], child_tid: int) -> str:
    if len(member["qnames"]) == 1:
        return str(member["xml_name"])
    index = member["child_types"].index(child_tid)
    return str(c.grammar.qname_of(member["qnames"][index])).rsplit("}", 1)[-1]


def _for_datatype(c: Any, dt: int, value: Any, steps: tuple[Step, ...], path: str
                  ) -> Iterator[Violation]:
    if dt < 0:
        return
    d = c.tables["datatypes"][dt]
    kind = d["kind"]
    name = d["name"]
    if kind in (DT_STRING, DT_BINARY_HEX, DT_BINARY_BASE64):
        filler: Any = "X" if kind == DT_STRING else b"\xa5"
        lo, hi = d["min_length"], d["max_length"]
        if lo:
            yield Violation(path, steps, f"minLength {lo} ({name})", filler * (lo - 1))
        if hi is not None and hi + 1 <= _MAX_OVERLONG:
            yield Violation(path, steps, f"maxLength {hi} ({name})", filler * (hi + 1))
    elif kind == DT_NBIT:
        lo, hi, width = d["minimum"], d["maximum"], d["width"]
        top = lo + (1 << width) - 1
        if top > hi:
            yield Violation(path, steps, f"maxInclusive {hi} ({name}, {width} bits)", hi + 1)
            if top != hi + 1:
                yield Violation(path, steps, f"maxInclusive {hi} ({name}, {width} bits)", top)
    elif kind in (DT_UNSIGNED, DT_INTEGER):
        lo, hi = d["minimum"], d["maximum"]
        if hi is not None:
            yield Violation(path, steps, f"maxInclusive {hi} ({name})", hi + 1)
        if lo is not None and (kind == DT_INTEGER or lo > 0):
            yield Violation(path, steps, f"minInclusive {lo} ({name})", lo - 1)
    elif kind == DT_ENUM:
        count, width = len(d["values"]), d["width"]
        if count < (1 << width):
            yield Violation(path, steps, f"enumeration ({name}: {count} values)", count)
            if (1 << width) - 1 != count:
                yield Violation(path, steps, f"enumeration ({name}: {count} values)",
                                (1 << width) - 1)


# ------------------------------------------------------------------ applying them


def apply(value: Any, violation: Violation) -> Any:
    """A deep copy of ``value`` with the violating value in place."""
    if not violation.steps:  # a simple-typed document element: the value is the field
        return violation.value
    out = copy.deepcopy(value)
    target = out
    for field, index in violation.steps[:-1]:
        target = getattr(target, field)
        if index is not None:
            target = target[index]
    field, index = violation.steps[-1]
    if index is None:
        setattr(target, field, violation.value)
    else:
        getattr(target, field)[index] = violation.value
    return out


def violate(value: Any, protocol: str, rng: random.Random, *, count: int = 1,
            element: str | None = None) -> tuple[Any, list[Violation]]:
    """``value`` with up to ``count`` violations on distinct fields, chosen by ``rng``.

    Returns the changed copy and the violations made (empty when the message has no
    field with a facet, e.g. a body of booleans only).
    """
    found = violations(value, protocol, element=element)
    by_field: dict[tuple[Step, ...], list[Violation]] = {}
    for v in found:
        by_field.setdefault(v.steps, []).append(v)
    fields = list(by_field)
    rng.shuffle(fields)
    chosen = [rng.choice(by_field[f]) for f in fields[:count]]
    out = value
    for v in chosen:
        out = apply(out, v)
    return out, chosen
