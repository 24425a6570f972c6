"""asyncio runners: the session cores on real sockets, SDP and TLS.

:func:`drive` moves one sans-IO session over one :class:`V2GConnection` (frames in,
deadlines as receive timeouts, steps out). :class:`Charger` serves one or several EVSEs
in one process (SDP and TCP/TLS per EVSE, one session per connection, per-EVSE state and
paused sessions). :func:`run_vehicle` discovers an SECC, connects and runs a session, and
resumes it after a pause. The TCP port of each EVSE is drawn from the dynamic range
49152-65535 that DIN 70121 and ISO 15118-2 require when none is given.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import random
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from iso15118.errors import Iso15118Error
from iso15118.sdp import Security
from iso15118.session.core import Step
from iso15118.session.ev_state import EVState
from iso15118.session.evcc import EvccConfig, EvccSession
from iso15118.session.events import Event, Outcome, SessionEnded
from iso15118.session.evse_state import EVSEState
from iso15118.session.secc import PausedSessions, SeccConfig, SeccSession
from iso15118.transport import (
    ConnectionClosedError,
    PeerProtocolError,
    TransportError,
    V2GConnection,
    V2GServer,
    connect,
    discover,
    link_local_address,
    serve,
    serve_sdp,
)
from iso15118.v2gtp import RemoteProtocolError

__all__ = ["Charger", "EVSEEndpoint", "drive", "dynamic_port", "run_vehicle", "warm_up"]

logger = logging.getLogger(__name__)

DYNAMIC_PORTS = range(49152, 65536)  # IETF dynamic ports: DIN 70121 / ISO 15118-2 SDP
EventHandler = Callable[[Event, float], None]


class _Session(Protocol):
    ended: SessionEnded | None

    @property
    def deadline(self) -> float | None: ...

    def start(self, now: float) -> Step: ...

    def receive(self, payload_type: int, payload: bytes, now: float) -> Step: ...

    def tick(self, now: float) -> Step: ...

    def connection_lost(self, now: float, reason: str) -> Step: ...


def warm_up(protocols: tuple[str, ...] = ("din", "iso2")) -> None:
    """Load the codecs now (milliseconds each) rather than inside the first timed
    exchange, where they would eat into the peer's message timeout."""
    from iso15118 import codec

    for protocol in ("apphand", *protocols):
        for grammar in (("iso20-common", "iso20-dc", "iso20-ac") if protocol == "iso20"
                        else (protocol,)):
            codec.get_codec(grammar)


async def drive(conn: V2GConnection, session: _Session,
                on_event: EventHandler | None = None,
                setup_started: float | None = None) -> SessionEnded:
    """Run ``session`` on ``conn`` until it ends; returns its last event. The connection is
    closed when the session says so (after the last message went out)."""
    loop = asyncio.get_running_loop()

    async def apply(step: Step) -> None:
        now = loop.time()
        for out in step.send:
            await conn.send(out.payload_type, out.payload)
        if on_event is not None:
            for event in step.events:
                on_event(event, now)
        if step.close:
            await conn.close()

    # steps the application makes later (an SECC's deferred answer) come through here
    later: asyncio.Queue[Step] = asyncio.Queue()
    if isinstance(session, SeccSession):
        session.on_step = later.put_nowait
    if setup_started is not None and isinstance(session, EvccSession):
        await apply(session.start(loop.time(), setup_started))
    else:
        await apply(session.start(loop.time()))
    receiving: asyncio.Task[Any] | None = None
    try:
        while session.ended is None:
            while not later.empty():
                await apply(later.get_nowait())
            if session.ended is not None:
                break
            if receiving is None:
                receiving = asyncio.ensure_future(conn.receive(None))
            woken = asyncio.ensure_future(later.get())
            deadline = session.deadline
            timeout = None if deadline is None else max(0.0, deadline - loop.time())
            done, _ = await asyncio.wait({receiving, woken}, timeout=timeout,
                                         return_when=asyncio.FIRST_COMPLETED)
            if woken in done:
                await apply(woken.result())
            else:
                woken.cancel()
            if receiving not in done:
                if not done:
                    await apply(session.tick(loop.time()))
                continue
            task, receiving = receiving, None
            try:
                frame = task.result()
            except (ConnectionClosedError, PeerProtocolError, RemoteProtocolError) as exc:
                await apply(session.connection_lost(loop.time(),
                                                    str(exc) or type(exc).__name__))
                break
            try:
                await apply(session.receive(frame.payload_type, frame.payload, loop.time()))
            except (ConnectionClosedError, TransportError) as exc:
                await apply(session.connection_lost(loop.time(), str(exc)))
    finally:
        if receiving is not None:
            receiving.cancel()
            with contextlib.suppress(BaseException):
                await receiving
    assert session.ended is not None
    return session.ended


