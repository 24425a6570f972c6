"""Logs for the export tests, written from the real captures: the same messages the
capture holds, as an EVSE log in each layout, so a reader's result can be compared with
what the capture reader found. Captures are read in place (../shared/vectors/real/pcap)."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from support.oracle import shared_dir

from iso15118.capture import Entry, KeyLog, read_capture
from iso15118.v2gtp import encode_frame

_SHARED = shared_dir()
PCAP_DIR = _SHARED / "vectors" / "real" / "pcap" if _SHARED else None
HAVE_CAPTURES = bool(PCAP_DIR and PCAP_DIR.is_dir())
CAPTURES = sorted(p for p in PCAP_DIR.glob("*/*.pcap*") if p.suffix in (".pcap", ".pcapng")
                  ) if HAVE_CAPTURES and PCAP_DIR else []


def capture(name: str) -> Path:
    assert PCAP_DIR is not None
    return next(PCAP_DIR.glob(f"*/{name}"))


def messages_of(name: str) -> list[Entry]:
    """The SDP and V2GTP messages of a capture, in time order."""
    path = capture(name)
    keys = path.with_name(path.name + ".keylog.txt")
    result = read_capture(path.read_bytes(),
                          KeyLog.parse(keys.read_text()) if keys.exists() else None)
    return [e for e in result.entries if e.kind in ("exi", "sdp")]


def wire_hex(e: Entry, header: bool = True) -> str:
    """The message as a log would hold it: with its V2GTP header, or the bare payload
    (SDP always keeps its header: it is how an SDP line is recognised)."""
    if header or e.kind == "sdp":
        return encode_frame(e.payload_type or 0x8001, e.payload).hex()
    return e.payload.hex()


def iso_time(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, tz=timezone.utc).isoformat(timespec="microseconds")


def write_log(path: Path, entries: list[Entry], layout: str, *, header: bool = True) -> Path:
    """``entries`` as a log of ``layout`` (hex, timestamped, csv, or the regex example
    layout ``[time] <dir> payload=HEX``)."""
    lines: list[str] = []
    if layout == "csv":
        lines.append("Timestamp,Channel,Direction,Payload")
    for e in entries:
        h = wire_hex(e, header)
        if layout == "hex":
            lines.append(h)
        elif layout == "timestamped":
            lines.append(f"{iso_time(e.timestamp)} {e.direction} {h}")
        elif layout == "csv":
            lines.append(f"{e.timestamp:.6f},ch1,{'EV' if e.direction == 'EV->EVSE' else 'EVSE'},"
                         f"{h}")
        elif layout == "regex":
            side = "ev" if e.direction == "EV->EVSE" else "evse"
            lines.append(f"[{e.timestamp:.6f}] <{side}> level=debug payload={h}")
        else:
            raise ValueError(layout)
    path.write_text("# written by the export tests\n" + "\n".join(lines) + "\n")
    return path
