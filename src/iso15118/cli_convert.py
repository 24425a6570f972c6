"""The ``validate`` and ``convert`` commands of the ``iso15118`` CLI.

``validate`` checks a message in XML (or JSON) against the XSD of its protocol with
``xmlschema``, the same schemas the codec is compiled from, so "valid" means what the
standard's schema says rather than what our encoder happens to accept. ``convert``
moves one message between XML, JSON and EXI hex.

The protocol comes from ``--protocol``, else from the document: an XML root's namespace
names it (DIN and ISO-2 ``V2G_Message`` differ by namespace); EXI hex is detected as
``decode`` does; JSON carries no namespace, so each protocol is tried and the document
must fit exactly one.
"""

from __future__ import annotations

import argparse
import sys
from functools import cache
from pathlib import Path
from typing import Any

from lxml import etree

from iso15118 import codec, protocols
from iso15118.cli_style import style_for
from iso15118.errors import Iso15118Error

__all__ = ["add_subparser", "load_input", "protocol_of_xml", "validate_xml"]

VALIDATE_EXAMPLES = """examples:
  iso15118 validate message.xml                   # protocol from the root namespace
  iso15118 validate --protocol din message.json
  iso15118 decode 8098... | iso15118 validate -

exit status: 0 valid, 1 invalid (one line per violation: file:line: reason), 2 usage.
"""

CONVERT_EXAMPLES = """examples:
  iso15118 convert message.xml                    # XML -> EXI hex
  iso15118 convert --to json message.xml
  iso15118 convert --to xml --pretty 809802000000000000000011d018286cb0f5397c00
  iso15118 convert --to hex --protocol iso2 message.json
  cat message.json | iso15118 convert -p din --to xml -

input format is recognised (XML starts with <, JSON with {, anything else is hex);
default output: hex for XML/JSON input, XML for hex input.
"""

_BY_NAMESPACE = {p.namespace: p.name for p in protocols.PROTOCOLS.values()}
_FORMATS = ("xml", "json", "hex")


