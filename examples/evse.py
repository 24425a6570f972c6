"""A DC charger (SECC) on the session layer: what a charger team copies and fills in.

The library runs the protocol (SDP, TCP or TLS 1.2, supportedAppProtocol, DIN 70121 or
ISO 15118-2, every timer and sequence rule); this file is the charger's side of it:

* :class:`EVSEState` says what the charger is (ID, limits) and is kept up to date with
  what it measures (present voltage and current, isolation);
* :class:`ChargerApp` reacts to the session's events: it authorizes through a backend
  (here a 0.2 s stand-in), runs the isolation test when the EV asks for a cable check,
  and drives the power stage to what the EV requests. Decisions that take time are
  calls on the session (``authorize``, ``finish_cable_check``); until they come, the EV
  is answered ``EVSEProcessing=Ongoing``.

Run beside ``ev.py`` (see README.md here). Exit status 0 when one session ended with
SessionStop, 1 otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path
from typing import Any

from v2g_common import show

from iso15118.pki import create_test_pki, secc_tls_files
from iso15118.session import DCLimits, EVSEState, IsolationLevel, Outcome, SeccConfig
from iso15118.session.events import (
    AuthorizationRequested,
    CableCheckRequested,
    ChargeLoop,
    PowerDeliveryRequested,
    PreChargeRequested,
    SessionEnded,
)
from iso15118.session.runner import Charger, EVSEEndpoint
from iso15118.session.secc import SeccSession
from iso15118.session.values import Progress
from iso15118.transport import iso2_server_context

BACKEND_DELAY = 0.2  # seconds an authorization backend takes to say yes
ISOLATION_TEST = 0.5  # seconds the insulation monitor takes


class ChargerApp:
    """One EVSE's hardware and backend, driven by one session's events."""

    def __init__(self, evse: EVSEState, session: SeccSession) -> None:
        self.evse, self.session = evse, session
        self.loop = asyncio.get_running_loop()

    def on_event(self, event: Any, now: float) -> None:
        show("EVSE", event)
        evse, session = self.evse, self.session
        match event:
            case AuthorizationRequested():
                # ask the backend (OCPP Authorize, an RFID reader...); answer when it does
                self.loop.call_later(BACKEND_DELAY, session.authorize, True)
            case CableCheckRequested():
                self.loop.call_later(ISOLATION_TEST, session.finish_cable_check,
                                     IsolationLevel.Valid)
            case PreChargeRequested(target_voltage=volts):
                evse.present_voltage = min(volts, evse.dc.max_voltage)  # an ideal converter
            case ChargeLoop(target_voltage=volts, target_current=amps):
                evse.present_voltage = min(volts or 0.0, evse.dc.max_voltage)
                evse.present_current = min(amps or 0.0, evse.dc.max_current)
            case PowerDeliveryRequested(progress=Progress.STOP):
                evse.present_current = evse.present_voltage = 0.0  # contactors open
            case SessionEnded(outcome=outcome, reason=reason):
                print(f"EVSE: session {outcome.value}: {reason}", flush=True)


def make_test_pki(directory: Path) -> tuple[Path, Path]:
    """A test PKI in ``directory``: the SECC chain (leaf and sub-CAs, as TLS sends them)
    and its key. The EV needs the V2G root (printed) as its trust anchor."""
    create_test_pki(directory, 2)
    chain, key, root = secc_tls_files(directory)
    print(f"EVSE: test PKI in {directory}; the EV trusts {root}", flush=True)
    return chain, key


async def main(args: argparse.Namespace) -> int:
    ssl_context = None
    if args.tls:
        if args.cert is None:
            pki_dir = Path(args.pki_dir or tempfile.mkdtemp(prefix="v2g-test-pki-"))
            args.cert, args.key = make_test_pki(pki_dir)
        ssl_context = iso2_server_context(args.cert, args.key)
    evse = EVSEState(evse_id="DE*V2G*E0001*1",
                     dc=DCLimits(max_voltage=500, max_current=125, max_power=50_000))
    ended: asyncio.Future[SessionEnded] = asyncio.get_running_loop().create_future()

    def application(session: SeccSession) -> Any:
        return ChargerApp(evse, session).on_event

    endpoint = EVSEEndpoint(
        args.interface, evse,
        SeccConfig(protocols=("iso2", "din"), auto_authorize=False, auto_cable_check=False),
        tls="required" if args.tls else "none", ssl_context=ssl_context,
        port=args.port, tls_port=args.port, address=args.address, application=application)
    def on_session_end(_endpoint: EVSEEndpoint, end: SessionEnded) -> None:
        if not ended.done():
            ended.set_result(end)

    charger = Charger([endpoint], on_session_end=on_session_end)
    async with charger:
        (port,) = endpoint.ports.values()
        print(f"EVSE: ready, SDP on {args.interface}, V2G port {port} "
              f"({'TLS 1.2' if args.tls else 'TCP'})", flush=True)
        end = await ended
    if end.outcome is Outcome.COMPLETED:
        print("EVSE: session complete", flush=True)
        return 0
    print(f"EVSE: session failed: {end.reason}", file=sys.stderr)
    return 1


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--interface", required=True, help="the charging link, e.g. eth1")
    parser.add_argument("--address", help="IPv6 address to announce (default: the link's)")
    parser.add_argument("--port", type=int, default=0, help="V2G TCP port (0: 49152-65535)")
    parser.add_argument("--tls", action=argparse.BooleanOptionalAction, default=False)
    parser.add_argument("--cert", type=Path, help="SECC certificate chain (PEM) for TLS")
    parser.add_argument("--key", type=Path, help="the SECC certificate's private key (PEM)")
    parser.add_argument("--pki-dir", type=Path, help="where to make a test PKI without --cert")
    args = parser.parse_args()
    if (args.cert is None) != (args.key is None):
        parser.error("--cert and --key go together")
    return args


if __name__ == "__main__":
    try:
        sys.exit(asyncio.run(main(parse_args())))
    except KeyboardInterrupt:
        sys.exit(130)
