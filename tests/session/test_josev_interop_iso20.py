"""ISO 15118-20 between our simulators and Josev 0.31.2, both directions (EIM, TCP).

Each test is a full -20 session between two network namespaces: DC and AC, scheduled and
dynamic control, DC_BPT and AC_BPT with power fed back. Both verdicts are checked (our exit
status, Josev's end of session) and both logs must list the same messages in the same order.
What Josev cannot do in -20 (CertificateInstallation, schedule renegotiation, joining a
paused session) is in ``josev/README.md``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from josev.harness import JosevConfig, JosevProcess, JosevRunner, josev_fixture  # noqa: F401
from josev_sessions import josev_vehicle_against_ours, our_vehicle_against_josev
from simulator_procs import names

from iso15118.pki import write_test_pki

pytestmark = pytest.mark.netns

def josev20(energy: str, mode: str, **knobs: Any) -> JosevConfig:
    protocol = "ISO-20-AC" if energy.startswith("AC") else "ISO-20-DC"
    return JosevConfig(protocols=(protocol,), energy=energy,  # type: ignore[arg-type]
                       control_mode=mode, **knobs)  # type: ignore[arg-type]


def _against_josev_charger(josev: JosevRunner, config: JosevConfig, *args: str
                           ) -> tuple[str, JosevProcess, str]:
    ev, secc = our_vehicle_against_josev(josev, config, "--protocols", "iso20", *args)
    return ev.stdout, secc, ev.stderr


@pytest.mark.parametrize("mode", ["scheduled", "dynamic"])
@pytest.mark.parametrize("energy", ["DC", "AC"])
def test_our_vehicle_against_josevs_charger(josev: JosevRunner, energy: str, mode: str) -> None:
    out, _, _ = _against_josev_charger(josev, josev20(energy, mode), "--energy", energy.lower(),
                                    "--control", mode, "--loops", "4")
    loop = f"{energy}_ChargeLoopReq"
    assert names(out, "EV->EVSE").count(loop) == 4
    prefix = "Dynamic" if mode == "dynamic" else "Scheduled"
    assert all(f"{prefix}_{energy}_CL" not in line or "iso20" in line
               for line in out.splitlines())


@pytest.mark.parametrize("energy", ["DC_BPT", "AC_BPT"])
def test_our_bidirectional_vehicle_against_josevs_charger(josev: JosevRunner,
                                                          energy: str) -> None:
    out, secc, _ = _against_josev_charger(
        josev, josev20(energy, "dynamic", bpt_discharge=True), "--energy", energy.lower(),
        "--control", "dynamic", "--loops", "4")
    kind = energy[:2]
    loop = [m.body for m in secc.messages() if m.name == f"{kind}_ChargeLoopRes"]
    assert all(f"BPT_Dynamic_{kind}_CLResControlMode" in body for body in loop)
    if kind == "AC":  # Josev's charger asks for power back: a negative target
        assert all(body["BPT_Dynamic_AC_CLResControlMode"]["EVSETargetActivePower"]["Value"] < 0
                   for body in loop)


def _josev_vehicle_against_our_charger(josev: JosevRunner, config: JosevConfig, *args: str
                                       ) -> tuple[str, JosevProcess, str]:
    return josev_vehicle_against_ours(josev, config, "--protocols", "iso20,iso2,din", *args)


@pytest.mark.parametrize("mode", ["scheduled", "dynamic"])
@pytest.mark.parametrize("energy", ["DC", "AC"])
def test_josevs_vehicle_against_our_charger(josev: JosevRunner, energy: str, mode: str) -> None:
    out, _, _ = _josev_vehicle_against_our_charger(josev, josev20(energy, mode),
                                                "--energy", "ac,dc", "--control", mode)
    assert f"{energy}_ChargeLoopReq" in names(out, "EV->EVSE")


def test_josevs_bidirectional_vehicle_discharges_at_our_charger(josev: JosevRunner) -> None:
    out, _, _ = _josev_vehicle_against_our_charger(
        josev, josev20("DC_BPT", "scheduled", bpt_discharge=True),
        "--energy", "dc,dc_bpt", "--control", "scheduled")
    # Josev's EV asks for a negative current; our charger delivered one
    loop = [line for line in out.splitlines() if " DC_ChargeLoopRes " in line]
    assert loop and any("EVSEPresentCurrent=-" in line for line in loop[1:])


# ------------------------------------------------------------------ TLS 1.3, both ways


@pytest.fixture
def ours20(josev: JosevRunner) -> Path:
    """The runner's ISO 15118-20 test PKI (secp521r1), in our layout for our side."""
    path = josev.workdir / "ours-pki"
    write_test_pki(josev.use_pki(20).pki, path)
    return path


def test_our_vehicle_over_tls13_at_josevs_charger(josev: JosevRunner, ours20: Path) -> None:
    """Mutual TLS 1.3: Josev's charger asks for the vehicle certificate and checks it
    against the OEM root; it takes only the prime256v1 key exchange, which our vehicle
    offers among OpenSSL's default groups."""
    _, _, err = _against_josev_charger(
        josev, josev20("DC", "dynamic", tls=True, tls13=True, pki=20),
        "--tls", "--trust", str(ours20 / "certs" / "v2g_root.pem"), "--pki", str(ours20),
        "--energy", "dc", "--control", "dynamic", "--loops", "3")
    assert "iso20 (urn:iso:std:iso:15118:-20:DC) over TLSv1.3" in err


def test_josevs_vehicle_over_tls13_at_our_charger(josev: JosevRunner, ours20: Path) -> None:
    """Our charger serves -20, -2 and DIN on one TLS port; Josev's vehicle (TLS 1.3, its
    OEM chain presented, prime256v1) gets -20 over TLS 1.3."""
    _, _, err = _josev_vehicle_against_our_charger(
        josev, josev20("DC", "dynamic", tls=True, tls13=True, pki=20),
        "--tls", "required", "--pki", str(ours20), "--energy", "ac,dc",
        "--control", "dynamic")
    assert "iso20 (urn:iso:std:iso:15118:-20:DC) over TLSv1.3" in err
