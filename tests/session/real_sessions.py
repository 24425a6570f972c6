"""The recorded V2G sessions in ``../shared/vectors/real``, as ordered messages both ways.

Test support for the session layer (DIN SPEC 70121 and ISO 15118-2, SECC and EVCC): a
session test replays the EV's requests into our SECC, or the charger's responses into
our EVCC, in the order they were recorded. The data is read in place, never copied.

Where the order of a session is really known, and where it is not:

* **Captures** (``real/pcap/*/*.pcap*``, the TLS ones with their ``*.keylog.txt``): every
  V2GTP frame in wire order, read by :func:`iso15118.capture.read_capture`. One TCP
  connection is one :class:`RecordedSession`: a session layer object lives as long as
  its connection. A paused -2 session resumed on a new connection with the old
  SessionID (``ISO-2_DC_Pause_DS5366.pcapng``) is therefore two recorded sessions.
* **JSON Lines** (``real/*.jsonl``): one row per *unique* hex string per source
  repository, at its first occurrence, with ``occurrences`` and (up to 10) ``seen_in``
  files. That holds for the claralog rows too: a serial log's repeated frames (a
  CurrentDemand loop of 3,412 identical requests in ``2024-02-18_clara_alpi_
  lightbulb_ok.claralog``) are one row, and frames first seen in another file (the
  appHandshake, SessionSetupReq with SessionID 0) have no position at all. No
  jsonl-only file has a known full order, so none becomes a :class:`RecordedSession`.
  What they do give, an ordered *subsequence* (each distinct frame at its first
  occurrence), is offered as :class:`DistinctFrameTrace` for statistics only; a replay
  must not use it (loops collapse to one turn, e.g. a CableCheckRes Ongoing directly
  followed by CableCheckRes Finished).

Out of scope, and listed in :attr:`RealData.skipped` with the reason: ISO 15118-20
connections (for the -20 issue), captures with SDP only, and connections without a
DIN/ISO-2 message.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import cache
from pathlib import Path
from typing import Any

from iso15118 import codec
from iso15118.capture import Entry, KeyLog, read_capture
from iso15118.errors import Iso15118Error
from iso15118.summary import body_of, message_name

__all__ = ["DistinctFrameTrace", "Exchange", "RealData", "RecordedMessage", "RecordedSession",
           "Skipped", "TraceFrame", "load", "pair_messages", "recorded_sessions"]

SESSION_PROTOCOLS = ("din", "iso2")
_DIRECTION = {"EV->EVSE": "ev", "EVSE->EV": "evse"}
_JSONL_PROTOCOL = {"appHand": "apphand", "din": "din", "iso2": "iso2"}
# README "What is real and what is not": which side of the session is a commercial device.
_COMMERCIAL_EV = {"real:both-sides-commercial", "real:EV-side-commercial",
                  "real:EV-side-commercial(bench)"}
_COMMERCIAL_EVSE = {"real:both-sides-commercial", "real:EVSE-side-commercial"}


@dataclass(frozen=True)
class RecordedMessage:
    """One V2GTP payload of a recorded session. ``message`` is the decoded model; it is
    shared between callers, so copy it before changing it (e.g. the SessionID)."""

    direction: str  # "ev" (EV -> EVSE request) or "evse" (EVSE -> EV response)
    protocol: str  # "apphand", "din" or "iso2"
    name: str  # body element name, e.g. "CurrentDemandReq", "supportedAppProtocolRes"
    payload: bytes  # the EXI payload, without the V2GTP header
    timestamp: float | None  # seconds (capture clock, or log uptime for traces)
    message: Any
    frame: int | None = None  # capture frame number (or log line for traces), for citing

    @property
    def body(self) -> Any:
        """The body element (DIN/-2), or the message itself (appHandshake)."""
        return body_of(self.message)

    @property
    def session_id(self) -> bytes | None:
        header = getattr(self.message, "header", None)
        return getattr(header, "session_id", None)

    @property
    def response_code(self) -> str | None:
        code = getattr(self.body, "response_code", None)
        return None if code is None else str(getattr(code, "name", code))


@dataclass(frozen=True)
class Exchange:
    """A request and the response that followed it; either is None where the recording
    breaks the request/response alternation (or ends after a request)."""

    request: RecordedMessage | None
    response: RecordedMessage | None


@dataclass(frozen=True)
class RecordedSession:
    """One TCP connection of a capture: the appHandshake and the DIN/-2 session after it."""

    source: str  # "<capture folder>/<file>#<stream>", e.g. "pyPLC/x.pcapng#tcp 1"
    protocol: str  # "din" or "iso2": the one the supportedAppProtocolRes chose
    tls: bool
    messages: tuple[RecordedMessage, ...]  # wire order, appHandshake included
    complete: bool  # a SessionStopRes was recorded
    provenance: str  # the README's provenance value (e.g. "real:EV-side-commercial")
    devices: str  # the README's "EV: ... | EVSE: ..." text
    namespace: str | None  # the namespace chosen in supportedAppProtocolRes

    @property
    def file(self) -> str:
        return self.source.split("#", 1)[0]

    @property
    def requests(self) -> tuple[RecordedMessage, ...]:
        return tuple(m for m in self.messages if m.direction == "ev")

    @property
    def responses(self) -> tuple[RecordedMessage, ...]:
        return tuple(m for m in self.messages if m.direction == "evse")

    @property
    def session_id(self) -> bytes | None:
        """The SessionID the charger assigned in SessionSetupRes."""
        for m in self.messages:
            if m.name == "SessionSetupRes":
                return m.session_id
        return None

    @property
    def ev_commercial(self) -> bool:
        return self.provenance in _COMMERCIAL_EV

    @property
    def evse_commercial(self) -> bool:
        return self.provenance in _COMMERCIAL_EVSE

    def exchanges(self) -> list[Exchange]:
        return pair_messages(self.messages)


@dataclass(frozen=True)
class Skipped:
    source: str
    reason: str


@dataclass(frozen=True)
class TraceFrame:
    message: RecordedMessage
    row_id: str  # the jsonl ``id``
    occurrences: int  # how often the hex occurs in its source repository
    elsewhere: bool  # the hex also occurs in other files (``seen_in``)


@dataclass(frozen=True)
class DistinctFrameTrace:
    """NOT a wire sequence: the distinct frames of one session of a jsonl-only log, each
    at its first occurrence. Repeats and frames first seen in other files are missing."""

    source: str  # the jsonl file and the log's source_path
    protocol: str
    provenance: str
    devices: str
    frames: tuple[TraceFrame, ...]
    undecodable: int  # rows of this log our codec (or cbv2g: protocol unknown) rejects


@dataclass(frozen=True)
class RealData:
    sessions: tuple[RecordedSession, ...]
    skipped: tuple[Skipped, ...]
    traces: tuple[DistinctFrameTrace, ...]


def recorded_sessions(shared_dir: Path) -> list[RecordedSession]:
    """Every DIN/-2 session recorded in a capture under ``shared_dir/vectors/real``."""
    return list(load(shared_dir).sessions)


def pair_messages(messages: tuple[RecordedMessage, ...] | list[RecordedMessage]
                  ) -> list[Exchange]:
    """Requests paired with the response of the same name that directly follows them."""
    out: list[Exchange] = []
    pending: RecordedMessage | None = None
    for m in messages:
        if m.direction == "ev":
            if pending is not None:
                out.append(Exchange(pending, None))
            pending = m
        elif pending is not None and pending.name.removesuffix("Req") == m.name.removesuffix(
                "Res"):
            out.append(Exchange(pending, m))
            pending = None
        else:
            if pending is not None:
                out.append(Exchange(pending, None))
                pending = None
            out.append(Exchange(None, m))
    if pending is not None:
        out.append(Exchange(pending, None))
    return out


@cache
def load(shared_dir: Path) -> RealData:
    """Read every capture and jsonl file under ``shared_dir/vectors/real`` (cached)."""
    real = Path(shared_dir) / "vectors" / "real"
    rows = _jsonl_rows(real)
    described = _descriptions(rows)
    sessions: list[RecordedSession] = []
    skipped: list[Skipped] = []
    for path in sorted(real.glob("pcap/*/*")):
        if path.suffix not in (".pcap", ".pcapng"):
            continue
        name = f"{path.parent.name}/{path.name}"
        provenance, devices = described.get(path.name, ("unknown", "unknown"))
        found, gone = _capture_sessions(path, name, provenance, devices)
        sessions.extend(found)
        skipped.extend(gone)
    sessions, dupes = _deduplicate(sessions)
    skipped.extend(dupes)
    stored = {p.name for p in real.glob("pcap/*/*")}
    traces, gone = _traces(rows, stored, sessions)
    skipped.extend(gone)
    return RealData(tuple(sessions), tuple(skipped), tuple(traces))


# --------------------------------------------------------------------------- captures


def _capture_sessions(path: Path, name: str, provenance: str, devices: str
                      ) -> tuple[list[RecordedSession], list[Skipped]]:
    keys = path.with_name(path.name + ".keylog.txt")
    keylog = KeyLog.parse(keys.read_text(encoding="utf-8")) if keys.exists() else None
    result = read_capture(path.read_bytes(), keylog)
    if result.problems:
        # nothing is dropped silently: a frame that does not decode is a loader error
        raise ValueError(f"{name}: {[(e.number, e.error) for e in result.problems]}")
    by_stream: dict[str, list[Entry]] = {}
    for e in result.messages:
        by_stream.setdefault(e.stream, []).append(e)
    connections = {f"{c.transport} {c.id}": c for c in result.connections}
    sessions: list[RecordedSession] = []
    skipped: list[Skipped] = []
    if not result.messages:
        skipped.append(Skipped(name, f"no V2GTP message ({result.sdp_messages} SDP only)"))
    for stream, entries in by_stream.items():
        source = f"{name}#{stream}"
        conn = connections[stream]
        protocols = {e.protocol for e in entries} - {"apphand"}
        if any(p and p.startswith("iso20") for p in protocols):
            skipped.append(Skipped(source, f"ISO 15118-20 ({conn.negotiated}): out of scope"))
            continue
        if conn.protocol not in SESSION_PROTOCOLS or not protocols:
            skipped.append(Skipped(source, "no DIN/ISO-2 message"))
            continue
        messages = tuple(_message(e) for e in entries)
        sessions.append(RecordedSession(
            source=source, protocol=conn.protocol, tls=conn.transport == "tls",
            messages=messages, complete=any(m.name == "SessionStopRes" for m in messages),
            provenance=provenance, devices=devices, namespace=conn.negotiated))
    return sessions, skipped


def _message(e: Entry) -> RecordedMessage:
    assert e.protocol is not None and e.direction in _DIRECTION, (e.number, e.direction)
    return RecordedMessage(_DIRECTION[e.direction], e.protocol, e.name, e.payload,
                           e.timestamp, e.value, e.number)


def _wire_key(m: RecordedMessage) -> tuple[bytes, int | None]:
    """What makes a recorded frame one event: its bytes and when (to the millisecond).
    Bytes alone are not enough: pyPLC as charger hands every car SessionID
    0102030405060708, so a car's requests repeat byte for byte across sessions."""
    return m.payload, None if m.timestamp is None else round(m.timestamp * 1000)


