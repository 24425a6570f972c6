"""Conversion between XML (lxml) and model objects, driven by the compiled schema.

XML is the lingua franca of EXI tools (the reference's test vectors, captures
rendered by other decoders), so every codec offers it; the bit-level work stays in
the compiled core, which only ever sees model objects. Lexical forms follow XML
Schema 1.0 Part 2 (``true``/``false``, hexBinary upper case, canonical integers).
"""

from __future__ import annotations

import base64
import binascii
import decimal
import re
from collections.abc import Callable
from typing import Any

from exi_codec import datatypes as D
from exi_codec.errors import EncodeError
from exi_codec.grammar import M_ATTRIBUTE, M_CHILDREN, M_ELEMENT, M_VALUE
from exi_codec.model import NIL, Nil

XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
XSI_NIL = f"{{{XSI_NS}}}nil"
# the JSON key of xsi:nil on a nil element that carries attributes (a plain nil element
# is JSON null); ":" cannot occur in an XSD local name, so it never meets a field
JSON_NIL_KEY = "xsi:nil"
_JSON_INT_MAX = 10 ** 4000  # comfortably below CPython's 4,300-digit str() limit


class _LazyEtree:
    """Stands in for ``lxml.etree`` until XML is first built: the JSON side of this
    module, and every codec that never touches XML, then starts without lxml."""

    def __getattr__(self, name: str) -> Any:
        from lxml import etree as real

        globals()["etree"] = real
        return getattr(real, name)


etree: Any = _LazyEtree()


def _sub_element(parent: Any, tag: Any) -> Any:
    """A child named by model content (ordered items): a bad name is an encode error."""
    try:
        return etree.SubElement(parent, tag)
    except (ValueError, TypeError) as e:
        raise EncodeError(f"{tag!r} is not an XML element name: {e}") from None


_INTEGER_TEXT = re.compile(r"[+-]?[0-9]+")


def int_text(v: int) -> str:
    """Decimal text of any integer. ``str()`` refuses more than 4,300 digits (CPython's
    guard against quadratic conversion); an unbounded ``xs:integer`` in a stream can be
    longer, and ``decimal`` converts it without the limit, in linear time."""
    try:
        return str(v)
    except ValueError:
        return format(decimal.Decimal(v), "f")


def text_int(s: str) -> int:
    """The inverse of :func:`int_text` (``int()`` has the same 4,300-digit limit)."""
    try:
        return int(s)
    except ValueError:
        if not _INTEGER_TEXT.fullmatch(s.strip()):
            raise
        return int(decimal.Decimal(s.strip()))


def _xml_text(el: Any, text: str, *, tail: bool = False) -> None:
    """Set an element's text (or tail): a value holding characters that XML 1.0 cannot
    carry (C0 controls other than tab/LF/CR, lone surrogates), which a decoded EXI string
    may, is an encode error naming the element, not lxml's ValueError."""
    try:
        if tail:
            el.tail = text
        else:
            el.text = text
    except ValueError:
        raise EncodeError(_not_xml(text), _local(el.tag)) from None


def _xml_attr(el: Any, key: str, text: str) -> None:
    try:
        el.set(key, text)
    except ValueError:
        raise EncodeError(_not_xml(text), f"{_local(el.tag)}/@{_local(key)}") from None


def _not_xml(text: str) -> str:
    bad = next((c for c in text if not _xml_char(c)), "")
    code = f"U+{ord(bad):04X}" if bad else "a character"
    return f"the value holds {code}, which XML 1.0 cannot represent (JSON can)"


def _xml_char(c: str) -> bool:
    o = ord(c)
    return (o in (0x9, 0xA, 0xD) or 0x20 <= o <= 0xD7FF or 0xE000 <= o <= 0xFFFD
            or 0x10000 <= o <= 0x10FFFF)


def _local(tag: Any) -> str:
    return str(tag).rsplit("}", 1)[-1]