def dynamic_port(rng: random.Random | None = None) -> int:
    return (rng or random).choice(DYNAMIC_PORTS)


async def _serve_on_dynamic_port(handler: Callable[[V2GConnection], Awaitable[None]],
                                 port: int, ssl_context: ssl.SSLContext | None,
                                 host: str = "::") -> V2GServer:
    if port:
        return await serve(handler, host, port, ssl_context=ssl_context)
    for _ in range(64):
        try:
            return await serve(handler, host, dynamic_port(), ssl_context=ssl_context)
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                raise
    raise TransportError("no free TCP port in 49152-65535 after 64 tries")


#: makes the application object for one session (a simulator, an OCPP bridge...);
#: it may attach hooks to the session and returns the event handler
ApplicationFactory = Callable[[SeccSession], EventHandler | None]


@dataclass
class EVSEEndpoint:
    """One EVSE of a charger: its link (interface), state, session rules and security.

    ``tls`` is "none", "optional" (TCP and TLS ports, SDP answers as asked) or "required".
    Without an ``interface`` there is no SDP: vehicles are given the address and port
    (fixed addressing, as in a lab or a load test); ``host`` is where to listen.
    """

    interface: str | None
    evse: EVSEState = field(default_factory=EVSEState)
    config: SeccConfig = field(default_factory=SeccConfig)
    tls: str = "none"
    ssl_context: ssl.SSLContext | None = None
    port: int = 0
    tls_port: int = 0
    address: str | None = None
    application: ApplicationFactory | None = None
    paused: PausedSessions = field(default_factory=PausedSessions)
    sessions: list[SessionEnded] = field(default_factory=list)
    host: str = "::"
    #: one EV at a time, as on a real connector (a second connection is refused)
    exclusive: bool = True
    #: the ports this EVSE listens on, once started
    ports: dict[Security, int] = field(default_factory=dict)


