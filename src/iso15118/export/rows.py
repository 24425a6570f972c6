"""Message records -> rows (dicts keyed by the schema's column names).

Kept free of pyarrow so that it can be tested and profiled on its own; :mod:`.tables`
turns the rows into Arrow tables. Whatever a record holds (an undecodable payload, a
partially decoded model, an SDP message) gives a row: the JSON rendering of a value the
serializer refuses becomes null and the reason goes to ``error``.
"""

from __future__ import annotations

import dataclasses
import enum
import ipaddress
import json
from collections.abc import Iterable
from typing import Any

from iso15118 import codec
from iso15118.errors import Iso15118Error
from iso15118.export.columns import extract
from iso15118.export.records import MessageRecord

__all__ = ["message_rows", "message_json"]


def _sdp_json(message: Any) -> str:
    fields: dict[str, Any] = {}
    for f in dataclasses.fields(message):
        v = getattr(message, f.name)
        if isinstance(v, enum.Enum):
            v = v.name
        elif isinstance(v, ipaddress.IPv6Address | bytes):
            v = str(v) if not isinstance(v, bytes) else v.hex()
        fields[f.name] = v
    return json.dumps({type(message).__name__: fields}, default=str)


def message_json(record: MessageRecord) -> tuple[str | None, str | None]:
    """(JSON, error): the decoded message as ``iso15118 decode --format json`` writes it."""
    if record.value is None:
        return None, None
    if record.kind == "sdp":
        return _sdp_json(record.value), None
    if record.protocol is None or record.element is None:
        return None, None
    try:
        return codec.to_json(record.value, record.protocol, element=record.element,
                             fragment=record.fragment), None
    except (Iso15118Error, ValueError, TypeError, AttributeError) as e:
        return None, f"not representable as JSON: {' '.join(str(e).split())}"


def message_rows(records: Iterable[MessageRecord], *, with_json: bool = True,
                 first_seq: int = 0) -> list[dict[str, Any]]:
    """One row per record, in order; ``session_time_s`` is relative to the earliest
    message of the session among ``records`` (a whole session is always in one call)."""
    rows: list[dict[str, Any]] = []
    first: dict[str | None, float] = {}
    for seq, r in enumerate(records, first_seq):
        row: dict[str, Any] = {
            "source": r.source, "reader": r.reader, "session": r.session, "seq": seq,
            "frame": r.frame, "offset": r.offset, "time_s": r.time_s,
            "direction": r.direction, "kind": r.kind, "protocol": r.protocol,
            "payload_type": r.payload_type, "message": r.name, "error": r.error,
            "note": r.note, "payload": r.payload,
        }
        if r.value is not None and r.kind == "exi":
            row.update(extract(r.value))
        if with_json:
            text, problem = message_json(r)
            row["message_json"] = text
            if problem is not None:
                row["error"] = problem if r.error is None else f"{r.error}; {problem}"
        if r.time_s is not None and r.session is not None:
            t0 = first.get(r.session)
            if t0 is None or r.time_s < t0:
                first[r.session] = r.time_s
        rows.append(row)
    for row in rows:
        t0 = first.get(row["session"])
        if t0 is not None and row["time_s"] is not None:
            row["session_time_s"] = row["time_s"] - t0
    return rows
