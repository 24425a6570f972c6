"""The ``secc`` and ``evcc`` commands: a simulated charger and a simulated vehicle.

Contract (scripts and checks rely on it): stdout carries exactly one line per V2G message
sent or received, ``TIME DIRECTION PROTOCOL MESSAGE key=value...`` (TIME in seconds since
the command started, DIRECTION ``EV->EVSE`` or ``EVSE->EV``); everything else (ready,
session ends, reasons) goes to stderr. ``secc`` exits 0 after ``--sessions N`` sessions
ended with SessionStop (``--sessions 0``: until interrupted); ``evcc`` exits 0 only after a
complete session ended by SessionStop (a paused one is resumed first), 1 otherwise with
the reason; ``evcc --sessions N`` is plugged in again after each session (SDP and a new
session, N times; 0: until interrupted) and exits 0 only if every one completed. Usage
mistakes exit 2.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, NoReturn

from iso15118.errors import Iso15118Error
from iso15118.summary import key_values, one_line

__all__ = ["add_subparser"]

SECC_EXAMPLES = """examples:
  iso15118 secc --interface eth1                              # ISO-2 and DIN, DC, EIM
  iso15118 secc -i eth1 --energy ac,dc --sessions 0           # serve until Ctrl-C
  iso15118 secc -i eth1 --tls required --pki ./pki            # test PKI made if missing
  iso15118 secc -i eth1 --config charger.toml                 # cable check 10 s, limits...
  iso15118 secc -i eth1 -i eth2 --sessions 0                  # two EVSEs, one process
  iso15118 secc -i eth1 --ocpp ws://csms:9000/ocpp --station-id CS1   # under a CSMS

config file (TOML; see iso15118.session.config):
  [evse]              evse_id, energy_modes, free_service, notification_max_delay
  [evse.dc]           max_voltage, max_current, max_power, min_voltage, min_current
  [evse.ac]           nominal_voltage, max_current
  [behaviour]         cable_check_s, authorization_delay_s, authorize, voltage_ramp_v_per_s,
                      grid_request_after_s, grid_power, exit_standby_after_s (-20)
  [session]           await_schedules, accept_session_stop_anywhere, session_id_length
  [[schedules]]       id = 1, entries = [[0, 50000, 86400]]
"""

EVCC_EXAMPLES = """examples:
  iso15118 evcc --interface eth1                              # ISO-2 (else DIN), DC, EIM
  iso15118 evcc -i eth1 --protocols din --loops 50
  iso15118 evcc -i eth1 --energy ac --pause-after 5           # pause, resume, finish
  iso15118 evcc -i eth1 --tls --trust ./pki/certs/v2g_root.pem
  iso15118 evcc -i eth1 --config vehicle.toml                 # SoC, battery, limits
  iso15118 evcc -i eth1 --protocols iso20 --standby-after 5    # -20 standby and back
  iso15118 evcc -i eth1 --sessions 0                          # plugged in again and again
  iso15118 evcc -i eth1 --protocols iso20 --tls --trust ./pki/certs/v2g_root.pem \
      --pki ./pki --auth pnc --cert-install --ecdh-curve X448  # -20 Plug & Charge

config file (TOML; see iso15118.session.config):
  [vehicle]           soc, target_soc, max_voltage, max_current, max_power, capacity_wh,
                      bulk_soc, full_soc, departure_time, evcc_id
  [battery]           empty_voltage, full_voltage, phases
  [session]           loop_interval, ongoing_interval, precharge_tolerance,
                      welding_detection, service_details, select_services
