"""Running one case on a live target: drive a correct session to the case's state with
our own sans-IO session layer, send the damaged message there, and observe.

As the EV (``role="ev"``) we run an :class:`~iso15118.session.EvccSession` against the
target SECC and damage the request of the target state; as the charger (``role="evse"``)
we run a :class:`~iso15118.session.SeccSession` (with the simulated power electronics of
:mod:`iso15118.session.simulation`) for the target EVCC and damage the response. Either
way the session composes the message, so the state is reached the way a real peer would
reach it, on any protocol the session layer speaks. SDP cases send datagrams only.
"""

from __future__ import annotations

import asyncio
import errno
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from iso15118.fuzzing import oracle
from iso15118.fuzzing.link import Link, Transcript, open_link
from iso15118.fuzzing.model import Case, FuzzError, Layer
from iso15118.fuzzing.mutations import Context, Wire, apply, frame
from iso15118.fuzzing.oracle import Expect, Observation, Verdict
from iso15118.fuzzing.profiles import evse_for, matches, profile, vehicle_for
from iso15118.fuzzing.sdp_cases import datagrams
from iso15118.fuzzing.sdp_vehicle import sdp_vehicle_case
from iso15118.sdp import SDP_MULTICAST_ADDRESS, SDP_PORT
from iso15118.session.core import PAYLOAD_SAP_DIN_ISO2, Step
from iso15118.session.evcc import EvccSession
from iso15118.session.events import MessageSent
from iso15118.session.runner import dynamic_port
from iso15118.session.secc import SeccConfig, SeccSession
from iso15118.session.simulation import ChargerBehaviour, SimulatedCharger
from iso15118.transport.sdp_io import interface_index
from iso15118.v2gtp import PAYLOAD_TYPE_PROTOCOLS

__all__ = ["CaseRun", "Target", "run_case"]

#: how often setting a session up may fail before the case counts as "not reached" (a
#: target still busy with the previous connection refuses the next one for a moment)
SETUP_TRIES = 4
NO_VEHICLE = "no vehicle connected"
CLOSED_AT_ONCE = "the connection was closed before anything was sent"
#: the links of -20's TLS checks (:data:`iso15118.fuzzing.corpus.TLS_CHECKS`), and what
#: each lacks; their contexts are ``Target.ssl_contexts["iso20:<link>"]``
TLS_LINKS = {"tls12": "TLS 1.2", "no-certificate": "TLS 1.3 without the vehicle certificate"}
#: how long a fresh connection is watched for an immediate close (a refusal)
_REFUSAL_WINDOW = 0.03
#: after the first reaction, how long to look for more (a close after a FAILED response)
_SETTLE = 0.05


@dataclass
class Target:
    """Where the target is and how to talk to it (the CLI's target options)."""

    role: str  # "ev": we are the EV against an SECC; "evse": we are the charger
    host: str | None = None
    port: int | None = None
    interface: str | None = None
    tls: bool = False
    #: the one TLS context: as the charger the listener's, as the EV the fallback of
    #: :attr:`ssl_contexts`
    ssl_context: ssl.SSLContext | None = None
    deadline: float = 2.0
    sdp_port: int = SDP_PORT
    #: evse role: how long to wait for the vehicle to (re)connect for a case
    accept_timeout: float = 60.0
    #: evse role: incoming connections, fed by the campaign's listener
    incoming: asyncio.Queue[Link] | None = None
    #: evse role: whether the watched vehicle process still runs (``--target-pid``); a
    #: case stops waiting for a connection as soon as it does not
    alive: Callable[[], bool] | None = None
    #: evse role with --interface: the fuzzer's SDP responder and decoy listener
    #: (:mod:`.sdp_responder`)
    responder: Any = None
    decoy: Any = None
    #: as the EV, a TLS context per session protocol ("iso2", "iso20", "din"): each case
    #: connects with the one its profile needs (-2 is TLS 1.2 without a vehicle
    #: certificate, -20 is TLS 1.3 presenting one), so one campaign mixes both; the last
    #: field, so that the ones above keep their positions
    ssl_contexts: dict[str, ssl.SSLContext] = field(default_factory=dict)

    def context_for(self, profile_name: str | None, link: str | None = None
                    ) -> ssl.SSLContext | None:
        """The TLS context a connection for a case of ``profile_name`` uses (None: TCP);
        ``link``: one of :data:`TLS_LINKS` instead (-20's TLS checks)."""
        if not self.tls:
            return None
        if link is not None:
            return self.ssl_contexts[f"iso20:{link}"]
        if profile_name is not None:
            chosen = self.ssl_contexts.get(profile(profile_name).protocol)
            if chosen is not None:
                return chosen
        return self.ssl_context

    def tls_checks(self) -> bool:
        """Whether -20's TLS checks can run: as the EV over TLS, with their links."""
        return self.role == "ev" and self.tls and all(
            f"iso20:{link}" in self.ssl_contexts for link in TLS_LINKS)

    def sdp_destination(self) -> tuple[Any, ...]:
        if self.interface is not None:
            return (SDP_MULTICAST_ADDRESS, self.sdp_port, 0, interface_index(self.interface))
        if self.host is None:
            raise FuzzError("SDP needs --interface or --address")
        host, _, scope = self.host.partition("%")
        return (host, self.sdp_port, 0, interface_index(scope) if scope else 0)


