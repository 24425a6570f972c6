"""The ``iso15118`` command: EXI hex dumps to XML/JSON and back, for people and scripts.

``encode``/``decode`` follow a fixed contract that scripts rely on: with ``--batch``
each stdin line is one item and each stdout line its result, or ``error: reason``;
the batch goes on after an error. Anything said *about* a result (which protocol was
detected) goes to stderr, so stdout stays exactly the results. ``decode`` without
``--protocol`` detects the protocol (:mod:`iso15118.detect`). Other command groups
(``sdp``, ``pki``, ``pcap``, ``validate``/``convert``, ``fuzz``, ``fuzz-live``, the
``secc``/``evcc`` simulators, ``export``) register themselves through their modules'
``add_subparser``.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable
from typing import Any, NoReturn

from iso15118 import codec, protocols
from iso15118.cli_style import style_for
from iso15118.errors import Iso15118Error

EXAMPLES = """examples:
  iso15118 decode 809802000000000000000011d018286cb0f5397c00     # protocol detected
  iso15118 decode "01 fe 80 01 00 00 00 15 80 98 02 00 ..."     # V2GTP header stripped
  iso15118 decode --protocol iso2 809802000000000000000011d018286cb0f5397c00
  iso15118 decode --protocol din --format json 809a0211...
  iso15118 encode --protocol iso2 message.xml
  iso15118 encode --protocol xmldsig --fragment signedinfo.xml
  cat hexlines.txt | iso15118 decode --protocol iso2 --batch --format json
"""

DETECTION = """
without --protocol: a V2GTP header (01 fe ...) is stripped and its payload type
names the -20 namespace; otherwise every grammar (appHand, DIN, ISO-2, the -20
namespaces) is tried with strict decoding, and the one that decodes the bytes
completely is chosen (reported on stderr). If more than one does, the command
fails with "ambiguous: ..." instead of guessing: give --protocol.
"""

#: Examples for command groups whose modules bring no epilog of their own.
COMMAND_EXAMPLES = {
    "sdp": """examples:
  iso15118 sdp discover --interface eth1             # first SECC that answers, TLS
  iso15118 sdp discover -i eth1 --no-tls --all --timeout 2
  iso15118 sdp serve --interface eth1 --port 50000 --tls
""",
    "pki": """examples:
  iso15118 pki create-test-pki ./pki --version 2
  iso15118 pki verify-chain leaf.pem sub2.pem sub1.pem --trust root.pem --role secc
  iso15118 pki emaid contract.pem
