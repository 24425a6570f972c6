"""Two sans-IO sessions joined back to back on a virtual clock.

What the tests, the simulators' dry runs and the fuzzer's planning use: an SECC and an
EVCC exchange payloads directly (no sockets), time advances only to the next deadline,
and each side's events go to an optional handler that may act on the session (decide an
authorization, finish a cable check) as an application would. A latency per message
models the network.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from iso15118.session.core import Outgoing, Step
from iso15118.session.evcc import EvccSession
from iso15118.session.events import Event
from iso15118.session.secc import SeccSession

__all__ = ["PairResult", "run_pair"]

Handler = Callable[[Event, float], None]


@dataclass
class PairResult:
    secc_events: list[Event] = field(default_factory=list)
    evcc_events: list[Event] = field(default_factory=list)
    now: float = 0.0

    def names(self, side: str = "evcc") -> list[str]:
        """Message names in wire order as one side saw them (sent and received)."""
        from iso15118.session.events import MessageReceived, MessageSent

        events = self.evcc_events if side == "evcc" else self.secc_events
        return [e.name for e in events if isinstance(e, (MessageSent, MessageReceived))]


def run_pair(secc: SeccSession, evcc: EvccSession, *, start: float = 0.0,
             latency: float = 0.001, until: float = 3600.0,
             on_secc: Handler | None = None, on_evcc: Handler | None = None,
             drop: Callable[[str, Outgoing], bool] | None = None,
             setup_started: float | None = None, max_messages: int = 200_000) -> PairResult:
    """Run both sessions until both have ended (or ``until``); returns their events.

    ``drop(side, outgoing)`` may swallow a message (``side`` is its sender) to test the
    timers; ``on_secc``/``on_evcc`` see each event with the time, after it happened."""
    result = PairResult(now=start)
    # (time, order, receiver, outgoing)
    inflight: list[tuple[float, int, str, Outgoing]] = []
    order = 0

    def absorb(side: str, step: Step, now: float) -> None:
        nonlocal order
        events = result.secc_events if side == "secc" else result.evcc_events
        handler = on_secc if side == "secc" else on_evcc
        for event in step.events:
            events.append(event)
            if handler is not None:
                handler(event, now)
        for out in step.send:
            if drop is not None and drop(side, out):
                continue
            order += 1
            if order > max_messages:
                raise RuntimeError(f"run_pair: more than {max_messages} messages (a session "
                                   "that never ends?)")
            inflight.append((now + latency, order, "evcc" if side == "secc" else "secc", out))

    late: list[Step] = []
    secc.on_step = late.append  # an application's deferred answer (SeccSession.complete)
    absorb("secc", secc.start(start), start)
    absorb("evcc", evcc.start(start, setup_started), start)
    now = start
    while (secc.ended is None or evcc.ended is None) and now <= until:
        due = [t for t, *_ in inflight]
        for d in (secc.deadline, evcc.deadline):
            if d is not None:
                due.append(d)
        if not due:
            break
        now = max(now, min(due))
        inflight.sort()
        while inflight and inflight[0][0] <= now:
            _, _, receiver, out = inflight.pop(0)
            session = secc if receiver == "secc" else evcc
            absorb(receiver, session.receive(out.payload_type, out.payload, now), now)
        for side, session in (("secc", secc), ("evcc", evcc)):
            d = session.deadline
            if d is not None and d <= now:
                absorb(side, session.tick(now), now)
            while late:
                absorb("secc", late.pop(0), now)
        # a side that closed its connection: the other sees nothing more
        if secc.ended is not None and evcc.ended is None and not inflight:
            if evcc.deadline is None:
                break
        if evcc.ended is not None and secc.ended is None and not inflight:
            if secc.deadline is None:
                break
    result.now = now
    return result