@dataclass
class CaseRun:
    """One case's outcome: whether the state was reached, what was sent, the verdict."""

    case: Case
    transcript: Transcript
    reached: bool = False
    setup_error: str | None = None
    wire: Wire | None = None
    observation: Observation | None = None
    verdict: Verdict | None = None
    sdp_answered: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def input_bytes(self) -> bytes:
        if self.wire is not None:
            return self.wire.data
        return self.extra.get("datagram", b"")


async def run_case(target: Target, case: Case) -> CaseRun:
    transcript = Transcript()
    run = CaseRun(case, transcript)
    if case.layer is Layer.SDP and target.role == "evse":
        await sdp_vehicle_case(target, run)
    elif case.layer is Layer.SDP:
        await _sdp_case(target, run)
    elif target.role == "ev":
        await _with_retries(lambda: _ev_case(target, run), run)
        check = tls_check(target, case)
        if check is not None and not run.reached and run.setup_error == CLOSED_AT_ONCE:
            # closed at once on every try: the SECC ends this link, which is the right
            # answer (asyncio reports a TLS 1.3 server's "certificate required" alert as a
            # plain close; a busy SECC would have let one of the tries through)
            _refused_link(run, check, "closed at once after the handshake, on every try")
    else:
        await _with_retries(lambda: _evse_case(target, run), run)
    return run


async def _with_retries(attempt: Any, run: CaseRun) -> None:
    for i in range(SETUP_TRIES):
        run.setup_error = None
        await attempt()
        if run.reached or run.setup_error is None or run.setup_error == NO_VEHICLE:
            return
        run.transcript.note(f"setup failed ({run.setup_error}), try {i + 1}")
        await asyncio.sleep(0.05 * (i + 1))


# --------------------------------------------------------------------------- SDP


async def _sdp_case(target: Target, run: CaseRun) -> None:
    frames, valid = datagrams(run.case.steps, target.tls)
    run.extra["datagram"] = frames[0]
    run.reached = True
    answers = await send_datagrams(target, frames, run.transcript, wait=0.3,
                                   enough=len(frames) if valid else None)
    run.sdp_answered = answers
    run.observation = Observation(elapsed=0.3)
    if answers and not valid:
        # ISO 15118-2 7.10.1: only a well-formed SECCDiscoveryReq is answered; answering
        # a malformed one is not fatal but tells the parser trusted what it should not
        run.verdict = Verdict(None, "sdp-answered-malformed",
                              f"{answers} answers to malformed SDP requests")
    else:
        run.verdict = Verdict(None, "sdp", f"{answers} answers to {len(frames)} datagrams")


async def send_datagrams(target: Target, frames: list[bytes], transcript: Transcript,
                         wait: float, enough: int | None = None) -> int:
    """Send SDP datagrams to the target; the number of answers within ``wait`` seconds
    (sooner once ``enough`` arrived)."""
    loop = asyncio.get_running_loop()
    destination = target.sdp_destination()
    inbox: asyncio.Queue[tuple[bytes, Any]] = asyncio.Queue()
    sock = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    try:
        if target.interface is not None:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, destination[3])
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 1)
        sock.bind(("::", 0))
        sock.setblocking(False)
    except OSError as exc:
        sock.close()
        transcript.note(f"SDP socket error: {exc}")
        return 0
    transport, _ = await loop.create_datagram_endpoint(lambda: _Inbox(inbox), sock=sock)
    local = sock.getsockname()
    here = (str(local[0]), int(local[1]))
    there = (str(destination[0]), int(destination[1]))
    answers = 0
    try:
        for data in frames:
            transcript.add("out", "udp", data, local=here, remote=there)
            transport.sendto(data, destination)
        end = loop.time() + wait
        while (remaining := end - loop.time()) > 0:
            try:
                data, addr = await asyncio.wait_for(inbox.get(), remaining)
            except asyncio.TimeoutError:
                break
            answers += 1
            transcript.add("in", "udp", data, local=here,
                           remote=(str(addr[0]).split("%")[0], int(addr[1])))
            if enough is not None and answers >= enough:
                break
    finally:
        transport.close()
    return answers