def _deduplicate(sessions: list[RecordedSession]
                 ) -> tuple[list[RecordedSession], list[Skipped]]:
    """The same session in two captures (a copy of the file) is kept once."""
    kept: list[RecordedSession] = []
    skipped: list[Skipped] = []
    seen: dict[tuple[tuple[bytes, int | None], ...], RecordedSession] = {}
    for s in sessions:
        key = tuple(_wire_key(m) for m in s.messages)
        twin = seen.setdefault(key, s)
        if twin is s:
            kept.append(s)
        else:
            skipped.append(Skipped(s.source, f"duplicate of {twin.source}"))
    return kept, skipped


# --------------------------------------------------------------------------- jsonl


def _jsonl_rows(real: Path) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for f in sorted(real.glob("*.jsonl")):
        with f.open(encoding="utf-8") as fh:
            for line in fh:
                row = json.loads(line)
                row["_file"] = f.name
                rows.append(row)
    return rows


def _basename(path: str) -> str:
    return path.rsplit("/", 1)[-1]


def _descriptions(rows: list[dict[str, Any]]) -> dict[str, tuple[str, str]]:
    """File name -> (provenance, devices), from the rows whose first occurrence is there."""
    votes: dict[str, Counter[tuple[str, str]]] = {}
    for row in rows:
        key = (row["provenance"], row.get("vehicle_or_device") or "")
        votes.setdefault(_basename(row["source_path"]), Counter())[key] += 1
    return {name: c.most_common(1)[0][0] for name, c in votes.items()}


