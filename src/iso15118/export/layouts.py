"""Line layouts of EVSE/EV log files that carry one EXI message per line.

Four layouts, each turning a line into (timestamp, direction, hex) or nothing:

* ``hex``: the line is the hex of one message (spaces, colons, ``0x`` allowed), with or
  without its V2GTP header.
* ``timestamped``: ``TIMESTAMP DIRECTION HEX``, whitespace-separated; the timestamp may
  itself hold spaces (``2024-03-22 10:15:02.125``).
* ``csv``: comma-separated with a header row naming the columns; the hex column is one of
  ``hex``, ``exi``, ``payload``, ``data``, ``message``; optional ``timestamp``/``time``/``ts``,
  ``direction``/``dir`` and ``channel``/``connector``/``connector_id`` columns (names
  case-insensitive, other columns ignored).
* ``regex``: a user pattern with the named groups ``hex`` (required), ``timestamp``,
  ``direction`` and ``channel`` (optional); lines it does not match are skipped.

A channel (a charger's connector, say) separates sessions that one log interleaves: each
channel's messages are followed as a session of their own.

Timestamps are seconds (``12.5``, epoch or relative) or ISO 8601 dates (UTC unless they
carry an offset). Directions: ``EV->EVSE``/``EV``/``EVCC`` and ``EVSE->EV``/``EVSE``/
``SECC`` (case-insensitive); anything else leaves the direction to the message name.
Blank lines and lines starting with ``#`` are skipped in every layout.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Final

from iso15118.export.records import EV_TO_EVSE, EVSE_TO_EV, ExportInputError

__all__ = ["LAYOUTS", "Layout", "LogLine", "detect_layout", "parse_time"]

LAYOUTS: Final = ("hex", "timestamped", "csv", "regex")

_DIRECTIONS: Final = {"ev->evse": EV_TO_EVSE, "ev": EV_TO_EVSE, "evcc": EV_TO_EVSE,
                      "evse->ev": EVSE_TO_EV, "evse": EVSE_TO_EV, "secc": EVSE_TO_EV}
_HEX_COLUMNS: Final = ("hex", "exi", "payload", "data", "message")
_TIME_COLUMNS: Final = ("timestamp", "time", "ts")
_DIRECTION_COLUMNS: Final = ("direction", "dir")
_CHANNEL_COLUMNS: Final = ("channel", "connector", "connector_id")
_HEX_LINE: Final = re.compile(r"^(?:0x)?[0-9A-Fa-f][0-9A-Fa-f :,]*$")
_TIMESTAMPED: Final = re.compile(
    r"^(?P<timestamp>\S.*?)\s+(?P<direction>EV->EVSE|EVSE->EV|EVSE|EVCC|SECC|EV)\s+"
    r"(?P<hex>(?:0x)?[0-9A-Fa-f][0-9A-Fa-f :]*)$", re.IGNORECASE)
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=timezone.utc)


@dataclass(frozen=True, slots=True)
class LogLine:
    time_s: float | None
    direction: str | None
    hex: str
    channel: str | None = None


def parse_time(text: str | None) -> float | None:
    """Seconds from a log's timestamp text, None when it is empty or not a time."""
    if not text:
        return None
    text = text.strip()
    try:
        return float(text)
    except ValueError:
        pass
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return (when - _EPOCH).total_seconds()


def _direction(text: str | None) -> str | None:
    return _DIRECTIONS.get(text.strip().lower()) if text else None


def _pick(names: list[str], wanted: tuple[str, ...]) -> int | None:
    lowered = [n.strip().lower() for n in names]
    return next((lowered.index(w) for w in wanted if w in lowered), None)


