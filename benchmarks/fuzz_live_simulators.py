"""The long fuzz-live campaign against our own simulators (issue 20), run by hand.

As the EV against ``iso15118 secc`` (every protocol and state the simulator serves), and
as the charger against ``iso15118 evcc``, each in its own network namespace joined by a
veth pair (SDP needs link-local multicast, which ``lo`` does not carry). As the charger,
one ``evcc --sessions 0`` process per protocol/energy pair plugs in again after every
session, so one campaign per pair (cases split evenly) meets the vehicle that speaks its
protocol in every case. Both simulators are watched with ``--target-pid`` for crashes and
fd/RSS leaks, and a dead vehicle is started again by ``--restart-cmd`` (a script written
next to the campaign's output). Any crash, hang or protocol violation on our side is a
bug.

    sudo python benchmarks/fuzz_live_simulators.py --cases 100000 --streams 4 --out /tmp/fz-sim
    sudo python benchmarks/fuzz_live_simulators.py --role evse --cases 300 --out /tmp/fz-ev
    sudo python benchmarks/fuzz_live_simulators.py --tls --protocol iso20-dc,iso20-ac \
        --cases 1000 --out /tmp/fz-tls     # -20 over mutual TLS 1.3 (a test PKI in --out)

Needs root and iproute2 (``tests/support/netns.py`` makes the namespaces). Prints the
campaign's summary and leaves report.json and the findings in ``--out``. Long campaigns
are run as several seeds in a row (``--chunk``), so that one dead target costs one chunk.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from support.netns import in_netns, netns_pair  # noqa: E402

PROTOCOLS = "din,iso2-dc,iso2-ac,iso20-dc,iso20-ac,iso20-dc-bpt"
#: no hardware delays in the simulator: the campaign counts cases, not seconds
FAST_CHARGER = """[behaviour]
cable_check_s = 0.0
voltage_ramp_v_per_s = 1000000.0
current_ramp_a_per_s = 1000000.0
"""


def env() -> dict[str, str]:
    out = dict(os.environ)
    out["PYTHONPATH"] = str(ROOT / "src") + os.pathsep + out.get("PYTHONPATH", "")
    out["PYTHONUNBUFFERED"] = "1"
    return out


CLI = [sys.executable, "-m", "iso15118"]


def tls_options(args: argparse.Namespace) -> tuple[list[str], list[str]]:
    """``--tls``: (the charger's options, the fuzzer's) over one test PKI in ``--out``
    (-20's when every profile is -20, else -2's, which serves both, as ``secc`` makes it)."""
    if not args.tls:
        return [], []
    from iso15118.pki import create_test_pki, secc_tls_files

    only20 = all(p.startswith("iso20") for p in args.protocol.split(","))
    pki = args.out / "pki"
    if not (pki / "index.json").exists():
        create_test_pki(pki, 20 if only20 else 2)
    root = secc_tls_files(pki)[2]
    return (["--tls", "required", "--pki", str(pki)],
            ["--tls", "--trust", str(root), "--pki", str(pki)])


def start_charger(ns: str, iface: str, config: Path, log: Path,
                  tls: list[str] | None = None) -> subprocess.Popen[str]:
    # stderr to a file: a pipe nobody reads fills up and blocks the charger's event loop
    # (which looks exactly like a hang and a dead SDP responder)
    with log.open("w") as err:
        proc = subprocess.Popen(
            in_netns(ns, *CLI, "secc", "-i", iface, "--protocols", "iso20,iso2,din",
                     "--energy", "dc,ac,dc_bpt", "--sessions", "0", "--config", str(config),
                     *(tls or [])),
            stdout=subprocess.DEVNULL, stderr=err, text=True, env=env())
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and "ready on" not in log.read_text():
        time.sleep(0.1)
    return proc


def run_ev_role(args: argparse.Namespace) -> list[dict[str, object]]:
    reports = []
    with netns_pair() as pair:
        config = args.out / "charger.toml"
        args.out.mkdir(parents=True, exist_ok=True)
        charger_tls, fuzzer_tls = tls_options(args)
        # serving -2 and -20 on one TLS port leaves the vehicle certificate optional at the
        # TLS level: the session must insist on it for -20 (ISO 15118-20 7.7), or the
        # fuzzer's TLS check rightly reports -20 agreed without it
        config.write_text(FAST_CHARGER + ("[session]\nrequire_vehicle_certificate = true\n"
                                          if args.tls else ""))
        done = 0
        seed = args.seed
        while done < args.cases:
            n = min(args.chunk, args.cases - done)
            out = args.out / f"seed-{seed}"
            out.mkdir(parents=True, exist_ok=True)
            charger = start_charger(pair.secc_ns, pair.secc_if, config, out / "charger.log",
                                    charger_tls)
            started = time.monotonic()
            result = subprocess.run(
                in_netns(pair.evcc_ns, *CLI, "fuzz-live", "--role", "ev", "--interface",
                         pair.evcc_if, "--protocol", args.protocol, "--state", "all",
                         "--cases", str(n), "--seed", str(seed), "--out", str(out),
                         "--deadline-ms", str(args.deadline_ms), "--rate", "1000",
                         "--target-pid", str(charger.pid), *fuzzer_tls),
                capture_output=True, text=True, env=env())
            elapsed = time.monotonic() - started
            alive = charger.poll() is None
            charger.kill()
            charger.wait()
            report = json.loads((out / "report.json").read_text()) if (
                out / "report.json").exists() else {"error": result.stderr[-500:]}
            report["wall_s"] = round(elapsed, 1)
            report["charger_alive_after"] = alive
            # an exception that kills one connection's handler is invisible on the wire
            # (it looks like a close); the charger's log shows it
            log = (out / "charger.log").read_text()
            report["charger_tracebacks"] = log.count("Traceback")
            report["charger_sessions"] = sum(log.count(f" over {link}")
                                             for link in ("TCP", "TLSv1.2", "TLSv1.3"))
            reports.append(report)
            print(f"seed {seed}: exit {result.returncode}, {report.get('cases_run')} cases "
                  f"in {elapsed:.0f} s, {len(report.get('findings', []))} finding(s), "
                  f"{report['charger_tracebacks']} traceback(s) in the charger's log",
                  flush=True)
            sys.stdout.write(result.stdout)
            done += n
            seed += 1
    return reports


#: the charger role's vehicles: for each fuzz-live protocol, the evcc that speaks it
VEHICLES = {"din": ("din", "dc"), "iso2-dc": ("iso2", "dc"), "iso2-ac": ("iso2", "ac"),
            "iso20-dc": ("iso20", "dc"), "iso20-ac": ("iso20", "ac"),
            "iso20-dc-bpt": ("iso20", "dc_bpt")}


def vehicle_script(out: Path, ns: str, iface: str, protocol: str) -> Path:
    """The ``--restart-cmd`` of one campaign: ends the vehicle still running (one that
    stopped plugging in is alive but useless), starts ``evcc --sessions 0`` again in the
    background and prints its pid. Its stdout (a line per message) is dropped; stderr
    (session ends, tracebacks) goes to ``vehicle.log``."""
    protocols, energy = VEHICLES[protocol]
    pidfile, log = out / "vehicle.pid", out / "vehicle.log"
    command = shlex.join(in_netns(ns, *CLI, "evcc", "-i", iface, "--protocols", protocols,
                                  "--energy", energy, "--loops", "3", "--sessions", "0"))
    script = out / "restart-vehicle.sh"
    script.write_text(f"""#!/bin/sh
