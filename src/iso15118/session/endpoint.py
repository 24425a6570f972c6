"""What the SECC and EVCC cores share: decoding what arrived, encoding what goes out, and
ending a session (the last event, the timers stopped, the connection to close).

DIN 70121, ISO 15118-2 and supportedAppProtocol all travel as V2GTP payload type 0x8001
(ISO 15118-2 Table 10); anything else on such a connection ends the session, as does
anything the codec cannot decode: there is no request to answer, or no answer to read.
"""

from __future__ import annotations

from typing import Any

from iso15118 import codec
from iso15118.errors import Iso15118Error
from iso15118.session.core import PAYLOAD_SAP_DIN_ISO2, Outgoing, Step, Timers
from iso15118.session.events import MessageSent, Outcome, SessionEnded

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
        if payload_type != PAYLOAD_SAP_DIN_ISO2:
            self._end(step, now, Outcome.FAILED,
                      f"payload type 0x{payload_type:04x} is not a DIN/ISO-2 {what}")
            return None
        protocol = self.protocol or "apphand"
        try:
            return codec.decode(payload, protocol)
        except Iso15118Error as exc:
            self._end(step, now, Outcome.FAILED, f"undecodable {protocol} {what}: {exc}")
            return None

    def _send(self, step: Step, message: Any, protocol: str, now: float) -> None:
        payload = codec.encode(message, protocol)
        step.send.append(Outgoing(PAYLOAD_SAP_DIN_ISO2, payload, message))
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
