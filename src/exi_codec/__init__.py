"""A schema-informed EXI 1.0 codec for any XML Schema.

``codec = exi_codec.compile(["schema.xsd"])`` turns XSDs into EXI grammars (via
``xmlschema``); ``codec.encode(xml)`` / ``codec.decode(data)`` convert between XML
(lxml) and EXI bytes, and ``encode_value``/``decode_value`` do the same for model
objects without XML in between. Options are those of ISO 15118 and DIN 70121:
non-strict, bit-packed, no string-table insertion on encode, header byte 0x80.

``xmlschema`` and ``lxml`` are imported only by the paths that need them (compiling,
XML in and out), so a codec built from stored tables (:mod:`exi_codec.stored`) starts
without either.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from exi_codec import _core
from exi_codec.errors import DecodeError, EncodeError, ExiError, SchemaError
from exi_codec.grammar import M_ATTRIBUTE, M_CHILDREN, M_VALUE, CompiledSchema, compile_schema
from exi_codec.model import Model, make_class
from exi_codec.stored import StoredSchema
from exi_codec.tables import to_tables

if TYPE_CHECKING:
    from exi_codec.xmlconv import JsonConverter, XmlConverter

__all__ = [
    "Codec", "compile", "compile_xmlschema", "ExiError", "EncodeError", "DecodeError",
    "SchemaError", "Model",
]

XMLDSIG_NS = "http://www.w3.org/2000/09/xmldsig#"


class Codec:
    """Encoder and decoder for one schema set (see the module docstring)."""

    def __init__(self, compiled: CompiledSchema | StoredSchema,
                 classes: Sequence[Any] | None = None,
                 enum_types: dict[int, Any] | None = None) -> None:
        """``compiled`` is a freshly compiled schema or stored tables read back;
        ``enum_types`` maps datatype ids to callables (e.g. Enum classes) that turn
        an enumeration's schema values into the objects decoding returns."""
        self.compiled = compiled
        self.tables = (compiled.tables if isinstance(compiled, StoredSchema)
                       else to_tables(compiled))
        if classes is None:
            classes = self._make_classes()
        self.classes = list(classes)
        # the type each bound class stands for in *this* schema (a class may be shared
        # by several schemas that include the same XSD type, at different type ids)
        self.class_type_ids: dict[type, int] = {
            k: i for i, k in enumerate(self.classes) if k is not None}
        enum_types = enum_types or {}
        for i, d in enumerate(self.tables["datatypes"]):
            make = enum_types.get(i)
            d["decoded"] = tuple(make(v) for v in d["values"]) if make else tuple(d["values"])
        self.grammar = _core.Grammar(self.tables, self.classes)
        self._enum_ids = tuple(enum_types)
        self._xml: XmlConverter | None = None
        self._json: JsonConverter | None = None
        self._nsmap = self._default_nsmap()
        self._qname_ids: dict[str, int] = {}

    @property
    def xml(self) -> XmlConverter:
        """The XML side (built on first use: it needs lxml, the binary path does not)."""
        if self._xml is None:
            from exi_codec.xmlconv import XmlConverter

            xml = XmlConverter(self.tables, self.classes, self.grammar.qname_of)
            for i in self._enum_ids:
                xml.enum_values[i] = self.tables["datatypes"][i]["decoded"]
            self._xml = xml
        return self._xml

    @property
    def json(self) -> JsonConverter:
        if self._json is None:
            from exi_codec.xmlconv import JsonConverter

            self._json = JsonConverter(self.xml)
        return self._json

    def _make_classes(self) -> list[Any]:
        out: list[Any] = []
        for t in self.tables["types"]:
            if t["simple"]:
                out.append(None)
                continue
            members = tuple(
                (m["name"], m["xml_name"], m["kind"], m["is_list"] or m["kind"] == M_CHILDREN,
                 m["namespace"])
                for m in t["members"]
            )
            out.append(make_class(t["name"] or "Anonymous", t["id"], t["namespace"], members))
        return out

    def _default_nsmap(self) -> dict[str | None, str]:
        nsmap: dict[str | None, str] = {}
        i = 0
        for u in self.tables["uris"][4:]:
            prefix = "ds" if u == XMLDSIG_NS else f"ns{i}"
            i += 0 if u == XMLDSIG_NS else 1
            nsmap[prefix] = u
        return nsmap

    # ------------------------------------------------------------------ qnames

    def qname_id(self, qname: str) -> int:
        q = self._qname_ids.get(qname)
        if q is not None:
            return q
        ns, local = ("", qname)
        if qname.startswith("{"):
            ns, sep, local = qname[1:].partition("}")
            if not sep:
                raise EncodeError(f"{qname!r} is not a qualified name ({{uri}}local)")
        found = self.grammar.qname_index.get((ns, local))
        if found is None:
            raise EncodeError(f"{qname} is not declared in the schema")
        self._qname_ids[qname] = int(found)
        return int(found)

    def element_type(self, qname: str, fragment: bool = False) -> int:
        q = self.qname_id(qname)
        table = self.tables["fragment_types" if fragment else "element_types"]
        if q not in table or table[q] < 0:
            raise EncodeError(f"{qname} is not a {'fragment' if fragment else 'global'} element")
        return int(table[q])

    # ------------------------------------------------------------------ values

    def encode_value(self, qname: str, value: Any, *, fragment: bool = False,
                     empty_as_ch: bool = False, lenient: bool = False) -> bytes:
        """Encode a model value as the element ``qname`` (a document or a fragment).

        ``lenient=True`` is for testing peers, not for production: values that break
        their facets (lengths, ranges, enumerations given as raw indices) are written
        whenever their EXI representation can carry them.
        """
        q = self.qname_id(qname)
        if fragment:
            value = self._fragment_value(q, value)
            return bytes(self.grammar.encode(0, [(q, value)], True, empty_as_ch, True, lenient))
        return bytes(self.grammar.encode(q, value, False, empty_as_ch, True, lenient))

    def encode_fragment(self, items: Iterable[tuple[str, Any]], *,
                        empty_as_ch: bool = False) -> bytes:
        pairs = [(qid, self._fragment_value(qid, v))
                 for qid, v in ((self.qname_id(q), v) for q, v in items)]
        return bytes(self.grammar.encode(0, pairs, True, empty_as_ch))

    def _fragment_value(self, qid: int, value: Any) -> Any:
        """A value for the relaxed grammar (8.5.3) of an element declared with several
        types, made from a value of any one of them (signatures digest such fragments
        from the element as it stands in the message)."""
        tid = self.tables["fragment_types"].get(qid, -1)
        if tid < 0 or not _is_element_fragment(self.tables["types"][tid]):
            return value
        klass = self.classes[tid]
        if klass is None or isinstance(value, klass):
            return value
        out = klass()
        by_qname = {(m["namespace"], m["xml_name"]): m["name"]
                    for m in self.tables["types"][tid]["members"] if m["kind"] == M_ATTRIBUTE}
        children: list[Any] = []
        src_tid = self.class_type_ids.get(type(value), -1)
        if src_tid < 0 or not isinstance(value, Model):
            children.append(value if isinstance(value, str) else str(value))
        else:
            src = self.tables["types"][src_tid]
            for m in src["members"]:
                v = getattr(value, m["name"])
                if v is None:
                    continue
                if m["kind"] == M_ATTRIBUTE:
                    setattr(out, by_qname[(m["namespace"], m["xml_name"])], v)
                elif m["kind"] == M_VALUE:
                    children.append(self.xml.format_value(m["datatype"], v))
                elif m["kind"] == M_CHILDREN:
                    children.extend(v)
                else:
                    ns, local = m["namespace"], m["xml_name"]
                    tag = f"{{{ns}}}{local}" if ns else local
                    children.extend((tag, x) for x in (v if m["is_list"] else [v]))
        out.children = children
        return out

    def decode_value(self, data: bytes, *, strict: bool = False) -> tuple[str, Any]:
        """Decode a document into (element qname, model value)."""
        q, value = self.grammar.decode(_as_bytes(data), False, strict)
        return (self.grammar.qname_of(q) if isinstance(q, int) else q), value

    def decode_fragment(self, data: bytes, *, strict: bool = False) -> list[tuple[str, Any]]:
        items = self.grammar.decode(_as_bytes(data), True, strict)
        return [((self.grammar.qname_of(q) if isinstance(q, int) else q), v) for q, v in items]

    # ------------------------------------------------------------------ XML

    def from_xml(self, xml: Any, *, fragment: bool = False) -> tuple[str, Any]:
        root = _parse(xml)
        tag = root.tag
        tid = self.element_type(tag, fragment)
        local = tag.split("}", 1)[-1]
        return tag, self.xml.from_xml(root, tid, local)

    def to_xml(self, qname: str, value: Any, *, fragment: bool = False) -> Any:
        tid = self.element_type(qname, fragment)
        return self.xml.to_xml(qname, value, tid, self._nsmap)

    def to_dict(self, qname: str, value: Any, *, fragment: bool = False) -> dict[str, Any]:
        """A JSON-ready dict ``{local name: content}`` for one element."""
        tid = self.element_type(qname, fragment)
        return {qname.split("}", 1)[-1]: self.json.to_dict(value, tid)}

    def from_dict(self, d: dict[str, Any], *, fragment: bool = False) -> tuple[str, Any]:
        """Inverse of :meth:`to_dict`; the key names a global (or fragment) element."""
        if not isinstance(d, dict) or len(d) != 1:
            raise EncodeError("expected an object with exactly one element name as its key")
        ((local, content),) = d.items()
        table = self.xml.fragment_types if fragment else self.xml.global_types
        matches = [q for q in table if q.split("}", 1)[-1] == local]
        if len(matches) != 1:
            raise EncodeError(f"{local} is not a unique {'fragment' if fragment else 'global'} "
                              "element of this schema")
        qname = matches[0]
        return qname, self.json.from_dict(content, self.element_type(qname, fragment), local)

    def encode(self, xml: Any, *, fragment: bool = False, empty_as_ch: bool = False) -> bytes:
        """XML (text, bytes or an lxml element) -> EXI bytes."""
        tag, value = self.from_xml(xml, fragment=fragment)
        return self.encode_value(tag, value, fragment=fragment, empty_as_ch=empty_as_ch)

    def decode(self, data: bytes, *, fragment: bool = False) -> Any:
        """EXI bytes -> lxml element (a fragment's single element, or a list)."""
        if fragment:
            items = self.decode_fragment(data)
            els = [self.to_xml(q, v, fragment=True) for q, v in items]
            return els[0] if len(els) == 1 else els
        q, v = self.decode_value(data)
        return self.to_xml(q, v)


