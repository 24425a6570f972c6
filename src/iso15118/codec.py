"""Encode and decode ISO 15118 / DIN 70121 messages: typed models <-> EXI, XML, JSON.

One :class:`exi_codec.Codec` per protocol, built on first use from the grammar tables
stored with the package (:mod:`iso15118.grammar_cache`) and bound to the generated
model classes of :mod:`iso15118.messages`. Every codec
error surfaces as a subclass of :class:`iso15118.errors.Iso15118Error`.
"""

from __future__ import annotations

import importlib
import json
import threading
from typing import Any

from exi_codec import Codec
from exi_codec.errors import ExiError
from exi_codec.grammar import model_spec
from iso15118 import grammar_cache, protocols
from iso15118.errors import Iso15118Error, wrap_codec_error

__all__ = ["ExiError", "Iso15118Error"]

_lock = threading.Lock()
_codecs: dict[str, Codec] = {}
# per-call fast paths (a charge loop sends a message every ~50 ms per connector, and the
# lookups below would otherwise cost as much as the encoding itself): protocol -> message
# class -> (Grammar.encode, document element), and protocol -> Grammar.decode_document
_encoders: dict[str, dict[type, tuple[Any, int]]] = {}
_decoders: dict[str, Any] = {}


def get_codec(protocol: str) -> Codec:
    """The codec of a protocol (``apphand``, ``din``, ``iso2``, ``iso20-dc``, ...)."""
    p = protocols.get(protocol)
    codec = _codecs.get(p.name)
    if codec is not None:
        return codec
    with _lock:
        codec = _codecs.get(p.name)
        if codec is None:
            codec = _build(p)
            _codecs[p.name] = codec
    return codec


def _build(p: protocols.Protocol) -> Codec:
    from exi_codec.datatypes import DT_ENUM, DT_STRING

    cs = grammar_cache.compiled_schema(p)
    module = importlib.import_module(f"iso15118.messages.{p.module}")
    classes: list[Any] = [None] * len(cs.types)
    for t in cs.types:
        if t.simple:
            continue
        klass = module.CLASSES.get((t.namespace, t.name))
        if klass is None or klass._exi_members != model_spec(t.members):
            raise Iso15118Error(f"generated models of {p.name} are stale at {t.name} "
                                "(run python -m iso15118.codegen)")
        classes[t.id] = klass
    enums = {dt.id: module.ENUMS[(dt.namespace, dt.name)] for dt in cs.datatypes
             if dt.kind == DT_ENUM and dt.base_kind == DT_STRING}
    return Codec(cs, classes, enums)


def _root_name(protocol: str, message: Any) -> str:
    p = protocols.get(protocol)
    if p.root:
        return p.root
    name = getattr(type(message), "_exi_name", "")
    codec = get_codec(protocol)
    for q, t in codec.tables["element_types"].items():
        qt = codec.grammar.qname_of(q)
        if codec.classes[t] is type(message):
            return str(qt)
    raise Iso15118Error(f"{type(message).__name__} ({name}) is not a message of {p.name}")


def encode(message: Any, protocol: str, *, element: str | None = None,
           empty_as_ch: bool = False) -> bytes:
    """A message object -> EXI bytes (with the 0x80 header, no V2GTP header)."""
    if element:
        grammar_encode, q = _encoder(protocol, message, element)
    else:
        try:
            grammar_encode, q = _encoders[protocol][type(message)]
        except KeyError:
            grammar_encode, q = _encoder(protocol, message, None)
    try:
        return grammar_encode(q, message, False, empty_as_ch)
    except ExiError as e:
        raise wrap_codec_error(e) from None


def _encoder(protocol: str, message: Any, element: str | None) -> tuple[Any, int]:
    """The encode target of a message (its document element), cached per class."""
    codec = get_codec(protocol)
    try:
        q = codec.qname_id(element or _root_name(protocol, message))
    except ExiError as e:
        raise wrap_codec_error(e) from None
    if not element:
        _encoders.setdefault(protocol, {})[type(message)] = (codec.grammar.encode, q)
    return codec.grammar.encode, q


def decode(data: bytes, protocol: str, *, strict: bool = False) -> Any:
    """EXI bytes -> the message object (the document element's value)."""
    try:
        decode_document = _decoders[protocol]
    except KeyError:
        decode_document = _decoders[protocol] = get_codec(protocol).grammar.decode_document
    try:
        return decode_document(data, strict)
    except ExiError as e:
        raise wrap_codec_error(e) from None


def decode_element(data: bytes, protocol: str, *, strict: bool = False) -> tuple[str, Any]:
    """EXI bytes -> (document element qname, message object)."""
    codec = get_codec(protocol)
    try:
        return codec.decode_value(bytes(data), strict=strict)
    except ExiError as e:
        raise wrap_codec_error(e) from None


def encode_fragment(element: str, value: Any, protocol: str, *,
                    empty_as_ch: bool = False) -> bytes:
    """One element as an EXI fragment: the input of PnC signature digests."""
    codec = get_codec(protocol)
    try:
        return codec.encode_value(_qualify(codec, element, True), value, fragment=True,
                                  empty_as_ch=empty_as_ch)
    except ExiError as e:
        raise wrap_codec_error(e) from None


def decode_fragment(data: bytes, protocol: str) -> list[tuple[str, Any]]:
    codec = get_codec(protocol)
    try:
        return codec.decode_fragment(bytes(data))
    except ExiError as e:
        raise wrap_codec_error(e) from None


def _qualify(codec: Codec, element: str, fragment: bool) -> str:
    if element.startswith("{"):
        return element
    table = codec.xml.fragment_types if fragment else codec.xml.global_types
    matches = [q for q in table if q.split("}", 1)[-1] == element]
    if len(matches) != 1:
        raise Iso15118Error(f"{element} is not a unique element of this protocol")
    return matches[0]


# ---------------------------------------------------------------------------- XML / JSON


def to_xml(message: Any, protocol: str, *, element: str | None = None,
           fragment: bool = False, pretty: bool = False) -> str:
    codec = get_codec(protocol)
    try:
        qn = element if element and element.startswith("{") else (
            _qualify(codec, element, fragment) if element else _root_name(protocol, message))
        el = codec.to_xml(qn, message, fragment=fragment)
    except ExiError as e:
        raise wrap_codec_error(e) from None
    from lxml import etree

    return str(etree.tostring(el, pretty_print=pretty, encoding="unicode"))


def from_xml(xml: str | bytes, protocol: str, *, fragment: bool = False) -> tuple[str, Any]:
    codec = get_codec(protocol)
    try:
        return codec.from_xml(xml, fragment=fragment)
    except ExiError as e:
        raise wrap_codec_error(e) from None


def to_json(message: Any, protocol: str, *, element: str | None = None,
            fragment: bool = False, indent: int | None = None) -> str:
    codec = get_codec(protocol)
    try:
        qn = element if element and element.startswith("{") else (
            _qualify(codec, element, fragment) if element else _root_name(protocol, message))
        return json.dumps(codec.to_dict(qn, message, fragment=fragment), indent=indent,
                          ensure_ascii=False)
    except ExiError as e:
        raise wrap_codec_error(e) from None


def from_json(text: str | bytes | dict[str, Any], protocol: str, *,
              fragment: bool = False) -> tuple[str, Any]:
    codec = get_codec(protocol)
    try:
        d = json.loads(text) if isinstance(text, (str, bytes)) else text
    except ValueError as e:
        raise Iso15118Error(f"not valid JSON: {e}") from None
    try:
        return codec.from_dict(d, fragment=fragment)
    except ExiError as e:
        raise wrap_codec_error(e) from None
