"""The depot's picture: total and per-vehicle power, the limit and the event window."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def plot(samples: dict[str, Any], result: dict[str, Any], path: Path) -> None:
    """Write a PNG: per-vehicle power stacked thin (discharge below zero), the depot's
    total thick, the limit dashed over the event window, the compliance instant marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t, kw = samples["t"], samples["kw"]
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(11, 8), sharex=True,
                                      gridspec_kw={"height_ratios": [2, 1.3]})
    totals = [sum(row) for row in kw]
    start, end = result["event_at_s"], result["event_end_s"]
    for ax in (top, bottom):
        ax.axvspan(start, end, color="tab:orange", alpha=0.08, label="load-shed event")
    top.plot(t, totals, color="black", linewidth=2, label="depot total")
    top.hlines(result["limit_kw"], start, end, colors="tab:red", linestyles="--",
               label=f"limit {result['limit_kw']:g} kW")
    if result["seconds_to_comply"] is not None:
        at = start + result["seconds_to_comply"]
        top.axvline(at, color="tab:green", linewidth=1,
                    label=f"complied after {result['seconds_to_comply']:.2f} s")
    top.set_ylabel("kW")
    top.set_title(f"Depot: {result['vehicles']} vehicles, {result['limit_kw']:g} kW limit "
                  f"(OpenADR -> OCPP -> ISO 15118)")
    top.legend(loc="upper right", fontsize=8)
    colours = {"iso2-dc": "tab:blue", "iso2-ac": "tab:cyan", "iso20-dc": "tab:purple",
               "iso20-ac-dynamic": "tab:olive", "iso20-dc-bpt": "tab:red"}
    seen: set[str] = set()
    for i, kind in enumerate(samples["kinds"]):
        series = [row[i] for row in kw]
        bottom.plot(t, series, color=colours.get(kind, "grey"), linewidth=0.7, alpha=0.7,
                    label=kind if kind not in seen else None)
        seen.add(kind)
    bottom.axhline(0, color="grey", linewidth=0.5)
    bottom.set_ylabel("kW per vehicle")
    bottom.set_xlabel("seconds")
    bottom.legend(loc="upper right", fontsize=8, ncol=3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