""",
}

_HEX_JUNK = re.compile(r"0x|[\s:,]", re.IGNORECASE)


def parse_hex(text: str) -> bytes:
    """Hex as people paste it: spaces, colons, ``0x`` prefixes and line breaks allowed."""
    cleaned = _HEX_JUNK.sub("", text)
    try:
        return bytes.fromhex(cleaned)
    except ValueError:
        raise Iso15118Error(f"not hexadecimal: {text.strip()[:60]!r}") from None


def _read_arg(arg: str | None) -> str:
    if arg is None or arg == "-":
        return sys.stdin.read()
    return arg


def _decode_one(text: str, args: argparse.Namespace) -> str:
    from iso15118.detect import detect, split_v2gtp
    from iso15118.v2gtp import SDP_PAYLOAD_TYPES

    raw = parse_hex(text)
    header, data = split_v2gtp(raw)
    if header is not None and header.payload_type in SDP_PAYLOAD_TYPES:
        return _sdp_one(raw, args)
    if args.protocol is None:
        if args.fragment:
            raise Iso15118Error("--fragment needs --protocol (fragments cannot be detected)")
        found = detect(raw)
        proto, qn, value = found.result()
        if not args.batch:
            how = (f"V2GTP payload type 0x{header.payload_type:04x}"
                   if header is not None and len(found.candidates) == 1
                   else "detected: the only grammar that decodes it strictly")
            err = style_for(sys.stderr)
            print(err(f"protocol: {proto} ({how})", "dim"), file=sys.stderr)
        if args.format == "json":
            return codec.to_json(value, proto, element=qn, indent=2 if args.pretty else None)
        return codec.to_xml(value, proto, element=qn, pretty=args.pretty).rstrip("\n")
    if args.fragment:
        items = codec.decode_fragment(data, args.protocol)
        out = []
        for qn, value in items:
            if args.format == "json":
                out.append(codec.to_json(value, args.protocol, element=qn, fragment=True))
            else:
                out.append(codec.to_xml(value, args.protocol, element=qn, fragment=True,
                                        pretty=args.pretty))
        return (" " if args.batch else "\n").join(out)
    qn, value = codec.decode_element(data, args.protocol, strict=args.strict)
    if args.format == "json":
        return codec.to_json(value, args.protocol, element=qn, indent=2 if args.pretty else None)
    return codec.to_xml(value, args.protocol, element=qn, pretty=args.pretty).rstrip("\n")


def _sdp_one(raw: bytes, args: argparse.Namespace) -> str:
    import dataclasses
    import json

    from iso15118 import sdp

    message = sdp.decode(raw)
    fields: dict[str, Any] = {}
    for f in dataclasses.fields(message):
        v = getattr(message, f.name)
        fields[f.name] = (sdp.name_of(v) if isinstance(v, int) and f.name != "port"
                          else v if isinstance(v, int) else str(v))
    if args.format == "json":
        return json.dumps({type(message).__name__: fields}, indent=2 if args.pretty else None)
    return f"{type(message).__name__} " + " ".join(f"{k}={v}" for k, v in fields.items())


def _encode_one(text: str, args: argparse.Namespace) -> str:
    stripped = text.lstrip()
    if stripped.startswith("{"):
        qn, value = codec.from_json(stripped, args.protocol, fragment=args.fragment)
    else:
        qn, value = codec.from_xml(stripped.encode("utf-8"), args.protocol,
                                   fragment=args.fragment)
    c = codec.get_codec(args.protocol)
    try:
        data = c.encode_value(qn, value, fragment=args.fragment, empty_as_ch=args.empty_as_ch)
    except Exception as e:  # ExiError, mapped like the library does
        from exi_codec.errors import ExiError
        from iso15118.errors import wrap_codec_error

        if isinstance(e, ExiError):
            raise wrap_codec_error(e) from None
        raise
    return data.hex()


# Characters that end a line for some reader (Python's universal newlines, str.splitlines,
# JavaScript) and how each output format writes them without one.
_XML_LINE_BREAKS = {"\n": "&#10;", "\r": "&#13;", "\x85": "&#133;", "\u2028": "&#8232;",
                    "\u2029": "&#8233;"}
_JSON_LINE_BREAKS = {"\x85": "\\u0085", "\u2028": "\\u2028", "\u2029": "\\u2029"}


def single_line(result: str, fmt: str) -> str:
    """One batch result on one line, losslessly.

    Without ``--pretty`` neither serializer puts a line break of its own into the output,
    so every break left in it comes from a value (a string with CR or LF): XML gets it as
    a character reference, JSON as an escape, both of which parse back to the same value,
    so ``decode --batch | encode --batch`` gives back the input bytes.
    """
    table = _JSON_LINE_BREAKS if fmt == "json" else _XML_LINE_BREAKS
    for ch, escaped in table.items():
        if ch in result:
            result = result.replace(ch, escaped)
    return result


def _run(args: argparse.Namespace, one: Callable[[str, argparse.Namespace], str]) -> int:
    if args.batch:
        args.pretty = False  # one item per line: a pretty-printed item would span several
        status = 0
        for line in sys.stdin:
            line = line.strip()
            if not line:
                continue
            try:
                print(single_line(one(line, args), args.format))
            except (Iso15118Error, ValueError) as e:
                print(f"error: {_one_line(e)}")
                status = 1
            sys.stdout.flush()
        return status
    src = args.input
    if args.command == "encode" and src not in (None, "-"):
        try:
            with open(src, encoding="utf-8") as f:
                text = f.read()
        except OSError as e:
            raise Iso15118Error(f"cannot read {src}: {e.strerror}") from None
    else:
        text = _read_arg(src)
    print(one(text, args))
    return 0


def _one_line(e: BaseException) -> str:
    return " ".join(str(e).split())


def _add_codec_args(p: argparse.ArgumentParser, *, required: bool = True) -> None:
    help_text = "one of: " + ", ".join(protocols.PROTOCOLS)
    if not required:
        help_text += " (default: detected, see below)"
    p.add_argument("--protocol", "-p", required=required, help=help_text)
    p.add_argument("--fragment", action="store_true",
                   help="an EXI fragment (signature digest input) instead of a document")
    p.add_argument("--batch", action="store_true",
                   help="one item per stdin line, one result (or 'error: ...') per stdout line")


class _Parser(argparse.ArgumentParser):
    """Usage mistakes as one line, pointing at ``--help`` rather than dumping usage."""

    def error(self, message: str) -> NoReturn:
        err = style_for(sys.stderr)
        self.exit(2, err("error:", "red", "bold") + f" {message} (see {self.prog} --help)\n")


# Command groups whose modules are imported only when their command runs: cryptography,
# asyncio and lxml would otherwise cost more than all of `iso15118 decode`. The help
# lines are what the modules register (tests/iso15118/test_cli_lazy.py checks they agree).
LAZY_COMMANDS: dict[str, tuple[str, str]] = {
    "sdp": ("cli_sdp", "SECC Discovery Protocol: find SECCs or answer as one"),
    "pki": ("cli_pki", "Plug & Charge PKI: test PKI, chain verification, eMAID"),
    "pcap": ("cli_capture", "decode the V2G sessions in a pcap/pcapng capture"),
    "validate": ("cli_convert", "check an XML (or JSON) message against its XSD"),
    "convert": ("cli_convert", "convert a message between XML, JSON and EXI hex"),
    "fuzz": ("cli_fuzz", "generate valid, mutated or facet-breaking messages as hex lines"),
    "fuzz-live": ("cli_fuzz_live", "stateful fuzzer for a live charger or vehicle"),
    "secc": ("cli_session", "a simulated charger (SECC): SDP, TCP/TLS, DIN 70121 and ISO 15118-2"),
    "evcc": ("cli_session", "a simulated vehicle (EVCC): discovers the SECC and charges"),
    "export": ("cli_export", "captures and logs -> Parquet/CSV/JSONL tables (local or Dask)"),
}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The whole parser, or (``command`` given) one whose other command groups are
    placeholders that only carry their help line, so that their modules stay unloaded."""
    ap = _Parser(
        prog="iso15118", description="ISO 15118-2/-20 and DIN 70121 messages: EXI codec and tools.",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True)
    d = sub.add_parser("decode", help="EXI hex -> XML or JSON", epilog=EXAMPLES + DETECTION,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    _add_codec_args(d, required=False)
    d.add_argument("input", nargs="?", help="hex (spaces, colons, 0x allowed) or - for stdin")
    d.add_argument("--format", "-f", choices=("xml", "json"), default="xml")
    d.add_argument("--pretty", action="store_true", help="indent the output")
    d.add_argument("--strict", action="store_true",
                   help="reject out-of-range values and unused trailing bytes")
    d.set_defaults(func=lambda a: _run(a, _decode_one))
    e = sub.add_parser("encode", help="XML or JSON message -> EXI hex", epilog=EXAMPLES,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    _add_codec_args(e)
    e.add_argument("input", nargs="?", help="a file with one XML or JSON message, or -")
    e.add_argument("--empty-as-ch", action="store_true",
                   help="write empty elements as CH(\"\") like the C codecs (default: EE)")
    e.set_defaults(func=lambda a: _run(a, _encode_one), format="hex", pretty=False)
    loaded: set[str] = set()
    for name, (module, help_line) in LAZY_COMMANDS.items():
        if name in sub.choices:
            continue
        if command is not None and LAZY_COMMANDS.get(command, ("",))[0] != module:
            sub.add_parser(name, help=help_line)
            continue
        if module in loaded:
            continue
        loaded.add(module)
        try:
            mod: Any = __import__(f"iso15118.{module}", fromlist=["add_subparser"])
        except ImportError:
            continue
        mod.add_subparser(sub)
    for name, parser in sub.choices.items():
        if not parser.epilog and name in COMMAND_EXAMPLES:
            parser.epilog = COMMAND_EXAMPLES[name]
            parser.formatter_class = argparse.RawDescriptionHelpFormatter
    return ap


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    ap = build_parser(argv[0] if argv else "")
    args = ap.parse_args(argv)
    if getattr(args, "protocol", None) is not None and args.command in ("encode", "decode"):
        try:
            args.protocol = protocols.get(args.protocol).name
        except Iso15118Error as e:
            ap.error(str(e))
    try:
        return int(args.func(args) or 0)
    except Iso15118Error as e:
        err = style_for(sys.stderr)
        print(err("error:", "red", "bold") + f" {_one_line(e)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
