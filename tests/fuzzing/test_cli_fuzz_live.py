"""``iso15118 fuzz-live`` as scripts use it: the FINDING lines, report.json's keys, the
exit codes, ``--replay`` and ``--help`` (the contract of issue 20)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from fuzz_targets import env, free_port

FINDING = re.compile(r"^FINDING (F\d{3}) (reset|hang|violation|liveness|crash|leak) "
                     r"state=(\S+) layer=(v2gtp|exi|sdp|session) case=(\d+)$")


def fuzz_live(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "iso15118", "fuzz-live", *args],
                          capture_output=True, text=True, timeout=timeout, env=env())


def test_help_shows_the_three_common_uses() -> None:
    out = fuzz_live("--help").stdout
    assert out.count("iso15118 fuzz-live --role") == 3
    assert "--role ev --interface" in out and "--role evse" in out and "--replay" in out


def test_a_finding_is_printed_reported_and_replayed(planted: Any, tmp_path: Path) -> None:
    p = planted("hang")
    target = ["--role", "ev", "--address", "::1", "--port", str(p.port),
              "--sdp-port", str(p.sdp_port), "--deadline-ms", "500"]
    out = tmp_path / "run"
    result = fuzz_live(*target, "--protocol", "iso2-dc", "--state", "ChargeParameterDiscovery",
                       "--cases", "6", "--seed", "1", "--out", str(out), "--rate", "100")
    assert result.returncode == 1, result.stderr
    lines = result.stdout.splitlines()
    assert lines and all(FINDING.match(line) for line in lines), result.stdout
    assert FINDING.match(lines[0]).groups()[1:] == (  # type: ignore[union-attr]
        "hang", "ChargeParameterDiscovery", "session", "1")  # case 1: CVE-2025-68140
    report = json.loads((out / "report.json").read_text())
    assert report["seed"] == 1 and report["cases_run"] == 6
    for f in report["findings"]:
        assert {"id", "class", "state", "layer", "case", "input_hex", "minimised_hex",
                "dir"} <= set(f)
        assert bytes.fromhex(f["input_hex"])[:2] == b"\x01\xfe"
    folder = Path(report["findings"][0]["dir"])
    assert (folder / "session.pcap").read_bytes()[:4] == bytes.fromhex("d4c3b2a1")
    # the progress bar is for terminals only: stderr holds the summary and no bar
    assert "\r[" not in result.stderr and "finding(s)" in result.stderr

    again = fuzz_live(*target, "--out", str(tmp_path / "replay"), "--replay", str(folder),
                      "--cases", "99", "--seed", "5")  # the run's options are ignored
    assert again.returncode == 1, again.stdout + again.stderr
    assert again.stdout.startswith("REPRODUCED")

    fixed = planted("none")
    fixed_target = ["--role", "ev", "--address", "::1", "--port", str(fixed.port)]
    gone = fuzz_live(*fixed_target, "--out", str(tmp_path / "r2"), "--replay", str(folder))
    assert gone.returncode == 0, gone.stdout + gone.stderr
    assert gone.stdout.startswith("NOT REPRODUCED")


def test_no_findings_exit_0(planted: Any, tmp_path: Path) -> None:
    p = planted("none")
    result = fuzz_live("--role", "ev", "--address", "::1", "--port", str(p.port),
                       "--protocol", "din", "--state", "SessionSetup,CableCheck",
                       "--cases", "12", "--seed", "3", "--out", str(tmp_path),
                       "--deadline-ms", "300", "--rate", "100")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == ""
    assert json.loads((tmp_path / "report.json").read_text())["findings"] == []


def test_usage_and_unreachable_targets_exit_2(tmp_path: Path) -> None:
    port = free_port()  # nothing listens there
    unreachable = fuzz_live("--role", "ev", "--address", "::1", "--port", str(port),
                            "--protocol", "iso2-dc", "--cases", "1", "--out", str(tmp_path))
    assert unreachable.returncode == 2
    assert "cannot connect" in unreachable.stderr
    assert fuzz_live("--role", "ev", "--address", "::1", "--port", "1",
                     "--protocol", "iso7", "--out", str(tmp_path)).returncode == 2
    assert fuzz_live("--role", "ev", "--protocol", "din", "--out", str(tmp_path)
                     ).returncode == 2
    assert fuzz_live("--role", "nobody").returncode == 2
    # as the charger, SDP cases need the link the vehicle multicasts on
    no_link = fuzz_live("--role", "evse", "--address", "::1", "--port", "0", "--protocol",
                        "iso2-dc", "--state", "SDP", "--out", str(tmp_path))
    assert no_link.returncode == 2 and "need --interface" in no_link.stderr
    assert fuzz_live("--role", "evse", "--interface", "lo", "--vehicle-wait", "0",
                     "--protocol", "din", "--out", str(tmp_path)).returncode == 2


def test_over_tls_the_key_log_comes_with_each_finding(tmp_path: Path) -> None:
    from fuzz_targets import Planted

    p = Planted("hang", tls_pki=tmp_path / "pki")
    p.start()
    try:
        out = tmp_path / "run"
        result = fuzz_live("--role", "ev", "--address", "::1", "--port", str(p.port), "--tls",
                           "--trust", str(tmp_path / "pki" / "certs" / "v2g_root.pem"),
                           "--protocol", "iso2-dc", "--state", "ChargeParameterDiscovery",
                           "--cases", "3", "--seed", "1", "--out", str(out),
                           "--deadline-ms", "500")
    finally:
        p.stop()
    assert result.returncode == 1, result.stderr
    report = json.loads((out / "report.json").read_text())
    (hang,) = [f for f in report["findings"] if f["class"] == "hang"]
    folder = Path(hang["dir"])
    keys = (folder / "keys.log").read_text()
    assert "CLIENT_RANDOM" in keys or "CLIENT_TRAFFIC_SECRET_0" in keys
    # the transcript holds the plaintext V2GTP frames, not TLS records
    transcript = json.loads((folder / "transcript.json").read_text())
    assert any(r.get("hex", "").startswith("01fe8001") for r in transcript)
