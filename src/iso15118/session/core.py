"""What both session cores share: the output of a step, and the timers they keep.

A session core is sans-IO (h11's model): the caller feeds it what arrived and the time,
and it returns a :class:`Step`: payloads to send, events for the application, whether to
close the connection, and when to call it again if nothing arrives (``deadline``). No
socket, clock or sleep inside, so tests drive it on a virtual clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from iso15118.session.events import Event

__all__ = ["Outgoing", "Step", "Timers"]

#: V2GTP payload type of supportedAppProtocol, DIN 70121 and ISO 15118-2 messages
PAYLOAD_SAP_DIN_ISO2 = 0x8001


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One message to send: V2GTP payload type, EXI payload, and the typed message."""

    payload_type: int
    payload: bytes
    message: object


@dataclass(slots=True)
class Step:
    """What one call into a session produced."""

    send: list[Outgoing] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    #: close the connection after sending (the session is over on this connection)
    close: bool = False
    #: when to call ``tick(now)`` next if nothing arrives (None: nothing pending)
    deadline: float | None = None


class Timers:
    """Named deadlines; the earliest one is the session's next wake-up."""

    __slots__ = ("_due", "_length")

    def __init__(self) -> None:
        self._due: dict[str, float] = {}
        self._length: dict[str, float] = {}

    def arm(self, name: str, now: float, seconds: float) -> None:
        self._due[name] = now + seconds
        self._length[name] = seconds

    def arm_once(self, name: str, now: float, seconds: float) -> None:
        """Arm unless already running (loop timers start at the first request)."""
        if name not in self._due:
            self.arm(name, now, seconds)

    def cancel(self, name: str) -> None:
        self._due.pop(name, None)

    def cancel_prefix(self, prefix: str) -> None:
        for name in [n for n in self._due if n.startswith(prefix)]:
            del self._due[name]

    def clear(self) -> None:
        self._due.clear()

    def running(self, name: str) -> bool:
        return name in self._due

    def deadline(self) -> float | None:
        return min(self._due.values()) if self._due else None

    def due(self, now: float) -> bool:
        """Whether a timer has run out at ``now`` (not yet handled)."""
        return any(t <= now for t in self._due.values())

    def expired(self, now: float) -> tuple[str, float] | None:
        """The earliest timer due at ``now`` (removed), with its length; None if none."""
        due = [(t, n) for n, t in self._due.items() if t <= now]
        if not due:
            return None
        _, name = min(due)
        del self._due[name]
        return name, self._length[name]
