"""A vehicle (EVCC) for the fuzzer's charger-role SDP tests, as its own process: it
discovers by SDP on an interface, charges, and starts over, as a car plugged in again
does. With a fault planted in its SDP parser it is what the SDP cases must find.

    python planted_vehicle.py --interface IF --fault none|trust-any|short-crash|sdp-dies

* ``none``: our own vehicle, :func:`iso15118.session.runner.run_vehicle` (what ``iso15118
  evcc`` runs) in a loop;
* ``trust-any``: takes any datagram of 26 bytes or more as the answer and connects to the
  port in its bytes 24-25, whatever the V2GTP header, payload type or length says (the
  parser of a vehicle that never checks the header);
* ``short-crash``: our discovery, but a datagram shorter than a SECCDiscoveryRes (28
  bytes) makes the process exit (code 70), as an unchecked read past its end would;
* ``sdp-dies``: our discovery, but a datagram whose V2GTP length disagrees with its size
  stops it for good, the process staying alive (the vehicle side of CVE-2025-68135's
  shape: an exception that silently ends the SDP task).

It prints ``ready`` once it runs; every session it starts prints ``session``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import socket
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))

from iso15118.fuzzing.model import PROFILES  # noqa: E402
from iso15118.fuzzing.profiles import vehicle_for  # noqa: E402
from iso15118.sdp import SDP_MULTICAST_ADDRESS, SDPRequest, Security, encode  # noqa: E402
from iso15118.session import EvccSession  # noqa: E402
from iso15118.session.runner import drive, run_vehicle, warm_up  # noqa: E402
from iso15118.transport import open_connection  # noqa: E402
from iso15118.transport.sdp_io import interface_index  # noqa: E402


class _Inbox(asyncio.DatagramProtocol):
    def __init__(self, fault: str) -> None:
        self.fault = fault
        self.queue: asyncio.Queue[tuple[bytes, Any]] = asyncio.Queue()

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.queue.put_nowait((data, addr))


async def trusting_discovery(interface: str) -> tuple[str, int]:
    """SDP with a parser that trusts the port bytes of any datagram."""
    index = interface_index(interface)
    sock = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, index)
    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 1)
    sock.bind(("::", 0))
    sock.setblocking(False)
    inbox = _Inbox("trust-any")
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(lambda: inbox, sock=sock)
    request = encode(SDPRequest(Security.NO_TLS))
    try:
        while True:
            transport.sendto(request, (SDP_MULTICAST_ADDRESS, 15118, 0, index))
            try:
                data, addr = await asyncio.wait_for(inbox.queue.get(), 0.25)
            except asyncio.TimeoutError:
                continue
            if len(data) >= 26:
                host = str(addr[0]).split("%")[0]
                return f"{host}%{interface}", int.from_bytes(data[24:26], "big")
    finally:
        transport.close()


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--interface", required=True)
    ap.add_argument("--fault", default="none")
    ap.add_argument("--protocol", default="iso2-dc")
    args = ap.parse_args()
    warm_up(("iso2", "din"))
    dead = asyncio.Event()
    if args.fault in ("short-crash", "sdp-dies"):
        from iso15118.transport import sdp_io

        original = sdp_io._Datagrams.datagram_received

        def fragile(self: Any, data: bytes, addr: Any) -> None:
            if args.fault == "short-crash" and len(data) < 28:
                os._exit(70)
            if args.fault == "sdp-dies" and len(data) >= 8 and \
                    int.from_bytes(data[4:8], "big") != len(data) - 8:
                dead.set()
                return
            original(self, data, addr)

        sdp_io._Datagrams.datagram_received = fragile  # type: ignore[method-assign]
    print("ready", flush=True)
    while True:
        ev, config = vehicle_for(PROFILES[args.protocol])
        config.timeout_scale = 1.0
        print("session", flush=True)
        with contextlib.suppress(Exception):
            if args.fault == "trust-any":
                host, port = await trusting_discovery(args.interface)
                conn = await open_connection(host, port, connect_timeout=2)
                try:
                    await drive(conn, EvccSession(ev, config))
                finally:
                    await conn.close()
            else:
                task = asyncio.ensure_future(run_vehicle(args.interface, ev, config,
                                                         discovery_timeout=60))
                gone = asyncio.ensure_future(dead.wait())
                await asyncio.wait((task, gone), return_when=asyncio.FIRST_COMPLETED)
                if dead.is_set():
                    task.cancel()
                    await asyncio.Event().wait()  # alive, but never asks again
                gone.cancel()
                await task
        await asyncio.sleep(0.05)


if __name__ == "__main__":
    asyncio.run(main())
