"""The ``pcap`` command of the ``iso15118`` CLI: a charging session's timeline from a capture.

``iso15118 pcap FILE [--keylog KEYS] [--format text|json|xml] [-v]`` prints one line per
V2G message (time, direction, protocol, message, key values), SDP message and notice
(TLS handshake, undecodable frame, missing bytes). The reading itself is
:func:`iso15118.capture.read_capture`; this module only formats.

A key log named ``FILE.keylog.txt`` beside the capture is used when ``--keylog`` is not
given, because that is how captures with their secrets are usually shared.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from lxml import etree

from iso15118 import codec
from iso15118.capture import CaptureResult, Entry, KeyLog, read_capture
from iso15118.capture.packets import LINKTYPES
from iso15118.cli_style import Style, style_for
from iso15118.errors import Iso15118Error

__all__ = ["add_subparser", "format_json", "format_text", "format_xml"]

EXAMPLES = """examples:
  iso15118 pcap session.pcapng                          # timeline, key values per line
  iso15118 pcap -v session.pcapng | less -R             # with every message in full
  iso15118 pcap tls.pcapng --keylog sslkeys.txt         # TLS 1.2 / 1.3 decrypted
  iso15118 pcap --format json session.pcap | jq .message
  iso15118 pcap --problems session.pcap                 # only what went wrong
  iso15118 pcap --problems tls.pcapng -k sslkeys.txt    # and why TLS stayed encrypted

