"""The grid-to-vehicle depot: an OpenADR event throttles a fleet through OCPP and ISO 15118.

    python examples/depot/run.py --vehicles N --limit-kw L [--event-at S] [--duration S]
                                 [--plot depot.png]

Starts on this machine, in one asyncio loop on loopback, a utility (OpenADR 2.0b VTN), a
CSMS that is also the utility's VEN, N charging stations (this library's SECC with its
OCPP station adapter) and N vehicles (this library's EVCC), see ``depot.py``. Progress
goes to stderr; stdout gets one JSON line:

    vehicles, sessions_completed, event_at_s, limit_kw, seconds_to_comply (from the event's
    start until the depot's total power is at or under the limit), peak_kw_after_compliance,
    energy_kwh, discharge_kwh, and extra keys: breakdown_s (openadr_delivery, csms_decision,
    ocpp_round_trip, iso15118_renegotiation: the four add up to seconds_to_comply),
    per_vehicle_s, peak_kw_before_event, discharging_vehicles, duration_s, event_end_s,
    loop_lag_max_s, errors.

Exit status 0 when every session completed and the depot complied (at or under the limit
from then to the event's end), 1 otherwise, 2 for a usage mistake.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from depot import DepotOptions, run_depot  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--vehicles", type=int, required=True, help="number of bays (>= 1)")
    parser.add_argument("--limit-kw", type=float, required=True,
                        help="the depot's limit during the load-shed event (kW, >= 0)")
    parser.add_argument("--event-at", type=float, default=20.0,
                        help="seconds into the run when the event starts (default 20)")
    parser.add_argument("--duration", type=float, default=60.0,
                        help="seconds until every vehicle stops (default 60)")
    parser.add_argument("--event-duration", type=float,
                        help="seconds the event lasts (default: to the end of the run)")
    parser.add_argument("--plot", type=Path, help="write the power plot (PNG) here")
    parser.add_argument("--notice", type=float, default=0.0,
                        help="publish the event this many seconds before it starts (default 0)")
    parser.add_argument("--loop-interval", type=float, default=0.5,
                        help="seconds between a vehicle's charge-loop requests (default 0.5)")
    parser.add_argument("--poll", type=float, default=1.0,
                        help="the VEN's OpenADR poll period in seconds (default 1)")
    parser.add_argument("--seed", type=int, default=15118, help="the fleet's seed")
    parser.add_argument("--samples", type=Path,
                        help="write every sample (t, kW per vehicle, kinds, allocations) "
                             "as JSON here")
    args = parser.parse_args(argv)
    if args.vehicles < 1 or args.limit_kw < 0 or args.event_at <= 0 \
            or args.duration <= args.event_at or args.notice < 0 or args.notice > args.event_at \
            or args.loop_interval <= 0 or args.poll <= 0 \
            or (args.event_duration is not None and args.event_duration <= 0):
        parser.error("need --vehicles >= 1, --limit-kw >= 0, 0 < --event-at < --duration, "
                     "0 <= --notice <= --event-at, --loop-interval > 0, --poll > 0")
    opts = DepotOptions(vehicles=args.vehicles, limit_kw=args.limit_kw, event_at=args.event_at,
                        duration=args.duration, notice=args.notice,
                        event_duration=args.event_duration,
                        loop_interval=args.loop_interval, poll_s=args.poll, seed=args.seed)

    def note(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    # signxml (under openleadr) warns about DSA at import; nothing here signs with DSA
    warnings.filterwarnings("ignore", message="DSA is deprecated")
    # openleadr prints banners on stdout: keep stdout for the one JSON line
    with contextlib.redirect_stdout(sys.stderr):
        result = asyncio.run(run_depot(opts, note))
    samples = result.pop("samples")
    if args.samples is not None:
        args.samples.write_text(json.dumps(samples))
    if args.plot is not None:
        from plot import plot

        plot(samples, result, args.plot)
        note(f"plot written to {args.plot}")
    print(json.dumps(result), flush=True)
    ok = result["sessions_completed"] == result["vehicles"] \
        and result["seconds_to_comply"] is not None \
        and result["peak_kw_after_compliance"] <= result["limit_kw"]
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