class _Inbox(asyncio.DatagramProtocol):
    def __init__(self, inbox: asyncio.Queue[tuple[bytes, Any]]) -> None:
        self.inbox = inbox

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.inbox.put_nowait((data, addr))

    def error_received(self, exc: Exception) -> None:
        pass  # an ICMP "port unreachable": no answer is what the probe measures


# --------------------------------------------------------------------------- EV role


def _grammar_of(protocol: str | None, dc: bool) -> Any:
    """payload type -> the grammar this session reads it with (None: not taken here). A
    -20 session takes CommonMessages and its own energy namespace (DC or AC), not ACDP,
    WPT or the other one."""
    own = {"iso20-common", "iso20-dc" if dc else "iso20-ac"}

    def of(payload_type: int) -> str | None:
        if protocol == "iso20" and payload_type != PAYLOAD_SAP_DIN_ISO2:
            name = PAYLOAD_TYPE_PROTOCOLS.get(payload_type)
            return name if name in own else None
        if payload_type == PAYLOAD_SAP_DIN_ISO2:
            return "apphand" if protocol in (None, "iso20") else protocol
        return None
    return of


async def connect_target(target: Target, transcript: Transcript,
                         profile_name: str | None = None, link: str | None = None) -> Link:
    """A connection to the target SECC, with the TLS context ``profile_name`` needs (or
    the check link ``link``). Found by SDP, it is asked again when its port refuses: an
    SECC may open a new port for the next session (Josev does) and announce it by SDP,
    as ISO 15118-2 7.10.1 lets it."""
    if target.host is None or target.port is None:
        raise FuzzError("no target address (SDP found none, or --address/--port missing)")
    context = target.context_for(profile_name, link)
    try:
        return await open_link(target.host, target.port, transcript, ssl_context=context)
    except ConnectionRefusedError:
        if target.interface is None or target.role != "ev":
            raise
    await rediscover(target, transcript)
    return await open_link(target.host, target.port, transcript, ssl_context=context)


async def rediscover(target: Target, transcript: Transcript) -> None:
    from iso15118.transport import discover

    found = await discover(target.interface, tls=target.tls, timeout=3.0)
    if not found:
        raise ConnectionRefusedError(f"no SECC answered SDP on {target.interface}")
    if (found[0].host, found[0].port) != (target.host, target.port):
        transcript.note(f"SDP: the SECC moved to [{found[0].host}]:{found[0].port}")
    target.host, target.port = found[0].host, found[0].port


def tls_check(target: Target, case: Case) -> str | None:
    """The link of a -20 TLS check case (one of :data:`TLS_LINKS`), or None."""
    if not target.tls_checks() or profile(case.profile).protocol != "iso20":
        return None
    for step in case.steps:
        if step.op == "tls-link" and step.site in TLS_LINKS:
            return step.site
    return None


async def _ev_case(target: Target, run: CaseRun) -> None:
    case = run.case
    p = profile(case.profile)
    check = tls_check(target, case)
    try:
        link = await connect_target(target, run.transcript, case.profile, check)
    except (ssl.SSLError, ConnectionResetError) as exc:
        if check is not None:  # refusing the link at the handshake is the right answer
            why = getattr(exc, "reason", None) or str(exc) or type(exc).__name__
            _refused_link(run, check, f"the handshake failed ({why})")
        else:
            run.setup_error = f"connect: {exc}"
        return
    except (OSError, asyncio.TimeoutError) as exc:
        run.setup_error = f"connect: {exc}"
        return
    try:
        if case.state == "supportedAppProtocol" and await _refused(link):
            if check is not None and link.tls_alert is not None:
                # TLS 1.3: the server checks the client's certificate after the client's
                # handshake is done, and answers its absence with an alert
                _refused_link(run, check, f"a TLS alert ({link.tls_alert})")
                return
            # the first message is the damaged one, so a refusal would pass for its
            # verdict: an SECC serving one EV at a time closes a new connection at once
            # while it still tears the last one down (ours does); that is a setup failure
            run.setup_error = CLOSED_AT_ONCE
            return
        await _drive_ev(target, run, link, p, check)
    finally:
        await link.close()