def _is_element_fragment(t: dict[str, Any]) -> bool:
    return bool(t["anonymous"] and t["name"] == "ElementFragment" and not t["namespace"])


def _as_bytes(data: Any) -> bytes:
    if isinstance(data, bytes):
        return data
    if isinstance(data, (bytearray, memoryview)):
        return bytes(data)
    raise TypeError("EXI data must be bytes")


def _parse(xml: Any) -> Any:
    from lxml import etree

    if isinstance(xml, etree._Element):
        return xml
    if isinstance(xml, etree._ElementTree):
        return xml.getroot()
    if isinstance(xml, str):
        xml = xml.encode("utf-8")
    parser = etree.XMLParser(remove_blank_text=True, resolve_entities=False, no_network=True,
                             remove_comments=True, remove_pis=True)
    try:
        return etree.fromstring(xml, parser)
    except etree.XMLSyntaxError as e:
        raise EncodeError(f"not well-formed XML: {e}") from None


def load_xmlschema(paths: Sequence[str | os.PathLike[str]],
                   locations: Sequence[tuple[str, str]] | None = None) -> Any:
    """Load XSDs with ``xmlschema``, offline (imports resolved from ``locations``)."""
    import xmlschema

    files: list[Any] = [os.fspath(p) for p in paths]
    try:
        if len(files) == 1:
            return xmlschema.XMLSchema(files[0], locations=list(locations or []) or None)
        return xmlschema.XMLSchema(files, locations=list(locations or []) or None)
    except xmlschema.XMLSchemaException as e:
        raise SchemaError(f"cannot load {files}: {e}") from e


def compile_xmlschema(schema: Any, classes: Sequence[Any] | None = None) -> Codec:
    """A :class:`Codec` for an already loaded ``xmlschema.XMLSchema``."""
    return Codec(compile_schema(schema), classes)


def compile(paths: Sequence[str | os.PathLike[str]] | str | os.PathLike[str],  # noqa: A001
            locations: Sequence[tuple[str, str]] | None = None) -> Codec:
    """Compile XSD files into a :class:`Codec` (``locations`` maps namespaces to files)."""
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    return compile_xmlschema(load_xmlschema(paths, locations))