def add_subparser(subparsers: Any) -> None:
    """Register ``validate`` and ``convert`` on the main CLI's subparsers."""
    v = subparsers.add_parser(
        "validate", help="check an XML (or JSON) message against its XSD",
        description="Validate one message against the XSD of its protocol (xmlschema).",
        epilog=VALIDATE_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    v.add_argument("input", help="XML or JSON file, or - for stdin")
    v.add_argument("--protocol", "-p", help="default: from the XML root namespace")
    v.set_defaults(func=_validate)
    c = subparsers.add_parser(
        "convert", help="convert a message between XML, JSON and EXI hex",
        description="Convert one message between XML, JSON and EXI hex.",
        epilog=CONVERT_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    c.add_argument("input", nargs="?", default="-",
                   help="a file, hex on the command line, or - for stdin (default)")
    c.add_argument("--to", "-t", choices=_FORMATS, help="output format")
    c.add_argument("--from", dest="source_format", choices=_FORMATS,
                   help="input format (default: recognised)")
    c.add_argument("--protocol", "-p", help="default: from the namespace, or detected")
    c.add_argument("--pretty", action="store_true", help="indent XML/JSON output")
    c.set_defaults(func=_convert)


# --------------------------------------------------------------------------- input


def load_input(arg: str) -> str:
    """The text of a file argument, of stdin for ``-``, else the argument itself (hex)."""
    if arg == "-":
        return sys.stdin.read()
    path = Path(arg)
    if path.exists():
        try:
            return path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise Iso15118Error(f"cannot read {arg}: {e}") from None
    if arg.lstrip().startswith(("<", "{")):
        return arg
    if any(ch in arg for ch in "/\\") or arg.endswith((".xml", ".json", ".hex", ".txt")):
        raise Iso15118Error(f"cannot read {arg}: no such file")
    return arg


def _format_of(text: str) -> str:
    head = text.lstrip()
    if head.startswith("<"):
        return "xml"
    if head.startswith("{"):
        return "json"
    return "hex"


def protocol_of_xml(xml: bytes) -> str:
    """The protocol whose schema declares the document element's namespace."""
    try:
        root = etree.fromstring(xml, parser=etree.XMLParser(resolve_entities=False))
    except etree.XMLSyntaxError as e:
        raise Iso15118Error(f"not well-formed XML: {e}") from None
    ns = etree.QName(root).namespace or ""
    proto = _BY_NAMESPACE.get(ns)
    if proto is None:
        raise Iso15118Error(f"root element {etree.QName(root).localname!r} is in namespace "
                            f"{ns!r}, which names no protocol; give --protocol")
    return proto


def _from_json_any(text: str) -> tuple[str, str, Any]:
    fits: list[tuple[str, str, Any]] = []
    reasons = []
    for name in protocols.PROTOCOLS:
        try:
            qn, value = codec.from_json(text, name)
            codec.encode(value, name, element=qn)
        except Iso15118Error as e:
            reasons.append(f"{name}: {' '.join(str(e).split())[:80]}")
            continue
        fits.append((name, qn, value))
    if len(fits) == 1:
        return fits[0]
    if fits:
        raise Iso15118Error(f"ambiguous: {', '.join(f[0] for f in fits)} (JSON carries no "
                            "namespace); give --protocol")
    raise Iso15118Error("no protocol accepts this JSON (" + "; ".join(reasons) + ")")


def read_message(text: str, fmt: str, protocol: str | None) -> tuple[str, str, Any, str]:
    """``(protocol, element qname, message, how the protocol was chosen)``."""
    if fmt == "hex":
        from iso15118.cli import parse_hex
        from iso15118.detect import detect, split_v2gtp

        raw = parse_hex(text)
        if protocol is not None:
            _header, payload = split_v2gtp(raw)
            qn, value = codec.decode_element(payload, protocol)
            return protocol, qn, value, "given"
        proto, qn, value = detect(raw).result()
        return proto, qn, value, "detected"
    if fmt == "xml":
        data = text.encode("utf-8")
        how = "given"
        if protocol is None:
            protocol, how = protocol_of_xml(data), "from the root namespace"
        qn, value = codec.from_xml(data, protocol)
        return protocol, qn, value, how
    if protocol is not None:
        qn, value = codec.from_json(text, protocol)
        return protocol, qn, value, "given"
    proto, qn, value = _from_json_any(text)
    return proto, qn, value, "the only protocol that accepts it"


# --------------------------------------------------------------------------- validate


@cache
def _schema(protocol: str) -> Any:
    from exi_codec import load_xmlschema

    p = protocols.get(protocol)
    return load_xmlschema([protocols.schema_dir() / p.xsd], protocols.xsd_locations(p))


def validate_xml(xml: bytes, protocol: str) -> list[str]:
    """Every XSD violation of the document, one line each (``line N: reason [at path]``)."""
    try:
        doc = etree.fromstring(xml, parser=etree.XMLParser(resolve_entities=False))
    except etree.XMLSyntaxError as e:
        return [f"line {e.lineno}: not well-formed XML: {e.msg}"]
    out = []
    for err in _schema(protocol).iter_errors(doc):
        line = getattr(err, "sourceline", None)
        where = f"line {line}: " if line else ""
        reason = " ".join(str(err.reason or err.message).split())
        path = f" (at {err.path})" if getattr(err, "path", None) else ""
        out.append(f"{where}{reason}{path}")
    return out


def _validate(args: argparse.Namespace) -> int:
    text = load_input(args.input) if args.input != "-" else sys.stdin.read()
    if args.input != "-" and not Path(args.input).exists():
        raise Iso15118Error(f"cannot read {args.input}: no such file")
    name = "<stdin>" if args.input == "-" else args.input
    protocol = protocols.get(args.protocol).name if args.protocol else None
    fmt = _format_of(text)
    if fmt == "hex":
        raise Iso15118Error(f"{name} is neither XML nor JSON (to check EXI, decode it: "
                            "iso15118 decode --strict)")
    if fmt == "json":
        protocol, qn, value, _how = read_message(text, "json", protocol)
        xml = codec.to_xml(value, protocol, element=qn).encode("utf-8")
    else:
        xml = text.encode("utf-8")
        if protocol is None:
            protocol = protocol_of_xml(xml)
    problems = validate_xml(xml, protocol)
    out = style_for(sys.stdout)
    if not problems:
        print(f"{name}: {out('valid', 'green')} ({protocol})")
        return 0
    for p in problems:
        print(f"{name}: {out('invalid', 'red')}: {p}")
    return 1


# --------------------------------------------------------------------------- convert


def _convert(args: argparse.Namespace) -> int:
    text = load_input(args.input)
    fmt = args.source_format or _format_of(text)
    protocol = protocols.get(args.protocol).name if args.protocol else None
    proto, qn, value, how = read_message(text, fmt, protocol)
    target = args.to or ("xml" if fmt == "hex" else "hex")
    if how != "given":
        err = style_for(sys.stderr)
        print(err(f"protocol: {proto} ({how})", "dim"), file=sys.stderr)
    if target == "hex":
        print(codec.encode(value, proto, element=qn).hex())
    elif target == "json":
        print(codec.to_json(value, proto, element=qn, indent=2 if args.pretty else None))
    else:
        print(codec.to_xml(value, proto, element=qn, pretty=args.pretty).rstrip("\n"))
    return 0