def _refused_link(run: CaseRun, check: str, how: str) -> None:
    run.reached, run.setup_error = True, None
    run.observation = Observation(closed=True)
    run.verdict = Verdict(None, "iso20-tls", f"refused {TLS_LINKS[check]}: {how}")
    run.transcript.note(f"-20 TLS check: {run.verdict.reason}")


async def _refused(link: Link) -> bool:
    """Whether the target closes a fresh connection by itself within a moment."""
    got = await link.frame(_REFUSAL_WINDOW)
    if got is not None:
        link.pending.insert(0, got)  # an SECC speaking first: keep what it said
    return link.eof or link.reset


def _sent(step: Step) -> list[tuple[Any, MessageSent]]:
    events = [e for e in step.events if isinstance(e, MessageSent)]
    return list(zip(step.send, events, strict=False))


def _which(session: EvccSession | SeccSession, out: Any, sent: MessageSent, *,
           request: bool) -> tuple[Any, Any, str | None]:
    """What our session is about to send: (its dialect, None for supportedAppProtocol;
    the message body; the session tables' neutral step name, None when it has none)."""
    d = None if sent.protocol == "apphand" else session.dialect
    if d is None:
        return None, out.message, None
    body = d.body(out.message)
    exchange = (d.rules.exchange_of_request(body) if request
                else d.rules.exchange_of_response(body))
    return d, body, exchange.step if exchange is not None else None


async def _drive_ev(target: Target, run: CaseRun, link: Link, p: Any,
                    check: str | None = None) -> None:
    loop = asyncio.get_running_loop()
    ev, config = vehicle_for(p)
    # a TLS check offers -20 on a link that cannot carry it: the session is not told the
    # link's version, which would make it leave -20 out (handshake.usable)
    session = EvccSession(ev, config, tls=target.tls,
                          tls_version=None if check is not None else link.tls_version)
    step = session.start(loop.time())
    last_step: str | None = None
    previous: tuple[int, bytes] | None = None
    while True:
        for out, sent in _sent(step):
            d, body, neutral = _which(session, out, sent, request=True)
            if matches(run.case.state, sent.name, neutral):
                run.reached = True
                ctx = _ev_context(session, out, body, neutral or sent.name, last_step,
                                  previous)
                run.wire = apply(ctx, run.case.steps)
                run.observation = await observe(target, link, run.wire, run.transcript,
                                                run.case.profile)
                if check is not None:
                    run.verdict = oracle.judge_tls_link(run.observation, TLS_LINKS[check])
                    return
                expect = Expect(ctx.grammar, d.protocol if d is not None else None,
                                d.rules if d is not None else None,
                                d.body if d is not None else (lambda m: m),
                                session.session_id, last_step,
                                _grammar_of(session.protocol, p.dc))
                run.verdict = oracle.judge_charger(run.wire, run.observation, expect,
                                                   out.payload_type)
                return
            if not await link.write(frame(out.payload_type, out.payload)):
                run.setup_error = "connection lost while driving the session"
                return
            previous = (out.payload_type, out.payload)
            last_step = neutral
        next_step = await _advance(session, link, run, idle=30.0)
        if next_step is None:
            return
        step = next_step


async def _advance(session: EvccSession | SeccSession, link: Link, run: CaseRun, *,
                   idle: float, cap: float = float("inf")) -> Step | None:
    """Drive our side of the session one step on, either role: None once it has ended
    (``run.setup_error`` says why when it did not complete before the case's state), else
    the step from the target's next frame, our session's timer (waited for at most
    ``cap``; ``idle`` when none runs) or the target closing."""
    if session.ended is not None:
        if session.ended.outcome.name != "COMPLETED":
            run.setup_error = f"session ended before {run.case.state}: " \
                              f"{session.ended.reason}"
        return None
    loop = asyncio.get_running_loop()
    deadline = session.deadline
    timeout = idle if deadline is None else min(max(0.0, deadline - loop.time()), cap)
    got = await link.frame(timeout)
    now = loop.time()
    if got is not None:
        return session.receive(got.payload_type, got.payload, now)
    if link.timed_out:
        return session.tick(now)
    return session.connection_lost(now, "closed")


