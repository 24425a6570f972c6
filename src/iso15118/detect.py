"""Which protocol is this EXI stream? Detection for hex dumps with no context.

Nothing inside an EXI body names its schema: ISO 15118 and DIN 70121 streams carry no
schema ID and no namespace declarations (EXI header ``0x80``, schema-informed, no
options), so the same bytes can be a valid message of more than one grammar. In a live
session the schema comes from context: the V2GTP payload type (ISO 15118-20:2022 Table
12 gives each -20 namespace its own type) and the supportedAppProtocol negotiation that
decides what 0x8001 carries (ISO 15118-2:2014 clause 8.2; DIN SPEC 70121 clause 8.2).

Without that context this module tries each candidate grammar with *strict* decoding
(out-of-range n-bit values and unused trailing bytes are errors), keeps the grammars
under which the bytes are a complete, schema-valid message, and reports the choice only
when exactly one remains. When several remain it says so instead of guessing: DIN and
ISO 15118-2 share the ``V2G_Message`` shape, and the -20 namespaces share event codes,
so a short message can be valid in two of them.

The order of the attempts does not decide the answer (every candidate is tried); it only
sets the order candidates are listed in: appHandshake first (each session opens with it,
and its two document elements give a one-bit first event that other grammars rarely
satisfy with a clean end), then DIN and ISO-2, then the -20 namespaces, common first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from iso15118 import codec
from iso15118.errors import Iso15118Error
from iso15118.v2gtp import (
    HEADER_LENGTH,
    INVERSE_PROTOCOL_VERSION,
    PAYLOAD_TYPE_PROTOCOLS,
    PROTOCOL_VERSION,
    SDP_PAYLOAD_TYPES,
    PayloadType,
    V2GTPHeader,
)

__all__ = [
    "ALL_CANDIDATES",
    "SAP_CANDIDATES",
    "DetectionError",
    "Detection",
    "candidates_for",
    "detect",
    "split_v2gtp",
]

#: What a V2GTP payload type 0x8001 can carry: the handshake, then DIN or ISO 15118-2.
SAP_CANDIDATES: Final[tuple[str, ...]] = ("apphand", "din", "iso2")
#: Every message grammar, in the order candidates are listed.
ALL_CANDIDATES: Final[tuple[str, ...]] = SAP_CANDIDATES + (
    "iso20-common", "iso20-dc", "iso20-ac", "iso20-acdp", "iso20-wpt")


class DetectionError(Iso15118Error):
    """No grammar decodes the bytes as a complete, valid message (``detection`` says why)."""

    def __init__(self, message: str, detection: Detection) -> None:
        super().__init__(message)
        self.detection = detection


@dataclass(frozen=True)
class Detection:
    """The outcome of trying the candidate grammars on one EXI stream.

    ``protocol`` is set only when exactly one grammar accepted the bytes; ``decoded``
    holds every accepted grammar's ``(element qname, message)`` so a caller that knows
    more (a negotiated protocol) can still pick among ambiguous results.
    """

    payload: bytes
    header: V2GTPHeader | None
    candidates: tuple[str, ...]
    decoded: dict[str, tuple[str, Any]] = field(default_factory=dict)
    rejected: dict[str, str] = field(default_factory=dict)

    @property
    def matches(self) -> tuple[str, ...]:
        return tuple(p for p in self.candidates if p in self.decoded)

    @property
    def protocol(self) -> str | None:
        m = self.matches
        return m[0] if len(m) == 1 else None

    @property
    def ambiguous(self) -> bool:
        return len(self.matches) > 1

    def result(self) -> tuple[str, str, Any]:
        """``(protocol, element qname, message)``, or :class:`DetectionError` saying why not."""
        m = self.matches
        if len(m) == 1:
            qn, value = self.decoded[m[0]]
            return m[0], qn, value
        if m:
            raise DetectionError(f"ambiguous: {', '.join(m)} (the bytes are a valid message "
                                 "of each; give --protocol)", self)
        reasons = "; ".join(f"{p}: {r}" for p, r in self.rejected.items())
        raise DetectionError(f"no protocol decodes these bytes ({reasons})", self)


def split_v2gtp(data: bytes) -> tuple[V2GTPHeader | None, bytes]:
    """Strip a V2GTP header when the bytes start with one.

    An EXI stream with the options ISO 15118 uses starts with the distinguishing bits
    ``10``, so a leading ``01 FE`` can only be a V2GTP header; its length field must then
    account for exactly the bytes that follow.
    """
    if len(data) < 2 or data[0] != PROTOCOL_VERSION or data[1] != INVERSE_PROTOCOL_VERSION:
        return None, data
    header = V2GTPHeader.parse(data)
    rest = len(data) - HEADER_LENGTH
    if header.payload_length != rest:
        raise Iso15118Error(f"the V2GTP header announces {header.payload_length} payload bytes "
                            f"but {rest} follow")
    return header, data[HEADER_LENGTH:]


def candidates_for(header: V2GTPHeader | None) -> tuple[str, ...]:
    """The grammars a payload can be in, from its V2GTP payload type (all without one)."""
    if header is None:
        return ALL_CANDIDATES
    if header.payload_type in SDP_PAYLOAD_TYPES:
        raise Iso15118Error(f"payload type 0x{header.payload_type:04x} is SDP, not EXI")
    if header.payload_type == PayloadType.SAP_ISO2_DIN:
        return SAP_CANDIDATES
    proto = PAYLOAD_TYPE_PROTOCOLS.get(header.payload_type)
    if proto is None:
        raise Iso15118Error(f"V2GTP payload type 0x{header.payload_type:04x} carries no known "
                            "EXI schema")
    return (proto,)


def detect(data: bytes, *, candidates: Sequence[str] | None = None) -> Detection:
    """Try each candidate grammar strictly; see :class:`Detection` for the outcome.

    ``data`` may start with a V2GTP header; its payload type then narrows the candidates
    (unless ``candidates`` is given).
    """
    header, payload = split_v2gtp(bytes(data))
    cands = tuple(candidates) if candidates is not None else candidates_for(header)
    decoded: dict[str, tuple[str, Any]] = {}
    rejected: dict[str, str] = {}
    for proto in cands:
        try:
            decoded[proto] = codec.decode_element(payload, proto, strict=True)
        except Iso15118Error as e:
            rejected[proto] = " ".join(str(e).split())
    return Detection(payload, header, cands, decoded, rejected)
