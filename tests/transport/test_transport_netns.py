"""SDP over real IPv6 link-local multicast between two network namespaces, then TCP, TLS 1.2
and TLS 1.3 to the discovered link-local address.

Topology (names carry this process's pid, so parallel runs do not collide)::

    netns v2gs<pid>  [v2gS<pid> fe80::1] ==veth== [v2gC<pid> fe80::2]  netns v2gc<pid>
        SECC: SDP responder + echo servers          EVCC: discover + connect

Both sides run as subprocesses under ``ip netns exec``; traffic only ever flows between
the two namespaces. Needs root (CAP_NET_ADMIN); skipped with the reason otherwise.
"""

from __future__ import annotations

import json
import os
import selectors
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from transport_certs import make_pki

import iso15118

pytestmark = pytest.mark.netns

HERE = Path(__file__).resolve().parent
SRC = Path(iso15118.__file__).resolve().parent.parent
SECC_ADDRESS = "fe80::1"
EVCC_ADDRESS = "fe80::2"


@dataclass(frozen=True)
class NetnsPair:
    secc_ns: str
    evcc_ns: str
    secc_if: str
    evcc_if: str


def _ip(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, timeout=10)


@pytest.fixture(scope="module")
def netns_pair() -> Iterator[NetnsPair]:
    if shutil.which("ip") is None:
        pytest.skip("netns test skipped: the 'ip' tool (iproute2) is not installed")
    pid = os.getpid()
    pair = NetnsPair(f"v2gs{pid}", f"v2gc{pid}", f"v2gS{pid}", f"v2gC{pid}")
    created: list[str] = []
    try:
        for ns in (pair.secc_ns, pair.evcc_ns):
            result = _ip("netns", "add", ns)
            if result.returncode != 0:
                pytest.skip(f"netns test skipped: cannot create a network namespace "
                            f"(need root/CAP_NET_ADMIN): {result.stderr.strip()}")  # fmt: skip
            created.append(ns)
        steps = [
            ("link", "add", pair.secc_if, "type", "veth", "peer", "name", pair.evcc_if),
            ("link", "set", pair.secc_if, "netns", pair.secc_ns),
            ("link", "set", pair.evcc_if, "netns", pair.evcc_ns),
            ("-n", pair.secc_ns, "link", "set", "lo", "up"),
            ("-n", pair.evcc_ns, "link", "set", "lo", "up"),
            # nodad: usable at once, no 1-2 s of duplicate address detection
            ("-n", pair.secc_ns, "addr", "add", f"{SECC_ADDRESS}/64", "dev", pair.secc_if, "nodad"),
            ("-n", pair.evcc_ns, "addr", "add", f"{EVCC_ADDRESS}/64", "dev", pair.evcc_if, "nodad"),
            ("-n", pair.secc_ns, "link", "set", pair.secc_if, "up"),
            ("-n", pair.evcc_ns, "link", "set", pair.evcc_if, "up"),
        ]
        for step in steps:
            result = _ip(*step)
            if result.returncode != 0:
                pytest.skip(f"netns test skipped: 'ip {' '.join(step)}' failed: {result.stderr}")
        yield pair
    finally:
        for ns in created:  # deleting a namespace also deletes its end of the veth pair
            _ip("netns", "delete", ns)
        _ip("link", "delete", pair.secc_if)  # in case it never moved into a namespace


def _in_netns(ns: str, *command: str) -> list[str]:
    return ["ip", "netns", "exec", ns, *command]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(SRC), env.get("PYTHONPATH")) if p)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _wait_for_line(proc: subprocess.Popen[str], marker: str, timeout: float) -> list[str]:
    """Read the process's stdout until a line contains ``marker``; returns the lines read."""
    assert proc.stdout is not None
    lines: list[str] = []
    selector = selectors.DefaultSelector()
    selector.register(proc.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if not selector.select(timeout=max(0.0, deadline - time.monotonic())):
                continue
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line.rstrip("\n"))
            if marker in line:
                return lines
    finally:
        selector.close()
    stderr = proc.stderr.read() if proc.poll() is not None and proc.stderr else ""
    raise AssertionError(f"{marker!r} not seen; stdout={lines} stderr={stderr}")


def _stop(proc: subprocess.Popen[str], sig: int = signal.SIGTERM) -> None:
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


