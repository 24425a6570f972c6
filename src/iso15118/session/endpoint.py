"""What the SECC and EVCC cores share: decoding what arrived, encoding what goes out, and
ending a session (the last event, the timers stopped, the connection to close).

supportedAppProtocol, DIN 70121 and ISO 15118-2 travel as V2GTP payload type 0x8001
(ISO 15118-2 Table 10); ISO 15118-20 messages as 0x8002-0x8006, one per namespace, which
the payload type names (ISO 15118-20 Table 12). A payload type the session's protocol
does not use ends the session, as does anything the codec cannot decode: there is no
request to answer, or no answer to read.
"""

from __future__ import annotations

from typing import Any

from iso15118 import codec
from iso15118.errors import Iso15118Error
from iso15118.session.core import PAYLOAD_SAP_DIN_ISO2, Outgoing, Step, Timers
from iso15118.session.events import MessageSent, Outcome, SessionEnded
from iso15118.v2gtp import PAYLOAD_TYPE_PROTOCOLS

#: the payload type each grammar's messages travel in (0x8001 unless -20 names its own)
_PAYLOAD_TYPES = {name: t for t, name in PAYLOAD_TYPE_PROTOCOLS.items()
                  if name.startswith("iso20")}

__all__ = ["SessionEndpoint"]


class SessionEndpoint:
    """Base of :class:`SeccSession` and :class:`EvccSession` (one side of one session)."""

    ended: SessionEnded | None
    timers: Timers
    protocol: str | None
    dialect: Any
    session_id: bytes

    @property
    def deadline(self) -> float | None:
        return None if self.ended is not None else self.timers.deadline()

    def connection_lost(self, now: float, reason: str = "connection closed") -> Step:
        """The connection is gone (the peer closed it, or it broke): the session ends."""
        step = Step()
        if self.ended is None:
            return self._end(step, now, Outcome.FAILED, f"connection lost: {reason}")
        return self._finish(step)

    def _decode(self, step: Step, payload_type: int, payload: bytes, now: float,
                what: str) -> Any:
        """The message in ``payload``, or None when it ended the session (``what``:
        "request" or "response", for the reason)."""
        protocol = self._protocol_of(payload_type)
        if protocol is None:
            self._end(step, now, Outcome.FAILED,
                      f"payload type 0x{payload_type:04x} does not carry a "
                      f"{self.protocol or 'supportedAppProtocol'} {what}")
            return None
        try:
            return codec.decode(payload, protocol)
        except Iso15118Error as exc:
            self._end(step, now, Outcome.FAILED, f"undecodable {protocol} {what}: {exc}")
            return None

    def _protocol_of(self, payload_type: int) -> str | None:
        """The grammar a payload of this type is decoded with, in this session now."""
        if self.protocol is None or not self.protocol.startswith("iso20"):
            if payload_type == PAYLOAD_SAP_DIN_ISO2:
                return self.protocol or "apphand"
            return None
        name = PAYLOAD_TYPE_PROTOCOLS.get(payload_type)
        return name if name is not None and name.startswith("iso20") else None

    def _grammar(self, protocol: str, message: Any) -> str:
        """The grammar a message of the session's protocol is spelt in: -20 has one per
        namespace (the log lines and events name it)."""
        return self.dialect.namespace_of(message) if protocol == "iso20" else protocol

    def _send(self, step: Step, message: Any, protocol: str, now: float) -> None:
        protocol = self._grammar(protocol, message)
        try:
            payload = codec.encode(message, protocol)
        except Iso15118Error as exc:
            # a value the peer sent, echoed back, that its facets forbid (the lenient
            # decoder let it in: a -20 ServiceDetailReq with ServiceID 65536 made the
            # ServiceDetailRes unwritable): the session ends instead of raising out of
            # receive() and killing the connection without a word (found by fuzz-live)
            self._end(step, now, Outcome.FAILED, f"cannot write the answer: {exc}")
            return
        payload_type = _PAYLOAD_TYPES.get(protocol, PAYLOAD_SAP_DIN_ISO2)
        step.send.append(Outgoing(payload_type, payload, message))
        if protocol == "apphand":
            name = type(message).__name__
        else:
            name = self.dialect.element_name(self.dialect.body(message))
        step.events.append(MessageSent(now, protocol, name, message))

    def _end(self, step: Step, now: float, outcome: Outcome, reason: str,
             code: str | None = None) -> Step:
        if self.ended is None:
            sid = self.session_id if any(self.session_id) else None
            self.ended = SessionEnded(now, outcome, reason, code, sid)
            step.events.append(self.ended)
        self.timers.clear()
        step.close = True
        return self._finish(step)

    def _finish(self, step: Step) -> Step:
        step.deadline = self.deadline
        return step
