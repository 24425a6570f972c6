"""From captures to the plots a test engineer asks for, through ``iso15118 export``.

1. ``current.png``: requested (EVTargetCurrent) against delivered (EVSEPresentCurrent)
   current over the charge loop of each DC session, one panel per session, with the
   voltage the EVSE delivered on a second axis.
2. ``phases.png``: how long cable check, precharge and the charge loop took in each
   session, grouped per charger (EVSEID), one panel per phase; sessions that did not end
   with SessionStop are marked with their first FAILED code or ``incomplete``.

    python examples/analytics/plots.py [CAPTURES...] [--out DIR] [--sessions N]

CAPTURES default to ``../shared/vectors/real/pcap``. The export runs in a temporary
directory (the local engine); the plots read its Parquet files with pyarrow alone, the
way any notebook would. Needs the ``examples`` extra (pyarrow, matplotlib).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

from iso15118 import cli  # noqa: E402

HERE = Path(__file__).resolve().parent
DEFAULT_CAPTURES = HERE.parent.parent.parent / "shared" / "vectors" / "real" / "pcap"
LOOP_REQUESTS = ("CurrentDemandReq", "DC_ChargeLoopReq")
LOOP_RESPONSES = ("CurrentDemandRes", "DC_ChargeLoopRes")


def export(inputs: list[str], out: Path) -> Path:
    """``iso15118 export INPUTS -o OUT``; the dataset directory."""
    status = cli.main(["export", *inputs, "-o", str(out)])
    if status not in (0, 1):  # 1: some input skipped, the rest is there
        raise SystemExit(f"export failed with status {status}")
    return out


def _short(session: str) -> str:
    name, _, stream = session.rpartition("#")
    return f"{Path(name).stem[:38]} ({stream})"


def current_series(dataset: Path) -> dict[str, dict[str, list[float]]]:
    """Per session: the charge loop's times and requested/delivered current and voltage."""
    table = pq.read_table(dataset / "messages", columns=[
        "session", "message", "session_time_s", "ev_target_current_a",
        "evse_present_current_a", "evse_present_voltage_v"])
    series: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for row in table.to_pylist():
        t = row["session_time_s"]
        if t is None or row["session"] is None:
            continue
        s = series[row["session"]]
        if row["message"] in LOOP_REQUESTS and row["ev_target_current_a"] is not None:
            s["t_req"].append(t)
            s["requested_a"].append(row["ev_target_current_a"])
        elif row["message"] in LOOP_RESPONSES and row["evse_present_current_a"] is not None:
            s["t_res"].append(t)
            s["delivered_a"].append(row["evse_present_current_a"])
            s["voltage_v"].append(row["evse_present_voltage_v"] or 0.0)
    return {k: v for k, v in series.items() if len(v["t_req"]) > 10 and v["t_res"]}


def plot_current(series: dict[str, dict[str, list[float]]], path: Path, limit: int = 6) -> Path:
    chosen = sorted(series, key=lambda k: -len(series[k]["t_req"]))[:limit]
    cols = 2
    rows = -(-len(chosen) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(13, 3.2 * rows), squeeze=False)
    for ax, key in zip(axes.flat, chosen, strict=False):
        s = series[key]
        ax.step(s["t_req"], s["requested_a"], where="post", label="requested (EV target)",
                color="tab:blue")
        ax.plot(s["t_res"], s["delivered_a"], label="delivered (EVSE present)",
                color="tab:orange", linewidth=1.2)
        ax.set_ylabel("current (A)")
        ax.set_xlabel("seconds since session start")
        ax.set_title(_short(key), fontsize=9)
        volts = ax.twinx()
        volts.plot(s["t_res"], s["voltage_v"], color="tab:gray", linewidth=0.8, alpha=0.6)
        volts.set_ylabel("EVSE voltage (V)", color="tab:gray")
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(chosen):]:
        ax.axis("off")
    axes.flat[0].legend(loc="lower right", fontsize=8)
    fig.suptitle("Requested vs delivered current in the charge loop (real captures)")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def charger_name(evse_id: str | None) -> str:
    """EVSEID as people write it: DIN 70121 sends it as hexBinary (``5A5A3030303030`` is
    ``ZZ00000``), ISO 15118-2/-20 as text; ``00`` (one zero byte) means none was given."""
    if not evse_id or evse_id.strip("0") == "":
        return "(no EVSEID)"
    try:
        text = bytes.fromhex(evse_id).decode("ascii")
    except ValueError:
        return evse_id
    return text if text.isprintable() else evse_id


def phase_rows(dataset: Path) -> list[dict[str, Any]]:
    """Sessions that reached cable check, with their phase durations and charger label,
    grouped by charger."""
    rows = pq.read_table(dataset / "sessions").to_pylist()
    out = []
    for r in rows:
        if r["cable_check_s"] is None:
            continue
        charger = charger_name(r["evse_id"])
        out.append({"charger": charger, "label": f"{charger} | {_short(r['session'])[:34]}",
                    "cable_check_s": r["cable_check_s"] or 0.0,
                    "precharge_s": r["precharge_s"] or 0.0,
                    "charge_loop_s": r["charge_loop_s"] or 0.0,
                    "failed": r["first_failed_code"], "outcome": r["outcome"]})
    return sorted(out, key=lambda r: (r["charger"], r["label"]), reverse=True)


def plot_phases(rows: list[dict[str, Any]], path: Path) -> Path:
    """One panel per phase (each on its own linear scale: a 0.1 s cable check and a 100 s
    charge loop do not share an axis), sessions as rows, grouped by charger."""
    phases = (("cable_check_s", "tab:red", "cable check"),
              ("precharge_s", "tab:orange", "precharge"),
              ("charge_loop_s", "tab:green", "charge loop"))
    fig, axes = plt.subplots(1, 3, figsize=(14, 0.3 * len(rows) + 1.6), sharey=True,
                             gridspec_kw={"width_ratios": [1, 1, 1.4]})
    y = list(range(len(rows)))
    for ax, (column, colour, title) in zip(axes, phases, strict=True):
        values = [r[column] for r in rows]
        ax.barh(y, values, color=colour)
        for i, v in enumerate(values):
            ax.text(v, i, f" {v:.1f}", va="center", fontsize=6)
        ax.set_title(f"{title} (s)", fontsize=10)
        ax.grid(axis="x", alpha=0.3)
        ax.margins(x=0.15)
    for i, r in enumerate(rows):
        note = r["failed"] or ("" if r["outcome"] == "stopped" else r["outcome"])
        if note:
            axes[2].text(axes[2].get_xlim()[1], i, f" {note}", va="center", fontsize=7,
                         color="tab:red")
    axes[0].set_yticks(y, [r["label"] for r in rows], fontsize=7)
    fig.suptitle("Phase durations per charger (EVSEID) and session, real captures; "
                 "red: how a session ended when not by SessionStop", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=90, bbox_inches="tight")
    plt.close(fig)
    return path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("captures", nargs="*", default=[str(DEFAULT_CAPTURES)])
    ap.add_argument("--out", type=Path, default=HERE, help="where the PNGs go")
    ap.add_argument("--sessions", type=int, default=6, help="panels in current.png")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        dataset = export(args.captures, Path(tmp) / "export")
        args.out.mkdir(parents=True, exist_ok=True)
        current = plot_current(current_series(dataset), args.out / "current.png",
                               args.sessions)
        phases = plot_phases(phase_rows(dataset), args.out / "phases.png")
    print(current)
    print(phases)
    return 0


if __name__ == "__main__":
    sys.exit(main())
