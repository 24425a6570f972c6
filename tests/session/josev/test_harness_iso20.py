"""The Josev harness runs ISO 15118-20 sessions: Josev's SECC against Josev's EVCC, one full
session per scenario over two network namespaces, both verdicts and both message logs
checked (names in order, the schema each message travelled in, the -20 contents that make
the scenario what it is).

Our -20 SECC and EVCC will be tested against Josev with the same knobs; README.md next to
this file lists what Josev cannot do in -20 and what our side must accommodate.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed448

from .harness import ControlMode, Energy, JosevConfig, JosevProcess, JosevRunner
from .pki import make_josev_pki
from .test_harness import (
    FAST,
    assert_clean,
    assert_mirrored,
    collapse,
    responses,
    run_session,
)

pytestmark = pytest.mark.netns

SETUP = [
    "supportedAppProtocolReq", "SessionSetupReq", "AuthorizationSetupReq", "AuthorizationReq",
    "ServiceDiscoveryReq", "ServiceDetailReq", "ServiceSelectionReq",
]  # fmt: skip
DC = [
    *SETUP, "DC_ChargeParameterDiscoveryReq", "ScheduleExchangeReq", "DC_CableCheckReq",
    "DC_PreChargeReq", "PowerDeliveryReq", "DC_ChargeLoopReq", "PowerDeliveryReq",
    "DC_WeldingDetectionReq", "SessionStopReq",
]  # fmt: skip
AC = [
    *SETUP, "AC_ChargeParameterDiscoveryReq", "ScheduleExchangeReq", "PowerDeliveryReq",
    "AC_ChargeLoopReq", "PowerDeliveryReq", "SessionStopReq",
]  # fmt: skip
#: The ServiceDetailRes parameter that says which control mode a parameter set is for.
CONTROL_MODE_IDS = {"scheduled": 1, "dynamic": 2}
CL_MODE = {"scheduled": "Scheduled", "dynamic": "Dynamic"}


def iso20(energy: Energy = "DC", **knobs: Any) -> JosevConfig:
    """One side's -20 scenario; the protocol (AC or DC namespace) follows ``energy``."""
    protocol = "ISO-20-AC" if energy.startswith("AC") else "ISO-20-DC"
    return JosevConfig(protocols=(protocol,), energy=energy, stop_linger=FAST, **knobs)


def assert_iso20_schemas(proc: JosevProcess) -> None:
    """Every message after SAP went in the schema its name belongs to, which for a received
    message means Josev found the matching V2GTP payload type (0x8002/0x8003/0x8004)."""
    for message in proc.messages():
        if message.name.startswith("supportedAppProtocol"):
            expected = "SAP"
        elif message.name.startswith(("DC_", "AC_")):
            expected = f"ISO_V20_{message.name[:2]}"
        else:
            expected = "ISO_V20_COMMON_MSG"
        assert message.namespace == expected, (message.direction, message.name)


def selected_parameter_set(secc: JosevProcess) -> dict[str, int]:
    """The parameters of the parameter set the EV selected, by name."""
    (selection,) = responses(secc, "ServiceSelectionReq")
    chosen = selection["SelectedEnergyTransferService"]
    (detail,) = responses(secc, "ServiceDetailRes")
    for parameter_set in detail["ServiceParameterList"]["ParameterSet"]:
        if parameter_set["ParameterSetID"] == chosen["ParameterSetID"]:
            return {p["Name"]: p["intValue"] for p in parameter_set["Parameter"]}
    raise AssertionError(f"parameter set {chosen} was not offered")


def assert_session(secc: JosevProcess, evcc: JosevProcess, names: list[str]) -> None:
    assert_clean(secc, evcc)
    assert collapse(secc.received_names()) == names
    assert_mirrored(secc, evcc)
    assert_iso20_schemas(secc)
    assert_iso20_schemas(evcc)
    (secc_end,) = secc.session_ends
    (evcc_end,) = evcc.session_ends
    assert secc_end.session_id == evcc_end.session_id
    assert secc_end.protocol == evcc_end.protocol


# --- DC and AC, Scheduled and Dynamic ----------------------------------------------------


