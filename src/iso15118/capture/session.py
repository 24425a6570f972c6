"""Decode the V2GTP frames of one V2G session, tracking the negotiated protocol.

Payload type 0x8001 carries the supportedAppProtocol handshake first and then whatever
it negotiated: the EV's request lists its protocols as (namespace, SchemaID), the
EVSE's response names the SchemaID it chose (ISO 15118-2:2014 clause 8.2.2 / Annex D;
DIN SPEC 70121 clause 8.2). Every later 0x8001 frame of the TCP connection is decoded
with that protocol. The -20 payload types name their namespace themselves
(ISO 15118-20:2022 Table 12), so they need no negotiation.

When the handshake is missing (the capture began mid-session) or chose a namespace
this library has no schema for (``urn:tesla:din:2018:MsgDef`` is DIN with another
name), the protocol is detected with :func:`iso15118.detect.detect` and kept for the
rest of the session once one grammar fits alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from iso15118 import codec, protocols
from iso15118.detect import SAP_CANDIDATES, detect
from iso15118.errors import Iso15118Error
from iso15118.v2gtp import PAYLOAD_TYPE_PROTOCOLS, Frame, PayloadType

__all__ = ["Decoded", "SessionDecoder"]

_BY_NAMESPACE = {p.namespace: p.name for p in protocols.PROTOCOLS.values()}


@dataclass(frozen=True, slots=True)
class Decoded:
    """One V2GTP frame's EXI payload, decoded (``value``) or not (``error``)."""

    protocol: str | None
    element: str | None
    value: Any
    error: str | None = None
    note: str | None = None  # how the protocol was chosen, when not by negotiation


def _one_line(e: BaseException) -> str:
    return " ".join(str(e).split())


@dataclass
class SessionDecoder:
    """Per TCP connection: which schema 0x8001 frames use, and decoding by it."""

    offered: dict[int, str] = field(default_factory=dict)  # SchemaID -> namespace
    negotiated: str | None = None  # protocol name for 0x8001 after the handshake
    negotiated_namespace: str | None = None
    negotiated_protocol: str | None = None  # the handshake's choice, any protocol
    detected: bool = False  # negotiated was inferred, not read from the handshake

    def decode(self, frame: Frame) -> Decoded:
        if frame.payload_type == PayloadType.SAP_ISO2_DIN:
            return self._decode_sap_stream(frame.payload)
        proto = PAYLOAD_TYPE_PROTOCOLS.get(frame.payload_type)
        if proto is None:
            return Decoded(None, None, None, f"payload type 0x{frame.payload_type:04x} "
                           "carries no known EXI schema")
        return self._decode_as(frame.payload, proto)

    @staticmethod
    def _decode_as(payload: bytes, proto: str, note: str | None = None) -> Decoded:
        try:
            element, value = codec.decode_element(payload, proto)
        except Iso15118Error as e:
            return Decoded(proto, None, None, f"{proto}: {_one_line(e)}", note)
        return Decoded(proto, element, value, None, note)

    def _decode_sap_stream(self, payload: bytes) -> Decoded:
        result: Decoded | None = None
        if self.negotiated is not None:
            result = self._decode_as(payload, self.negotiated,
                                     "protocol detected earlier" if self.detected else None)
            if result.error is None:
                return result
        # The handshake itself, a repeated one, or a frame the negotiated grammar refuses.
        try:
            element, value = codec.decode_element(payload, "apphand", strict=True)
        except Iso15118Error:
            pass
        else:
            self._handshake(value)
            return Decoded("apphand", element, value)
        return result if result is not None else self._detect(payload)

    def _detect(self, payload: bytes) -> Decoded:
        cands = [p for p in SAP_CANDIDATES if p != "apphand"]
        found = detect(payload, candidates=cands)
        why = ("handshake not captured" if self.negotiated_namespace is None else
               f"negotiated {self.negotiated_namespace} has no schema here")
        if found.protocol is not None:
            self.negotiated, self.detected = found.protocol, True
            element, value = found.decoded[found.protocol]
            return Decoded(found.protocol, element, value, None,
                           f"protocol detected ({why})")
        if found.ambiguous:
            proto = found.matches[0]
            element, value = found.decoded[proto]
            return Decoded(proto, element, value, None,
                           f"ambiguous: {', '.join(found.matches)} ({why}); shown as {proto}")
        # Not strictly valid anywhere: decode the way a receiver would, if any grammar takes it
        for proto in cands:
            result = self._decode_as(payload, proto)
            if result.error is None:
                return Decoded(proto, result.element, result.value, None,
                               f"not strictly valid in any grammar ({why}); "
                               f"decoded leniently as {proto}")
        reasons = "; ".join(f"{p}: {r}" for p, r in found.rejected.items())
        return Decoded(None, None, None, f"no protocol decodes it ({reasons})")

    def _handshake(self, value: Any) -> None:
        name = type(value).__name__
        if name == "supportedAppProtocolReq":
            self.offered = {ap.schema_id: ap.protocol_namespace
                            for ap in getattr(value, "app_protocol", None) or []}
        elif name == "supportedAppProtocolRes":
            sid = getattr(value, "schema_id", None)
            ns = self.offered.get(sid) if sid is not None else None
            self.negotiated_namespace = ns
            proto = _BY_NAMESPACE.get(ns or "")
            self.negotiated_protocol = proto
            if proto in ("din", "iso2"):
                self.negotiated, self.detected = proto, False
            else:
                self.negotiated, self.detected = None, False
