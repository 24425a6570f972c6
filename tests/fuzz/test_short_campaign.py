"""A short fuzz campaign over every harness, as CI runs it (about a minute on 2 cores).

The long campaign (fuzz/README.md) is where volume comes from; this proves on every
change that the harnesses still start, find their seeds, execute tens of thousands of
inputs and meet no crash, hang or memory blow-up beyond the known findings (which the
harnesses count with ``--allow-known``; they are pinned as xfail reproducers in
tests/testing/test_testing_decoder_findings.py and tests/fuzz/test_fuzz_findings.py).

atheris runs in a subprocess: libFuzzer owns the process it runs in and exits it.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FUZZ = ROOT / "fuzz"

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("atheris") is None,
    reason="atheris is not installed (pip install -e '.[fuzz]'; wheels exist for "
    "Linux x86_64, CPython up to 3.12)")


def test_short_campaign_runs_every_harness_without_crash_hang_or_oom(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    seeds = subprocess.run([sys.executable, str(FUZZ / "seed_corpus.py"), "--out", str(corpus),
                            "--per-protocol", "100"],
                           capture_output=True, text=True, timeout=300, check=False)
    assert seeds.returncode == 0, seeds.stderr
    out = tmp_path / "run"
    proc = subprocess.run([sys.executable, str(FUZZ / "campaign.py"), "--quick",
                           "--corpus", str(corpus), "--out", str(out)],
                          capture_output=True, text=True, timeout=600, check=False)
    results = json.loads((out / "results.json").read_text())["results"]
    logs = {r["name"]: (out / r["name"] / "log.txt") for r in results}
    failed = [r for r in results if r["crashes"] or r["hangs"] or r["ooms"] or r["exit_code"]]
    assert not failed, "\n".join(
        f"{r['name']}: {r['error']} {r['artifact']}\n{logs[r['name']].read_text()[-3000:]}"
        for r in failed)
    assert proc.returncode == 0, proc.stderr
    names = {r["name"] for r in results}
    assert {"v2gtp", "sdp", "pki"} <= names and sum(n.startswith("exi-") for n in names) == 9
    for r in results:
        assert r["executions"] >= 500, f"{r['name']} ran only {r['executions']} inputs"
        assert r["cov"] > 0, f"{r['name']} reported no coverage"
    assert "| **total** |" in proc.stdout