@pytest.mark.parametrize("mode", ["scheduled", "dynamic"])
def test_iso20_dc_eim(josev: JosevRunner, mode: ControlMode) -> None:
    config = iso20("DC", control_mode=mode)
    secc, evcc, _, _ = run_session(josev, config, config)
    assert_session(secc, evcc, DC)
    assert josev.pki.version == 20  # TCP: the secp521r1 PKI, although nothing uses it
    assert secc.session_ends[0].protocol == "ISO_15118_20_DC"
    (setup,) = [m for m in evcc.messages() if m.name == "SessionSetupReq"]
    assert setup.header["SessionID"] == "00" * 8  # Josev's EV: 8 zero bytes, not 00
    (setup_res,) = responses(secc, "SessionSetupRes")
    assert setup_res["ResponseCode"] == "OK_NewSessionEstablished"
    assert len(setup_res["Header"]["SessionID"]) == 16
    (discovery,) = responses(secc, "ServiceDiscoveryRes")
    assert discovery["EnergyTransferServiceList"]["Service"] == [
        {"ServiceID": 2, "FreeService": False}
    ]
    assert selected_parameter_set(secc)["ControlMode"] == CONTROL_MODE_IDS[mode]
    (exchange,) = responses(secc, "ScheduleExchangeReq")
    assert f"{CL_MODE[mode]}_SEReqControlMode" in exchange
    loops = responses(secc, "DC_ChargeLoopReq")
    assert len(loops) == 4  # chargeLoopCycle=3: N+1 in -20 (as in -2 AC)
    assert all(f"{CL_MODE[mode]}_DC_CLReqControlMode" in loop for loop in loops)
    progress = [body["ChargeProgress"] for body in responses(evcc, "PowerDeliveryReq")]
    assert progress == ["Start", "Stop"]


@pytest.mark.parametrize("mode", ["scheduled", "dynamic"])
def test_iso20_ac_eim(josev: JosevRunner, mode: ControlMode) -> None:
    config = iso20("AC", control_mode=mode)
    secc, evcc, _, _ = run_session(josev, config, config)
    assert_session(secc, evcc, AC)
    assert secc.session_ends[0].protocol == "ISO_15118_20_AC"
    (discovery,) = responses(secc, "ServiceDiscoveryRes")
    assert discovery["EnergyTransferServiceList"]["Service"][0]["ServiceID"] == 1
    assert selected_parameter_set(secc)["ControlMode"] == CONTROL_MODE_IDS[mode]
    for loop in responses(secc, "AC_ChargeLoopRes"):
        params = loop[f"{CL_MODE[mode]}_AC_CLResControlMode"]
        assert params["EVSETargetActivePower"] == {"Exponent": 0, "Value": 11000}
        assert "EVSEStatus" not in loop  # Josev's SECC: only to notify


def test_iso20_power_delivery_ongoing_then_start(josev: JosevRunner) -> None:
    secc_config = iso20("AC", control_mode="scheduled")
    evcc_config = iso20("AC", control_mode="scheduled", power_delivery_ongoing=2)
    secc, evcc, _, _ = run_session(josev, secc_config, evcc_config)
    assert_session(secc, evcc, AC)
    requests = responses(evcc, "PowerDeliveryReq")
    assert [r["EVProcessing"] for r in requests] == ["Ongoing", "Ongoing", "Finished", "Finished"]
    assert "EVPowerProfile" not in requests[0] and "EVPowerProfile" in requests[2]


# --- bidirectional power transfer -------------------------------------------------------


@pytest.mark.parametrize(
    ("energy", "mode"),
    [("DC_BPT", "scheduled"), ("DC_BPT", "dynamic"), ("AC_BPT", "dynamic")],
)
def test_iso20_bpt_discharge(josev: JosevRunner, energy: Energy, mode: ControlMode) -> None:
    secc_config = iso20(energy, control_mode=mode, bpt_discharge=True)
    evcc_config = iso20(energy, control_mode=mode, bpt_discharge=True)
    secc, evcc, _, _ = run_session(josev, secc_config, evcc_config)
    kind = energy[:2]
    assert_session(secc, evcc, DC if kind == "DC" else AC)
    (discovery,) = responses(secc, "ServiceDiscoveryRes")
    assert discovery["EnergyTransferServiceList"]["Service"][0]["ServiceID"] == (
        6 if kind == "DC" else 5
    )
    (start, _stop) = responses(evcc, "PowerDeliveryReq")
    assert start["BPT_ChannelSelection"] == "Discharge"
    entries = start["EVPowerProfile"]["EVPowerProfileEntries"]["EVPowerProfileEntry"]
    assert all(entry["Power"]["Value"] < 0 for entry in entries)
    loop_requests = responses(evcc, f"{kind}_ChargeLoopReq")
    loop_responses = responses(secc, f"{kind}_ChargeLoopRes")
    req_mode = f"BPT_{CL_MODE[mode]}_{kind}_CLReqControlMode"
    res_mode = f"BPT_{CL_MODE[mode]}_{kind}_CLResControlMode"
    assert all(req_mode in r for r in loop_requests)
    assert all(res_mode in r for r in loop_responses)
    if (kind, mode) == ("DC", "scheduled"):  # the EV asks for a negative current
        assert all(r[req_mode]["EVTargetCurrent"]["Value"] < 0 for r in loop_requests)
        assert all(r["EVSEPresentCurrent"]["Value"] < 0 for r in loop_responses)
    elif kind == "DC":  # Dynamic: the EV wants energy out
        assert all(r[req_mode]["EVTargetEnergyRequest"]["Value"] < 0 for r in loop_requests)
        assert "EVSEMaximumDischargePower" in loop_responses[0][res_mode]
    else:  # AC Dynamic: the charger sets a negative target power
        assert all(r[res_mode]["EVSETargetActivePower"]["Value"] < 0 for r in loop_responses)