class Charger:
    """SDP responders and V2G servers for each EVSE; one session per connection.

    ``on_event(endpoint, event, now)`` sees every session's events (logging, counting);
    ``on_session_end(endpoint, ended)`` is called when a session is over."""

    def __init__(self, endpoints: list[EVSEEndpoint], *,
                 on_event: Callable[[EVSEEndpoint, Event, float], None] | None = None,
                 on_session_end: Callable[[EVSEEndpoint, SessionEnded], None] | None = None
                 ) -> None:
        self.endpoints = endpoints
        self.on_event = on_event
        self.on_session_end = on_session_end
        self._closers: list[Any] = []
        self.announced: dict[str, dict[Security, int]] = {}
        self._busy: set[int] = set()

    async def start(self) -> None:
        warm_up(tuple({p for ep in self.endpoints for p in ep.config.protocols}))
        for ep in self.endpoints:
            ports: dict[Security, int] = {}
            if ep.tls in ("none", "optional"):
                server = await _serve_on_dynamic_port(self._handler(ep, False), ep.port, None,
                                                      ep.host)
                ports[Security.NO_TLS] = server.sockets[0].getsockname()[1]
                self._closers.append(server)
            if ep.tls in ("optional", "required"):
                if ep.ssl_context is None:
                    raise Iso15118Error(f"EVSE on {ep.interface}: TLS needs an ssl_context")
                server = await _serve_on_dynamic_port(self._handler(ep, True), ep.tls_port,
                                                      ep.ssl_context, ep.host)
                ports[Security.TLS] = server.sockets[0].getsockname()[1]
                self._closers.append(server)
            ep.ports = ports
            if ep.interface is None:
                continue
            address = ep.address or str(link_local_address(ep.interface))
            sdp = await serve_sdp(ep.interface, endpoints=ports, address=address)
            self._closers.append(sdp)
            self.announced[ep.interface] = ports

    def _handler(self, ep: EVSEEndpoint, tls: bool) -> Callable[[V2GConnection], Awaitable[None]]:
        async def handle(conn: V2GConnection) -> None:
            if not ep.exclusive:
                await self._session(ep, conn, tls)
                return
            if id(ep) in self._busy:
                # one EV per EVSE at a time; a second connection is a stale one or an attack
                logger.warning("EVSE on %s is busy; refusing %s", ep.interface, conn.peer)
                return
            self._busy.add(id(ep))
            try:
                await self._session(ep, conn, tls)
            finally:
                self._busy.discard(id(ep))
        return handle

    async def _session(self, ep: EVSEEndpoint, conn: V2GConnection, tls: bool) -> None:
        session = SeccSession(ep.evse, ep.config, tls=tls, paused=ep.paused,
                              tls_version=conn.tls_version,
                              vehicle_certificate=conn.peer_certificate)
        app = ep.application(session) if ep.application is not None else None

        def on_event(event: Event, now: float) -> None:
            if app is not None:
                app(event, now)
            if self.on_event is not None:
                self.on_event(ep, event, now)

        ended = await drive(conn, session, on_event)
        ep.sessions.append(ended)
        if self.on_session_end is not None:
            self.on_session_end(ep, ended)

    async def close(self) -> None:
        for closer in reversed(self._closers):
            closer.close()
            with contextlib.suppress(Exception):
                await closer.wait_closed()
        self._closers.clear()

    async def __aenter__(self) -> Charger:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


async def run_vehicle(interface: str, ev: EVState, config: EvccConfig | None = None, *,
                      ssl_context: ssl.SSLContext | None = None,
                      on_event: EventHandler | None = None,
                      attach: Callable[[EvccSession], None] | None = None,
                      resume_after: float = 1.0, discovery_timeout: float = 20.0
                      ) -> SessionEnded:
    """Discover the SECC on ``interface``, connect (TLS when ``ssl_context``), run a
    session; a paused session is resumed ``resume_after`` seconds later on a new
    connection with its SessionID, as a car does after a pause. Returns the last end."""
    config = config or EvccConfig()
    warm_up(config.protocols)
    loop = asyncio.get_running_loop()
    while True:
        setup_started = loop.time()  # SDP and TLS count towards the communication setup
        found = await discover(interface, tls=ssl_context is not None,
                               timeout=discovery_timeout)
        if not found:
            raise TransportError(f"no SECC answered SDP on {interface}")
        secc = found[0]
        conn = await connect(secc, ssl_context=ssl_context if secc.tls else None)
        session = EvccSession(ev, config, tls=secc.tls, tls_version=conn.tls_version)
        if attach is not None:
            attach(session)
        ended = await drive(conn, session, on_event, setup_started)
        await conn.close()
        if ended.outcome is not Outcome.PAUSED or ended.session_id is None:
            return ended
        await asyncio.sleep(resume_after)
        config = _resumed(config, ended.session_id)


def _resumed(config: EvccConfig, session_id: bytes) -> EvccConfig:
    from dataclasses import replace

    return replace(config, resume_session_id=session_id, pause_after=None)