_MS = re.compile(r"^(\d+(?:\.\d+)?) ms$")


def _timestamp(value: str | None) -> float | None:
    """Capture epochs ("1681645939.159270000"), claralog uptimes ("82100 ms") and the
    pyPLC text logs' local times ("2022-12-21 07:50:11.550996") as seconds."""
    if value is None:
        return None
    m = _MS.match(value)
    if m:
        return float(m.group(1)) / 1000
    try:
        return float(value)
    except ValueError:
        return datetime.fromisoformat(value).replace(tzinfo=timezone.utc).timestamp()


def _traces(rows: list[dict[str, Any]], stored: set[str], sessions: list[RecordedSession]
            ) -> tuple[list[DistinctFrameTrace], list[Skipped]]:
    recorded = {_wire_key(m) for s in sessions for m in s.messages}
    by_log: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in rows:
        if row["layer"] != "exi" or _basename(row["source_path"]) in stored:
            continue
        by_log.setdefault((row["_file"], row["source_path"]), []).append(row)
    traces: list[DistinctFrameTrace] = []
    skipped: list[Skipped] = []
    for (jsonl, log), log_rows in sorted(by_log.items()):
        source = f"{jsonl}:{log}"
        if log.endswith(".cpp"):
            skipped.append(Skipped(source, "unit-test vectors, not a session"))
            continue
        log_rows.sort(key=lambda r: (r["index_in_capture"], r["id"]))
        frames, bad = _trace_frames(log_rows)
        for protocol, part in _split_sessions(frames):
            if protocol is None:
                continue
            if any(_wire_key(f.message) in recorded for f in part):
                skipped.append(Skipped(source, "trace of a session that a capture holds"))
                continue
            traces.append(DistinctFrameTrace(
                source, protocol, log_rows[0]["provenance"],
                log_rows[0].get("vehicle_or_device") or "", tuple(part), bad))
    return traces, skipped


