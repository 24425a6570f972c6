"""An electric vehicle (EVCC) on the session layer: what a vehicle team copies and fills in.

The library runs the protocol (SDP, TCP or TLS 1.2, supportedAppProtocol offering ISO-2
then DIN, every timer, the Ongoing loops timed as the standard says); this file is the
vehicle's side of it:

* :class:`EVState` says what the battery is and wants (SoC, voltage, current limits);
  the session composes every request from it and never asks for more than the EVSE
  announced;
* :class:`Battery` reacts to the session's events: it integrates the energy the EVSE
  delivers into the state of charge, which the next request reports.

Run beside ``evse.py`` (see README.md here). Exit status 0 when the session ended with
SessionStop, 1 otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

from v2g_common import show

from iso15118.errors import Iso15118Error
from iso15118.session import EvccConfig, EVState, Outcome
from iso15118.session.events import ChargeLoopStatus, SessionEnded
from iso15118.session.runner import run_vehicle
from iso15118.transport import iso2_client_context


class Battery:
    """The vehicle's battery: its SoC rises with the power the EVSE reports delivering."""

    def __init__(self, ev: EVState) -> None:
        self.ev = ev
        self.last: float | None = None

    def on_event(self, event: Any, now: float) -> None:
        show("EV", event)
        match event:
            case ChargeLoopStatus(present_voltage=volts, present_current=amps):
                if self.last is not None and volts and amps:
                    wh = volts * amps * (now - self.last) / 3600
                    self.ev.soc = min(100.0, self.ev.soc + wh / self.ev.capacity_wh * 100)
                self.last = now
            case SessionEnded(outcome=outcome, reason=reason):
                print(f"EV  : session {outcome.value}: {reason}", flush=True)


async def main(args: argparse.Namespace) -> int:
    ssl_context = None
    if args.tls:
        if args.trust is None:
            print("EV  : the EVSE wants TLS: give its V2G root with --trust", file=sys.stderr)
            return 1
        ssl_context = iso2_client_context(cafile=args.trust)
    ev = EVState(evcc_id=bytes.fromhex("0A1B2C3D4E5F"), soc=40, battery_voltage=400,
                 target_current=100, max_current=200, max_voltage=450, max_power=80_000)
    config = EvccConfig(protocols=("iso2", "din"), loops=args.cycles, loop_interval=0.1)
    try:
        end = await run_vehicle(args.interface, ev, config, ssl_context=ssl_context,
                                on_event=Battery(ev).on_event)
    except Iso15118Error as exc:
        print(f"EV  : {exc}", file=sys.stderr)
        return 1
    if end.outcome is Outcome.COMPLETED:
        print("EV  : session complete", flush=True)
        return 0
    print(f"EV  : session failed: {end.reason}", file=sys.stderr)
    return 1


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--interface", required=True, help="the charging link, e.g. eth1")
    parser.add_argument("--cycles", type=int, default=5, help="CurrentDemand requests")
    parser.add_argument("--tls", action=argparse.BooleanOptionalAction, default=False)
    parser.add_argument("--trust", type=Path, help="V2G root certificate (PEM) for TLS")
    return parser.parse_args()


if __name__ == "__main__":
    try:
        sys.exit(asyncio.run(main(parse_args())))
    except KeyboardInterrupt:
        sys.exit(130)
