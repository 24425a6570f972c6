"""Running one SDP case as the charger: hold the vehicle's next SECCDiscoveryReq, answer
it with damaged datagrams (:mod:`.sdp_answers`), watch what the vehicle does, then give
the correct answer so it carries on to the next case.

The vehicle's reactions (judged by :func:`iso15118.fuzzing.oracle.judge_sdp_vehicle`):
it asks again (ISO 15118-2 [V2G2-159]: after 250 ms), it connects to the decoy port the
damaged answer named, it connects to the real port without asking, or, having given up
([V2G2-161]), it starts over later. A vehicle that does none of these within the
campaign's accept timeout has stopped discovering (a liveness finding, service ``sdp``).
"""

from __future__ import annotations

import asyncio
import socket
from typing import TYPE_CHECKING, Any

from iso15118.fuzzing import oracle
from iso15118.fuzzing.oracle import Observation, SdpReaction
from iso15118.fuzzing.sdp_answers import plan

if TYPE_CHECKING:
    from iso15118.fuzzing.driver import CaseRun, Target
    from iso15118.fuzzing.sdp_responder import HeldRequest

__all__ = ["sdp_vehicle_case"]

#: after the vehicle asked again, how long a connection to the decoy may still come
_SETTLE = 0.1
_POLL = 0.05


async def sdp_vehicle_case(target: Target, run: CaseRun) -> None:
    from iso15118.fuzzing.driver import NO_VEHICLE

    responder, decoy = target.responder, target.decoy
    if responder is None or decoy is None:
        run.setup_error = "SDP cases as the charger need --interface"
        return
    responder.drain()
    responder.holding = True
    try:
        # a vehicle still connected from the last correct answer is unplugged, so that
        # it discovers again (a connection queued for a session case would go stale)
        first = await _next(target, target.accept_timeout, unplug=True)
        _unplug(target)
        if first is None:
            run.setup_error = NO_VEHICLE
            return
        await _answer_damaged(target, run, first)
    finally:
        responder.holding = False


def _unplug(target: Target) -> None:
    while target.incoming is not None and not target.incoming.empty():
        target.incoming.get_nowait().abort()


async def _next(target: Target, timeout: float, *, unplug: bool = False
                ) -> HeldRequest | None:
    """The next held request within ``timeout`` (None: none, or the vehicle died);
    ``unplug``: close every vehicle connection that arrives meanwhile."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while (left := end - loop.time()) > 0:
        if unplug:
            _unplug(target)
        try:
            got: HeldRequest = await asyncio.wait_for(target.responder.held.get(),
                                                      min(left, 0.1 if unplug else 0.5))
            return got
        except asyncio.TimeoutError:
            if target.alive is not None and not target.alive():
                return None
    return None


async def _answer_damaged(target: Target, run: CaseRun, first: HeldRequest) -> None:
    loop = asyncio.get_running_loop()
    responder, decoy = target.responder, target.decoy
    transcript = run.transcript
    asked = int(first.request.security)
    answers = plan(run.case.steps, asked, responder.address, decoy.port)
    run.extra["datagram"] = answers.frames[0]
    run.reached = True
    sender = (str(first.sender[0]).split("%")[0], int(first.sender[1]))
    here = (str(responder.address), int(target.sdp_port))
    transcript.add("in", "udp", first.data, local=here, remote=sender)
    watched = answers.port == decoy.port or await decoy.listen(answers.port)
    if not watched:
        transcript.note(f"port {answers.port} cannot be listened on: a connection there "
                        "is not seen")
    hits_before = len(decoy.hits)
    start = loop.time()
    _send(target, answers.frames, first.sender, answers.other_source, transcript, here,
          sender)
    reaction = SdpReaction(window=max(target.deadline, 1.0))
    last: HeldRequest | None = None
    try:
        last = await _watch(target, answers.port, hits_before, reaction, start, first.time)
        reaction.connected = _hits(decoy, answers.port, hits_before) if watched else None
        for port, peer, when in decoy.hits[hits_before:]:
            transcript.note(f"the vehicle [{peer}] connected to port {port}, which only the "
                            f"damaged answer named, {when - start:.3f} s after it")
    finally:
        if answers.port != decoy.port:
            decoy.stop(answers.port)
    if last is not None:
        transcript.add("in", "udp", last.data, local=here, remote=sender)
        correct = responder.answer(last.request, last.sender)
        if correct is not None:
            transcript.add("out", "udp", correct, local=here, remote=sender)
    run.observation = Observation(elapsed=loop.time() - start)
    run.verdict = oracle.judge_sdp_vehicle(answers.malformed, answers.tolerated, reaction)
    run.sdp_answered = len(answers.frames)


def _hits(decoy: Any, port: int, before: int) -> int:
    return sum(1 for p, _peer, _t in decoy.hits[before:] if p == port)


async def _watch(target: Target, port: int, hits_before: int, reaction: SdpReaction,
                 start: float, first_time: float) -> HeldRequest | None:
    """Wait for the vehicle's next move; the request it asked again with, if it did."""
    loop = asyncio.get_running_loop()
    decoy = target.decoy
    end = start + target.accept_timeout
    window_end = start + reaction.window
    while loop.time() < end:
        if _hits(decoy, port, hits_before):
            return None  # it took the damaged answer; it comes back by itself later
        if target.incoming is not None and not target.incoming.empty():
            reaction.connected_real = loop.time() - start
            return None
        wait = _POLL if loop.time() < window_end else 0.5
        got = await _next(target, wait)
        if got is not None:
            # from the request answered: a retransmission comes 250 ms after it
            reaction.asked_again = got.time - first_time
            # a vehicle may ask again and still connect where the damage pointed
            settle = loop.time() + _SETTLE
            while loop.time() < settle and not _hits(decoy, port, hits_before):
                await asyncio.sleep(0.02)
            return got
        if target.alive is not None and not target.alive():
            return None
    return None


def _send(target: Target, frames: tuple[bytes, ...], to: Any, other_source: bool,
          transcript: Any, here: tuple[str, int], there: tuple[str, int]) -> None:
    if not other_source:
        for data in frames:
            transcript.add("out", "udp", data, local=here, remote=there)
            target.responder.send(data, to)
        return
    with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as sock:
        sock.bind(("::", 0))
        source = (here[0], int(sock.getsockname()[1]))
        for data in frames:
            transcript.add("out", "udp", data, local=source, remote=there)
            try:
                sock.sendto(data, to)
            except OSError as exc:
                transcript.note(f"SDP answer from another port not sent: {exc}")
                return
