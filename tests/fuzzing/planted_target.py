"""A charger (SECC) on our own session layer with faults planted on purpose, for the
fuzzer's tests: run as its own process so that a crash is a real exit and a leak is real
file descriptors.

    python planted_target.py --port P --sdp-port Q --fault crash|hang|sdp|leak|none \
        [--tls-pki DIR]

It listens on ::1 (TCP P, or TLS 1.2 with ``--tls-pki``; SDP on UDP Q, unicast) and
prints ``ready`` when it does.
The faults:

* ``crash``: a CurrentDemandReq whose EVTargetCurrent or EVTargetVoltage carries a
  multiplier outside the schema's -3..3 makes the process exit (code 70), as an unchecked
  table index would;
* ``hang``: a request with an all-zero SessionID after SessionSetup makes that session
  stop answering, with its connection left open;
* ``sdp``: an SDP datagram whose V2GTP length field disagrees with its size kills the SDP
  responder silently (its socket is closed; TCP goes on), the shape of CVE-2025-68135;
* ``leak``: every session that does not complete leaks one file descriptor.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import struct
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))

from iso15118 import codec  # noqa: E402
from iso15118.errors import Iso15118Error  # noqa: E402
from iso15118.sdp import SDPServer, Security  # noqa: E402
from iso15118.session import EnergyMode, EVSEState, SeccConfig, SeccSession  # noqa: E402
from iso15118.session.core import Step  # noqa: E402
from iso15118.session.events import Outcome  # noqa: E402
from iso15118.session.runner import drive, warm_up  # noqa: E402
from iso15118.session.simulation import ChargerBehaviour, SimulatedCharger  # noqa: E402
from iso15118.transport import serve  # noqa: E402

LEAKED: list[int] = []


class PlantedSession(SeccSession):
    fault = "none"
    hung = False

    def receive(self, payload_type: int, payload: bytes, now: float) -> Step:
        if self.hung:
            return self._finish(Step())
        if self.protocol == "iso2":
            try:
                message = codec.decode(payload, "iso2")
            except Iso15118Error:
                message = None
            body = getattr(getattr(message, "body", None), "body_element", None)
            if self.fault == "crash" and type(body).__name__ == "CurrentDemandReqType":
                for value in (body.ev_target_current, body.ev_target_voltage):
                    if not -3 <= value.multiplier <= 3:
                        os._exit(70)
            if self.fault == "hang" and message is not None and self.state != "Idle" \
                    and type(body).__name__ != "SessionSetupReqType" \
                    and not any(message.header.session_id):
                self.hung = True
                return self._finish(Step())
        return super().receive(payload_type, payload, now)

    @property
    def deadline(self) -> float | None:
        return None if self.hung else super().deadline


class SdpResponder(asyncio.DatagramProtocol):
    def __init__(self, server: SDPServer, fault: str) -> None:
        self.server, self.fault = server, fault
        self.transport: Any = None

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: Any) -> None:
        if self.fault == "sdp" and len(data) >= 8 and \
                struct.unpack_from(">I", data, 4)[0] != len(data) - 8:
            self.transport.close()  # the planted "uncaught exception": SDP is gone
            return
        _request, response = self.server.datagram_received(data)
        if response is not None:
            self.transport.sendto(response, addr)


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--sdp-port", type=int, required=True)
    ap.add_argument("--fault", default="none")
    ap.add_argument("--tls-pki", type=Path, help="serve TLS 1.2 only, with this test PKI")
    args = ap.parse_args()
    PlantedSession.fault = args.fault
    warm_up(("iso2", "din"))
    # no hardware delays: the tests count cases, not seconds
    behaviour = ChargerBehaviour(cable_check_s=0.0, voltage_ramp_v_per_s=1e6,
                                 current_ramp_a_per_s=1e6)

    async def handle(conn: Any) -> None:
        evse = EVSEState(energy_modes=(EnergyMode.DC_extended, EnergyMode.DC_core))
        session = PlantedSession(evse, behaviour.session_config(
            SeccConfig(protocols=("iso2", "din"))))
        sim = SimulatedCharger(evse, behaviour)
        sim.attach(session)
        ended = await drive(conn, session, lambda e, now: sim.on_event(e, now))
        if args.fault == "leak" and ended.outcome is not Outcome.COMPLETED:
            LEAKED.append(os.open(os.devnull, os.O_RDONLY))

    context = None
    if args.tls_pki is not None:
        from iso15118.pki import create_test_pki, secc_tls_files
        from iso15118.transport import iso2_server_context

        if not (args.tls_pki / "index.json").exists():
            create_test_pki(args.tls_pki, 2)
        chain, key, _root = secc_tls_files(args.tls_pki)
        context = iso2_server_context(chain, key)
    server = await serve(handle, "::1", args.port, ssl_context=context)
    loop = asyncio.get_running_loop()
    sdp = SDPServer("::1", {Security.NO_TLS: args.port})
    await loop.create_datagram_endpoint(lambda: SdpResponder(sdp, args.fault),
                                        local_addr=("::1", args.sdp_port))
    print("ready", flush=True)
    async with server:
        await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main())