def _blank(klass: Any, members: list[dict[str, Any]]) -> Any:
    """An object of ``klass`` with every member unset (None, lists empty), made without
    ``__init__``: its required arguments are filled in by the caller as they are read."""
    obj = klass.__new__(klass)
    for m in members:
        object.__setattr__(obj, m["name"], [] if m["is_list"] else None)
    return obj


def _split(tag: str) -> tuple[str, str]:
    if tag.startswith("{"):
        ns, sep, local = tag[1:].partition("}")
        if not sep:
            raise EncodeError(f"{tag!r} is not a qualified name ({{uri}}local)")
        return ns, local
    return "", tag


class XmlConverter:
    """Reads and writes model objects as lxml trees for one compiled schema."""

    def __init__(self, tables: dict[str, Any], classes: list[Any],
                 qname_text: Callable[[int], str]) -> None:
        self.tables = tables
        self.types = tables["types"]
        self.dts = tables["datatypes"]
        self.classes = classes
        self.qname_text = qname_text
        self.enum_values: dict[int, tuple[Any, ...]] = {}
        # qname text -> type id for each element member, per type
        self._children: list[dict[str, tuple[int, int]]] = []
        for t in self.types:
            m: dict[str, tuple[int, int]] = {}
            for mi, mem in enumerate(t["members"]):
                for q, ct in zip(mem["qnames"], mem["child_types"], strict=True):
                    m[qname_text(q)] = (mi, ct)
            self._children.append(m)
        self.global_types = {qname_text(q): t for q, t in tables["element_types"].items()}
        self.fragment_types = {qname_text(q): t for q, t in tables["fragment_types"].items()}
        self.anytype: int | None = tables.get("anytype")

    # ------------------------------------------------------------------ lexical

    def parse_value(self, dt_id: int, text: str, path: str) -> Any:
        dt = self.dts[dt_id]
        kind = dt["kind"]
        try:
            if kind == D.DT_STRING:
                if dt.get("whitespace_collapse"):
                    return " ".join(text.split())
                return text
            s = text.strip()
            if kind in (D.DT_NBIT, D.DT_UNSIGNED, D.DT_INTEGER):
                return text_int(s)
            if kind == D.DT_BOOLEAN:
                if s in ("true", "1"):
                    return True
                if s in ("false", "0"):
                    return False
                raise ValueError(s)
            if kind == D.DT_BINARY_HEX:
                return bytes.fromhex(s)
            if kind == D.DT_BINARY_BASE64:
                return base64.b64decode("".join(s.split()), validate=True)
            if kind == D.DT_ENUM:
                base = dt["base_kind"]
                values = self.enum_values.get(dt_id) or tuple(dt["values"])
                raw = tuple(dt["values"])
                if base in (D.DT_NBIT, D.DT_UNSIGNED, D.DT_INTEGER):
                    key: Any = int(s)
                elif base == D.DT_BOOLEAN:
                    key = s in ("true", "1")
                else:
                    key = s if base == D.DT_STRING else s
                for i, v in enumerate(raw):
                    if v == key or str(v) == s:
                        return values[i]
                raise EncodeError(f"{s!r} is not one of the values of {dt['name']}", path)
            if kind == D.DT_DECIMAL:
                return decimal.Decimal(s)
            if kind == D.DT_FLOAT:
                return float({"INF": "inf", "-INF": "-inf", "NaN": "nan"}.get(s, s))
            if kind == D.DT_LIST:
                return [self.parse_value(dt["item"], x, path) for x in text.split()]
        except EncodeError:
            raise
        except (ValueError, binascii.Error, decimal.InvalidOperation):
            raise EncodeError(f"{text!r} is not a valid {dt['name']}", path) from None
        return text

    def format_value(self, dt_id: int, v: Any) -> str:
        dt = self.dts[dt_id]
        kind = dt["kind"]
        if kind == D.DT_BOOLEAN:
            return "true" if v else "false"
        if kind == D.DT_BINARY_HEX:
            return bytes(v).hex().upper()
        if kind == D.DT_BINARY_BASE64:
            return base64.b64encode(bytes(v)).decode("ascii")
        if kind == D.DT_ENUM:
            v = getattr(v, "value", v)
            if isinstance(v, bool):
                return "true" if v else "false"
            if isinstance(v, bytes):
                return v.hex().upper()
            return str(v)
        if kind == D.DT_LIST:
            return " ".join(self.format_value(dt["item"], x) for x in v)
        if kind == D.DT_FLOAT:
            f = float(v)
            if f != f:
                return "NaN"
            if f in (float("inf"), float("-inf")):
                return "INF" if f > 0 else "-INF"
            return repr(f)
        if type(v) is int:
            return int_text(v)
        return str(v)

    # ------------------------------------------------------------------ XML -> model

    def from_xml(self, el: Any, type_id: int, path: str) -> Any:
        t = self.types[type_id]
        if el.get(XSI_NIL, "").strip() in ("true", "1"):
            return self._nil_from_xml(el, type_id, path)
        if t["simple"]:
            if len(el):
                raise EncodeError("a simple-typed element cannot have child elements", path)
            return self.parse_value(t["datatype"], el.text or "", path)
        xsi_type = el.get(f"{{{XSI_NS}}}type")
        if xsi_type is not None and t["name"] != xsi_type.split(":")[-1]:
            raise EncodeError("xsi:type is not supported on encode", path)
        klass = self.classes[type_id]
        if klass is None:
            raise EncodeError(f"type {t['name']} is abstract", path)
        members = t["members"]
        obj = _blank(klass, members)
        attrs = dict(el.attrib)
        for m in members:
            if m["kind"] == M_ATTRIBUTE:
                key = f"{{{m['namespace']}}}{m['xml_name']}" if m["namespace"] else m["xml_name"]
                if key in attrs:
                    object.__setattr__(obj, m["name"], self.parse_value(
                        m["datatype"], attrs.pop(key), f"{path}/@{m['xml_name']}"))
            elif m["kind"] == M_VALUE:
                if len(el):
                    raise EncodeError("simple content cannot have child elements", path)
                object.__setattr__(obj, m["name"], self.parse_value(
                    m["datatype"], el.text or "", path))
        for k in attrs:
            if _split(k)[0] != XSI_NS:
                raise EncodeError(f"attribute {k} is not declared", path)
        children = self._children[type_id]
        if t["ordered"]:
            ci = next(i for i, m in enumerate(members) if m["kind"] == M_CHILDREN)
            seq: list[Any] = []
            if el.text and el.text.strip():
                seq.append(el.text)
            for c in el:
                if not isinstance(c.tag, str):
                    continue
                found = children.get(c.tag) or self._ordered_child_type(type_id, c.tag)
                if found is None:
                    raise EncodeError(f"element {c.tag} is not allowed here", path)
                seq.append((c.tag, self.from_xml(c, found[1], f"{path}/{_split(c.tag)[1]}")))
                if c.tail and c.tail.strip():
                    seq.append(c.tail)
            object.__setattr__(obj, members[ci]["name"], seq)
            return obj
        if not any(m["kind"] == M_VALUE for m in members) and el.text and el.text.strip():
            raise EncodeError("text is not allowed in element-only content", path)
        for c in el:
            if not isinstance(c.tag, str):
                continue
            found = children.get(c.tag)
            if found is None:
                raise EncodeError(f"element {c.tag} is not allowed here", path)
            mi, ct = found
            m = members[mi]
            value = self.from_xml(c, ct, f"{path}/{_split(c.tag)[1]}")
            if m["is_list"]:
                getattr(obj, m["name"]).append(value)
            elif getattr(obj, m["name"]) is not None:
                raise EncodeError(f"element {_split(c.tag)[1]} appears more than once", path)
            else:
                object.__setattr__(obj, m["name"], value)
        return obj

    def _nil_from_xml(self, el: Any, type_id: int, path: str) -> Nil:
        if len(el) or (el.text and el.text.strip()):
            raise EncodeError("an element with xsi:nil=\"true\" must be empty", path)
        t = self.types[type_id]
        attrs = {k: v for k, v in el.attrib.items() if _split(k)[0] != XSI_NS}
        if not attrs:
            return NIL
        klass = self.classes[type_id]
        if t["simple"] or klass is None:
            raise EncodeError(f"attribute {next(iter(attrs))} is not declared", path)
        obj = _blank(klass, t["members"])
        for m in t["members"]:
            if m["kind"] == M_ATTRIBUTE:
                key = f"{{{m['namespace']}}}{m['xml_name']}" if m["namespace"] else m["xml_name"]
                if key in attrs:
                    object.__setattr__(obj, m["name"], self.parse_value(
                        m["datatype"], attrs.pop(key), f"{path}/@{m['xml_name']}"))
        if attrs:
            raise EncodeError(f"attribute {next(iter(attrs))} is not declared", path)
        return Nil(obj)

    def _ordered_child_type(self, type_id: int, tag: str) -> tuple[int, int] | None:
        # wildcard content: a globally declared element keeps its own type, any other
        # is xs:anyType (the encoder refuses it where no wildcard allows it)
        t = self.global_types.get(tag)
        if t is None:
            t = self.anytype
        return (0, t) if t is not None else None

    # ------------------------------------------------------------------ model -> XML

    def to_xml(self, tag: str, value: Any, type_id: int, nsmap: dict[str | None, str]) -> Any:
        el = etree.Element(tag, nsmap=nsmap)
        self._fill(el, value, type_id)
        return el

    def _fill(self, el: Any, value: Any, type_id: int) -> None:
        t = self.types[type_id]
        if type(value) is Nil:
            el.set(XSI_NIL, "true")
            value = value.attributes
            if value is None or t["simple"]:
                return
            for m in t["members"]:
                v = getattr(value, m["name"], None)
                if m["kind"] == M_ATTRIBUTE and v is not None:
                    key = (f"{{{m['namespace']}}}{m['xml_name']}" if m["namespace"]
                           else m["xml_name"])
                    _xml_attr(el, key, self.format_value(m["datatype"], v))
            return
        if t["simple"]:
            _xml_text(el, self.format_value(t["datatype"], value))
            return
        if value is None:
            return
        for m in t["members"]:
            v = getattr(value, m["name"], None)
            if v is None:
                continue
            kind = m["kind"]
            if kind == M_ATTRIBUTE:
                key = f"{{{m['namespace']}}}{m['xml_name']}" if m["namespace"] else m["xml_name"]
                _xml_attr(el, key, self.format_value(m["datatype"], v))
            elif kind == M_VALUE:
                _xml_text(el, self.format_value(m["datatype"], v))
            elif kind == M_ELEMENT:
                items = v if m["is_list"] else [v]
                for item in items:
                    q, ct = self._member_child(m, item)
                    c = etree.SubElement(el, self.qname_text(q))
                    self._fill(c, item, ct)
            elif kind == M_CHILDREN:
                last = None
                for item in v:
                    if isinstance(item, str):
                        if last is None:
                            _xml_text(el, (el.text or "") + item)
                        else:
                            _xml_text(last, (last.tail or "") + item, tail=True)
                        continue
                    tag, cv = item
                    c = _sub_element(el, tag)
                    found = self._children[type_id].get(tag, (0, None))[1]
                    if found is None:
                        found = self.global_types.get(tag)
                    if found is not None:
                        self._fill(c, cv, found)
                    else:
                        self._fill_any(c, cv)
                    last = c

    def _fill_any(self, el: Any, value: Any) -> None:
        if type(value) is Nil:
            el.set(XSI_NIL, "true")
            return
        for item in getattr(value, "children", []) or []:
            if isinstance(item, str):
                _xml_text(el, (el.text or "") + item)
            else:
                c = _sub_element(el, item[0])
                self._fill_any(c, item[1])

    def _member_child(self, m: dict[str, Any], item: Any) -> tuple[int, int]:
        if len(m["qnames"]) == 1:
            return m["qnames"][0], m["child_types"][0]
        for q, ct in zip(m["qnames"], m["child_types"], strict=True):
            klass = self.classes[ct]
            if klass is not None and type(item) is klass:
                return q, ct
        for q, ct in zip(m["qnames"], m["child_types"], strict=True):
            if self.types[ct]["simple"]:
                return q, ct
        raise EncodeError(f"{type(item).__name__} cannot stand for {m['xml_name']}")