"""

_ENERGY = {
    "dc": ("DC_extended", "DC_core"),
    "ac": ("AC_three_phase_core", "AC_single_phase_core"),
    # ISO 15118-20 bidirectional: the same connectors, with power fed back
    "dc_bpt": ("DC_extended", "DC_core"),
    "ac_bpt": ("AC_three_phase_core", "AC_single_phase_core"),
}
_PROTOCOLS = {"din", "iso2", "iso20"}
#: evcc --sessions: the pause before plugging in again after a plug-in without a session
_REPLUG_AFTER_NOTHING_S = 0.5


def add_subparser(subparsers: Any) -> None:
    s = subparsers.add_parser(
        "secc", help="a simulated charger (SECC): SDP, TCP/TLS, DIN 70121 and ISO 15118-2",
        epilog=SECC_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Serve V2G sessions as a simulated charger; one stdout line per message.")
    s.add_argument("--interface", "-i", required=True, action="append",
                   help="the charging link, e.g. eth1; repeat it for one EVSE per link")
    s.add_argument("--port", type=int, default=0,
                   help="TCP port (default: a free one in 49152-65535)")
    s.add_argument("--protocols", default="iso2,din", help="accepted, e.g. iso20,iso2,din")
    s.add_argument("--energy", default="dc", help="ac, dc, ac_bpt, dc_bpt (-20), or a list")
    s.add_argument("--control", default="scheduled,dynamic",
                   help="ISO 15118-20 control modes offered: scheduled, dynamic or both")
    s.add_argument("--auth", default="eim", help="eim, pnc or eim,pnc")
    s.add_argument("--tls", choices=("none", "optional", "required"), default="none")
    s.add_argument("--pki", type=Path, metavar="DIR",
                   help="test PKI directory (made there if it holds none)")
    s.add_argument("--sessions", type=int, default=1, metavar="N",
                   help="exit after N sessions ended by SessionStop (0: run until stopped)")
    s.add_argument("--config", type=Path, metavar="FILE", help="TOML settings (see below)")
    s.add_argument("--exit-on-failure", action="store_true",
                   help="exit 1 when a session fails instead of serving the next EV")
    s.add_argument("--ocpp", metavar="URL",
                   help="run as an OCPP charging station: the CSMS's ws://HOST:PORT/PATH "
                        "(needs the 'ocpp' extra)")
    s.add_argument("--station-id", metavar="ID",
                   help="the charging station's identity (appended to the --ocpp URL)")
    s.add_argument("--ocpp-version", choices=("2.0.1", "2.1"), default="2.0.1",
                   help="OCPP version of the connection (default 2.0.1)")
    s.set_defaults(func=_run_secc, parser=s)

    e = subparsers.add_parser(
        "evcc", help="a simulated vehicle (EVCC): discovers the SECC and charges",
        epilog=EVCC_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Run a V2G session (or --sessions N of them) as a simulated vehicle; one "
        "stdout line per message.")
    e.add_argument("--interface", "-i", required=True, help="the charging link, e.g. eth1")
    e.add_argument("--protocols", default="iso2,din",
                   help="offered, preferred first, e.g. iso20,iso2,din")
    e.add_argument("--energy", choices=tuple(_ENERGY), default="dc",
                   help="ac or dc; ac_bpt or dc_bpt (ISO 15118-20, feeds power back)")
    e.add_argument("--control", choices=("scheduled", "dynamic"),
                   help="ISO 15118-20 control mode wanted (default: the charger's first)")
    e.add_argument("--auth", choices=("eim", "pnc"), default="eim")
    e.add_argument("--tls", action="store_true", help="ask for TLS in SDP (needs --trust)")
    e.add_argument("--trust", type=Path, metavar="PEM", help="V2G root certificate(s)")
    e.add_argument("--contract", "--pki", type=Path, metavar="DIR", dest="contract",
                   help="test PKI directory: the contract (or OEM) certificate for PnC, the "
                   "vehicle (OEM) certificate for -20 over TLS")
    e.add_argument("--cert-install", action="store_true",
                   help="PnC: install a contract certificate first (CertificateInstallation), "
                   "as a vehicle without one does")
    e.add_argument("--ecdh-curve", choices=("SECP521", "X448"), default="SECP521",
                   help="ISO 15118-20 PnC: the vehicle's key family in a -20 test PKI: "
                   "SECP521 (secp521r1 OEM key and contract) or X448 (Ed448 ones)")
    e.add_argument("--loops", type=int, default=20, metavar="N",
                   help="charge-loop requests before stopping (default 20)")
    e.add_argument("--pause-after", type=int, metavar="N",
                   help="pause after N loop requests, then resume the session")
    e.add_argument("--renegotiate-after", type=int, metavar="N",
                   help="renegotiate the schedule after N loop requests")
    e.add_argument("--standby-after", type=int, metavar="N",
                   help="ISO 15118-20: go to standby after N loop requests, until the "
                   "charger says ExitStandby (or --loops ends the loop)")
    e.add_argument("--sessions", type=int, default=1, metavar="N",
                   help="plugged in again after each session (any outcome): SDP and a new "
                   "session, N in all (default 1; 0: until stopped); exit 0 only if every "
                   "session completed")
    e.add_argument("--config", type=Path, metavar="FILE", help="TOML settings (see below)")
    e.set_defaults(func=_run_evcc, parser=e)


# ---------------------------------------------------------------------------- output


class _Printer:
    """One stdout line per message; the rest on stderr."""

    def __init__(self, side: str) -> None:
        self.side = side
        self.t0 = time.monotonic()
        self.loop_t0: float | None = None

    def event(self, event: Any, now: float, suffix: str = "") -> None:
        from iso15118.session.events import (
            MessageReceived,
            MessageSent,
            ProtocolNegotiated,
            SessionEnded,
        )

        if self.loop_t0 is None:
            self.loop_t0 = now - (time.monotonic() - self.t0)
        if isinstance(event, (MessageSent, MessageReceived)):
            from_ev = isinstance(event, MessageSent) == (self.side == "evcc")
            direction = "EV->EVSE" if from_ev else "EVSE->EV"
            values = " ".join(f"{k}={v}" for k, v in key_values(event.message))
            parts = [f"{now - self.loop_t0:9.3f}", direction, event.protocol, event.name]
            parts += [p for p in (one_line(values), suffix) if p]
            print(" ".join(parts), flush=True)
        elif isinstance(event, ProtocolNegotiated):
            self.note(f"{event.protocol} ({event.namespace}) over {event.link}"
                      + (f" {suffix}" if suffix else ""))
        elif isinstance(event, SessionEnded):
            sid = event.session_id.hex().upper() if event.session_id else "-"
            code = f" ({event.response_code})" if event.response_code else ""
            self.note(f"session {sid} {event.outcome.value}: {event.reason}{code}")

    def note(self, text: str) -> None:
        print(f"{self.side}: {text}", file=sys.stderr, flush=True)


def _usage(args: argparse.Namespace, message: str) -> NoReturn:
    """A usage mistake: one line on stderr, exit status 2 (the CLI's contract)."""
    parser: argparse.ArgumentParser = args.parser
    parser.error(message)


def _split(args: argparse.Namespace, text: str, allowed: set[str], what: str) -> list[str]:
    items = [t.strip().lower() for t in text.split(",") if t.strip()]
    bad = [t for t in items if t not in allowed]
    if bad or not items:
        _usage(args, f"--{what}: {', '.join(bad) or 'nothing'} not one of "
                     f"{', '.join(sorted(allowed))}")
    return items


# ---------------------------------------------------------------------------- charger


def _test_pki(directory: Path | None, printer: _Printer, version: int = 2
              ) -> tuple[Path, Path, Path, Path]:
    """(SECC chain PEM, its key, V2G root PEM, OEM root PEM) from a test PKI, made (of
    ``version``) if missing."""
    from iso15118.pki import create_test_pki, secc_tls_files, vehicle_tls_files

    base = directory or Path(tempfile.mkdtemp(prefix="v2g-test-pki-"))
    if not (base / "index.json").exists():
        create_test_pki(base, version)
    chain, key, root = secc_tls_files(base)
    oem_root = vehicle_tls_files(base)[2]
    printer.note(f"test PKI in {base}; vehicles trust {root}")
    return chain, key, root, oem_root


def _charger(args: argparse.Namespace, printer: _Printer) -> tuple[Any, Any, Any]:
    from iso15118.session import EnergyMode, EVSEState, Payment, SeccConfig
    from iso15118.session.config import apply_table, load_toml, schedules_from, services_from
    from iso15118.session.simulation import ChargerBehaviour
    from iso15118.session.values import ControlMode

    protocols = _split(args, args.protocols, _PROTOCOLS, "protocols")
    energy = _split(args, args.energy, set(_ENERGY), "energy")
    auth = _split(args, args.auth, {"eim", "pnc"}, "auth")
    control = _split(args, args.control, {"scheduled", "dynamic"}, "control")
    evse = EVSEState(
        energy_modes=tuple(dict.fromkeys(EnergyMode(m) for e in energy for m in _ENERGY[e])),
        payment_options=tuple(Payment.EIM if a == "eim" else Payment.PNC for a in auth),
        bidirectional=any(e.endswith("_bpt") for e in energy),
        control_modes=tuple(ControlMode(c.capitalize()) for c in control))
    behaviour = ChargerBehaviour()
    config = SeccConfig(protocols=tuple(protocols))
    if args.config is not None:
        data = load_toml(args.config)
        for section, target in (("evse", evse), ("behaviour", behaviour), ("session", config)):
            if section in data:
                apply_table(target, data.pop(section), section)
        if "schedules" in data:
            evse.schedules = schedules_from(data.pop("schedules"))
        if "services" in data:
            evse.services = services_from(data.pop("services"))
        if data:
            raise Iso15118Error(f"{args.config}: unknown section(s) {', '.join(data)}")
    return evse, behaviour, config


def _run_secc(args: argparse.Namespace) -> int:
    printer = _Printer("secc")
    if args.ocpp is not None and not args.station_id:
        _usage(args, "--ocpp needs --station-id ID")
    if args.station_id and args.ocpp is None:
        _usage(args, "--station-id is for --ocpp URL")
    if args.ocpp is not None:
        if not args.ocpp.startswith(("ws://", "wss://")):
            _usage(args, f"--ocpp {args.ocpp}: not a ws:// or wss:// URL")
        try:
            import iso15118.ocpp.station  # noqa: F401 - the extra is there
        except ImportError as exc:
            _usage(args, f"--ocpp needs the 'ocpp' extra (pip install "
                         f"'v2g-iso15118[ocpp]', Python >= 3.11): {exc}")
    evse, behaviour, config = _charger(args, printer)
    ssl_context = None
    if args.tls != "none" and "iso20" in config.protocols:
        # TLS 1.3 with the vehicle's certificate for -20 (and TLS 1.2 on the same port when
        # -2 is offered too); the PKI made is -20's unless -2 shares the certificate.
        from iso15118.transport import iso20_server_context

        both = "iso2" in config.protocols
        chain, key, _root, oem_root = _test_pki(args.pki, printer, 2 if both else 20)
        ssl_context = iso20_server_context(chain, key, cafile=oem_root, group=None,
                                           also_iso2=both)
    elif args.tls != "none":
        from iso15118.transport import iso2_server_context

        chain, key, _root, _oem = _test_pki(args.pki, printer)
        ssl_context = iso2_server_context(chain, key)
    if "pnc" in args.auth:
        from iso15118.session.pnc import SeccPnc

        config.pnc = SeccPnc.from_test_pki(_test_pki_dir(args, printer))
        if args.ocpp is not None:
            # the CSMS decides: Get15118EVCertificate answers installations, Authorize
            # (C07) authorizes contracts
            config.pnc.certificate_backend = lambda exi, message: None
            config.auto_authorize = False
    try:
        return asyncio.run(_serve(args, printer, evse, behaviour, config, ssl_context))
    except KeyboardInterrupt:
        return 130


def _test_pki_dir(args: argparse.Namespace, printer: _Printer) -> Path:
    directory: Path | None = args.pki
    if directory is None:
        _usage(args, "--auth pnc needs --pki DIR (the test PKI of the MO and CPS)")
    if not (directory / "index.json").exists():
        _test_pki(directory, printer)
    return directory


async def _serve(args: argparse.Namespace, printer: _Printer, evse: Any, behaviour: Any,
                 config: Any, ssl_context: Any) -> int:
    from iso15118.session.events import Outcome
    from iso15118.session.runner import Charger, EVSEEndpoint
    from iso15118.session.simulation import SimulatedCharger

    done: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    completed = 0
    session_config = behaviour.session_config(config)

    def application_for(sim: SimulatedCharger) -> Any:
        def application(session: Any) -> Any:
            sim.attach(session)
            return sim.on_event
        return application

    def on_end(_ep: Any, ended: Any) -> None:
        nonlocal completed
        if ended.outcome is Outcome.COMPLETED:
            completed += 1
            if args.sessions and completed >= args.sessions and not done.done():
                done.set_result(0)
        elif ended.outcome is Outcome.FAILED and args.exit_on_failure and not done.done():
            done.set_result(1)

    endpoints = []
    for i, interface in enumerate(args.interface):
        state = copy.deepcopy(evse)  # each EVSE has its own state and hardware
        port = args.port + i if args.port else 0
        endpoints.append(EVSEEndpoint(
            interface, state, session_config, tls=args.tls, ssl_context=ssl_context,
            port=port if args.tls != "required" else 0,
            tls_port=port if args.tls == "required" else 0,
            application=application_for(SimulatedCharger(state, behaviour))))
    several = len(endpoints) > 1

    def on_event(ep: Any, event: Any, now: float) -> None:
        printer.event(event, now, f"evse={ep.interface}" if several else "")

    station = None
    if args.ocpp is not None:
        station = await _station(args, printer, endpoints, session_config)
        if station is None:
            return 1
    charger = Charger(endpoints, on_event=on_event, on_session_end=on_end)
    try:
        async with charger:
            for ep in endpoints:
                ports = ", ".join(f"{'TLS' if sec.name == 'TLS' else 'TCP'} {p}"
                                  for sec, p in ep.ports.items())
                printer.note(f"ready on {ep.interface}: {ports}; protocols "
                             f"{','.join(session_config.protocols)}")
            return await done
    finally:
        if station is not None:
            await station.close()


async def _station(args: argparse.Namespace, printer: _Printer, endpoints: list[Any],
                   config: Any) -> Any:
    """The OCPP charging station over ``endpoints`` (EVSE ids 1, 2, ... in --interface
    order), connected and booted; None (after saying why) when the CSMS cannot be reached."""
    from websockets.exceptions import WebSocketException

    from iso15118.ocpp.smart_charging import ElectricalBasis
    from iso15118.ocpp.station import ChargingStation, OcppCallError, StationEvse

    evses = []
    for i, ep in enumerate(endpoints, start=1):
        dc = any(m.is_dc for m in ep.evse.energy_modes)
        evses.append(StationEvse(
            i, ep.evse, max_power=ep.evse.dc.max_power if dc else ep.evse.ac.max_power,
            basis=ElectricalBasis(ac_voltage=ep.evse.ac.nominal_voltage, dc=dc,
                                  dc_voltage=ep.evse.dc.max_voltage)))
    station = ChargingStation(args.station_id, evses, version=args.ocpp_version,
                              pnc=config.pnc)
    for i, ep in enumerate(endpoints, start=1):
        ep.application = station.application(i, ep.application)
    try:
        await asyncio.wait_for(station.connect(args.ocpp), 30)
    except (OSError, Iso15118Error, OcppCallError, asyncio.TimeoutError,
            WebSocketException) as exc:
        printer.note(f"error: cannot reach the CSMS at {args.ocpp}: {exc}")
        await station.close()
        return None
    printer.note(f"ocpp: station {args.station_id} connected to {args.ocpp} "
                 f"(OCPP {args.ocpp_version}, {len(evses)} EVSE)")
    return station


# ---------------------------------------------------------------------------- vehicle


def _vehicle(args: argparse.Namespace) -> tuple[Any, Any, Any]:
    from iso15118.session import EnergyMode, EvccConfig, EVState, Payment
    from iso15118.session.config import apply_table, load_toml
    from iso15118.session.simulation import VehicleBehaviour
    from iso15118.session.values import ControlMode

    protocols = _split(args, args.protocols, _PROTOCOLS, "protocols")
    ev = EVState(energy_mode=EnergyMode(_ENERGY[args.energy][0]),
                 payment=Payment.PNC if args.auth == "pnc" else Payment.EIM,
                 bidirectional=args.energy.endswith("_bpt"),
                 control_mode=ControlMode(args.control.capitalize()) if args.control else None)
    if args.energy.startswith("ac"):
        ev.max_current, ev.max_voltage, ev.min_current = 32.0, 400.0, 6.0
        ev.max_power = 22_000.0
    battery = VehicleBehaviour()
    config = EvccConfig(protocols=tuple(protocols), loops=args.loops, loop_interval=0.1,
                        pause_after=args.pause_after,
                        renegotiate_after=args.renegotiate_after,
                        standby_after=args.standby_after)
    if args.config is not None:
        data = load_toml(args.config)
        for section, target in (("vehicle", ev), ("battery", battery), ("session", config)):
            if section in data:
                apply_table(target, data.pop(section), section)
        if data:
            raise Iso15118Error(f"{args.config}: unknown section(s) {', '.join(data)}")
    return ev, battery, config


def _run_evcc(args: argparse.Namespace) -> int:
    printer = _Printer("evcc")
    if args.sessions < 0:
        _usage(args, "--sessions must be 0 (until stopped) or more")
    ev, battery, config = _vehicle(args)
    ssl_context = None
    if args.tls:
        if args.trust is None:
            _usage(args, "--tls needs --trust PEM (the V2G root to check the SECC)")
        if "iso20" in config.protocols:
            if args.contract is None:
                _usage(args, "--tls with iso20 needs --pki DIR (the test PKI with the "
                       "vehicle certificate -20's TLS presents)")
            from iso15118.pki import vehicle_tls_files
            from iso15118.transport import iso20_client_context

            chain, key, _oem_root = vehicle_tls_files(args.contract)
            ssl_context = iso20_client_context(certfile=chain, keyfile=key, cafile=args.trust,
                                               group=None,
                                               also_iso2="iso2" in config.protocols)
        else:
            from iso15118.transport import iso2_client_context

            ssl_context = iso2_client_context(cafile=args.trust)
    if args.auth == "pnc":
        if args.contract is None:
            _usage(args, "--auth pnc needs --contract DIR")
        from iso15118.session.pnc import EvccPnc

        config.pnc = EvccPnc.from_test_pki(args.contract, contract=not args.cert_install,
                                           curve=args.ecdh_curve)
    try:
        return asyncio.run(_drive_vehicle(args, printer, ev, battery, config, ssl_context))
    except KeyboardInterrupt:
        return 130


async def _drive_vehicle(args: argparse.Namespace, printer: _Printer, ev: Any, battery: Any,
                         config: Any, ssl_context: Any) -> int:
    """``--sessions N`` plug-ins in one process (0: until stopped); 0 if all completed.

    One process for many sessions because a fuzzer of the vehicle role needs a fresh
    session per case: a process start (about 1 s) per session would dominate, and a
    vehicle that exits after each session cannot be watched with ``--target-pid``."""
    from iso15118.session.events import Outcome

    single = args.sessions == 1
    completed = failed = 0
    number = 0
    while not args.sessions or number < args.sessions:
        number += 1
        # every plug-in starts from the configured vehicle (SoC, limits), so the sessions
        # are alike however many ran before: a fuzzing case replays from its number only
        # if the vehicle it meets does not drift
        outcome = await _one_vehicle_session(args.interface, printer, copy.deepcopy(ev),
                                             battery, config, ssl_context, catch=not single)
        if outcome is Outcome.COMPLETED:
            completed += 1
        else:
            failed += 1
        if outcome is None and not single:
            # no session at all (no SECC answered, the port refused): a moment before the
            # next plug-in, not a busy loop against a link that is down
            await asyncio.sleep(_REPLUG_AFTER_NOTHING_S)
        if not single:
            total = args.sessions or "-"
            printer.note(f"plug-in {number}/{total}: {completed} completed, {failed} not")
    return 0 if failed == 0 else 1


async def _one_vehicle_session(interface: str, printer: _Printer, ev: Any, battery: Any,
                               config: Any, ssl_context: Any, *, catch: bool) -> Any:
    """One plug-in: SDP, a session (resumed after a pause), the outcome said on stderr.
    Returns the session's outcome, or None when it never got one (no SECC, refused...);
    with ``catch`` a transport or TLS error is such a failure too (the next plug-in
    follows), without it only the library's own errors are."""
    from iso15118.session.events import Outcome
    from iso15118.session.runner import run_vehicle
    from iso15118.session.simulation import SimulatedVehicle

    car = SimulatedVehicle(ev, battery)

    def on_event(event: Any, now: float) -> None:
        car.on_event(event, now)
        printer.event(event, now)

    errors: tuple[type[BaseException], ...] = (Iso15118Error, OSError) if catch \
        else (Iso15118Error,)
    try:
        ended = await run_vehicle(interface, ev, config, ssl_context=ssl_context,
                                  on_event=on_event, attach=car.attach)
    except errors as exc:
        printer.note(f"failed: {exc or type(exc).__name__}")
        return None
    if ended.outcome is Outcome.COMPLETED:
        printer.note(f"complete: SoC {ev.soc:.1f} %, {car.energy_wh:.1f} Wh charged")
    else:
        printer.note(f"failed: {ended.reason}")
    return ended.outcome