def _ev_context(session: EvccSession, out: Any, body: Any, step: str,
                last_step: str | None, previous: tuple[int, bytes] | None) -> Context:
    d = session.dialect
    if d is None:  # the handshake: no session, no SessionID
        return Context(out.message, body, "apphand", out.payload_type, b"", step,
                       lambda b, _sid: b, previous=previous)
    grammar = session._grammar(d.protocol, out.message)
    candidates: list[str] = []
    if last_step is not None:
        allowed = oracle.allowed_after(d.rules, last_step)
        candidates = [e.step for e in d.rules.exchanges
                      if e.step not in allowed and e.step != step]

    def other(i: int) -> tuple[str, Any] | None:
        for name in candidates[i:] + candidates[:i]:
            try:
                return name, d.request(name, session)
            except Exception:  # noqa: BLE001 - a step our EV cannot compose here
                continue
        return None

    return Context(out.message, body, grammar, out.payload_type, session.session_id, step,
                   lambda b, sid: d.wrap(b, sid), other, len(candidates), previous,
                   lambda m: session._grammar(d.protocol, m))


async def observe(target: Target, link: Link, wire: Wire, transcript: Transcript,
                  profile_name: str | None = None) -> Observation:
    """Send ``wire`` and watch the reaction until the deadline (a reconnect storm opens
    its connections with the TLS context of ``profile_name``)."""
    loop = asyncio.get_running_loop()
    extra: list[Link] = []
    if wire.storm:
        transcript.note(f"reconnect storm: {wire.storm} connections")
        for _ in range(wire.storm):
            try:
                extra.append(await connect_target(target, transcript, profile_name))
            except (OSError, asyncio.TimeoutError, ssl.SSLError, FuzzError):
                break
        for other in extra:
            other.abort()
    start = loop.time()
    for i, chunk in enumerate(wire.writes * (2 if wire.sent_twice else 1)):
        if i:
            await asyncio.sleep(0.005)
        if not await link.write(chunk):
            break
    obs = Observation()
    first = await link.frame(target.deadline)
    if first is not None:
        obs.frames.append(first)
        while True:
            more = await link.frame(_SETTLE)
            if more is None:
                break
            obs.frames.append(more)
        obs.closed = link.eof
    elif link.timed_out:
        obs.silent = True
    else:
        obs.closed = True
        obs.reset = link.reset
    if link.broken is not None:
        obs.broken = str(link.broken)
    obs.elapsed = loop.time() - start
    return obs


# --------------------------------------------------------------------------- EVSE role


async def _evse_case(target: Target, run: CaseRun) -> None:
    assert target.incoming is not None
    asked = target.responder.requests if target.responder is not None else 0
    got = await _next_vehicle(target)
    if got is None:
        if target.responder is not None:
            # it asked SDP and got the right answer, but never connected: its TCP side
            # stopped; it never asked: its discovery stopped
            run.extra["asked"] = target.responder.requests > asked
        run.setup_error = NO_VEHICLE
        return
    link = got
    while not target.incoming.empty():
        # a vehicle that connected while the last case ran may have given up on its
        # handshake since: take the newest connection, close the older ones
        link.abort()
        link = target.incoming.get_nowait()
    link.transcript = run.transcript
    run.transcript.add("-", "connect", link=link)
    try:
        await _drive_evse(target, run, link)
    finally:
        await link.close()


#: how often a case waiting for the vehicle looks whether its process still runs
_ALIVE_EVERY = 0.1


async def _next_vehicle(target: Target) -> Link | None:
    """The next vehicle connection, or None after ``accept_timeout`` or as soon as the
    watched vehicle process is gone (a crash need not cost the whole accept time)."""
    assert target.incoming is not None
    loop = asyncio.get_running_loop()
    end = loop.time() + target.accept_timeout
    getting = asyncio.ensure_future(target.incoming.get())
    try:
        while not getting.done():
            left = end - loop.time()
            if left <= 0 or target.alive is not None and not target.alive():
                break
            await asyncio.wait({getting},
                               timeout=min(left, _ALIVE_EVERY) if target.alive else left)
        return getting.result() if getting.done() else None
    finally:
        if not getting.done():
            getting.cancel()


