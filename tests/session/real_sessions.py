"""The recorded V2G sessions in ``../shared/vectors/real``, as ordered messages both ways.

Test support for the session layer (DIN SPEC 70121, ISO 15118-2 and ISO 15118-20, SECC
and EVCC): a session test replays the EV's requests into our SECC, or the charger's
responses into our EVCC, in the order they were recorded. The data is read in place,
never copied.

Which protocols: :func:`load` and :func:`recorded_sessions` give the DIN and -2 sessions
unless asked for more (``protocols=ALL_PROTOCOLS``, or ``("iso20",)``). An ISO 15118-20
session has protocol ``"iso20"``; each of its messages has the namespace its V2GTP payload
type names (ISO 15118-20 Table 12: 0x8002 ``"iso20-common"``, 0x8003 ``"iso20-ac"``,
0x8004 ``"iso20-dc"``, 0x8005 ``"iso20-acdp"``, 0x8006 ``"iso20-wpt"``), the handshake
``"apphand"`` (0x8001).

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
* **Unit-test vectors** (the jsonl rows of EVerest's libcbv2g and libiso15118 ``*.cpp``
  files, nearly all -20): no position, no time, one row per stream. They are offered as
  :class:`UnitVector` (:attr:`RealData.vectors`) and never form a session: grouped by the
  SessionID in their headers, the largest group mixes AC and DC messages and its
  ServiceDiscovery/Detail/Selection requests carry another SessionID than their
  responses (``test_real_sessions_iso20.py`` shows it).

Listed in :attr:`RealData.skipped` with the reason: connections of a protocol not asked
for, captures with SDP only, and connections without a DIN/ISO-2/-20 message.
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

__all__ = ["ALL_PROTOCOLS", "SESSION_PROTOCOLS", "DistinctFrameTrace", "Exchange", "RealData",
           "RecordedMessage", "RecordedSession", "Skipped", "TraceFrame", "UnitVector", "load",
           "pair_messages", "recorded_sessions"]

SESSION_PROTOCOLS = ("din", "iso2")  # what load() gives unless asked for more
ALL_PROTOCOLS = ("din", "iso2", "iso20")
ISO20 = "iso20"
_DIRECTION = {"EV->EVSE": "ev", "EVSE->EV": "evse"}
_JSONL_PROTOCOL = {"appHand": "apphand", "din": "din", "iso2": "iso2"}
_UNIT_TEST_PROTOCOL = {**_JSONL_PROTOCOL, **{p: p for p in (
    "iso20-common", "iso20-ac", "iso20-dc", "iso20-acdp", "iso20-wpt")}}
# README "What is real and what is not": which side of the session is a commercial device.
_COMMERCIAL_EV = {"real:both-sides-commercial", "real:EV-side-commercial",
                  "real:EV-side-commercial(bench)"}
_COMMERCIAL_EVSE = {"real:both-sides-commercial", "real:EVSE-side-commercial"}


@dataclass(frozen=True)
class RecordedMessage:
    """One V2GTP payload of a recorded session. ``message`` is the decoded model; it is
    shared between callers, so copy it before changing it (e.g. the SessionID)."""

    direction: str  # "ev" (EV -> EVSE request) or "evse" (EVSE -> EV response)
    protocol: str  # "apphand", "din", "iso2" or a -20 namespace ("iso20-common", "iso20-dc")
    name: str  # body element name, e.g. "CurrentDemandReq", "supportedAppProtocolRes"
    payload: bytes  # the EXI payload, without the V2GTP header
    timestamp: float | None  # seconds (capture clock, or log uptime for traces)
    message: Any
    frame: int | None = None  # capture frame number (or log line for traces), for citing
    payload_type: int | None = None  # the V2GTP payload type (captures only)

    @property
    def body(self) -> Any:
        """The body element (DIN/-2), or the message itself (appHandshake, -20)."""
        return body_of(self.message)

    @property
    def session_id(self) -> bytes | None:
        header = getattr(self.message, "header", None)
        return getattr(header, "session_id", None)

    @property
    def response_code(self) -> str | None:
        code = getattr(self.body, "response_code", None)
        return None if code is None else str(getattr(code, "name", code))

    @property
    def header_time(self) -> int | None:
        """The header's TimeStamp (-20 only; its sender's clock, not the capture's)."""
        header = getattr(self.message, "header", None)
        return getattr(header, "time_stamp", None)


@dataclass(frozen=True)
class Exchange:
    """A request and the response that followed it; either is None where the recording
    breaks the request/response alternation (or ends after a request)."""

    request: RecordedMessage | None
    response: RecordedMessage | None