def _trace_frames(rows: list[dict[str, Any]]) -> tuple[list[TraceFrame], int]:
    frames: list[TraceFrame] = []
    bad = 0
    for row in rows:
        protocol = _JSONL_PROTOCOL.get(row["protocol"])
        if protocol is None:
            bad += row["protocol"] == "unknown"
            continue
        payload = bytes.fromhex(row["hex"])
        try:
            element, value = codec.decode_element(payload, protocol)
        except Iso15118Error:
            bad += 1
            continue
        message = RecordedMessage(_DIRECTION[row["direction"]], protocol,
                                  message_name(protocol, element, value), payload,
                                  _timestamp(row.get("timestamp")), value,
                                  row["index_in_capture"])
        frames.append(TraceFrame(message, row["id"], row["occurrences"],
                                 bool(row.get("seen_in"))))
    return frames, bad


_SESSION_START = {"supportedAppProtocolReq", "supportedAppProtocolRes", "SessionSetupReq",
                  "SessionSetupRes"}


def _split_sessions(frames: list[TraceFrame]) -> list[tuple[str | None, list[TraceFrame]]]:
    """A log's frames cut where a handshake or SessionSetup follows other messages. Not
    at SessionID changes: logs with bit errors hold frames with a damaged SessionID."""
    parts: list[list[TraceFrame]] = []
    for f in frames:
        starts = f.message.name in _SESSION_START
        if not parts or (starts and any(g.message.name not in _SESSION_START
                                        for g in parts[-1])):
            parts.append([])
        parts[-1].append(f)
    out: list[tuple[str | None, list[TraceFrame]]] = []
    for part in parts:
        protocols = {f.message.protocol for f in part} - {"apphand"}
        out.append((protocols.pop() if len(protocols) == 1 else None, part))
    return out