class JsonConverter:
    """Model objects <-> JSON-ready dicts keyed by XSD local names (lossless).

    Scalars use their XML lexical form where JSON has no type for them (binary as
    hex or base64 text as the schema types them, decimals as strings), so a JSON
    message reads like its XML and converts back to the same EXI.
    """

    def __init__(self, xml: XmlConverter) -> None:
        self.x = xml

    def _scalar_out(self, dt_id: int, v: Any) -> Any:
        kind = self.x.dts[dt_id]["kind"]
        if kind in (D.DT_NBIT, D.DT_UNSIGNED, D.DT_INTEGER, D.DT_BOOLEAN):
            if type(v) is int and (v > _JSON_INT_MAX or v < -_JSON_INT_MAX):
                # past what json (str()) can write: the digits as a string, which
                # from_dict reads back to the same integer
                return int_text(v)
            return v
        if kind == D.DT_FLOAT:
            return v if v == v and v not in (float("inf"), float("-inf")) else self.x.format_value(
                dt_id, v)
        if kind == D.DT_LIST:
            return [self._scalar_out(self.x.dts[dt_id]["item"], i) for i in v]
        if kind == D.DT_ENUM:
            v = getattr(v, "value", v)
            return v if isinstance(v, (int, bool, str)) else self.x.format_value(dt_id, v)
        return self.x.format_value(dt_id, v)

    def _scalar_in(self, dt_id: int, v: Any, path: str) -> Any:
        kind = self.x.dts[dt_id]["kind"]
        if kind == D.DT_LIST and isinstance(v, list):
            return [self._scalar_in(self.x.dts[dt_id]["item"], i, path) for i in v]
        if isinstance(v, bool):
            v = "true" if v else "false"
        return self.x.parse_value(dt_id, str(v), path)

    def to_dict(self, value: Any, type_id: int) -> Any:
        t = self.x.types[type_id]
        if type(value) is Nil:
            if value.attributes is None or t["simple"]:
                return None
            out_nil: dict[str, Any] = {JSON_NIL_KEY: True}
            for m in t["members"]:
                v = getattr(value.attributes, m["name"], None)
                if m["kind"] == M_ATTRIBUTE and v is not None:
                    out_nil[m["xml_name"]] = self._scalar_out(m["datatype"], v)
            return out_nil
        if t["simple"]:
            return self._scalar_out(t["datatype"], value)
        out: dict[str, Any] = {}
        for m in t["members"]:
            v = getattr(value, m["name"], None)
            if v is None or (m["is_list"] and m["kind"] == M_ELEMENT and v == []):
                continue
            kind = m["kind"]
            if kind == M_ATTRIBUTE:
                out[m["xml_name"]] = self._scalar_out(m["datatype"], v)
            elif kind == M_VALUE:
                out["value"] = self._scalar_out(m["datatype"], v)
            elif kind == M_ELEMENT:
                items = v if m["is_list"] else [v]
                for item in items:
                    q, ct = self.x._member_child(m, item)
                    key = self.x.qname_text(q).split("}", 1)[-1]
                    d = self.to_dict(item, ct)
                    if m["is_list"]:
                        out.setdefault(key, []).append(d)
                    else:
                        out[key] = d
            elif kind == M_CHILDREN:
                seq: list[Any] = []
                for item in v:
                    if isinstance(item, str):
                        seq.append(item)
                        continue
                    tag, cv = item
                    found = self.x._children[type_id].get(tag, (0, None))[1]
                    if found is None:
                        found = self.x.global_types.get(tag)
                    seq.append({tag: self.to_dict(cv, found) if found is not None else None})
                out["children"] = seq
        return out

    def from_dict(self, d: Any, type_id: int, path: str) -> Any:
        t = self.x.types[type_id]
        if d is None:
            return NIL
        if isinstance(d, dict) and d.get(JSON_NIL_KEY) is True:
            return self._nil_from_dict(d, type_id, path)
        if t["simple"]:
            return self._scalar_in(t["datatype"], d, path)
        if not isinstance(d, dict):
            raise EncodeError(f"expected an object for {t['name']}", path)
        klass = self.x.classes[type_id]
        if klass is None:
            raise EncodeError(f"type {t['name']} is abstract", path)
        members = t["members"]
        obj = _blank(klass, members)
        rest = dict(d)
        by_local: dict[str, tuple[int, int]] = {}
        for qtext, (mi, ct) in self.x._children[type_id].items():
            by_local[qtext.split("}", 1)[-1]] = (mi, ct)
        for m in members:
            if m["kind"] == M_ATTRIBUTE and m["xml_name"] in rest:
                object.__setattr__(obj, m["name"], self._scalar_in(
                    m["datatype"], rest.pop(m["xml_name"]), f"{path}/@{m['xml_name']}"))
            elif m["kind"] == M_VALUE and "value" in rest:
                object.__setattr__(obj, m["name"], self._scalar_in(
                    m["datatype"], rest.pop("value"), path))
            elif m["kind"] == M_CHILDREN and "children" in rest:
                seq: list[Any] = []
                for item in rest.pop("children"):
                    if isinstance(item, str):
                        seq.append(item)
                        continue
                    ((tag, cv),) = item.items()
                    found = self.x._children[type_id].get(tag) or self.x._ordered_child_type(
                        type_id, tag)
                    if found is None:
                        raise EncodeError(f"element {tag} is not allowed here", path)
                    seq.append((tag, self.from_dict(cv, found[1], f"{path}/{tag}")))
                object.__setattr__(obj, m["name"], seq)
        for key, v in rest.items():
            found = by_local.get(key)
            if found is None:
                raise EncodeError(f"{key} is not a field of {t['name']}", path)
            mi, ct = found
            m = members[mi]
            if m["is_list"]:
                vals = v if isinstance(v, list) else [v]
                getattr(obj, m["name"]).extend(
                    self.from_dict(x, ct, f"{path}/{key}[{i}]") for i, x in enumerate(vals))
            else:
                object.__setattr__(obj, m["name"], self.from_dict(v, ct, f"{path}/{key}"))
        return obj

    def _nil_from_dict(self, d: dict[str, Any], type_id: int, path: str) -> Nil:
        t = self.x.types[type_id]
        rest = {k: v for k, v in d.items() if k != JSON_NIL_KEY}
        if not rest:
            return NIL
        klass = self.x.classes[type_id]
        if t["simple"] or klass is None:
            raise EncodeError(f"{next(iter(rest))} is not an attribute of {t['name']}", path)
        obj = _blank(klass, t["members"])
        for m in t["members"]:
            if m["kind"] == M_ATTRIBUTE and m["xml_name"] in rest:
                object.__setattr__(obj, m["name"], self._scalar_in(
                    m["datatype"], rest.pop(m["xml_name"]), f"{path}/@{m['xml_name']}"))
        if rest:
            raise EncodeError(f"{next(iter(rest))} is not an attribute of {t['name']}", path)
        return Nil(obj)