@dataclass(frozen=True)
class RecordedSession:
    """One TCP connection of a capture: the appHandshake and the session after it."""

    source: str  # "<capture folder>/<file>#<stream>", e.g. "pyPLC/x.pcapng#tcp 1"
    protocol: str  # "din", "iso2" or "iso20": the one the supportedAppProtocolRes chose
    tls: bool
    messages: tuple[RecordedMessage, ...]  # wire order, appHandshake included
    complete: bool  # a SessionStopRes was recorded
    provenance: str  # the README's provenance value (e.g. "real:EV-side-commercial")
    devices: str  # the README's "EV: ... | EVSE: ..." text
    namespace: str | None  # the namespace chosen in supportedAppProtocolRes
    tls_info: str | None = None  # e.g. "TLS 1.3 TLS_AES_256_GCM_SHA384, decrypted"
    tls_client_certificates: tuple[bytes, ...] = ()  # DER, the EV's own first
    tls_server_certificates: tuple[bytes, ...] = ()
    ev_address: str | None = None  # IP address of the EV (TCP client), e.g. "fe80::1"
    evse_address: str | None = None

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
    def mutual_tls(self) -> bool:
        """The EV authenticated with a certificate too (mutual TLS)."""
        return bool(self.tls_client_certificates)

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
class UnitVector:
    """NOT part of a session: one EXI stream of a codec's unit tests (a jsonl row of a
    ``*.cpp`` file). It has no position and no time; only the message's own header
    (SessionID, TimeStamp) hints where it might once have come from."""

    source: str  # the jsonl file and the test file
    row_id: str
    message: RecordedMessage  # timestamp and frame are None


@dataclass(frozen=True)
class RealData:
    sessions: tuple[RecordedSession, ...]
    skipped: tuple[Skipped, ...]
    traces: tuple[DistinctFrameTrace, ...]
    vectors: tuple[UnitVector, ...] = ()


def recorded_sessions(shared_dir: Path, protocols: tuple[str, ...] = SESSION_PROTOCOLS
                      ) -> list[RecordedSession]:
    """Every session of ``protocols`` recorded in a capture under ``shared_dir/vectors/real``
    (DIN and -2 unless asked for more; ``ALL_PROTOCOLS`` adds ISO 15118-20)."""
    return list(load(shared_dir, protocols).sessions)


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


def load(shared_dir: Path, protocols: tuple[str, ...] = SESSION_PROTOCOLS) -> RealData:
    """Read every capture and jsonl file under ``shared_dir/vectors/real`` (cached); keep
    the sessions of ``protocols`` (any of ``ALL_PROTOCOLS``), list the others as skipped."""
    unknown = set(protocols) - set(ALL_PROTOCOLS)
    if unknown:
        raise ValueError(f"unknown protocols {sorted(unknown)}; any of {ALL_PROTOCOLS}")
    everything = _load_all(Path(shared_dir))
    kept = tuple(s for s in everything.sessions if s.protocol in protocols)
    passed = tuple(Skipped(s.source, _not_asked(s)) for s in everything.sessions
                   if s.protocol not in protocols)
    return RealData(kept, everything.skipped + passed, everything.traces, everything.vectors)


def _not_asked(s: RecordedSession) -> str:
    if s.protocol == ISO20:
        return f"ISO 15118-20 ({s.namespace}): not loaded (protocols=(..., 'iso20') loads it)"
    return f"{s.protocol} ({s.namespace}): not among the protocols asked for"


@cache
def _load_all(shared_dir: Path) -> RealData:
    real = shared_dir / "vectors" / "real"
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
    return RealData(tuple(sessions), tuple(skipped), tuple(traces), tuple(_vectors(rows)))


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
        if protocols and all(p and p.startswith("iso20-") for p in protocols):
            protocol = ISO20
        elif conn.protocol in SESSION_PROTOCOLS and protocols == {conn.protocol}:
            protocol = conn.protocol
        else:
            skipped.append(Skipped(source, f"no DIN/ISO-2/-20 message (or a mix: "
                                           f"{sorted(str(p) for p in protocols)})"))
            continue
        messages = tuple(_message(e) for e in entries)
        sessions.append(RecordedSession(
            source=source, protocol=protocol, tls=conn.transport == "tls",
            messages=messages, complete=any(m.name == "SessionStopRes" for m in messages),
            provenance=provenance, devices=devices, namespace=conn.negotiated,
            tls_info=conn.tls, tls_client_certificates=conn.tls_client_certificates,
            tls_server_certificates=conn.tls_server_certificates,
            ev_address=conn.client[0], evse_address=conn.server[0]))
    return sessions, skipped


def _message(e: Entry) -> RecordedMessage:
    assert e.protocol is not None and e.direction in _DIRECTION, (e.number, e.direction)
    return RecordedMessage(_DIRECTION[e.direction], e.protocol, e.name, e.payload,
                           e.timestamp, e.value, e.number, e.payload_type)


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


def _vectors(rows: list[dict[str, Any]]) -> list[UnitVector]:
    out: list[UnitVector] = []
    for row in rows:
        if row["layer"] != "exi" or not row["source_path"].endswith(".cpp"):
            continue
        protocol = _UNIT_TEST_PROTOCOL[row["protocol"]]
        payload = bytes.fromhex(row["hex"])
        # the row's protocol comes from the test file; the bytes alone can be ambiguous
        # (README: an AC_ChargeLoopReq is also a valid CommonMessages AuthorizationSetupReq)
        element, value = codec.decode_element(payload, protocol)
        message = RecordedMessage(_DIRECTION[row["direction"]], protocol,
                                  message_name(protocol, element, value), payload, None, value)
        out.append(UnitVector(f"{row['_file']}:{row['source_path']}", row["id"], message))
    return out


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
