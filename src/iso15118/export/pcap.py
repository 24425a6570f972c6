"""pcap/pcapng captures -> message records, through :func:`iso15118.capture.read_capture`.

The capture reader already does the protocol work (TCP reassembly, TLS with key logs,
supportedAppProtocol tracking); this module only maps its timeline entries to records
and decides which session each message belongs to. A session is one V2G TCP connection
(the ``# tcp N`` / ``# tls N`` lines of ``iso15118 pcap``). SDP happens before the
connection it leads to, so an SDP message joins the first connection of the capture that
starts after it; SDP with no later connection (a vehicle that never connected) keeps no
session. Notices (gaps, TLS problems) are not messages and are not exported; a capture cut
short is skipped whole (an input is exported whole or not at all).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from iso15118.capture import Entry, KeyLog, read_capture
from iso15118.errors import Iso15118Error
from iso15118.export.records import ExportInputError, MessageRecord, direction_of

__all__ = ["CAPTURE_SUFFIXES", "read_pcap"]

CAPTURE_SUFFIXES = (".pcap", ".pcapng", ".cap")


def _keylog_for(path: Path, keylog: Path | None) -> KeyLog | None:
    candidate = keylog if keylog is not None else path.with_name(path.name + ".keylog.txt")
    if not candidate.exists():
        if keylog is not None:
            raise ExportInputError(f"{keylog}: key log not found")
        return None
    return KeyLog.parse(candidate.read_text(encoding="utf-8", errors="replace"))


def _record(source: str, session: str | None, e: Entry) -> MessageRecord:
    name = e.name if e.error is None else "(undecodable)"
    return MessageRecord(
        source=source, reader="pcap", session=session, frame=e.number, time_s=e.timestamp,
        direction=e.direction or direction_of(e.name), kind=e.kind, protocol=e.protocol,
        payload_type=e.payload_type, payload=e.payload, name=name, element=e.element,
        value=e.value, error=e.error, note=e.note)


def read_pcap(path: str | Path, keylog: str | Path | None = None,
              source: str | None = None) -> Iterator[MessageRecord]:
    """Every V2GTP and SDP message of a capture, in time order.

    ``FILE.keylog.txt`` beside the capture is used when no key log is given, as
    ``iso15118 pcap`` does. Raises :class:`ExportInputError` when the file is not a
    capture this reader understands.
    """
    p = Path(path)
    src = source if source is not None else str(path)
    try:
        data = p.read_bytes()
        keys = _keylog_for(p, Path(keylog) if keylog is not None else None)
        result = read_capture(data, keys)
    except OSError as e:
        raise ExportInputError(f"{src}: {e.strerror or e}") from None
    except Iso15118Error as e:
        raise ExportInputError(f"{src}: {' '.join(str(e).split())}") from None
    if result.truncated is not None:
        # an input is exported whole or not at all (tasks.run_task): a capture cut short
        # is skipped, and the reason says where `iso15118 pcap` can still show its start
        raise ExportInputError(f"{src}: {result.truncated} (the {result.frames} frames "
                               "before it are readable with `iso15118 pcap`)")
    starts: list[tuple[float, str]] = []
    seen: set[str] = set()
    for entry in result.entries:
        if entry.kind == "exi" and entry.stream not in seen:
            seen.add(entry.stream)
            starts.append((entry.timestamp, entry.stream))
    for entry in result.entries:
        if entry.kind == "exi":
            yield _record(src, f"{src}#{entry.stream}", entry)
        elif entry.kind == "sdp":
            later = next((s for t, s in starts if t >= entry.timestamp), None)
            yield _record(src, f"{src}#{later}" if later else None, entry)
