"""Mapping of XML Schema simple types to EXI datatype representations (EXI 1.0, 7.1).

Each simple type becomes a :class:`Datatype`: a small record of how its values are
written in the bit stream (``kind``) and the facets the encoder checks. The mapping
follows EXI 1.0 Table 7-1 with the choices the reference implementation (EXIficient)
makes where the specification leaves room, because byte equality with it is the goal:

* integers: an n-bit unsigned offset when the facet range holds at most 4096 values,
  an unsigned integer when the lower bound is >= 0, a signed integer otherwise;
* enumerations: an n-bit index into the facet's values (of the most derived type that
  declares them), except for enumerations of unions, QNames and NOTATIONs (strings);
* unions and anything string-like: strings (7.1.10), with the value string table;
* pattern facets do not give restricted character sets here: no schema this library
  ships uses them, and falling back to plain strings is always decodable by a peer
  that does (it is not byte-identical for such schemas; see :data:`UNSUPPORTED`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from exi_codec.errors import SchemaError

XSD_NS = "http://www.w3.org/2001/XMLSchema"

# Datatype kinds, shared with the compiled core (_core.pyx mirrors these numbers).
DT_STRING = 0
DT_BOOLEAN = 1
DT_NBIT = 2
DT_UNSIGNED = 3
DT_INTEGER = 4
DT_ENUM = 5
DT_BINARY_HEX = 6
DT_BINARY_BASE64 = 7
DT_DECIMAL = 8
DT_FLOAT = 9
DT_LIST = 10
DT_DATETIME = 11

KIND_NAMES = {
    DT_STRING: "string",
    DT_BOOLEAN: "boolean",
    DT_NBIT: "n-bit integer",
    DT_UNSIGNED: "unsigned integer",
    DT_INTEGER: "integer",
    DT_ENUM: "enumeration",
    DT_BINARY_HEX: "hexBinary",
    DT_BINARY_BASE64: "base64Binary",
    DT_DECIMAL: "decimal",
    DT_FLOAT: "float",
    DT_LIST: "list",
    DT_DATETIME: "dateTime",
}

MAX_NBIT_RANGE = 4096

_INTEGER_BUILTINS = {
    "integer", "nonPositiveInteger", "negativeInteger", "nonNegativeInteger",
    "positiveInteger", "long", "unsignedLong", "int", "unsignedInt", "short",
    "unsignedShort", "byte", "unsignedByte",
}
_DATETIME_BUILTINS = {
    "dateTime", "time", "date", "gYearMonth", "gYear", "gMonthDay", "gDay", "gMonth",
}

UNSUPPORTED: tuple[str, ...] = (
    "pattern facets are encoded as plain strings, not restricted character sets",
)


@dataclass
class Datatype:
    """How the values of one simple type are represented; see the module docstring.

    ``name`` is the schema type's name (or that of its nearest named base) for
    error messages. ``minimum``/``maximum`` bound integers (None = unbounded);
    ``offset``/``width`` define n-bit integers and enumeration indices;
    ``min_length``/``max_length`` bound strings (code points) and binaries (octets);
    ``values`` are an enumeration's values, in schema order, as Python values of
    the underlying type; ``item`` is a list's item datatype.
    """

    kind: int
    name: str
    minimum: int | None = None
    maximum: int | None = None
    width: int = 0
    min_length: int | None = None
    max_length: int | None = None
    values: tuple[Any, ...] = ()
    base_kind: int = DT_STRING
    item: Datatype | None = None
    datetime_kind: str = ""
    whitespace_collapse: bool = False
    namespace: str = ""  # of the type ``name`` names (generated code groups enums by it)
    id: int = field(default=-1, compare=False)

    def describe(self) -> str:
        return f"{self.name} ({KIND_NAMES[self.kind]})"


def bits_for(count: int) -> int:
    """Width of an n-bit code that distinguishes ``count`` values (0 for one value)."""
    return 0 if count <= 1 else math.ceil(math.log2(count))


def _type_name(st: Any) -> str:
    t = st
    while t is not None and getattr(t, "name", None) is None:
        t = getattr(t, "base_type", None)
    if t is None:
        return "anonymous"
    name: str = t.name
    if name.startswith("{"):
        return name.split("}", 1)[1]
    return name


def _type_namespace(st: Any) -> str:
    t = st
    while t is not None and getattr(t, "name", None) is None:
        t = getattr(t, "base_type", None)
    name = getattr(t, "name", None) or ""
    return name[1:].split("}", 1)[0] if name.startswith("{") else ""


def _builtin_ancestor(st: Any) -> str:
    """Local name of the nearest XSD built-in type that ``st`` derives from."""
    t = st
    while t is not None:
        name = getattr(t, "name", None)
        if name and name.startswith("{" + XSD_NS + "}"):
            return str(name.split("}", 1)[1])
        t = getattr(t, "base_type", None)
    raise SchemaError(f"simple type {_type_name(st)} does not derive from an XSD built-in")


def _chain(st: Any) -> list[Any]:
    out = []
    t = st
    while t is not None:
        out.append(t)
        t = getattr(t, "base_type", None)
    return out


def _facet(st: Any, tag: str) -> Any:
    """The most derived declaration of a facet along the derivation chain."""
    key = "{" + XSD_NS + "}" + tag
    for t in _chain(st):
        facets = getattr(t, "facets", None) or {}
        if key in facets:
            return facets[key]
    return None


def _int_bounds(st: Any) -> tuple[int | None, int | None]:
    lo: int | None = None
    hi: int | None = None
    for t in _chain(st):
        facets = getattr(t, "facets", None) or {}
        for tag, f in facets.items():
            if tag is None:
                continue
            local = tag.split("}", 1)[1]
            v = getattr(f, "value", None)
            if v is None:
                continue
            if local == "minInclusive":
                lo = int(v) if lo is None else max(lo, int(v))
            elif local == "minExclusive":
                lo = int(v) + 1 if lo is None else max(lo, int(v) + 1)
            elif local == "maxInclusive":
                hi = int(v) if hi is None else min(hi, int(v))
            elif local == "maxExclusive":
                hi = int(v) - 1 if hi is None else min(hi, int(v) - 1)
    builtin = _builtin_ancestor(st)
    if builtin in ("nonNegativeInteger",) and lo is None:
        lo = 0
    if builtin == "positiveInteger" and lo is None:
        lo = 1
    if builtin == "nonPositiveInteger" and hi is None:
        hi = 0
    if builtin == "negativeInteger" and hi is None:
        hi = -1
    return lo, hi


def _lengths(st: Any) -> tuple[int | None, int | None]:
    lo: int | None = None
    hi: int | None = None
    for tag in ("length",):
        f = _facet(st, tag)
        if f is not None:
            return int(f.value), int(f.value)
    f = _facet(st, "minLength")
    if f is not None:
        lo = int(f.value)
    f = _facet(st, "maxLength")
    if f is not None:
        hi = int(f.value)
    return lo, hi


def _is_list(st: Any) -> bool:
    return bool(getattr(st, "is_list", lambda: False)())


def _is_union(st: Any) -> bool:
    return bool(getattr(st, "is_union", lambda: False)())


def _parse_enum_value(kind: int, lexical: Any) -> Any:
    if kind in (DT_NBIT, DT_UNSIGNED, DT_INTEGER):
        return int(lexical)
    if kind == DT_BOOLEAN:
        return lexical in (True, "true", "1")
    if kind == DT_BINARY_HEX:
        return bytes.fromhex(str(lexical))
    if kind == DT_BINARY_BASE64:
        import base64

        return base64.b64decode(str(lexical))
    if kind == DT_DECIMAL:
        from decimal import Decimal

        return Decimal(str(lexical))
    if kind == DT_FLOAT:
        return float(lexical)
    return str(lexical)


class DatatypeFactory:
    """Builds and interns :class:`Datatype` records for the simple types of one schema."""

    def __init__(self) -> None:
        self.datatypes: list[Datatype] = []
        self._by_type: dict[int, Datatype] = {}
        self._keep: list[Any] = []
        self.string = self._add(Datatype(DT_STRING, "string"))

    def _add(self, dt: Datatype) -> Datatype:
        dt.id = len(self.datatypes)
        self.datatypes.append(dt)
        return dt

    def for_type(self, st: Any) -> Datatype:
        key = id(st)
        found = self._by_type.get(key)
        if found is not None:
            return found
        dt = self._build(st)
        dt.namespace = _type_namespace(st)
        dt = self._add(dt)
        self._by_type[key] = dt
        self._keep.append(st)
        return dt

    def _build(self, st: Any) -> Datatype:
        name = _type_name(st)
        enum = getattr(st, "enumeration", None)
        if enum:
            base = getattr(st, "base_type", None)
            # Enumerated values are typed by the nearest base that is not itself an
            # enumeration (EXI 1.0, 7.2; the reference walks the chain the same way).
            while base is not None and getattr(base, "enumeration", None):
                base = getattr(base, "base_type", None)
            if base is None or _is_union(base) or (
                not _is_list(base) and _builtin_ancestor(base) in ("QName", "NOTATION")
            ):
                return Datatype(DT_STRING, name)
            if _is_list(base):
                return Datatype(DT_LIST, name, item=self.for_type(base.item_type))
            base_dt = self._build(base)
            values = tuple(_parse_enum_value(base_dt.kind, v) for v in enum)
            return Datatype(
                DT_ENUM,
                name,
                width=bits_for(len(values)),
                values=values,
                base_kind=base_dt.kind,
            )
        if _is_list(st):
            item = getattr(st, "item_type", None)
            if item is None:
                raise SchemaError(f"list type {name} has no item type")
            return Datatype(DT_LIST, name, item=self.for_type(item))
        if _is_union(st):
            return Datatype(DT_STRING, name)
        builtin = _builtin_ancestor(st)
        lo_len, hi_len = _lengths(st)
        if builtin in _INTEGER_BUILTINS:
            lo, hi = _int_bounds(st)
            if lo is not None and hi is not None and hi - lo + 1 <= MAX_NBIT_RANGE:
                return Datatype(
                    DT_NBIT, name, minimum=lo, maximum=hi, width=bits_for(hi - lo + 1)
                )
            if lo is not None and lo >= 0:
                return Datatype(DT_UNSIGNED, name, minimum=lo, maximum=hi)
            return Datatype(DT_INTEGER, name, minimum=lo, maximum=hi)
        if builtin == "boolean":
            return Datatype(DT_BOOLEAN, name)
        if builtin == "hexBinary":
            return Datatype(DT_BINARY_HEX, name, min_length=lo_len, max_length=hi_len)
        if builtin == "base64Binary":
            return Datatype(DT_BINARY_BASE64, name, min_length=lo_len, max_length=hi_len)
        if builtin == "decimal":
            return Datatype(DT_DECIMAL, name)
        if builtin in ("float", "double"):
            return Datatype(DT_FLOAT, name)
        if builtin in _DATETIME_BUILTINS:
            return Datatype(DT_DATETIME, name, datetime_kind=builtin)
        if builtin in ("anySimpleType", "anyAtomicType"):
            return Datatype(DT_STRING, name)
        collapse = builtin not in ("string", "normalizedString", "anySimpleType")
        return Datatype(
            DT_STRING, name, min_length=lo_len, max_length=hi_len,
            whitespace_collapse=collapse,
        )
