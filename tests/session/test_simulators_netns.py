"""``iso15118 secc`` against ``iso15118 evcc``: real processes in two network namespaces.

The CLI contract the issue fixes is what these tests check, from the outside: one stdout
line per message (``TIME DIRECTION PROTOCOL MESSAGE key=value...``), both sides logging
the same messages in the same order, exit status 0 after a complete session, 1 with the
reason otherwise, 2 for usage mistakes; SDP, TCP, TLS 1.2 and (ISO 15118-20) TLS 1.3 with
the vehicle's certificate between the namespaces; DIN, ISO-2 and -20, DC and AC, EIM and
PnC, pause and resume, renegotiation; two EVSEs served by one charger process. Needs root
(network namespaces); skipped with the reason otherwise.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from simulator_procs import CLI, env, run_vehicle, start_charger
from support.netns import (
    NetnsPair,
    in_netns,
    netns_pair,
    netns_pair_or_skip,
    netns_unavailable_reason,
)

pytestmark = pytest.mark.netns

LINE = re.compile(r"^ *\d+\.\d{3} (EV->EVSE|EVSE->EV) (apphand|din|iso2|iso20-(common|dc|ac)) "
                  r"[A-Za-z_]+(Req|Res)( \S.*)?$")


@pytest.fixture(scope="module")
def link() -> Iterator[NetnsPair]:
    with netns_pair_or_skip() as pair:
        yield pair


def _secc(pair: NetnsPair, *args: str) -> subprocess.Popen[str]:
    return start_charger(pair.secc_ns, pair.secc_if, *args)


def _evcc(pair: NetnsPair, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return run_vehicle(pair.evcc_ns, pair.evcc_if, *args, timeout=timeout)


def _finish(secc: subprocess.Popen[str], timeout: float = 20) -> tuple[int, str, str]:
    try:
        out, err = secc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        secc.kill()
        out, err = secc.communicate()
        pytest.fail(f"the charger did not exit: {err}")
    return secc.returncode, out, err


def _lines(text: str) -> list[str]:
    lines = text.splitlines()
    for line in lines:
        assert LINE.match(line), f"not a message line: {line!r}"
    return lines


def _messages(lines: list[str]) -> list[tuple[str, str]]:
    """(direction, message) of each line, the part both sides must agree on."""
    return [(line.split()[1], line.split()[3]) for line in lines]


def _session(pair: NetnsPair, secc_args: tuple[str, ...], evcc_args: tuple[str, ...],
             sessions: int = 1) -> tuple[list[str], list[str], str]:
    secc = _secc(pair, "--sessions", str(sessions), *secc_args)
    ev = _evcc(pair, *evcc_args)
    code, out, err = _finish(secc)
    assert ev.returncode == 0, ev.stderr
    assert code == 0, err
    ev_lines, secc_lines = _lines(ev.stdout), _lines(out)
    assert _messages(ev_lines) == _messages(secc_lines)
    assert "complete" in ev.stderr
    return ev_lines, secc_lines, ev.stderr


@pytest.mark.parametrize(("name", "secc_args", "evcc_args", "protocol"), [
    ("iso2-dc", (), ("--loops", "4"), "iso2"),
    ("din-dc", (), ("--protocols", "din", "--loops", "4"), "din"),
    ("iso2-ac", ("--energy", "ac,dc"), ("--energy", "ac", "--loops", "4"), "iso2"),
])
def test_a_session_between_the_simulators(link: NetnsPair, name: str,
                                          secc_args: tuple[str, ...],
                                          evcc_args: tuple[str, ...], protocol: str) -> None:
    ev_lines, _, _ = _session(link, secc_args, evcc_args)
    names = [m for _, m in _messages(ev_lines)]
    assert names[0] == "supportedAppProtocolReq" and names[-1] == "SessionStopRes"
    assert {line.split()[2] for line in ev_lines[2:]} == {protocol}
    loop = "ChargingStatusReq" if "ac" in name else "CurrentDemandReq"
    assert names.count(loop) == 4


def test_tls_and_plug_and_charge(link: NetnsPair, tmp_path: Path) -> None:
    pki = tmp_path / "pki"
    secc = _secc(link, "--sessions", "1", "--tls", "required", "--pki", str(pki),
                 "--auth", "eim,pnc")
    ev = _evcc(link, "--tls", "--trust", str(pki / "certs" / "v2g_root.pem"), "--auth", "pnc",
               "--contract", str(pki), "--loops", "3")
    code, out, err = _finish(secc)
    assert ev.returncode == 0, ev.stderr
    assert code == 0, err
    names = [m for _, m in _messages(_lines(ev.stdout))]
    assert "PaymentDetailsReq" in names
    # PnC was chosen, which our charger offers only over TLS
    assert "SelectedPaymentOption=Contract" in ev.stdout


@pytest.mark.parametrize(("secc_protocols", "evcc_protocols", "link_", "namespace"), [
    ("iso20", "iso20", "TLSv1.3", "iso20-dc"),          # -20 alone: TLS 1.3, mutual
    ("iso20,iso2", "iso20,iso2", "TLSv1.3", "iso20-dc"),  # one port for both
    ("iso20,iso2", "iso2", "TLSv1.2", "iso2"),           # a -2 vehicle at that port
    ("iso2", "iso20,iso2", "TLSv1.2", "iso2"),           # a -20 vehicle at a -2 charger
])
def test_tls_picks_the_version_the_protocol_needs(link: NetnsPair, tmp_path: Path,
                                                  secc_protocols: str, evcc_protocols: str,
                                                  link_: str, namespace: str) -> None:
    """-20 runs over TLS 1.3 with the vehicle's certificate, -2 over TLS 1.2; a charger and
    a vehicle that speak both agree on TLS 1.3 and -20, and each falls back to TLS 1.2 and -2
    with a peer that has only -2."""
    pki = tmp_path / "pki"
    secc = _secc(link, "--sessions", "1", "--tls", "required", "--pki", str(pki),
                 "--protocols", secc_protocols)
    ev = _evcc(link, "--tls", "--trust", str(pki / "certs" / "v2g_root.pem"), "--pki", str(pki),
               "--protocols", evcc_protocols, "--loops", "2")
    code, out, err = _finish(secc)
    assert ev.returncode == 0, ev.stderr
    assert code == 0, err
    protocol = "iso20" if namespace.startswith("iso20") else "iso2"
    assert f"evcc: {protocol} (" in ev.stderr and f") over {link_}" in ev.stderr
    assert f"secc: {protocol} (" in err and f") over {link_}" in err
    assert {line.split()[2] for line in _lines(ev.stdout)[2:]} >= {namespace}


def test_pause_and_resume(link: NetnsPair) -> None:
    ev_lines, _, _ = _session(link, (), ("--pause-after", "3", "--loops", "6"), sessions=1)
    text = "\n".join(ev_lines)
    assert "ChargingSession=Pause" in text
    assert "ResponseCode=OK_OldSessionJoined" in text
    assert text.count("SessionSetupReq") == 2


def test_renegotiation(link: NetnsPair) -> None:
    ev_lines, _, _ = _session(link, (), ("--renegotiate-after", "2", "--loops", "5"))
    text = "\n".join(ev_lines)
    assert "ChargeProgress=Renegotiate" in text
    assert text.count("ChargeParameterDiscoveryReq") == 2


def test_the_vehicle_fails_with_the_reason_when_no_charger_answers(link: NetnsPair) -> None:
    ev = _evcc(link, "--loops", "1", timeout=60)
    assert ev.returncode == 1
    assert ev.stdout == ""
    assert "no SECC answered SDP" in ev.stderr


def test_usage_mistakes_exit_2(link: NetnsPair) -> None:
    ev = _evcc(link, "--tls")
    assert ev.returncode == 2 and "--trust" in ev.stderr
    proc = subprocess.run([*CLI, "secc", "-i", "lo", "--protocols", "iso21"],
                          capture_output=True, text=True, env=env())
    assert proc.returncode == 2 and "iso21 not one of din, iso2, iso20" in proc.stderr


def test_the_charger_exits_1_on_a_failed_session_when_asked(link: NetnsPair) -> None:
    secc = _secc(link, "--exit-on-failure", "--protocols", "din")
    ev = _evcc(link, "--protocols", "iso2", "--loops", "1")
    code, _, err = _finish(secc)
    assert ev.returncode == 1 and "no common protocol" in ev.stderr
    assert code == 1 and "failed" in err


def test_one_charger_process_serves_two_evses(tmp_path: Path) -> None:
    reason = netns_unavailable_reason()
    if reason is not None:
        pytest.skip(f"netns test skipped: {reason}")
    with netns_pair() as a, netns_pair() as b:
        # move b's charger-side link into a's charger namespace: one charger, two links
        subprocess.run(["ip", "-n", b.secc_ns, "link", "set", b.secc_if, "netns", a.secc_ns],
                       check=True)
        for cmd in (["addr", "add", "fe80::1/64", "dev", b.secc_if, "nodad"],
                    ["link", "set", b.secc_if, "up"]):
            subprocess.run(["ip", "-n", a.secc_ns, *cmd], check=True)
        secc = subprocess.Popen(in_netns(a.secc_ns, *CLI, "secc", "-i", a.secc_if, "-i",
                                         b.secc_if, "--sessions", "2"),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env=env())
        assert secc.stderr is not None
        ready = 0
        while ready < 2:
            line = secc.stderr.readline()
            assert line, "the charger ended before it was ready"
            ready += "ready on" in line
        ev1 = subprocess.Popen(in_netns(a.evcc_ns, *CLI, "evcc", "-i", a.evcc_if, "--loops",
                                        "5"), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, env=env())
        ev2 = subprocess.Popen(in_netns(b.evcc_ns, *CLI, "evcc", "-i", b.evcc_if, "--loops",
                                        "5", "--protocols", "din"), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env=env())
        for ev in (ev1, ev2):
            _, err = ev.communicate(timeout=60)
            assert ev.returncode == 0, err
        code, out, err = _finish(secc)
        assert code == 0, err
        tagged = {line.rsplit(" ", 1)[-1] for line in _lines(out)}
        assert tagged == {f"evse={a.secc_if}", f"evse={b.secc_if}"}
        # each EVSE ran its own session, in its own protocol
        for iface, protocol in ((a.secc_if, "iso2"), (b.secc_if, "din")):
            mine = [line for line in out.splitlines() if line.endswith(f"evse={iface}")]
            assert {line.split()[2] for line in mine[2:]} == {protocol}


@pytest.mark.parametrize("curve", ["SECP521", "X448"])
def test_iso20_plug_and_charge_with_certificate_installation(link: NetnsPair, tmp_path: Path,
                                                             curve: str) -> None:
    """-20 PnC between the simulators: TLS 1.3 with the vehicle's certificate, the vehicle
    without a contract installs one (its OEM key's ECDHCurve), then authorizes with it."""
    pki = tmp_path / "pki"
    secc = _secc(link, "--sessions", "1", "--tls", "required", "--pki", str(pki),
                 "--protocols", "iso20", "--auth", "eim,pnc")
    ev = _evcc(link, "--tls", "--trust", str(pki / "certs" / "v2g_root.pem"), "--pki", str(pki),
               "--protocols", "iso20", "--auth", "pnc", "--cert-install", "--ecdh-curve", curve,
               "--loops", "2")
    code, out, err = _finish(secc)
    assert ev.returncode == 0, ev.stderr
    assert code == 0, err
    ev_lines = _lines(ev.stdout)
    assert _messages(ev_lines) == _messages(_lines(out))
    names = [m for _, m in _messages(ev_lines)]
    start = names.index("AuthorizationSetupRes")
    assert names[start + 1:start + 5] == ["CertificateInstallationReq",
                                          "CertificateInstallationRes", "AuthorizationReq",
                                          "AuthorizationRes"]
    assert "evcc: iso20 (" in ev.stderr and ") over TLSv1.3" in ev.stderr
    assert (pki / "ev_contract" / "chain.pem").exists()


def test_iso20_standby_and_back(link: NetnsPair, tmp_path: Path) -> None:
    """The vehicle goes to standby after 2 loop requests; the charger (its TOML behaviour)
    says ExitStandby 0.5 s later; the vehicle starts again and finishes."""
    config = tmp_path / "charger.toml"
    config.write_text("[behaviour]\nexit_standby_after_s = 0.5\n")
    ev_lines, _, _ = _session(link, ("--protocols", "iso20", "--config", str(config)),
                              ("--protocols", "iso20", "--standby-after", "2", "--loops", "12"))
    text = "\n".join(ev_lines)
    progress = re.findall(r"PowerDeliveryReq .*?ChargeProgress=(\w+)", text)
    assert progress == ["Start", "Standby", "Start", "Stop"], progress
    assert "EVSENotification=ExitStandby" in text


def test_one_vehicle_process_plugs_in_again_for_each_session(link: NetnsPair) -> None:
    """``evcc --sessions 3``: one process, three plug-ins (SDP and a new session each),
    all completed: exit 0, and the charger served three sessions."""
    secc = _secc(link, "--sessions", "3")
    ev = subprocess.Popen(in_netns(link.evcc_ns, *CLI, "evcc", "-i", link.evcc_if,
                                   "--sessions", "3", "--loops", "2"),
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env())
    try:
        ev_out, ev_err = ev.communicate(timeout=90)
    finally:
        if ev.poll() is None:
            ev.kill()
    code, out, err = _finish(secc)
    assert ev.returncode == 0, ev_err
    assert code == 0, err
    ev_lines, secc_lines = _lines(ev_out), _lines(out)
    assert _messages(ev_lines) == _messages(secc_lines)
    names = [m for _, m in _messages(ev_lines)]
    assert names.count("supportedAppProtocolReq") == 3
    assert names.count("SessionSetupReq") == 3 and names.count("SessionStopRes") == 3
    assert ev_err.count("evcc: complete:") == 3
    assert "plug-in 3/3: 3 completed, 0 not" in ev_err
    # three sessions, three SessionIDs, one vehicle process (the one Popen above)
    ids = re.findall(r"session ([0-9A-F]+) completed", ev_err)
    assert len(set(ids)) == 3, ev_err


def test_every_plug_in_counts_and_a_failed_one_makes_the_exit_code(link: NetnsPair) -> None:
    """A session that fails does not end the run: the vehicle plugs in again; the exit
    code is 1 because not every session completed."""
    secc = _secc(link, "--sessions", "0", "--protocols", "din")
    try:
        ev = _evcc(link, "--sessions", "2", "--protocols", "iso20", timeout=60)
    finally:
        secc.kill()
        secc.communicate()
    assert ev.returncode == 1, ev.stderr
    assert "plug-in 1/2: 0 completed, 1 not" in ev.stderr
    assert "plug-in 2/2: 0 completed, 2 not" in ev.stderr
    assert _messages(_lines(ev.stdout)).count(("EV->EVSE", "supportedAppProtocolReq")) == 2
