"""Encode/decode speed for the cross-implementation messages, beside the C codecs.

Messages: ``../shared/vectors/cbv2g/vectors.json`` (the bytes libcbv2g, OpenV2G and
EXIficient agree on). We time ``iso15118.codec.encode`` (model object -> EXI bytes)
and ``decode`` (bytes -> model objects), medians of repeated timeit runs, and print the
ratio to libcbv2g's C figures measured on the same kind of machine. ``--josev`` also
runs the PyPI ``iso15118`` package (Josev) in the oracle's venv, where it lives apart
from this package (both are imported as ``iso15118``).

    python benchmarks/bench_codec.py [--shared ../shared] [--josev] [--json out.json]
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import statistics
import subprocess
import sys
import timeit
from pathlib import Path

from iso15118 import codec

C_NS = {  # libcbv2g encode/decode ns per op, from vectors/cbv2g/README.md
    "appHand_supportedAppProtocolReq": (1038, 1345),
    "iso2_SessionSetupReq": (151, 181),
    "iso2_CurrentDemandReq": (651, 750),
    "iso2_ChargeParameterDiscoveryRes_DC": (1295, 1486),
    "din_CurrentDemandReq": (661, 755),
    "iso20_DC_ChargeLoopReq": (639, 733),
    "iso20_ScheduleExchangeRes_Scheduled": (755, 956),
}
PROTOCOL = {"appHand": "apphand", "iso2": "iso2", "din": "din", "iso20": None}
ISO20_NS = {"urn:iso:std:iso:15118:-20:DC": "iso20-dc",
            "urn:iso:std:iso:15118:-20:CommonMessages": "iso20-common"}


def protocol_of(m: dict) -> str:
    prefix = m["name"].split("_", 1)[0]
    return PROTOCOL[prefix] or ISO20_NS[m["namespace"]]


def median_us(fn, number: int) -> float:
    runs = timeit.repeat(fn, number=number, repeat=7)
    return statistics.median(runs) / number * 1e6


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--shared", default=str(Path(__file__).resolve().parents[2] / "shared"))
    ap.add_argument("--number", type=int, default=5000)
    ap.add_argument("--josev", action="store_true")
    ap.add_argument("--json")
    args = ap.parse_args()
    vec = json.loads((Path(args.shared) / "vectors/cbv2g/vectors.json").read_text())
    rows = []
    for m in vec["messages"]:
        proto = protocol_of(m)
        data = bytes.fromhex(m["hex"])
        msg = codec.decode(data, proto)
        assert codec.encode(msg, proto) == data, m["name"]
        enc = median_us(lambda msg=msg, proto=proto: codec.encode(msg, proto), args.number)
        dec = median_us(lambda data=data, proto=proto: codec.decode(data, proto), args.number)
        c_enc, c_dec = C_NS[m["name"]]
        rows.append({"message": m["name"], "bytes": len(data), "encode_us": enc,
                     "decode_us": dec, "c_encode_us": c_enc / 1000, "c_decode_us": c_dec / 1000})
    josev = {}
    if args.josev:
        home = Path(os.environ.get("ORACLE_HOME", Path.home() / ".cache/exi-oracle"))
        script = Path(args.shared) / "tools/exi-oracle/bench_josev.py"
        out = Path("/tmp/josev_bench.json")
        subprocess.run([str(home / "venv/bin/python"), str(script), "--json", str(out)],
                       check=True)
        josev = json.loads(out.read_text())
    print(f"{'message':40} {'B':>4} {'enc µs':>8} {'dec µs':>8} {'C enc':>6} {'C dec':>6}"
          f" {'enc/C':>6} {'dec/C':>6}")
    for r in rows:
        print(f"{r['message']:40} {r['bytes']:>4} {r['encode_us']:8.2f} {r['decode_us']:8.2f}"
              f" {r['c_encode_us']:6.2f} {r['c_decode_us']:6.2f}"
              f" {r['encode_us'] / r['c_encode_us']:6.1f} {r['decode_us'] / r['c_decode_us']:6.1f}")
    if josev:
        print_josev(rows, josev)
    scaling = schedule_scaling(vec, args.number)
    print()
    print(f"{'ScheduleExchangeRes entries':28} {'B':>6} {'enc µs':>9} {'dec µs':>9}"
          f" {'enc ns/entry':>13} {'dec ns/entry':>13}")
    for r in scaling:
        print(f"{r['entries']:28} {r['bytes']:>6} {r['encode_us']:9.1f} {r['decode_us']:9.1f}"
              f" {r['encode_ns_per_entry']:13.0f} {r['decode_ns_per_entry']:13.0f}")
    if args.json:
        Path(args.json).write_text(json.dumps({"rows": rows, "josev": josev,
                                               "schedule_scaling": scaling}, indent=2))
    return 0


JOSEV_NAMES = {  # Josev's message labels -> ours (its instances differ by a few bytes)
    "ISO-2 CurrentDemandReq": "iso2_CurrentDemandReq",
    "ISO-2 SessionSetupReq": "iso2_SessionSetupReq",
    "ISO-20 DC_ChargeLoopReq": "iso20_DC_ChargeLoopReq",
    "appHand SupportedAppProtocolReq": "appHand_supportedAppProtocolReq",
}


def print_josev(rows: list[dict], josev: dict) -> None:
    """Josev (py4j + EXIficient) medians beside ours, measured in the same run."""
    ours = {r["message"]: r for r in rows}
    print()
    print(f"{'Josev ' + josev.get('josev_version', ''):40} {'to_exi µs':>10} {'from_exi µs':>12}"
          f" {'x ours enc':>11} {'x ours dec':>11}")
    for j in josev.get("josev", []):
        mine = ours.get(JOSEV_NAMES.get(j["message"], ""))
        enc, dec = j["to_exi"]["median_us"], j["from_exi"]["median_us"]
        ratio = (f" {enc / mine['encode_us']:11.0f} {dec / mine['decode_us']:11.0f}"
                 if mine else "")
        print(f"{j['message']:40} {enc:10.0f} {dec:12.0f}{ratio}")


def schedule_message(vec: dict, entries: int) -> object:
    """The cross-implementation ScheduleExchangeRes with its power schedule grown to
    ``entries`` entries (the schema allows 1024), values varied so no two are equal."""
    m = next(x for x in vec["messages"] if x["name"] == "iso20_ScheduleExchangeRes_Scheduled")
    msg = codec.decode(bytes.fromhex(m["hex"]), "iso20-common")
    lst = (msg.scheduled_se_res_control_mode.schedule_tuple[0].charging_schedule
           .power_schedule.power_schedule_entries.power_schedule_entry)
    template = lst[0]
    lst.clear()
    for i in range(entries):
        e = copy.deepcopy(template)
        e.duration = 60 + i
        e.power.value = (i * 37) % 30000
        lst.append(e)
    return msg


def schedule_scaling(vec: dict, number: int) -> list[dict]:
    """Time per entry as the schedule grows: it must stay flat (no quadratic cost)."""
    out = []
    for entries in (5, 64, 256, 1024):
        msg = schedule_message(vec, entries)
        data = codec.encode(msg, "iso20-common")
        assert codec.decode(data, "iso20-common") == msg
        n = max(20, number * 5 // entries)
        enc = median_us(lambda msg=msg: codec.encode(msg, "iso20-common"), n)
        dec = median_us(lambda data=data: codec.decode(data, "iso20-common"), n)
        out.append({"entries": entries, "bytes": len(data), "encode_us": enc, "decode_us": dec,
                    "encode_ns_per_entry": enc * 1000 / entries,
                    "decode_ns_per_entry": dec * 1000 / entries})
    return out


if __name__ == "__main__":
    sys.exit(main())