Reads pcap and pcapng (Ethernet, Linux cooked, loopback, raw IP). Follows SDP and
every V2GTP TCP stream (reassembly, retransmissions, both directions), decodes with
the protocol negotiated in supportedAppProtocol. FILE.keylog.txt beside the capture
is used as key log when --keylog is not given. TLS 1.3 is followed through
HelloRetryRequest, resumption, 0-RTT early data and KeyUpdate.
"""


def add_subparser(subparsers: Any) -> None:
    """Register ``pcap`` on the main CLI's subparsers."""
    p = subparsers.add_parser(
        "pcap", help="decode the V2G sessions in a pcap/pcapng capture",
        description="Print the V2G messages of a capture as a timeline.",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("file", help="pcap or pcapng file")
    p.add_argument("--keylog", "-k", metavar="KEYS",
                   help="NSS key log (SSLKEYLOGFILE format) to decrypt TLS")
    p.add_argument("--format", "-f", choices=("text", "json", "xml"), default="text",
                   help="text timeline (default), JSON Lines, or one XML document")
    p.add_argument("--verbose", "-v", action="store_true",
                   help="text: print every message in full below its line")
    p.add_argument("--problems", action="store_true",
                   help="only undecodable frames, gaps and other problems")
    p.set_defaults(func=_run)


def _read(path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as e:
        raise Iso15118Error(f"cannot read {path}: {e.strerror}") from None


def _run(args: argparse.Namespace) -> int:
    data = _read(args.file)
    keylog_path = args.keylog
    err = style_for(sys.stderr)
    if keylog_path is None and Path(args.file + ".keylog.txt").exists():
        keylog_path = args.file + ".keylog.txt"
        print(err(f"using key log {keylog_path}", "dim"), file=sys.stderr)
    keylog = None
    if keylog_path is not None:
        keylog = KeyLog.parse(_read(keylog_path).decode("utf-8", "replace"))
    result = read_capture(data, keylog)
    if args.problems:
        result.entries = [e for e in result.entries if e.error is not None]
    if args.format == "json":
        for line in format_json(result):
            print(line)
    elif args.format == "xml":
        print(format_xml(result, args.file))
    else:
        for line in format_text(result, args.file, style_for(sys.stdout), args.verbose):
            print(line)
    return 0


# --------------------------------------------------------------------------- text

_DIRECTION_STYLE = {"EV->EVSE": "cyan", "EVSE->EV": "magenta"}


def _start(result: CaptureResult) -> float:
    return result.entries[0].timestamp if result.entries else 0.0


def summary_lines(result: CaptureResult, name: str) -> list[str]:
    """The header of a text timeline: what was read and what was negotiated."""
    links = ", ".join(LINKTYPES.get(t, f"link type {t}") for t in sorted(result.linktypes))
    msgs = result.messages
    bad = sum(1 for e in msgs if e.error)
    lines = [f"# {name}: {result.frames} frames ({links}), {result.non_ip_frames} not IP; "
             f"{result.sdp_messages} SDP, {len(msgs)} V2GTP messages, {bad} undecodable"
             + (f"; ends early: {result.truncated}" if result.truncated else "")]
    for c in result.connections:
        parts = [f"{c.transport} {c.id}: EV [{c.client[0]}]:{c.client[1]} -> "
                 f"EVSE [{c.server[0]}]:{c.server[1]}"]
        if c.tls:
            parts.append(c.tls)
        if c.negotiated:
            parts.append(f"negotiated {c.negotiated} ({c.protocol or 'no schema'})")
        elif c.protocol:
            parts.append(f"protocol {c.protocol} (detected; handshake not captured)")
        parts.append(f"{c.frames} frames")
        for count, what in ((c.retransmitted, "retransmitted"), (c.gaps, "gaps"),
                            (c.skipped_bytes, "bytes skipped"),
                            (c.undecrypted_records, "TLS records not decrypted")):
            if count:
                parts.append(f"{count} {what}")
        lines.append("# " + ", ".join(parts))
    if result.unsupported_linktypes:
        lines.append("# frames of unsupported link types: "
                     + ", ".join(str(t) for t in sorted(result.unsupported_linktypes)))
    return lines


def _values_text(entry: Entry) -> str:
    return " ".join(f"{k}={v}" for k, v in entry.values)


def format_text(result: CaptureResult, name: str, style: Style | None = None,
                verbose: bool = False) -> list[str]:
    """The timeline as lines: relative time, frame, direction, protocol, name, values."""
    s = style or Style(False)
    out = [s(line, "dim") for line in summary_lines(result, name)]
    t0 = _start(result)
    for e in result.entries:
        when = f"{e.timestamp - t0:9.3f}"
        direction = s(f"{e.direction or '?':9}", _DIRECTION_STYLE.get(e.direction, "dim"))
        head = f"{when} #{e.number:<5} {direction}"
        if e.kind == "notice":
            text = s(f"! {e.name}", "red" if e.error else "yellow")
            out.append(f"{head} {e.stream:6} {text}")
            continue
        proto = f"{e.protocol or '?':12}"
        if e.error:
            out.append(f"{head} {proto} {s('undecodable', 'red', 'bold')} "
                       f"{e.payload.hex()[:40]}  {s(e.error, 'red')}")
            continue
        line = f"{head} {proto} {s(e.name, 'bold')}"
        if e.values:
            line += "  " + _values_text(e)
        if e.note:
            line += "  " + s(f"({e.note})", "yellow")
        out.append(line)
        if verbose and e.kind == "exi" and e.protocol and e.element:
            xml = codec.to_xml(e.value, e.protocol, element=e.element, pretty=True)
            out.extend("        " + x for x in xml.rstrip("\n").splitlines())
    return out


# --------------------------------------------------------------------------- json / xml


def _entry_dict(e: Entry, t0: float) -> dict[str, Any]:
    d: dict[str, Any] = {
        "frame": e.number, "time": round(e.timestamp, 6),
        "relative_time": round(e.timestamp - t0, 6), "stream": e.stream,
        "direction": e.direction or None, "kind": e.kind,
    }
    if e.kind == "notice":
        d["text"] = e.name
        d["problem"] = e.error is not None
        return d
    d.update({"protocol": e.protocol, "message": e.name, "values": values_object(e.values),
              "payload_type": e.payload_type, "hex": e.payload.hex()})
    if e.error:
        d["error"] = e.error
    if e.note:
        d["note"] = e.note
    if e.kind == "exi" and e.protocol and e.element and not e.error:
        d["decoded"] = json.loads(codec.to_json(e.value, e.protocol, element=e.element))
    return d


def values_object(pairs: Any) -> dict[str, Any]:
    """A summary's key values as a JSON object; a key that occurs more than once (two
    offered AppProtocols) maps to the list of its values, in order, instead of keeping
    only the last one. Keys that occur once keep their plain string value."""
    out: dict[str, Any] = {}
    repeated: set[str] = set()
    for key, value in pairs:
        if key not in out:
            out[key] = value
        elif key in repeated:
            out[key].append(value)
        else:
            out[key] = [out[key], value]
            repeated.add(key)
    return out


def format_json(result: CaptureResult) -> list[str]:
    """JSON Lines: one object per timeline entry, each with the full decoded message."""
    t0 = _start(result)
    return [json.dumps(_entry_dict(e, t0), ensure_ascii=False) for e in result.entries]


def format_xml(result: CaptureResult, name: str) -> str:
    """One ``<capture>`` document; each message element holds the decoded XML."""
    root = etree.Element("capture", file=name, frames=str(result.frames))
    t0 = _start(result)
    for e in result.entries:
        attrs = {"frame": str(e.number), "time": f"{e.timestamp - t0:.6f}",
                 "stream": e.stream}
        if e.direction:
            attrs["direction"] = e.direction
        if e.kind == "notice":
            el = etree.SubElement(root, "notice", attrs, problem=str(e.error is not None)
                                  .lower())
            el.text = e.name
            continue
        attrs.update({"protocol": e.protocol or "", "name": e.name})
        el = etree.SubElement(root, "message", attrs)
        if e.error:
            el.set("error", e.error)
            el.set("hex", e.payload.hex())
        elif e.kind == "exi" and e.protocol and e.element:
            el.append(etree.fromstring(codec.to_xml(e.value, e.protocol, element=e.element)))
        else:
            el.set("hex", e.payload.hex())
            for k, v in e.values:
                el.set(k, v)
    return str(etree.tostring(root, pretty_print=True, encoding="unicode")).rstrip("\n")
