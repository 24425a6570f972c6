"""The ``fuzz-live`` command: a stateful fuzzer for a live charger (SECC) or vehicle (EVCC).

Contract (issue 20; scripts rely on it, extend but do not rename): one line per finding
on stdout, ``FINDING <id> <class> state=<State> layer=<layer> case=<n>``; a progress bar on
stderr, only on a terminal; ``DIR/report.json`` with ``seed``, ``cases_run`` and
``findings`` (``id``, ``class``, ``state``, ``layer``, ``case``, ``input_hex``,
``minimised_hex``, ``dir``; ``service`` for liveness); exit 0 without findings, 1 with,
2 on usage or setup errors (the target unreachable before the first case). ``--replay
DIR/findings/F001`` reruns one finding against the same target options and exits 1 if it
reproduces, 0 if not. ``--restart-cmd CMD`` (an extension) brings a dead target back,
so that crash and liveness findings are minimised and the campaign goes on after them.
The library behind it is :mod:`iso15118.fuzzing`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import ssl
import sys
from pathlib import Path
from typing import Any, NoReturn

from iso15118.errors import Iso15118Error

__all__ = ["add_subparser"]

EXAMPLES = """examples:
  # 1. as the EV against a charger found by SDP: every state of ISO-2 DC, 1000 cases
  iso15118 fuzz-live --role ev --interface eth1 --protocol iso2-dc --state all \\
      --cases 1000 --seed 1 --out run1
  # 2. as the charger against a vehicle, the charge loop of DIN and ISO-2, a local
  #    process watched for crashes and fd/RSS leaks
  iso15118 fuzz-live --role evse --interface eth1 --protocol din,iso2-dc \\
      --state CurrentDemand,PowerDelivery --cases 200 --seed 7 --out run2 --target-pid 4242
  # 3. rerun one finding (exit 1 if it reproduces) against a charger at a fixed address
  iso15118 fuzz-live --role ev --address fe80::1%eth1 --port 50000 --tls \\
      --out replay1 --replay run1/findings/F001

  # with 1. or 2., a crash or a dead service need not end the run: add
  #   --restart-cmd './start-charger.sh >/dev/null 2>&1 & echo $!'
  # (the last stdout line, a pid, becomes --target-pid); the finding is minimised and
  # the campaign goes on to its --cases
TLS: -2 and DIN cases use TLS 1.2; -20 cases TLS 1.3 with the vehicle certificate of
--pki DIR (as the charger: the SECC certificate and OEM root of --pki), and as the EV
two checks that a -20 charger refuses TLS 1.2 and a link without that certificate.

