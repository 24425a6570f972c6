"""Compiled grammar tables as text: compile a schema set once, load it in milliseconds.

Compiling XSDs takes ``xmlschema`` and up to a second per schema set, but its result,
the tables of :func:`exi_codec.tables.to_tables`, is plain data. :func:`dumps` writes
them as text and :func:`loads` reads them back without ``xmlschema`` or ``lxml`` into a
:class:`StoredSchema`, which :class:`exi_codec.Codec` takes in place of a freshly
compiled schema.

The text has three parts: a comment line chosen by the caller (generated files say who
made them), a one-line JSON header, and a JSON body with one grammar state, type or
datatype per line, so a change of the compiler reads as a short diff. Nothing in it
is evaluated (it is data for ``json.loads``). The header records the field layout of
the compiler's records, so a file written before a field was added or renamed is
refused, not read into the wrong places, and a checksum of the body, so an edited or
damaged file is refused too. What the tables were made from is the
caller's business (``header`` is stored as given), and :func:`compiler_fingerprint`
names the code that made them.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from exi_codec.datatypes import Datatype
from exi_codec.errors import SchemaError
from exi_codec.grammar import Member, TypeInfo

__all__ = ["FORMAT", "StoredSchema", "compiler_fingerprint", "dumps", "loads", "read_header"]

#: Version of the text layout itself (bump when :func:`dumps`/:func:`loads` change).
FORMAT = 1

# Keys of the tables, written in this order; these hold one item per line.
_TABLE_KEYS = (
    "uris", "local_names", "qnames", "doc_content", "fragment_content", "anytype",
    "element_types", "fragment_types", "global_elements", "fragment_elements", "nillable",
    "datatypes", "types", "states",
)
_LINE_PER_ITEM = frozenset(("states", "types", "datatypes"))
# Sources whose code decides what the tables contain.
_COMPILER_SOURCES = ("grammar.py", "datatypes.py", "tables.py", "stored.py")


def compiler_fingerprint() -> str:
    """SHA-256 over the compiler's source files (and :data:`FORMAT`).

    Any edit of the compiler changes it, so stored tables cannot outlive the code that
    made them unnoticed. A comment edit changes it too: a false alarm costs one
    regeneration, a missed change would cost wrong bytes on the wire.
    """
    h = hashlib.sha256(f"exi_codec.stored format {FORMAT}\n".encode())
    here = Path(__file__).resolve().parent
    for name in _COMPILER_SOURCES:
        try:
            data = (here / name).read_bytes()
        except OSError as e:  # an install without sources cannot vouch for its tables
            raise SchemaError(f"cannot read the compiler source {name}: {e}") from None
        h.update(name.encode() + b"\0" + hashlib.sha256(data).digest() + b"\n")
    return h.hexdigest()


def _layout() -> dict[str, list[str]]:
    return {
        "tables": list(_TABLE_KEYS),
        **{c.__name__: [f.name for f in dataclasses.fields(c)]
           for c in (TypeInfo, Member, Datatype)},
    }


class StoredSchema:
    """Tables read back by :func:`loads`, with the compiler's type and datatype records.

    ``types`` and ``datatypes`` are :class:`~exi_codec.grammar.TypeInfo` and
    :class:`~exi_codec.datatypes.Datatype` objects equal to the compiler's (code that
    binds model classes to types reads them); the grammar states exist only in
    ``tables``, which is what the compiled core is built from.
    """

    def __init__(self, tables: dict[str, Any], header: dict[str, Any]) -> None:
        self.tables = tables
        self.header = header
        self.datatypes = [_datatype(d) for d in tables["datatypes"]]
        for dt, d in zip(self.datatypes, tables["datatypes"], strict=True):
            if d["item"] >= 0:
                dt.item = self.datatypes[d["item"]]
        self.types = [_type_info(t) for t in tables["types"]]


def _datatype(d: dict[str, Any]) -> Datatype:
    kw = {k: v for k, v in d.items() if k != "item"}
    return Datatype(**kw)


def _type_info(t: dict[str, Any]) -> TypeInfo:
    kw = dict(t)
    kw["members"] = [Member(**m) for m in t["members"]]
    return TypeInfo(**kw)


# ---------------------------------------------------------------------------- writing


def _value_to_json(v: Any) -> Any:
    """Enumeration values: JSON scalars as they are, anything else tagged with its type."""
    if v is None or isinstance(v, (bool, str, int)):
        return v
    if isinstance(v, float):
        return {"float": v.hex()}
    if isinstance(v, Decimal):
        return {"decimal": str(v)}
    if isinstance(v, bytes):
        return {"bytes": v.hex()}
    raise SchemaError(f"cannot store an enumeration value of type {type(v).__name__}")


def _item_to_json(key: str, item: Any) -> Any:
    if key == "datatypes":
        return {**item, "values": [_value_to_json(v) for v in item["values"]]}
    return item


def _dump(v: Any) -> str:
    return json.dumps(v, separators=(",", ":"), allow_nan=False)


def dumps(tables: dict[str, Any], *, comment: str, header: dict[str, Any] | None = None) -> str:
    """The text of ``tables`` (as :func:`~exi_codec.tables.to_tables` makes them).

    ``comment`` is the first line, after ``# ``. The result is checked by reading it
    back: tables this format cannot hold exactly are refused, never stored lossily.
    """
    if "\n" in comment or "\r" in comment:
        raise SchemaError("the comment of stored tables must be one line")
    if set(tables) != set(_TABLE_KEYS):
        raise SchemaError(f"unexpected table keys {sorted(set(tables) ^ set(_TABLE_KEYS))}")
    parts = []
    for key in _TABLE_KEYS:
        value = tables[key]
        if key in ("element_types", "fragment_types"):
            value = sorted(value.items())
        if key in _LINE_PER_ITEM:
            rows = ",\n".join(_dump(_item_to_json(key, x)) for x in value)
            parts.append(f"{_dump(key)}:[\n{rows}\n]")
        else:
            parts.append(f"{_dump(key)}:{_dump(value)}")
    body = "{\n" + ",\n".join(parts) + "\n}\n"
    head = {"format": FORMAT, "layout": _layout(), **(header or {}),
            "body_sha256": hashlib.sha256(body.encode()).hexdigest()}
    text = f"# {comment}\n{_dump(head)}\n{body}"
    if loads(text).tables != tables:
        raise SchemaError("these tables cannot be stored exactly")
    return text


# ---------------------------------------------------------------------------- reading


def _split(text: str) -> tuple[str, str]:
    first = text.find("\n")
    second = text.find("\n", first + 1)
    if not text.startswith("#") or first < 0 or second < 0:
        raise SchemaError("not stored grammar tables (no comment and header lines)")
    return text[first + 1:second], text[second + 1:]


def read_header(text: str) -> dict[str, Any]:
    """The header of stored tables, without reading the body."""
    head_text, _ = _split(text)
    try:
        head = json.loads(head_text)
    except ValueError as e:
        raise SchemaError(f"stored grammar tables: bad header ({e})") from None
    if not isinstance(head, dict):
        raise SchemaError("stored grammar tables: bad header")
    return head


def body_of(text: str) -> str:
    """The part of the text after the header (what a caller's checksum covers)."""
    return _split(text)[1]


def _value_from_json(v: Any) -> Any:
    if isinstance(v, dict):
        ((tag, x),) = v.items()
        if tag == "float":
            return float.fromhex(x)
        if tag == "decimal":
            return Decimal(x)
        if tag == "bytes":
            return bytes.fromhex(x)
        raise ValueError(f"unknown value tag {tag!r}")
    return v


def loads(text: str) -> StoredSchema:
    """The tables :func:`dumps` wrote, equal to the ones it was given.

    Raises :class:`SchemaError` if the text is damaged or was written for another
    layout of the compiler's records.
    """
    head = read_header(text)
    if head.get("format") != FORMAT:
        raise SchemaError(f"stored grammar tables have format {head.get('format')!r}; "
                          f"this code reads {FORMAT}")
    if head.get("layout") != _layout():
        raise SchemaError("stored grammar tables were written for other compiler records "
                          "(regenerate them)")
    body = body_of(text)
    if hashlib.sha256(body.encode()).hexdigest() != head.get("body_sha256"):
        raise SchemaError("stored grammar tables were changed after they were written "
                          "(their checksum does not match)")
    try:
        t = json.loads(body)
        # JSON has no tuples and no integer keys; put back what to_tables makes
        t["qnames"] = [tuple(q) for q in t["qnames"]]
        t["element_types"] = dict(t["element_types"])
        t["fragment_types"] = dict(t["fragment_types"])
        for d in t["datatypes"]:
            values = d["values"]
            d["values"] = tuple(_value_from_json(v) for v in values) if values else ()
        return StoredSchema(t, head)
    except (ValueError, KeyError, TypeError, IndexError, AttributeError) as e:
        raise SchemaError(f"stored grammar tables are damaged: {e!r}") from None