@dataclass(frozen=True)
class Layout:
    """How to read one line of a log; picklable, so a chunk task carries its layout."""

    name: str
    pattern: str | None = None  # the user's regex (layout "regex")
    columns: tuple[str, ...] = ()  # the CSV header (layout "csv")

    def __post_init__(self) -> None:
        if self.name not in LAYOUTS:
            raise ExportInputError(f"unknown log layout {self.name!r}; one of "
                                   f"{', '.join(LAYOUTS)}")
        if self.name == "regex":
            if not self.pattern:
                raise ExportInputError("layout regex needs a pattern")
            try:
                compiled = re.compile(self.pattern)
            except re.error as e:
                raise ExportInputError(f"bad regex {self.pattern!r}: {e}") from None
            if "hex" not in compiled.groupindex:
                raise ExportInputError("the regex needs a named group (?P<hex>...)")
        if self.name == "csv" and _pick(list(self.columns), _HEX_COLUMNS) is None:
            raise ExportInputError("no hex column in the CSV header (one of "
                                   f"{', '.join(_HEX_COLUMNS)}): {','.join(self.columns)}")

    @property
    def has_channel(self) -> bool:
        """Whether lines name a channel (then sessions of several channels interleave)."""
        if self.name == "regex":
            return "channel" in _compiled(self.pattern or "").groupindex
        return self.name == "csv" and _pick(list(self.columns), _CHANNEL_COLUMNS) is not None

    def parse(self, line: str) -> LogLine | None:
        """The line's message, or None for blank lines, comments, headers and (regex)
        lines the pattern does not match. A line that should hold a message but whose
        fields are malformed still yields one: the hex then fails to parse downstream."""
        line = line.strip()
        if not line or line.startswith("#"):
            return None
        if self.name == "hex":
            return LogLine(None, None, line)
        if self.name == "timestamped":
            m = _TIMESTAMPED.match(line)
            if m is None:
                return LogLine(None, None, line)  # reported as not hex by the decoder
            return LogLine(parse_time(m["timestamp"]), _direction(m["direction"]), m["hex"])
        if self.name == "regex":
            m = _compiled(self.pattern or "").search(line)
            if m is None:
                return None
            groups = m.groupdict()
            return LogLine(parse_time(groups.get("timestamp")),
                           _direction(groups.get("direction")), groups["hex"] or "",
                           groups.get("channel"))
        fields = _csv_fields(line)
        if fields is None:  # a CR or NUL inside the line: not a CSV record
            return LogLine(None, None, line)
        if [f.strip().lower() for f in fields] == [c.strip().lower() for c in self.columns]:
            return None  # the header row
        h = _pick(list(self.columns), _HEX_COLUMNS)
        t = _pick(list(self.columns), _TIME_COLUMNS)
        d = _pick(list(self.columns), _DIRECTION_COLUMNS)
        c = _pick(list(self.columns), _CHANNEL_COLUMNS)

        def get(i: int | None) -> str | None:
            return fields[i] if i is not None and i < len(fields) else None

        return LogLine(parse_time(get(t)), _direction(get(d)), get(h) or "", get(c))


def _csv_fields(line: str) -> list[str] | None:
    try:
        return next(csv.reader([line]), [])
    except csv.Error:
        return None


_PATTERNS: dict[str, re.Pattern[str]] = {}


def _compiled(pattern: str) -> re.Pattern[str]:
    found = _PATTERNS.get(pattern)
    if found is None:
        found = _PATTERNS[pattern] = re.compile(pattern)
    return found


def detect_layout(first_lines: list[str], filename: str = "") -> Layout:
    """The layout of a log from its first lines (and a ``.csv`` name), or an error that
    asks for ``--layout``. A CSV is recognised by a header naming a hex column."""
    lines = [ln.strip() for ln in first_lines if ln.strip() and not ln.startswith("#")]
    if not lines:
        raise ExportInputError("empty log: no line to tell its layout from")
    header = _csv_fields(lines[0]) or []
    if filename.lower().endswith(".csv") or (
            len(header) > 1 and _pick(header, _HEX_COLUMNS) is not None):
        return Layout("csv", columns=tuple(h.strip() for h in header))
    sample = lines[:20]
    if all(_HEX_LINE.match(ln) for ln in sample):
        return Layout("hex")
    if all(_TIMESTAMPED.match(ln) for ln in sample):
        return Layout("timestamped")
    raise ExportInputError(f"cannot tell the log layout from {lines[0][:60]!r}; give "
                           "--layout (hex, timestamped, csv) or --regex")