def test_discovery_then_tcp_tls12_tls13_over_link_local(
    netns_pair: NetnsPair, tmp_path: Path
) -> None:
    secc_p256 = make_pki(tmp_path, "p256", "secc")
    secc_p521 = make_pki(tmp_path, "p521", "secc")
    ev = make_pki(tmp_path, "p521", "ev")
    ports = {"tcp": 61851, "tls12": 64109, "tls13": 64110}
    server = subprocess.Popen(
        _in_netns(
            netns_pair.secc_ns,
            sys.executable,
            str(HERE / "netns_secc.py"),
            "--interface",
            netns_pair.secc_if,
            "--address",
            SECC_ADDRESS,
            "--p256-chain",
            str(secc_p256.chain),
            "--p256-key",
            str(secc_p256.key),
            "--p521-chain",
            str(secc_p521.chain),
            "--p521-key",
            str(secc_p521.key),
            "--ev-root",
            str(ev.root),
            "--tcp-port",
            str(ports["tcp"]),
            "--tls12-port",
            str(ports["tls12"]),
            "--tls13-port",
            str(ports["tls13"]),
        ),  # fmt: skip
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
    )
    try:
        _wait_for_line(server, "READY", timeout=20)
        client = subprocess.run(
            _in_netns(
                netns_pair.evcc_ns,
                sys.executable,
                str(HERE / "netns_evcc.py"),
                "--interface",
                netns_pair.evcc_if,
                "--p256-root",
                str(secc_p256.root),
                "--p521-root",
                str(secc_p521.root),
                "--ev-chain",
                str(ev.chain),
                "--ev-key",
                str(ev.key),
                "--tls13-port",
                str(ports["tls13"]),
            ),  # fmt: skip
            capture_output=True,
            text=True,
            timeout=40,
            env=_env(),
        )
        assert client.returncode == 0, client.stderr
        report = json.loads(client.stdout)
    finally:
        _stop(server)

    (plain,) = report["discovered_no_tls"]
    (secure,) = report["discovered_tls"]
    assert plain["address"] == secure["address"] == SECC_ADDRESS
    assert (plain["port"], plain["security"]) == (ports["tcp"], "NO_TLS")
    assert (secure["port"], secure["security"]) == (ports["tls12"], "TLS")
    assert plain["transport_protocol"] == "TCP"
    assert secure["host"].startswith(f"{SECC_ADDRESS}%")  # scoped to the EVCC's veth
    assert report["tcp"]["ok"] and report["tcp"]["tls_version"] is None
    assert report["tls12"]["ok"] and report["tls12"]["tls_version"] == "TLSv1.2"
    assert report["tls12"]["cipher"] == "ECDHE-ECDSA-AES128-SHA256"
    assert report["tls13"]["ok"] and report["tls13"]["tls_version"] == "TLSv1.3"
    for kind in ("tcp", "tls12", "tls13"):
        assert report[kind]["peer"][0].startswith(SECC_ADDRESS)


def test_cli_serve_and_discover_across_namespaces(netns_pair: NetnsPair) -> None:
    sdp_port = "15119"  # beside the other test's responder, should one still linger
    server = subprocess.Popen(
        _in_netns(
            netns_pair.secc_ns,
            sys.executable,
            "-m",
            "iso15118.cli_sdp",
            "serve",
            "--interface",
            netns_pair.secc_if,
            "--port",
            "61000",
            "--address",
            SECC_ADDRESS,
            "--sdp-port",
            sdp_port,
        ),  # fmt: skip
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
    )
    try:
        _wait_for_line(server, "answering SDP", timeout=20)
        discovered = subprocess.run(
            _in_netns(
                netns_pair.evcc_ns,
                sys.executable,
                "-m",
                "iso15118.cli_sdp",
                "discover",
                "--interface",
                netns_pair.evcc_if,
                "--no-tls",
                "--timeout",
                "10",
                "--sdp-port",
                sdp_port,
            ),  # fmt: skip
            capture_output=True,
            text=True,
            timeout=30,
            env=_env(),
        )
        assert discovered.returncode == 0, discovered.stderr
        host, port, security, transport = discovered.stdout.split()
        assert host.startswith(f"{SECC_ADDRESS}%")
        assert (port, security, transport) == ("61000", "NO_TLS", "TCP")
        (request_line,) = _wait_for_line(server, "request from", timeout=10)
        assert f"[{EVCC_ADDRESS}" in request_line and "security=NO_TLS" in request_line
        assert "(answered)" in request_line
    finally:
        _stop(server, signal.SIGINT)
    assert server.returncode == 0