classes: reset, hang, violation, liveness (service sdp|tcp|sap|session), crash, leak;
layers: v2gtp, exi, sdp, session. What the standard requires (closing on a bad V2GTP
header, ignoring a malformed SDP datagram, waiting for a frame's promised bytes, FAILED
then close) is never reported. Exit: 0 no findings, 1 findings, 2 usage/setup error.
"""


def add_subparser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "fuzz-live", help="stateful fuzzer for a live charger or vehicle",
        description="Drive a correct session to a state with our session layer, send a "
        "damaged message there (V2GTP, EXI, facets, structure, session faults, SDP) and "
        "judge the target's reaction; findings are stored with their input, transcript, "
        "pcap and key log, minimised, and replayable.",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--role", choices=("ev", "evse"),
                   help="ev: we are the vehicle (target: an SECC); evse: the charger")
    p.add_argument("--interface", "-i", help="find the peer by SDP on this interface")
    p.add_argument("--address", help="the target's address (may carry %%IF); evse: where "
                   "to listen")
    p.add_argument("--port", type=int, help="the target's TCP port; evse: where to listen")
    p.add_argument("--tls", action="store_true", help="TLS (a key log goes to DIR/keys.log)")
    p.add_argument("--protocol", help="din, iso2-dc, iso2-ac, iso20-dc, iso20-ac, "
                   "iso20-dc-bpt, or a comma list")
    p.add_argument("--state", default="all", help="message names without Req/Res, comma "
                   "separated (SDP for discovery), or all (default)")
    p.add_argument("--cases", type=int, default=100, help="how many cases (default 100)")
    p.add_argument("--seed", type=int, default=0, help="cases replay from (seed, number)")
    p.add_argument("--out", type=Path, help="the report and findings go here")
    p.add_argument("--deadline-ms", type=int, default=2000,
                   help="no reaction within this is a hang (default 2000)")
    p.add_argument("--target-pid", type=int, help="the target's process (local): crash "
                   "and fd/RSS leak detection")
    p.add_argument("--replay", type=Path, metavar="FINDING_DIR",
                   help="rerun one finding; exit 1 if it reproduces, 0 if not")
    p.add_argument("--trust", type=Path, metavar="PEM",
                   help="ev --tls: the V2G root to check the SECC with (default: no check)")
    p.add_argument("--cert", type=Path, metavar="PEM",
                   help="evse --tls: the SECC certificate chain (with --key)")
    p.add_argument("--key", type=Path, metavar="PEM")
    p.add_argument("--pki", type=Path, metavar="DIR",
                   help="--tls with iso20: the test PKI (as for evcc/secc --pki); ev: the "
                   "vehicle certificate -20's TLS 1.3 presents; evse: the SECC certificate "
                   "and the OEM root vehicles are checked against (made if missing)")
    p.add_argument("--rate", type=float, default=20.0,
                   help="at most this many cases per second (default 20)")
    p.add_argument("--probe-every", type=int, default=50, metavar="N",
                   help="liveness probe every N cases, besides after each finding")
    p.add_argument("--restart-cmd", metavar="CMD",
                   help="shell command that brings a dead target back (a power-cycle "
                   "script, systemctl restart ..., a simulator started again); its last "
                   "stdout line, if an integer, is the new --target-pid. Crash and "
                   "liveness findings are then minimised and the campaign goes on")
    p.add_argument("--restart-timeout", type=float, default=60.0, metavar="S",
                   help="--restart-cmd may take S seconds, and the target S more to "
                   "answer again (default 60)")
    p.add_argument("--vehicle-wait", type=float, default=60.0, metavar="S",
                   help="evse: how long to wait for the vehicle to connect or ask SDP "
                   "again before it counts as gone (default 60)")
    p.add_argument("--sdp-port", type=int, default=15118, help=argparse.SUPPRESS)
    p.set_defaults(func=run)


def _usage(args: argparse.Namespace, message: str) -> NoReturn:
    print(f"iso15118 fuzz-live: error: {message}", file=sys.stderr)
    raise SystemExit(2)


def _target(args: argparse.Namespace, keylog: Path, profiles: tuple[str, ...]) -> Any:
    from iso15118.fuzzing import Target

    if args.role is None:
        _usage(args, "--role ev|evse is required")
    if args.interface is None and args.address is None and args.role == "ev":
        _usage(args, "give --interface IF, or --address ADDR --port N")
    if args.address is not None and args.port is None and args.role == "ev":
        _usage(args, "--address needs --port")
    if args.deadline_ms <= 0 or args.rate <= 0 or args.vehicle_wait <= 0:
        _usage(args, "--deadline-ms, --rate and --vehicle-wait must be positive")
    if args.pki is not None and not args.tls:
        _usage(args, "--pki DIR is for --tls (the certificates TLS presents)")
    target = Target(args.role, args.address, args.port, args.interface, args.tls, None,
                    args.deadline_ms / 1000.0, args.sdp_port, accept_timeout=args.vehicle_wait)
    if args.tls:
        try:
            if args.role == "ev":
                target.ssl_contexts = _vehicle_contexts(args, keylog, profiles)
            else:
                target.ssl_context = _charger_context(args, keylog, profiles)
        except (OSError, ValueError, KeyError, ssl.SSLError, Iso15118Error) as exc:
            _usage(args, f"--tls: cannot load the certificates: {exc}")
    return target


def _session_protocols(profiles: tuple[str, ...]) -> set[str]:
    from iso15118.fuzzing import PROFILES

    return {PROFILES[p].protocol for p in profiles}


def _vehicle_contexts(args: argparse.Namespace, keylog: Path, profiles: tuple[str, ...]
                      ) -> dict[str, ssl.SSLContext]:
    """As the EV, one context per session protocol: -2's TLS 1.2 without a client
    certificate (DIN, which has no TLS of its own, rides it as before: the SECC's TLS port
    agrees on the protocol in supportedAppProtocol), and -20's TLS 1.3 presenting the
    vehicle certificate of ``--pki``, with the two weaker links -20's TLS checks try.
    Without ``--trust`` the SECC is not checked."""
    from iso15118.transport import iso2_client_context, iso20_client_context

    protocols = _session_protocols(profiles)
    verify = args.trust is not None
    contexts: dict[str, ssl.SSLContext] = {}
    if protocols - {"iso20"}:
        older = iso2_client_context(cafile=args.trust, verify=verify, keylog_filename=keylog)
        contexts.update(iso2=older, din=older)
    if "iso20" in protocols:
        if args.pki is None:
            _usage(args, "--tls with iso20 needs --pki DIR (the test PKI with the vehicle "
                   "certificate -20's TLS presents)")
        from iso15118.pki import vehicle_tls_files

        chain, key, _oem_root = vehicle_tls_files(_existing_pki(args))
        # group=None: OpenSSL's default key shares; the charger picks (as `evcc` does)
        contexts["iso20"] = iso20_client_context(
            certfile=chain, keyfile=key, cafile=args.trust, verify=verify, group=None,
            keylog_filename=keylog)
        # the links of -20's TLS checks (ISO 15118-20 7.7; iso15118.fuzzing.corpus): -2's
        # TLS 1.2, and TLS 1.3 without the vehicle certificate. They do not check the
        # SECC: a handshake that fails must be the SECC refusing the link, not us
        # refusing a certificate it shows only to -2 vehicles
        contexts["iso20:tls12"] = iso2_client_context(verify=False, keylog_filename=keylog)
        contexts["iso20:no-certificate"] = iso20_client_context(
            certfile=None, cafile=None, verify=False, group=None, keylog_filename=keylog)
    return contexts


def _charger_context(args: argparse.Namespace, keylog: Path, profiles: tuple[str, ...]
                     ) -> ssl.SSLContext:
    """As the charger, the listener's one context: -2's (TLS 1.2) for DIN and -2 alone;
    -20's (TLS 1.3, the vehicle certificate checked against the OEM root of ``--pki``)
    when a profile is -20, accepting TLS 1.2 too when -2 or DIN profiles are mixed in, so
    the vehicle decides. ``--cert/--key`` name the SECC certificate; ``--pki`` supplies it
    otherwise (a test PKI made there if it holds none, as ``iso15118 secc --pki`` does)."""
    from iso15118.transport import iso2_server_context, iso20_server_context

    protocols = _session_protocols(profiles)
    older = bool(protocols - {"iso20"})
    if "iso20" not in protocols:
        if args.cert is None and args.pki is None:
            _usage(args, "--role evse --tls needs --cert PEM (and --key PEM) or --pki DIR")
        cert, key = _secc_certificate(args, 2)
        return iso2_server_context(cert, key, keylog_filename=keylog)
    if args.pki is None:
        _usage(args, "--role evse --tls with iso20 needs --pki DIR (the OEM root vehicle "
               "certificates are checked against)")
    from iso15118.pki import vehicle_tls_files

    cert, key = _secc_certificate(args, 2 if older else 20)
    oem_root = vehicle_tls_files(args.pki)[2]
    return iso20_server_context(cert, key, cafile=oem_root, group=None, also_iso2=older,
                                keylog_filename=keylog)


def _secc_certificate(args: argparse.Namespace, version: int) -> tuple[Path, Path | None]:
    """The SECC chain and key: ``--cert/--key``, else the test PKI's (made if missing,
    of ISO 15118-``version``)."""
    if args.cert is not None:
        return args.cert, args.key
    from iso15118.pki import create_test_pki, secc_tls_files

    if not (args.pki / "index.json").exists():
        create_test_pki(args.pki, version)
        print(f"iso15118 fuzz-live: made a test PKI in {args.pki}", file=sys.stderr)
    chain, key, _root = secc_tls_files(args.pki)
    return chain, key


def _existing_pki(args: argparse.Namespace) -> Path:
    pki: Path = args.pki
    if not (pki / "index.json").exists():
        _usage(args, f"--pki {pki}: no test PKI there (iso15118 pki create-test-pki DIR "
               "makes one)")
    return pki


def _profiles(args: argparse.Namespace, text: str | None) -> tuple[str, ...]:
    from iso15118.fuzzing import PROFILES

    if not text:
        _usage(args, "--protocol is required")
    names = tuple(dict.fromkeys(n.strip() for n in text.split(",") if n.strip()))
    bad = [n for n in names if n not in PROFILES]
    if bad or not names:
        _usage(args, f"unknown protocol {', '.join(bad) or text!r}: one of "
               f"{', '.join(PROFILES)}")
    return names


def run(args: argparse.Namespace) -> int:
    from iso15118.fuzzing import Campaign, FuzzError, Options, replay

    if args.out is None:
        _usage(args, "--out DIR is required")
    args.out.mkdir(parents=True, exist_ok=True)
    keylog = args.out / "keys.log"
    if args.replay is not None:
        try:
            case = json.loads((args.replay / "case.json").read_text())
            replayed = _profiles(args, str(case["profile"]))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            _usage(args, f"--replay {args.replay}: not a finding folder ({exc})")
        target = _target(args, keylog, replayed)
        try:
            shown, what = asyncio.run(replay(target, args.replay,
                                             target_pid=args.target_pid))
        except (FuzzError, Iso15118Error, OSError) as exc:
            print(f"iso15118 fuzz-live: {exc}", file=sys.stderr)
            return 2
        print(f"{'REPRODUCED' if shown else 'NOT REPRODUCED'} {args.replay} "
              f"case={case['number']}: {what}")
        return 1 if shown else 0
    profiles = _profiles(args, args.protocol)
    target = _target(args, keylog, profiles)
    states = None if args.state.strip() == "all" else tuple(
        s.strip() for s in args.state.split(",") if s.strip())
    if args.cases < 1 or args.cases > 10_000_000:
        _usage(args, "--cases must be between 1 and 10,000,000")
    if args.restart_timeout <= 0:
        _usage(args, "--restart-timeout must be positive")
    if args.restart_cmd is not None and not args.restart_cmd.strip():
        _usage(args, "--restart-cmd is empty")
    restart = None
    if args.restart_cmd is not None:
        from iso15118.fuzzing import RestartCommand

        restart = RestartCommand(args.restart_cmd, args.restart_timeout)
    progress = _Progress() if sys.stderr.isatty() else None

    def on_finding(f: Any) -> None:
        if progress is not None:
            progress.clear()
        print(f"FINDING {f.id} {f.cls.value} state={f.state} layer={f.layer.value} "
              f"case={f.case.number}", flush=True)

    options = Options(target, profiles, states, args.cases, args.seed, args.out,
                      target_pid=args.target_pid, probe_every=args.probe_every,
                      rate=args.rate, keylog=keylog if args.tls else None,
                      on_finding=on_finding,
                      on_progress=progress.update if progress is not None else None,
                      restart=restart, restart_timeout=args.restart_timeout)

    async def campaign() -> Any:
        c = Campaign(options)
        try:
            try:
                await c.setup()
            except BaseException:
                await c.close()
                raise
            return await c.run()
        finally:
            if restart is not None:
                await restart.close()

    try:
        report = asyncio.run(campaign())
    except (FuzzError, Iso15118Error, OSError) as exc:
        print(f"iso15118 fuzz-live: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    if progress is not None:
        progress.clear()
    sys.stderr.write(report.summary())
    return 1 if report.findings else 0


class _Progress:
    """A one-line progress bar on a terminal's stderr."""

    def __init__(self) -> None:
        self.shown = False

    def update(self, done: int, total: int, findings: int) -> None:
        width = 30
        filled = width * done // max(1, total)
        sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} cases, "
                         f"{findings} finding(s)")
        sys.stderr.flush()
        self.shown = True

    def clear(self) -> None:
        if self.shown:
            sys.stderr.write("\r\033[K")
            self.shown = False
