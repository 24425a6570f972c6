"""examples/analytics/plots.py: from real captures to the two PNGs, with the series the
plots are drawn from checked against the capture (requested and delivered current of the
charge loop; phase durations of the sessions that reached cable check)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest
from support.oracle import repo_root, shared_dir

pytest.importorskip("matplotlib")
pytest.importorskip("pyarrow")

_SHARED = shared_dir()
PCAP = _SHARED / "vectors" / "real" / "pcap" if _SHARED else None
pytestmark = pytest.mark.skipif(not (PCAP and PCAP.is_dir()),
                                reason="../shared/vectors/real/pcap absent")


def _plots() -> ModuleType:
    path = repo_root() / "examples" / "analytics" / "plots.py"
    spec = importlib.util.spec_from_file_location("analytics_plots", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["analytics_plots"] = module
    spec.loader.exec_module(module)
    return module


def test_plots_from_two_real_captures(tmp_path: Path) -> None:
    assert PCAP is not None
    plots = _plots()
    captures = [str(next(PCAP.glob("*/ISO-2_DC_DS5366.pcapng"))),
                str(next(PCAP.glob("*/2023-04-05_wt32_alpi_first_charge.pcapng")))]
    dataset = plots.export(captures, tmp_path / "export")
    series = plots.current_series(dataset)
    dc = next(v for k, v in series.items() if "ISO-2_DC_DS5366" in k)
    assert len(dc["t_req"]) == 417 and max(dc["requested_a"]) == 200.0
    assert max(dc["delivered_a"]) == pytest.approx(200.03)
    assert dc["t_req"] == sorted(dc["t_req"])
    phases = plots.phase_rows(dataset)
    failed = [r for r in phases if r["failed"]]
    assert [r["failed"] for r in failed] == ["FAILED_UnknownSession"]
    assert all(r["cable_check_s"] > 0 for r in phases)
    assert plots.main([*captures, "--out", str(tmp_path / "png")]) == 0
    for name in ("current.png", "phases.png"):
        data = (tmp_path / "png" / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