[ -f {pidfile} ] && kill -9 "$(cat {pidfile})" 2>/dev/null
{command} >/dev/null 2>>{log} &
echo $! > {pidfile}
echo $!
""")
    script.chmod(0o755)
    return script


def run_evse_role(args: argparse.Namespace) -> list[dict[str, object]]:
    reports: list[dict[str, object]] = []
    protocols = [p for p in args.protocol.split(",") if p]
    with netns_pair() as pair:
        for k, protocol in enumerate(protocols):
            n = args.cases // len(protocols) + (k < args.cases % len(protocols))
            if n == 0:
                continue
            out = args.out / f"evse-{protocol}-seed-{args.seed + k}"
            out.mkdir(parents=True, exist_ok=True)
            script = vehicle_script(out, pair.evcc_ns, pair.evcc_if, protocol)
            # the first vehicle comes from the same script; it keeps asking SDP until the
            # fuzzer (started next) answers
            pid = subprocess.run([str(script)], capture_output=True, text=True, env=env(),
                                 timeout=60, check=True).stdout.split()[-1]
            started = time.monotonic()
            result = subprocess.run(
                in_netns(pair.secc_ns, *CLI, "fuzz-live", "--role", "evse", "--interface",
                         pair.secc_if, "--protocol", protocol, "--state", "all",
                         "--cases", str(n), "--seed", str(args.seed + k), "--out", str(out),
                         "--deadline-ms", str(args.deadline_ms), "--rate", "1000",
                         "--target-pid", pid, "--restart-cmd", str(script)),
                capture_output=True, text=True, env=env())
            elapsed = time.monotonic() - started
            last = (out / "vehicle.pid").read_text().strip()
            alive = Path(f"/proc/{last}").exists()
            subprocess.run(["kill", "-9", last], capture_output=True)
            report: dict[str, Any] = json.loads((out / "report.json").read_text()) if (
                out / "report.json").exists() else {"error": result.stderr[-500:]}
            log = (out / "vehicle.log").read_text() if (out / "vehicle.log").exists() else ""
            report.update(protocol=protocol, wall_s=round(elapsed, 1),
                          vehicle_alive_after=alive,
                          vehicle_tracebacks=log.count("Traceback"),
                          vehicle_sessions=log.count("evcc: plug-in "))
            reports.append(report)
            print(f"{protocol} seed {args.seed + k}: exit {result.returncode}, "
                  f"{report.get('cases_run')} cases in {elapsed:.0f} s "
                  f"({int(report.get('cases_run', 0)) / max(elapsed, 1e-9):.2f}/s), "
                  f"{len(report.get('findings', []))} finding(s), "
                  f"{report.get('restarts', 0)} restart(s), "
                  f"{report['vehicle_tracebacks']} traceback(s) in the vehicle's log",
                  flush=True)
            sys.stdout.write(result.stdout)
    return reports


def run_streams(args: argparse.Namespace) -> list[dict[str, object]]:
    """``--streams K``: K campaigns at once, each its own copy of this script with its own
    namespace pair, charger and seeds (stream k starts at seed + 1000 k). A case mostly
    waits (for a deadline, an SDP answer, a close), so streams add up on 2 cores."""
    share = -(-args.cases // args.streams)
    procs = []
    for k in range(args.streams):
        out = args.out / f"stream-{k}"
        out.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, __file__, "--role", args.role, "--streams", "1",
               "--cases", str(min(share, args.cases - k * share)), "--chunk", str(args.chunk),
               "--seed", str(args.seed + 1000 * k), "--protocol", args.protocol,
               "--deadline-ms", str(args.deadline_ms), "--out", str(out),
               *(["--tls"] if args.tls else [])]
        log = (out / "stream.log").open("w")
        procs.append((subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env()),
                      out, log))
    reports: list[dict[str, object]] = []
    for proc, out, log in procs:
        proc.wait()
        log.close()
        summary = out / f"summary-{args.role}.json"
        if summary.exists():
            reports.extend(json.loads(summary.read_text())["reports"])
        else:
            reports.append({"error": f"{out}: no summary (exit {proc.returncode})"})
    return reports


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--role", choices=("ev", "evse"), default="ev")
    ap.add_argument("--cases", type=int, default=100_000)
    ap.add_argument("--chunk", type=int, default=5000)
    ap.add_argument("--seed", type=int, default=1000)
    ap.add_argument("--protocol", default=PROTOCOLS)
    ap.add_argument("--deadline-ms", type=int, default=500)
    ap.add_argument("--streams", type=int, default=1,
                    help="campaigns run at once, each in its own namespace pair")
    ap.add_argument("--tls", action="store_true",
                    help="as the EV: the charger serves TLS only (a test PKI made in --out); "
                    "-2/DIN cases over TLS 1.2, -20 over TLS 1.3 with the vehicle certificate")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    if args.streams > 1:
        reports = run_streams(args)
    else:
        reports = run_ev_role(args) if args.role == "ev" else run_evse_role(args)
    total = sum(int(r.get("cases_run", 0)) for r in reports)  # type: ignore[call-overload]
    findings = [f for r in reports for f in r.get("findings", [])]  # type: ignore[attr-defined]
    summary = {"cases_run": total, "findings": len(findings),
               "charger_tracebacks": sum(int(r.get("charger_tracebacks", 0))  # type: ignore[call-overload]
                                         for r in reports),
               "vehicle_tracebacks": sum(int(r.get("vehicle_tracebacks", 0))  # type: ignore[call-overload]
                                         for r in reports),
               "restarts": sum(int(r.get("restarts", 0)) for r in reports),  # type: ignore[call-overload]
               "by_class": {c: sum(1 for f in findings if f["class"] == c)
                            for c in sorted({f["class"] for f in findings})},
               "wall_s": sum(float(r.get("wall_s", 0)) for r in reports),  # type: ignore[arg-type]
               "elapsed_s": round(time.monotonic() - started, 1),
               "verdicts": dict(sum((Counter(r.get("verdicts", {})) for r in reports),  # type: ignore[arg-type]
                                    Counter())),
               "unconfirmed": sum(len(r.get("unconfirmed", [])) for r in reports),  # type: ignore[arg-type]
               "fuzzer_errors": sum(len(r.get("fuzzer_errors", [])) for r in reports),  # type: ignore[arg-type]
               "not_reached": sum(int(r.get("not_reached", 0)) for r in reports),  # type: ignore[call-overload]
               "reports": reports}
    (args.out / f"summary-{args.role}.json").write_text(json.dumps(summary, indent=1))
    print(json.dumps({k: v for k, v in summary.items() if k != "reports"}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
