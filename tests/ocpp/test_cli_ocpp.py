"""``iso15118 secc --ocpp URL --station-id ID [--ocpp-version]`` as real processes: the
charger in one network namespace with a CSMS process beside it, the vehicle
(``iso15118 evcc``) in the other; SDP and TCP between them, a WebSocket to the CSMS. The
stdout contract of ``secc`` is unchanged (one line per V2G message). Needs root (network
namespaces); skipped with the reason otherwise. Usage mistakes exit 2 (no root needed)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("ocpp")
pytest.importorskip("websockets")

from session.simulator_procs import CLI, env, run_vehicle, start_charger  # noqa: E402
from support.netns import (  # noqa: E402
    NetnsPair,
    in_netns,
    netns_pair_or_skip,
)

CSMS = Path(__file__).with_name("csms_process.py")


@pytest.fixture(scope="module")
def link() -> Iterator[NetnsPair]:
    with netns_pair_or_skip() as pair:
        yield pair


def _start_csms(namespace: str, version: str) -> tuple[subprocess.Popen[str], int]:
    proc = subprocess.Popen(in_netns(namespace, sys.executable, str(CSMS), version),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env())
    assert proc.stderr is not None
    line = proc.stderr.readline()
    assert line.startswith("listening "), line + proc.stderr.read()
    return proc, int(line.split()[1])


@pytest.mark.parametrize("version", ["2.0.1", "2.1"])
def test_the_simulated_charger_as_an_ocpp_station(link: NetnsPair, version: str) -> None:
    csms, port = _start_csms(link.secc_ns, version)
    try:
        secc = start_charger(link.secc_ns, link.secc_if, "--sessions", "1",
                             "--ocpp", f"ws://127.0.0.1:{port}/ocpp", "--station-id", "CS-CLI",
                             "--ocpp-version", version)
        ev = run_vehicle(link.evcc_ns, link.evcc_if, "--loops", "4")
        out, err = secc.communicate(timeout=30)
        seen, _ = csms.communicate(timeout=30)
    finally:
        for proc in (csms,):
            if proc.poll() is None:
                proc.kill()
    assert ev.returncode == 0, ev.stderr
    assert secc.returncode == 0, err
    # (the "ocpp: station ... connected" note precedes "ready on", which start_charger
    # reads away; the CSMS's own record below shows the connection)
    # stdout is still one line per V2G message, the same messages the vehicle logged
    assert [ln.split()[3] for ln in out.splitlines()] == \
        [ln.split()[3] for ln in ev.stdout.splitlines()]
    calls: list[dict[str, Any]] = [json.loads(line) for line in seen.splitlines()]
    actions = [c["action"] for c in calls]
    assert calls[0] == {"action": "connect", "payload": {"path": "/ocpp/CS-CLI"}}
    assert actions[1:3] == ["BootNotification", "StatusNotification"]
    kinds = [c["payload"]["event_type"] for c in calls if c["action"] == "TransactionEvent"]
    assert kinds[0] == "Started" and kinds[-1] == "Ended"
    [needs] = [c["payload"] for c in calls if c["action"] == "NotifyEVChargingNeeds"]
    dc = needs["charging_needs"]["dc_charging_parameters"]
    assert needs["charging_needs"]["requested_energy_transfer"] == "DC"
    assert dc["ev_max_current"] > 0 and "state_of_charge" in dc
    statuses = [c["payload"]["connector_status"] for c in calls
                if c["action"] == "StatusNotification"]
    assert statuses == ["Available", "Occupied", "Available"]


@pytest.mark.parametrize(("args", "message"), [
    (("--ocpp", "ws://127.0.0.1:9/ocpp"), "--station-id"),
    (("--station-id", "CS1"), "--ocpp"),
    (("--ocpp", "http://127.0.0.1:9", "--station-id", "CS1"), "ws://"),
    (("--ocpp", "ws://127.0.0.1:9", "--station-id", "CS1", "--ocpp-version", "1.6"),
     "invalid choice"),
])
def test_usage_mistakes_exit_2(args: tuple[str, ...], message: str) -> None:
    done = subprocess.run([*CLI, "secc", "-i", "lo", *args], capture_output=True, text=True,
                          timeout=60, env=env())
    assert done.returncode == 2 and message in done.stderr


def test_an_unreachable_csms_exits_1() -> None:
    done = subprocess.run([*CLI, "secc", "-i", "lo", "--ocpp", "ws://127.0.0.1:9/ocpp",
                           "--station-id", "CS1"], capture_output=True, text=True, timeout=60,
                          env=env())
    assert done.returncode == 1 and "cannot reach the CSMS" in done.stderr
