"""``iso15118 fuzz-live --tls`` for ISO 15118-20: TLS 1.3 with the vehicle certificate
(mutual authentication, ISO 15118-20 clause 7.7), both roles, against our own simulators as
real processes in two network namespaces (SDP needs link-local multicast), and the usage
errors of -20 over TLS without the certificates it needs.

A correct simulator gives no finding, and the cases reach their states: the TLS 1.3 link
with the vehicle certificate is what lets the session negotiate -20 at all (without it,
``iso15118.session.handshake.usable`` drops -20 and no -20 state is reached).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fuzz_targets import env
from support.netns import (
    NetnsPair,
    in_netns,
    netns_pair_or_skip,
)

from iso15118 import codec
from iso15118.fuzzing import oracle
from iso15118.fuzzing.cases import CaseSource
from iso15118.fuzzing.corpus import TLS_CHECKS
from iso15118.fuzzing.model import FindingClass
from iso15118.fuzzing.oracle import Observation
from iso15118.messages import apphand
from iso15118.pki import create_test_pki, secc_tls_files
from iso15118.v2gtp import Frame

CLI = [sys.executable, "-m", "iso15118"]
#: no hardware delays in the simulator: the test counts cases, not seconds
FAST_CHARGER = """[behaviour]
cable_check_s = 0.0
voltage_ramp_v_per_s = 1000000.0
current_ramp_a_per_s = 1000000.0
"""
#: -20 DC states from the handshake to the charge loop (supportedAppProtocol brings the
#: two TLS checks of ISO 15118-20 7.7)
STATES = ("supportedAppProtocol,SessionSetup,AuthorizationSetup,Authorization,"
          "ServiceDiscovery,ServiceSelection,ChargeParameterDiscovery,ScheduleExchange,CableCheck,PreCharge,PowerDelivery,"
          "ChargeLoop,SessionStop")


@pytest.fixture
def pair() -> Iterator[NetnsPair]:
    with netns_pair_or_skip() as made:
        yield made


def _report(out: Path) -> dict[str, object]:
    print((out / "summary.txt").read_text())
    return json.loads((out / "report.json").read_text())  # type: ignore[no-any-return]


def _links(log: str) -> dict[str, set[str]]:
    """protocol -> the links it was negotiated over, from the charger's stderr
    (``secc: iso20 (urn:...) over TLSv1.3``)."""
    out: dict[str, set[str]] = {}
    for line in log.splitlines():
        words = line.split()
        if len(words) == 5 and words[0] == "secc:" and words[3] == "over":
            out.setdefault(words[1], set()).add(words[4])
    return out


def _start_charger(pair: NetnsPair, tmp_path: Path, pki: Path, protocols: str,
                   energy: str, extra: str = "") -> subprocess.Popen[str]:
    config = tmp_path / "charger.toml"
    config.write_text(FAST_CHARGER + extra)
    log = tmp_path / "charger.log"
    with log.open("w") as err:  # a file: a pipe nobody reads would block the charger
        proc = subprocess.Popen(
            in_netns(pair.secc_ns, *CLI, "secc", "-i", pair.secc_if, "--protocols", protocols,
                     "--energy", energy, "--tls", "required", "--pki", str(pki),
                     "--sessions", "0", "--config", str(config)),
            stdout=subprocess.DEVNULL, stderr=err, text=True, env=env())
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and "ready on" not in log.read_text():
        assert proc.poll() is None, log.read_text()
        time.sleep(0.1)
    assert "ready on" in log.read_text(), log.read_text()
    return proc


def _ev_campaign(pair: NetnsPair, pki: Path, out: Path, protocol: str, states: str,
                 cases: int, pid: int) -> subprocess.CompletedProcess[str]:
    root = secc_tls_files(pki)[2]
    return subprocess.run(
        in_netns(pair.evcc_ns, *CLI, "fuzz-live", "--role", "ev", "--interface", pair.evcc_if,
                 "--tls", "--trust", str(root), "--pki", str(pki), "--protocol", protocol,
                 "--state", states, "--cases", str(cases), "--seed", "20", "--out", str(out),
                 "--deadline-ms", "1000", "--rate", "1000", "--target-pid", str(pid)),
        capture_output=True, text=True, timeout=240, env=env())


def test_as_the_ev_against_a_20_charger_over_mutual_tls_13(pair: NetnsPair,
                                                           tmp_path: Path) -> None:
    pki = tmp_path / "pki"
    create_test_pki(pki, 20)
    charger = _start_charger(pair, tmp_path, pki, "iso20", "dc")
    try:
        out = tmp_path / "run"
        result = _ev_campaign(pair, pki, out, "iso20-dc", STATES, 36, charger.pid)
        alive = charger.poll() is None
    finally:
        charger.kill()
        charger.wait()
    report = _report(out)
    assert result.returncode == 0, result.stdout + result.stderr
    assert alive
    assert report["cases_run"] == 36 and report["findings"] == []
    assert report["not_reached"] == 0, report["not_reached_because"]
    # both TLS checks ran, and the charger refused both links
    assert report["verdicts"]["iso20-tls"] == 2  # type: ignore[index]
    # the charger's side: every session negotiated -20 over TLS 1.3
    assert _links((tmp_path / "charger.log").read_text()) == {"iso20": {"TLSv1.3"}}
    keys = (out / "keys.log").read_text()
    assert "CLIENT_TRAFFIC_SECRET_0" in keys and "CLIENT_RANDOM" not in keys


def test_mixed_profiles_each_case_connects_with_its_own_context(pair: NetnsPair,
                                                                tmp_path: Path) -> None:
    """-2 cases over TLS 1.2 without a vehicle certificate, -20 cases over TLS 1.3 with
    one, in one campaign against a charger serving both on one port; the key log holds
    the secrets of both kinds."""
    pki = tmp_path / "pki"
    create_test_pki(pki, 2)  # one SECC certificate for both, as `secc` makes it
    # the TLS context serving both leaves the vehicle certificate optional; the session
    # then has to insist on it for -20 (SeccConfig.require_vehicle_certificate)
    charger = _start_charger(pair, tmp_path, pki, "iso20,iso2", "dc",
                             "[session]\nrequire_vehicle_certificate = true\n")
    try:
        out = tmp_path / "run"
        result = _ev_campaign(pair, pki, out, "iso2-dc,iso20-dc", "supportedAppProtocol,"
                              "SessionSetup,ChargeParameterDiscovery,PowerDelivery", 16,
                              charger.pid)
    finally:
        charger.kill()
        charger.wait()
    report = _report(out)
    assert result.returncode == 0, result.stdout + result.stderr
    assert report["cases_run"] == 16 and report["findings"] == []
    assert report["not_reached"] == 0, report["not_reached_because"]
    links = _links((tmp_path / "charger.log").read_text())
    assert links["iso20"] == {"TLSv1.3"} and links["iso2"] == {"TLSv1.2"}, links
    assert report["verdicts"]["iso20-tls"] == 2  # type: ignore[index]
    keys = (out / "keys.log").read_text()
    assert "CLIENT_RANDOM" in keys and "CLIENT_TRAFFIC_SECRET_0" in keys


def test_the_tls_check_flags_a_charger_agreeing_on_20_without_the_vehicle_certificate(
        pair: NetnsPair, tmp_path: Path) -> None:
    """Our charger serving -2 and -20 on one port, with require_vehicle_certificate off
    (its default, for test systems that run -20 without one), agrees on -20 over TLS 1.3
    without the vehicle certificate: the check reports it, and the finding replays."""
    pki = tmp_path / "pki"
    create_test_pki(pki, 2)
    charger = _start_charger(pair, tmp_path, pki, "iso20,iso2", "dc")
    try:
        out = tmp_path / "run"
        result = _ev_campaign(pair, pki, out, "iso20-dc", "supportedAppProtocol", 3,
                              charger.pid)
        finding = _report(out)["findings"][0]  # type: ignore[index]
        again = subprocess.run(
            in_netns(pair.evcc_ns, *CLI, "fuzz-live", "--role", "ev", "--interface",
                     pair.evcc_if, "--tls", "--pki", str(pki), "--out", str(tmp_path / "r"),
                     "--replay", finding["dir"]),
            capture_output=True, text=True, timeout=60, env=env())
    finally:
        charger.kill()
        charger.wait()
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stdout.splitlines() == [
        "FINDING F001 violation state=supportedAppProtocol layer=session case=1"]
    assert finding["rule"] == "iso20-tls"
    assert "without the vehicle certificate" in finding["reason"]
    assert again.returncode == 1 and again.stdout.startswith("REPRODUCED"), again.stdout


def test_as_the_charger_against_a_20_vehicle_over_mutual_tls_13(pair: NetnsPair,
                                                                tmp_path: Path) -> None:
    """The fuzzer listens with -20's server context (the SECC certificate and the OEM root
    of --pki); our vehicle, restarted for every case (it runs one session), presents its
    vehicle certificate over TLS 1.3."""
    pki = tmp_path / "pki"
    create_test_pki(pki, 20)
    root = secc_tls_files(pki)[2]
    out = tmp_path / "run"
    cases = 8
    fuzzer = subprocess.Popen(
        in_netns(pair.secc_ns, *CLI, "fuzz-live", "--role", "evse", "--interface",
                 pair.secc_if, "--tls", "--pki", str(pki), "--protocol", "iso20-dc",
                 "--state", "all", "--cases", str(cases), "--seed", "5", "--out", str(out),
                 "--deadline-ms", "1000"),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env())
    links = []
    try:
        deadline = time.monotonic() + 120
        while fuzzer.poll() is None and time.monotonic() < deadline:
            vehicle = subprocess.run(
                in_netns(pair.evcc_ns, *CLI, "evcc", "-i", pair.evcc_if, "--protocols", "iso20",
                         "--tls", "--trust", str(root), "--pki", str(pki), "--loops", "3"),
                capture_output=True, text=True, timeout=60, env=env())
            links += [line for line in vehicle.stderr.splitlines() if " over " in line]
        stdout, stderr = fuzzer.communicate(timeout=30)
    finally:
        if fuzzer.poll() is None:
            fuzzer.kill()
            fuzzer.wait()
    report = _report(out)
    assert fuzzer.returncode == 0, stdout + stderr
    assert report["cases_run"] == cases and report["findings"] == []
    assert report["not_reached"] == 0, report["not_reached_because"]
    assert links and all(line.endswith("over TLSv1.3") for line in links), links
    assert "CLIENT_TRAFFIC_SECRET_0" in (out / "keys.log").read_text()


def _fuzz_live(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, "fuzz-live", *args], capture_output=True, text=True,
                          timeout=60, env=env())


def _usage_error(result: subprocess.CompletedProcess[str], words: str) -> None:
    assert result.returncode == 2, result.stdout + result.stderr
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert words in result.stderr, result.stderr


def test_20_over_tls_without_its_certificates_is_a_usage_error(tmp_path: Path) -> None:
    out = str(tmp_path / "out")
    ev = ("--role", "ev", "--address", "::1", "--port", "1", "--out", out)
    evse = ("--role", "evse", "--address", "::1", "--port", "0", "--out", out)
    # the vehicle certificate -20's TLS presents is missing
    _usage_error(_fuzz_live(*ev, "--tls", "--protocol", "iso2-dc,iso20-dc"), "--pki DIR")
    # a directory without a test PKI
    (tmp_path / "empty").mkdir()
    _usage_error(_fuzz_live(*ev, "--tls", "--protocol", "iso20-ac", "--pki",
                            str(tmp_path / "empty")), "no test PKI")
    # as the charger, the OEM root vehicle certificates are checked against is missing
    pki = tmp_path / "pki"
    create_test_pki(pki, 20)
    chain, key, _root = secc_tls_files(pki)
    _usage_error(_fuzz_live(*evse, "--tls", "--protocol", "iso20-dc", "--cert", str(chain),
                            "--key", str(key)), "--pki DIR")
    _usage_error(_fuzz_live(*evse, "--tls", "--protocol", "din"), "--cert PEM")
    # --pki without --tls
    _usage_error(_fuzz_live(*ev, "--pki", str(pki), "--protocol", "iso20-dc"), "--tls")
    # a -20 finding replayed over TLS needs the certificate too (the profile is the case's)
    finding = tmp_path / "F001"
    finding.mkdir()
    (finding / "case.json").write_text(json.dumps({"profile": "iso20-dc", "number": 3}))
    _usage_error(_fuzz_live(*ev, "--tls", "--replay", str(finding)), "--pki DIR")


def test_tls_without_trust_checks_nothing_and_does_not_crash(tmp_path: Path) -> None:
    """Without --trust the charger's certificate is not checked (test devices); before,
    building the -2 context without roots raised out of the CLI."""
    result = _fuzz_live("--role", "ev", "--address", "::1", "--port", "1", "--tls",
                        "--protocol", "iso2-dc", "--out", str(tmp_path))
    assert result.returncode == 2 and "cannot connect" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


def test_the_tls_checks_are_corpus_cases_of_20_profiles_only() -> None:
    with_checks = CaseSource(1, ("iso2-dc", "iso20-ac"), None, sdp=False, tls_checks=True)
    names = [entry.name for entry, _p in with_checks.corpus]
    checks = [(e.name, p) for e, p in with_checks.corpus if e in TLS_CHECKS]
    assert checks == [("ISO15118-20-7.7-tls12", "iso20-ac"),
                      ("ISO15118-20-7.7-no-certificate", "iso20-ac")]
    assert names[:len(names) - 2] == [e.name for e, _p in CaseSource(
        1, ("iso2-dc", "iso20-ac"), None, sdp=False).corpus]
    # not for -2 alone, nor without the handshake among the states
    assert not any(e in TLS_CHECKS for e, _p in CaseSource(
        1, ("iso2-dc",), None, sdp=False, tls_checks=True).corpus)
    assert not any(e in TLS_CHECKS for e, _p in CaseSource(
        1, ("iso20-dc",), ("SessionSetup",), sdp=False, tls_checks=True).corpus)


def _answer(code: apphand.ResponseCodeType) -> Observation:
    res = apphand.supportedAppProtocolRes(response_code=code, schema_id=1)
    return Observation(frames=[Frame(0x8001, codec.encode(res, "apphand"))], closed=True)


def test_the_tls_link_oracle() -> None:
    ok = oracle.judge_tls_link(_answer(apphand.ResponseCodeType.OK_SuccessfulNegotiation),
                               "TLS 1.2")
    assert ok.cls is FindingClass.VIOLATION and ok.rule == "iso20-tls"
    assert "agreed on ISO 15118-20 over TLS 1.2" in ok.reason
    refused = oracle.judge_tls_link(_answer(apphand.ResponseCodeType.Failed_NoNegotiation),
                                    "TLS 1.2")
    assert refused.cls is None and "Failed_NoNegotiation" in refused.reason
    assert oracle.judge_tls_link(Observation(closed=True), "TLS 1.2").cls is None
    assert oracle.judge_tls_link(Observation(silent=True), "TLS 1.2").cls is FindingClass.HANG
    assert "iso20-tls" in oracle.RULES and "15118-20 7.7" in oracle.RULES["iso20-tls"].clause