# --- TLS 1.3, Plug & Charge --------------------------------------------------------------


@pytest.mark.parametrize("curve", ["secp521r1", "ed448"])
def test_iso20_tls13_with_the_vehicle_certificate(josev: JosevRunner, curve: str) -> None:
    josev.use_pki(20, ed448=curve == "ed448")
    # the charger offers PnC too; the EV takes EIM (the harness narrows Josev's choice)
    secc_config = iso20("DC", tls=True, tls13=True, auth_modes=("EIM", "PnC"))
    evcc_config = iso20("DC", tls=True, tls13=True, auth_modes=("EIM",))
    secc, evcc, _, _ = run_session(josev, secc_config, evcc_config)
    assert_session(secc, evcc, DC)
    pki = josev.pki
    for proc, peer in ((secc, "oem_leaf"), (evcc, "secc_leaf")):
        (tls,) = proc.events("tls")
        assert tls["version"] == "TLSv1.3"
        assert tls["cipher"] == "TLS_AES_256_GCM_SHA384"
        der = pki.pki.certificates[pki.name(peer)].der
        assert tls["peer_cert_sha256"] == hashlib.sha256(der).hexdigest()
    key = pki.pki.key(pki.name("secc_leaf"))
    if curve == "ed448":
        assert isinstance(key, ed448.Ed448PrivateKey)
    else:
        assert isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name == curve
    (setup,) = responses(secc, "AuthorizationSetupRes")
    assert setup["AuthorizationServices"] == ["PnC", "EIM"]
    assert "PnC_ASResAuthorizationMode" in setup  # only that one when PnC is offered
    (auth,) = responses(evcc, "AuthorizationReq")
    assert auth["SelectedAuthorizationService"] == "EIM"


def test_iso20_pnc_over_tls13(josev: JosevRunner) -> None:
    secc_config = iso20("DC", tls=True, tls13=True, auth_modes=("EIM", "PnC"))
    evcc_config = iso20("DC", tls=True, tls13=True, auth_modes=("PnC",))
    secc, evcc, _, _ = run_session(josev, secc_config, evcc_config)
    assert_session(secc, evcc, DC)
    assert josev.pki.version == 2  # Josev signs -20 messages the -2 way (secp256r1)
    assert secc.events("tls")[0]["version"] == "TLSv1.3"
    (setup,) = responses(secc, "AuthorizationSetupRes")
    challenge = setup["PnC_ASResAuthorizationMode"]["GenChallenge"]
    (auth,) = [m for m in evcc.messages() if m.name == "AuthorizationReq"]
    assert auth.body["SelectedAuthorizationService"] == "PnC"
    pnc = auth.body["PnC_AReqAuthorizationMode"]
    assert pnc["GenChallenge"] == challenge
    assert pnc["Id"] == "id1"
    signed_info = auth.header["Signature"]["SignedInfo"]
    assert signed_info["SignatureMethod"]["Algorithm"].endswith("#ecdsa-sha256")
    assert [r["URI"] for r in signed_info["Reference"]] == ["#id1"]
    (result,) = responses(secc, "AuthorizationRes")
    assert (result["ResponseCode"], result["EVSEProcessing"]) == ("OK", "Finished")


# --- pause, renegotiation, Standby, EVSE notifications ----------------------------------


def test_iso20_pause_then_resume_gets_a_new_session(josev: JosevRunner) -> None:
    secc_config = iso20("AC")
    evcc_config = iso20("AC", charge_loops=2, pause=True, resume_after=0.5)
    secc, evcc, secc_ends, evcc_ends = run_session(josev, secc_config, evcc_config, sessions=2)
    assert_clean(secc, evcc)
    assert [e.paused for e in secc_ends] == [e.paused for e in evcc_ends] == [True, False]
    stops = [body["ChargingSession"] for body in responses(evcc, "SessionStopReq")]
    assert stops == ["Pause", "Terminate"]
    setups = [m for m in evcc.messages() if m.name == "SessionSetupReq"]
    first_id = secc_ends[0].session_id
    assert [m.header["SessionID"] for m in setups] == ["00" * 8, first_id]
    # Josev's -20 charger does not join a paused session: a new one, with a new ID
    codes = [body["ResponseCode"] for body in responses(secc, "SessionSetupRes")]
    assert codes == ["OK_NewSessionEstablished", "OK_NewSessionEstablished"]
    assert secc_ends[1].session_id == evcc_ends[1].session_id != first_id
    assert collapse(secc.received_names()) == AC + AC


