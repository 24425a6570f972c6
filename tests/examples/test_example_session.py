"""The example EV and EVSE (``examples/ev.py``, ``examples/evse.py``) run a whole ISO 15118-2
DC session against each other as real processes: SDP over IPv6 link-local multicast, then
TCP or TLS 1.2, then every message from supportedAppProtocol to SessionStop.

Linux does not route link-local multicast over ``lo`` (the send fails or goes nowhere,
even with MULTICAST set in a fresh namespace), so the pair runs in two network namespaces
joined by a veth pair: the topology and helpers of ``tests/transport/test_transport_netns.py``.
Needs root (CAP_NET_ADMIN); skipped with the reason otherwise.
"""

from __future__ import annotations

import os
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "transport"))
from test_transport_netns import (  # noqa: E402
    SECC_ADDRESS,
    NetnsPair,
    _env,
    _in_netns,
    netns_pair,  # noqa: F401  (a fixture: imported so pytest finds it; F811 where taken)
)

pytestmark = pytest.mark.netns

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
CYCLES = 3
#: The requests of a complete session, repeats (PreCharge, CurrentDemand) collapsed.
SEQUENCE = [
    "supportedAppProtocolReq",
    "SessionSetupReq",
    "ServiceDiscoveryReq",
    "PaymentServiceSelectionReq",
    "AuthorizationReq",
    "ChargeParameterDiscoveryReq",
    "CableCheckReq",
    "PreChargeReq",
    "PowerDeliveryReq",
    "CurrentDemandReq",
    "PowerDeliveryReq",
    "WeldingDetectionReq",
    "SessionStopReq",
]


def _names(lines: list[str], prefix: str) -> list[str]:
    """The message names on the lines starting with ``prefix`` (e.g. ``EVSE <-``)."""
    return [line[len(prefix) :].split()[0] for line in lines if line.startswith(prefix)]


def _end(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.kill()
        proc.wait(timeout=5)


def _read_until(proc: subprocess.Popen[bytes], marker: bytes, timeout: float) -> bytes:
    """Read ``proc``'s stdout until ``marker`` appears; returns everything read.

    Reads the raw pipe: a buffered reader could hold the marker where select() cannot
    see it, and we would wait for output that already came.
    """
    assert proc.stdout is not None
    fd, data = proc.stdout.fileno(), b""
    deadline = time.monotonic() + timeout
    while marker not in data:
        remaining = deadline - time.monotonic()
        chunk = os.read(fd, 4096) if select.select([fd], [], [], max(0, remaining))[0] else b""
        if not chunk:
            _end(proc)
            stderr = proc.stderr.read() if proc.stderr else b""
            raise AssertionError(f"{marker!r} not seen: {data!r}, stderr {stderr!r}")
        data += chunk
    return data


def _collapsed(names: list[str]) -> list[str]:
    return [name for i, name in enumerate(names) if i == 0 or names[i - 1] != name]


def _run_pair(
    pair: NetnsPair, evse_args: list[str], ev_args: list[str]
) -> tuple[subprocess.CompletedProcess[str], int | None, list[str], str]:
    """Start the EVSE, run the EV to its end, stop the EVSE; never leaves either running.

    Returns the EV's result and the EVSE's exit code (None if it had to be stopped),
    stdout lines and stderr.
    """
    evse = subprocess.Popen(
        _in_netns(pair.secc_ns, sys.executable, str(EXAMPLES / "evse.py"),
                  "--interface", pair.secc_if, "--address", SECC_ADDRESS, *evse_args),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=_env(),
    )  # fmt: skip
    try:
        output = _read_until(evse, b"EVSE: ready", timeout=10)
        ev = subprocess.run(
            _in_netns(pair.evcc_ns, sys.executable, str(EXAMPLES / "ev.py"),
                      "--interface", pair.evcc_if, *ev_args),
            capture_output=True,
            text=True,
            timeout=15,
            env=_env(),
        )  # fmt: skip
        try:
            evse_code: int | None = evse.wait(timeout=5)
        except subprocess.TimeoutExpired:
            evse_code = None
    finally:
        _end(evse)
    assert evse.stdout is not None and evse.stderr is not None
    output += evse.stdout.read()
    return ev, evse_code, output.decode().splitlines(), evse.stderr.read().decode()


@pytest.mark.parametrize("tls", [False, True], ids=["tcp", "tls12"])
def test_ev_and_evse_complete_a_dc_session(
    netns_pair: NetnsPair,  # noqa: F811
    tmp_path: Path,
    tls: bool,
) -> None:
    evse_args: list[str] = []
    ev_args = ["--cycles", str(CYCLES)]
    if tls:
        evse_args += ["--tls", "--pki-dir", str(tmp_path / "pki")]
        ev_args += ["--tls", "--trust", str(tmp_path / "pki" / "certs" / "v2g_root.pem")]
    ev, evse_code, evse_lines, evse_err = _run_pair(netns_pair, evse_args, ev_args)

    assert ev.returncode == 0, f"EV failed: {ev.stderr}\nEVSE said: {evse_err}"
    assert evse_code == 0, f"EVSE failed: {evse_err}"
    ev_lines = ev.stdout.splitlines()
    assert ev_lines[-1] == "EV  : session complete"
    assert evse_lines[-1] == "EVSE: session complete"
    assert f"({'TLS 1.2' if tls else 'TCP'})" in evse_lines[0 if not tls else 1]
    sent = _names(ev_lines, "EV   ->")
    assert _collapsed(sent) == SEQUENCE
    assert sent.count("CurrentDemandReq") == CYCLES
    assert _names(evse_lines, "EVSE <-") == sent  # the EVSE saw exactly what was sent
    answers = _names(ev_lines, "EV   <-")
    assert answers == [name.removesuffix("Req") + "Res" for name in sent]
    assert _names(evse_lines, "EVSE ->") == answers
    responses = [line for line in ev_lines if line.startswith("EV   <-")]
    assert all(" ResponseCode=OK" in line for line in responses), responses
    (setup,) = [line for line in responses if "SessionSetupRes" in line]
    assert "ResponseCode=OK_NewSessionEstablished" in setup
    # the backend's decision and the isolation test took time: answered Ongoing first
    assert any("AuthorizationRes" in line and "EVSEProcessing=Ongoing" in line
               for line in responses)
    demand = [line for line in responses if "CurrentDemandRes" in line]
    # the power stage follows the EV's 100 A request from the second turn on
    assert all("EVSEPresentCurrent=100 A" in line for line in demand[1:])


def test_ev_without_a_trust_anchor_refuses_a_tls_evse(
    netns_pair: NetnsPair,  # noqa: F811
    tmp_path: Path,
) -> None:
    ev, evse_code, evse_lines, _ = _run_pair(
        netns_pair, ["--tls", "--pki-dir", str(tmp_path / "pki")], ["--tls"]
    )
    assert ev.returncode == 1
    assert "the EVSE wants TLS: give its V2G root with --trust" in ev.stderr
    assert evse_code is None  # still waiting for an EV when stopped
    assert not any(line.startswith("EVSE <-") for line in evse_lines)
