"""Log files with one hex message per line -> message records, session by session.

A log has no TCP connections to separate sessions, so the messages do: a session starts
at the EV's supportedAppProtocolReq (ISO 15118-2 clause 8.2, DIN 70121 clause 8.2: every
V2G session opens with it), or at the SDP request before it. Within a session the
protocol of headerless or 0x8001 lines follows the negotiation exactly as in a capture
(:class:`iso15118.capture.session.SessionDecoder`); -20 lines without a V2GTP header
are detected among the -20 namespaces.

A file can be read whole or as byte ranges (chunks) that start at a session start
(:func:`plan_chunks`), so a Dask task can take one chunk without seeing the others and
every session still lands in one task. A log whose lines name a channel (connector)
interleaves sessions: each channel is followed on its own, and such a file is one task.
A line that is not hex, or hex that does not decode, becomes a record with ``error`` set.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from iso15118 import codec, sdp
from iso15118.capture.session import SessionDecoder
from iso15118.detect import ALL_CANDIDATES, detect, split_v2gtp
from iso15118.errors import Iso15118Error
from iso15118.export.layouts import Layout, LogLine, detect_layout
from iso15118.export.lines import MAX_LINE_BYTES, iter_lines
from iso15118.export.records import ExportInputError, MessageRecord, direction_of
from iso15118.summary import message_name
from iso15118.v2gtp import SDP_PAYLOAD_TYPES, Frame, PayloadType

__all__ = ["is_session_start", "layout_of_file", "plan_chunks", "read_log"]

_HEX_JUNK = re.compile(r"0x|[\s:,]", re.IGNORECASE)
_ISO20 = tuple(p for p in ALL_CANDIDATES if p.startswith("iso20"))
_SDP_REQUESTS = frozenset({PayloadType.SDP_REQUEST, PayloadType.SDP_REQUEST_WIRELESS,
                           PayloadType.SDP_REQUEST_EMSP})
_SAP = int(PayloadType.SAP_ISO2_DIN)


def _one_line(e: BaseException) -> str:
    return " ".join(str(e).split())


def _hex_bytes(text: str) -> bytes:
    try:
        return bytes.fromhex(_HEX_JUNK.sub("", text))
    except ValueError:
        raise Iso15118Error(f"not hexadecimal: {text.strip()[:40]!r}") from None


def is_session_start(raw: bytes) -> bool:
    """True for an SDP request or a supportedAppProtocolReq (with or without header).

    The EXI of a supportedAppProtocolReq starts ``0x80`` then the two-bit event code 00
    of the handshake's first document element, which filters out DIN/-2 messages
    (``0x80 0x98``/``0x9a``) before the strict decode confirms it."""
    payload = raw
    if raw[:2] == b"\x01\xfe" and len(raw) >= 8:
        ptype = int.from_bytes(raw[2:4], "big")
        if ptype in _SDP_REQUESTS:
            return True
        if ptype != _SAP:
            return False
        payload = raw[8:]
    if len(payload) < 2 or payload[0] != 0x80 or payload[1] >= 0x40:
        return False
    try:
        element, _ = codec.decode_element(payload, "apphand", strict=True)
    except Iso15118Error:
        return False
    return element.endswith("supportedAppProtocolReq")


class _Session:
    """The decoding state of one session of a log."""

    def __init__(self, key: str) -> None:
        self.key = key
        self.decoder = SessionDecoder()
        self.exi_messages = 0

    def decode(self, raw: bytes) -> tuple[str, str | None, int | None, bytes, str,
                                          str | None, Any, str | None, str | None]:
        """(kind, protocol, payload type, payload, name, element, value, error, note)."""
        header, payload = split_v2gtp(raw)
        if header is not None and header.payload_type in SDP_PAYLOAD_TYPES:
            try:
                message = sdp.decode(raw)
            except Iso15118Error as e:
                return ("sdp", "sdp", header.payload_type, payload, "SDP (undecodable)", None,
                        None, _one_line(e), None)
            return ("sdp", "sdp", header.payload_type, payload, type(message).__name__,
                    None, message, None, None)
        ptype = header.payload_type if header is not None else None
        if header is None and self.decoder.negotiated_protocol in _ISO20:
            protocol, element, value, error, note = self._iso20(payload)
        else:
            d = self.decoder.decode(Frame(ptype if ptype is not None else _SAP, payload))
            protocol, element, value, error, note = (d.protocol, d.element, d.value,
                                                     d.error, d.note)
        self.exi_messages += 1
        if error is not None or element is None or protocol is None:
            return ("exi", protocol, ptype, payload, "(undecodable)", None, None,
                    error or "not decoded", note)
        return ("exi", protocol, ptype, payload, message_name(protocol, element, value),
                element, value, None, note)

    @staticmethod
    def _iso20(payload: bytes) -> tuple[str | None, str | None, Any, str | None, str | None]:
        found = detect(payload, candidates=_ISO20)
        if found.matches:
            proto = found.matches[0]
            element, value = found.decoded[proto]
            note = (None if len(found.matches) == 1 else
                    f"ambiguous: {', '.join(found.matches)} (no V2GTP header); shown as {proto}")
            return proto, element, value, None, note
        reasons = "; ".join(f"{p}: {r}" for p, r in found.rejected.items())
        return None, None, None, f"no -20 namespace decodes it ({reasons})", None


def _lines(path: Path, start: int, end: int | None) -> Iterator[tuple[int, str | None]]:
    """(byte offset, text) of each line that starts in [start, end); None for a line
    too long to be a message (:mod:`.lines`)."""
    with path.open("rb") as f:
        f.seek(start)
        for offset, raw in iter_lines(f, start, end):
            yield offset, None if raw is None else raw.decode("utf-8", "replace")


def layout_of_file(path: str | Path, layout: Layout | None = None) -> Layout:
    """``layout`` as given, or detected from the first lines of the file."""
    if layout is not None:
        if layout.name == "csv" and not layout.columns:
            with Path(path).open("rb") as f:
                header = next((text for _, raw in iter_lines(f, 0) if raw is not None
                               for text in [raw.decode("utf-8", "replace")]
                               if text.strip() and not text.startswith("#")), "")
            return Layout("csv", columns=tuple(detect_layout([header], ".csv").columns))
        return layout
    try:
        with Path(path).open("rb") as f:
            first = [raw.decode("utf-8", "replace")
                     for _, (_, raw) in zip(range(50), iter_lines(f, 0), strict=False)
                     if raw is not None]
    except OSError as e:
        raise ExportInputError(f"{path}: {e.strerror or e}") from None
    return detect_layout(first, str(path))


#: A channel's session is held back until it ends (interleaved logs only); past this many
#: messages it is let go in pieces, so one endless session cannot hold the whole file.
MAX_HELD_RECORDS = 100_000


def read_log(path: str | Path, layout: Layout, *, start: int = 0, end: int | None = None,
             source: str | None = None) -> Iterator[MessageRecord]:
    """The messages of a log file (or of its byte range [start, end), which should begin
    at a session start; see :func:`plan_chunks`), session after session.

    In a log whose layout names a channel the sessions of several channels interleave;
    each channel's session is then held until it ends (its channel's next handshake, or
    the end of the file) and given out whole, so that downstream every session's messages
    are contiguous, as in a log of one connector."""
    ordered = _in_file_order(Path(path), layout, start, end,
                             source if source is not None else str(path))
    if not layout.has_channel:
        for _, record in ordered:
            yield record
        return
    held: dict[str | None, list[MessageRecord]] = {}
    for channel, record in ordered:
        run = held.get(channel)
        if run and (run[0].session != record.session or len(run) >= MAX_HELD_RECORDS):
            yield from run
            run = None
        if run is None:
            run = held[channel] = []
        run.append(record)
    for run in sorted(held.values(), key=lambda r: (r[0].offset or 0) if r else 0):
        yield from run


def _in_file_order(p: Path, layout: Layout, start: int, end: int | None, src: str
                   ) -> Iterator[tuple[str | None, MessageRecord]]:
    """(channel, record) for each message line, in file order, with one session state
    per channel (a single one when the layout names none)."""
    sessions: dict[str | None, _Session] = {}

    def session_of(channel: str | None, offset: int, raw: bytes | None) -> _Session:
        session = sessions.get(channel)
        if session is None or (raw is not None and session.exi_messages
                               and is_session_start(raw)):
            session = sessions[channel] = _Session(f"{src}@{offset}")
        return session

    try:
        for offset, text in _lines(p, start, end):
            if text is None:
                key = session_of(None, offset, None).key
                yield None, MessageRecord(src, "hexlog", key, None, None, None, "exi", None,
                                          None, b"", "(unparseable line)",
                                          error=f"offset {offset}: line longer than "
                                                f"{MAX_LINE_BYTES} bytes, skipped",
                                          offset=offset)
                continue
            line: LogLine | None = layout.parse(text)
            if line is None:
                continue
            try:
                raw = _hex_bytes(line.hex)
                if not raw:
                    raise Iso15118Error("no hex on the line")
            except Iso15118Error as e:
                key = session_of(line.channel, offset, None).key
                yield line.channel, MessageRecord(
                    src, "hexlog", key, None, line.time_s, line.direction, "exi", None, None,
                    b"", "(unparseable line)", error=f"offset {offset}: {_one_line(e)}",
                    offset=offset)
                continue
            session = session_of(line.channel, offset, raw)
            try:
                kind, proto, ptype, payload, name, element, value, error, note = \
                    session.decode(raw)
            except Iso15118Error as e:  # a V2GTP header whose length does not fit
                kind, proto, ptype, payload, name, element, value, error, note = (
                    "exi", None, None, raw, "(undecodable)", None, None, _one_line(e), None)
            yield line.channel, MessageRecord(
                src, "hexlog", session.key, None, line.time_s,
                line.direction or direction_of(name), kind, proto, ptype, payload, name,
                element, value, error, note, offset)
    except OSError as e:
        raise ExportInputError(f"{src}: {e.strerror or e}") from None


def plan_chunks(path: str | Path, layout: Layout, chunk_bytes: int) -> list[tuple[int, int | None]]:
    """Byte ranges of about ``chunk_bytes`` that each begin at a session start.

    Only the lines near each cut are read (from the cut to the next session start), so
    planning a large file costs a few reads, not a pass over it. An SDP exchange right
    before a supportedAppProtocolReq stays with its session."""
    p = Path(path)
    size = p.stat().st_size
    cuts = [0]
    target = chunk_bytes
    while target < size:
        cut = _next_start(p, layout, target, size)
        if cut is None:
            break
        if cut > cuts[-1]:
            cuts.append(cut)
        target = max(cut, target) + chunk_bytes
    ranges: list[tuple[int, int | None]] = []
    for i, c in enumerate(cuts):
        ranges.append((c, cuts[i + 1] if i + 1 < len(cuts) else None))
    return ranges


def _next_start(path: Path, layout: Layout, offset: int, size: int) -> int | None:
    with path.open("rb") as f:
        f.seek(offset)
        lines = iter_lines(f, offset)
        if offset:
            next(lines, None)  # the line the cut fell into belongs to the chunk
        sdp_run: int | None = None
        for here, raw_line in lines:
            if raw_line is None:
                sdp_run = None
                continue
            line = layout.parse(raw_line.decode("utf-8", "replace"))
            if line is None:
                continue
            try:
                raw = _hex_bytes(line.hex)
            except Iso15118Error:
                sdp_run = None
                continue
            if raw[:3] == b"\x01\xfe\x90":
                if sdp_run is None:
                    sdp_run = here
                continue
            if is_session_start(raw):
                return sdp_run if sdp_run is not None else here
            sdp_run = None
    return None
