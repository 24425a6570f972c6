"""Liveness probes: does the target still answer SDP, TCP, supportedAppProtocol and
SessionSetup? Run after every finding and between cases on a schedule.

A probe is retried (a target still tearing the last connection down may refuse one
attempt), and only services that answered before the campaign are probed: a target
reached by address without an SDP responder has no SDP to lose.
"""

from __future__ import annotations

import asyncio
import ssl

from iso15118.fuzzing.driver import Target, connect_target, send_datagrams
from iso15118.fuzzing.link import Transcript
from iso15118.fuzzing.mutations import frame
from iso15118.fuzzing.profiles import profile, vehicle_for
from iso15118.sdp import SDPRequest, Security
from iso15118.session.evcc import EvccSession
from iso15118.session.events import SessionStarted

__all__ = ["SERVICES", "probe", "probe_service", "wait_until_up"]

SERVICES = ("sdp", "tcp", "sap", "session")
TRIES = 3


async def probe_service(target: Target, service: str, profile_name: str,
                        transcript: Transcript) -> bool:
    """Whether ``service`` answers now (one attempt)."""
    if service == "sdp":
        security = Security.TLS if target.tls else Security.NO_TLS
        request = SDPRequest(security)
        data = frame(request.payload_type, request.payload())
        return await send_datagrams(target, [data], transcript, wait=0.5, enough=1) > 0
    try:
        link = await connect_target(target, transcript, profile_name)
    except (OSError, asyncio.TimeoutError, ssl.SSLError) as exc:
        transcript.note(f"{service} probe: cannot connect ({exc or type(exc).__name__})")
        return False
    try:
        if service == "tcp":
            return True
        loop = asyncio.get_running_loop()
        ev, config = vehicle_for(profile(profile_name))
        session = EvccSession(ev, config, tls=target.tls, tls_version=link.tls_version)
        step = session.start(loop.time())
        while True:
            for out in step.send:
                if not await link.write(frame(out.payload_type, out.payload)):
                    transcript.note(f"{service} probe: connection lost")
                    return False
            if service == "sap" and session.protocol is not None:
                return True
            if any(isinstance(e, SessionStarted) for e in step.events):
                return True
            if session.ended is not None:
                transcript.note(f"{service} probe: {session.ended.reason}")
                return False
            got = await link.frame(max(target.deadline, 1.0) * 2)
            if got is None:
                transcript.note(f"{service} probe: no answer"
                                + (" (closed)" if link.eof else ""))
                return False
            step = session.receive(got.payload_type, got.payload, loop.time())
    finally:
        await link.close()


async def probe(target: Target, services: tuple[str, ...], profile_name: str,
                transcript: Transcript) -> str | None:
    """The first of ``services`` that no longer answers (after retries), or None."""
    for service in services:
        for attempt in range(TRIES):
            if await probe_service(target, service, profile_name, transcript):
                break
            await asyncio.sleep(0.3 * (attempt + 1))
        else:
            transcript.note(f"liveness: {service} does not answer")
            return service
    return None


async def wait_until_up(target: Target, services: tuple[str, ...], profile_name: str,
                        transcript: Transcript, timeout: float) -> str | None:
    """After a restart: poll ``services`` in order until each answers; the first one
    still silent when ``timeout`` seconds have passed, or None when all answer. A charger
    being power-cycled takes seconds to boot, so this polls where :func:`probe` gives up
    after a few tries."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    pause = 0.05
    for service in services:
        while not await probe_service(target, service, profile_name, transcript):
            if loop.time() >= end:
                transcript.note(f"restart: {service} did not answer within {timeout:g} s")
                return service
            await asyncio.sleep(min(pause, max(0.0, end - loop.time())))
            pause = min(pause * 2, 1.0)
    return None