async def _drive_evse(target: Target, run: CaseRun, link: Link) -> None:
    loop = asyncio.get_running_loop()
    p = profile(run.case.profile)
    evse = evse_for(p)
    behaviour = ChargerBehaviour(cable_check_s=0.0)
    # over TLS, -20 only with the vehicle's certificate (ISO 15118-20 7.7: mutual
    # authentication), as a correct SECC does; a listener that also serves -2 (TLS 1.2)
    # leaves the certificate optional at the TLS level, so the session checks it
    config = SeccConfig(protocols=(p.protocol,), require_vehicle_certificate=target.tls)
    session = SeccSession(evse, behaviour.session_config(config), tls=target.tls,
                          tls_version=link.tls_version,
                          vehicle_certificate=link.peer_certificate)
    sim = SimulatedCharger(evse, behaviour)
    sim.attach(session)
    later: list[Step] = []
    session.on_step = later.append
    step = session.start(loop.time())
    earlier: list[tuple[str, Any]] = []
    previous: tuple[int, bytes] | None = None
    last_step: str | None = None
    while True:
        steps = [step, *later]
        later.clear()
        for s in steps:
            for event in s.events:
                sim.on_event(event, loop.time())
            for out, sent in _sent(s):
                d, body, neutral = _which(session, out, sent, request=False)
                if matches(run.case.state, sent.name, neutral):
                    run.reached = True
                    await _fuzz_response(target, run, link, session, d, out, body,
                                         neutral or sent.name, earlier, previous, last_step)
                    return
                if not await link.write(frame(out.payload_type, out.payload)):
                    run.setup_error = "connection lost while driving the session"
                    return
                previous = (out.payload_type, out.payload)
                if neutral is not None:
                    earlier.append((neutral, body))
                last_step = neutral
        next_step = await _advance(session, link, run, idle=60.0, cap=60.0)
        if next_step is None:
            return
        step = next_step


async def _fuzz_response(target: Target, run: CaseRun, link: Link, session: SeccSession,
                         d: Any, out: Any, body: Any, step: str,
                         earlier: list[tuple[str, Any]], previous: tuple[int, bytes] | None,
                         last_step: str | None) -> None:
    """Send the damaged response and judge the vehicle's reaction (``d`` is None for
    supportedAppProtocolRes: no session yet)."""
    if d is None:
        ctx = Context(out.message, body, "apphand", out.payload_type, b"", step,
                      lambda b, _sid: b, previous=previous)
    else:
        others = [(s, b) for s, b in earlier if s != step]
        ctx = Context(out.message, body, session._grammar(d.protocol, out.message),
                      out.payload_type, session.session_id, step,
                      lambda b, sid: d.wrap(b, sid),
                      lambda i: others[i] if 0 <= i < len(others) else None,
                      len(others), previous, lambda m: session._grammar(d.protocol, m))
    run.wire = wire = apply(ctx, run.case.steps)
    run.observation = await observe(target, link, wire, run.transcript)
    must_stop = None
    if d is not None:
        if wire.session_id is not None and wire.session_id != session.session_id \
                and step != "SessionSetup":
            must_stop = "a response with another SessionID"
        elif wire.step != step:
            must_stop = f"a {wire.step} response to a {step} request"
    expect = Expect(ctx.grammar, d.protocol if d is not None else None,
                    d.rules if d is not None else None,
                    d.body if d is not None else (lambda m: m), session.session_id,
                    last_step, _grammar_of(session.protocol, profile(run.case.profile).dc))
    run.verdict = oracle.judge_vehicle(wire, run.observation, expect, out.payload_type,
                                       must_stop)


async def accept_loop(target: Target, host: str, port: int) -> asyncio.AbstractServer:
    """evse role: listen, queueing every vehicle connection for the next case."""
    queue: asyncio.Queue[Link] = asyncio.Queue()
    target.incoming = queue

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        queue.put_nowait(Link(reader, writer, Transcript()))

    kwargs: dict[str, Any] = {}
    if target.tls and target.ssl_context is not None:
        kwargs["ssl"] = target.ssl_context
    if port:
        return await asyncio.start_server(on_connect, host, port, **kwargs)
    # DIN 70121 and ISO 15118-2 want the SECC's port in 49152-65535 (vehicles such as
    # Josev's refuse an SDP answer naming another)
    for _ in range(64):
        try:
            return await asyncio.start_server(on_connect, host, dynamic_port(), **kwargs)
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                raise
    raise FuzzError("no free TCP port in 49152-65535 after 64 tries")
