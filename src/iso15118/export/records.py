"""The one record type every reader yields: a V2G message found in some log, decoded or not.

Readers differ in where a message comes from (a capture's TCP stream, a line of an EVSE
log, a field of an OCPP message) but the tables are built from this record alone, so a
new log layout needs a reader and nothing else. Records are plain frozen dataclasses of
picklable values (the decoded model included), so a Dask worker can ship them.

A message that does not decode is still a record: ``value`` is None and ``error`` says
why. Nothing a reader finds is dropped because the decoder refused it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from iso15118.errors import Iso15118Error

__all__ = ["EVSE_TO_EV", "EV_TO_EVSE", "ExportInputError", "MessageRecord", "direction_of"]

EV_TO_EVSE = "EV->EVSE"
EVSE_TO_EV = "EVSE->EV"


class ExportInputError(Iso15118Error):
    """An input cannot be read at all (not a capture, unreadable file, unknown layout).

    The export reports the input and goes on with the others."""


@dataclass(frozen=True, slots=True)
class MessageRecord:
    """One message as the tables see it.

    ``session`` is a key unique within one export: ``SOURCE#tcp 3`` for a capture's TCP
    connection, ``SOURCE@OFFSET`` for a session in a log file (the byte offset of its
    first line, so the key does not depend on how the file was cut into chunks), None
    where the log does not say which session a message belongs to (OCPP).
    """

    source: str
    reader: str  # "pcap", "hexlog", "ocpp"
    session: str | None
    frame: int | None  # capture frame number, or 1-based line number of a log
    time_s: float | None  # seconds; since the Unix epoch when the source has dates
    direction: str | None  # EV_TO_EVSE, EVSE_TO_EV, or None when unknown
    kind: str  # "exi" or "sdp"
    protocol: str | None  # "apphand", "din", "iso2", "iso20-dc", ..., "sdp"
    payload_type: int | None  # V2GTP payload type when known
    payload: bytes  # the EXI (or SDP) payload, without a V2GTP header
    name: str  # message name ("CurrentDemandReq"), "(undecodable)" when not decoded
    element: str | None = None  # qualified document element, for codec.to_json
    value: Any = None  # the decoded model (or an iso15118.sdp message)
    error: str | None = None  # why it did not decode
    note: str | None = None  # how the protocol was chosen, when not by negotiation
    offset: int | None = None  # byte offset of the line in a log file (logs, OCPP)
    fragment: bool = False  # an element, not a message (a price schedule from OCPP)


def direction_of(name: str) -> str | None:
    """The direction a message name implies, for logs that do not record it: requests
    come from the EV (ISO 15118-2 clause 8.8.1: the EVCC is the client), responses from
    the EVSE; SDP likewise."""
    if name.endswith(("Req", "Request")):
        return EV_TO_EVSE
    if name.endswith(("Res", "Response")):
        return EVSE_TO_EV
    return None