@pytest.mark.parametrize("who", ["evse-AC", "ev-DC"])
def test_iso20_service_renegotiation(josev: JosevRunner, who: str) -> None:
    side, energy = who.split("-")
    secc_config = iso20(
        energy, service_renegotiation=True,
        evse_renegotiate_after=2 if side == "evse" else None,
    )  # fmt: skip
    evcc_config = iso20(energy, charge_loops=4, ev_renegotiate_after=2 if side == "ev" else None)
    secc, evcc, _, _ = run_session(josev, secc_config, evcc_config)
    first = DC if energy == "DC" else AC
    # the first round up to SessionStop(ServiceRenegotiation), then from ServiceDiscovery
    assert_session(secc, evcc, first + first[first.index("ServiceDiscoveryReq") :])
    stops = [body["ChargingSession"] for body in responses(evcc, "SessionStopReq")]
    assert stops == ["ServiceRenegotiation", "Terminate"]
    discoveries = responses(secc, "ServiceDiscoveryRes")
    assert [d["ServiceRenegotiationSupported"] for d in discoveries] == [True, True]
    loops = responses(secc, f"{energy}_ChargeLoopRes")
    notes = [loop.get("EVSEStatus", {}).get("EVSENotification") for loop in loops]
    if side == "evse":
        assert notes[:2] == [None, "ServiceRenegotiation"]
    else:
        assert set(notes) == {None}
        assert evcc.events("ev_renegotiation")[0]["loop"] == 2


def test_iso20_standby(josev: JosevRunner) -> None:
    secc_config = iso20("AC", standby_allowed=True)
    evcc_config = iso20("AC", charge_loops=4, ev_standby_after=2)
    secc, evcc, _, _ = run_session(josev, secc_config, evcc_config)
    loop = AC.index("AC_ChargeLoopReq")  # Standby, and the loop goes on
    assert_session(secc, evcc, [*AC[: loop + 1], "PowerDeliveryReq", *AC[loop:]])
    progress = [body["ChargeProgress"] for body in responses(evcc, "PowerDeliveryReq")]
    assert progress == ["Start", "Standby", "Stop"]
    codes = [body["ResponseCode"] for body in responses(secc, "PowerDeliveryRes")]
    assert codes == ["OK", "OK", "OK"]


def test_iso20_evse_terminates(josev: JosevRunner) -> None:
    secc_config = iso20("DC", evse_stop_after=2)
    evcc_config = iso20("DC", charge_loops=5)
    secc, evcc, _, _ = run_session(josev, secc_config, evcc_config)
    assert_session(secc, evcc, DC)
    loops = responses(secc, "DC_ChargeLoopRes")
    assert len(loops) == 2  # the EV stops at once
    assert loops[1]["EVSEStatus"] == {"NotificationMaxDelay": 0, "EVSENotification": "Terminate"}
    assert "EVSEStatus" not in loops[0]


# --- the -20 PKI, without Josev ----------------------------------------------------------


def test_iso20_pki_is_written_in_josev_layout(tmp_path: Path) -> None:
    pki = make_josev_pki(tmp_path / "p521", 20)
    certs = tmp_path / "p521" / "iso15118_2" / "certs"  # Josev's -2 folder, also for -20
    assert (certs / "seccLeafCert.der").read_bytes() == pki.pki.certificates["secc_leaf"].der
    assert (certs / "oemCertChain.pem").read_bytes().count(b"BEGIN CERTIFICATE") == 3
    key = pki.pki.key("oem_leaf")
    assert isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name == "secp521r1"
    edwards = make_josev_pki(tmp_path / "ed448", 20, ed448=True)
    der = (tmp_path / "ed448" / "iso15118_2" / "certs" / "v2gRootCACert.der").read_bytes()
    assert der == edwards.pki.certificates["v2g_root_ed448"].der
    assert isinstance(edwards.pki.key("secc_leaf_ed448"), ed448.Ed448PrivateKey)
    with pytest.raises(ValueError):
        make_josev_pki(tmp_path / "bad", 2, ed448=True)
