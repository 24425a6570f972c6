"""The Josev harness is sound: Josev's SECC against Josev's EVCC, one full session per
scenario over two network namespaces, with both verdicts and both message logs checked.

These tests prove the harness (namespaces, launcher, knobs, log parsing, verdicts), so that
our own session tests can trust it when one side is ours. Josev is slow (its EXI codec
takes ~100 ms per message on each side, a JVM starts per process), so most tests shorten
Josev's 5 s post-stop linger; ``test_iso2_dc_eim_tcp`` keeps the real one.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from cryptography.x509.oid import NameOID
from support.netns import netns_pair, netns_unavailable_reason

from .harness import (
    Energy,
    JosevConfig,
    JosevProcess,
    JosevRunner,
    SessionEnd,
    parse_josev_log,
)

pytestmark = pytest.mark.netns

FAST = 0.5  # seconds of post-stop linger where the linger is not under test

DC_EIM = [
    "supportedAppProtocolReq", "SessionSetupReq", "ServiceDiscoveryReq",
    "PaymentServiceSelectionReq", "AuthorizationReq", "ChargeParameterDiscoveryReq",
    "CableCheckReq", "PreChargeReq", "PowerDeliveryReq", "CurrentDemandReq",
    "PowerDeliveryReq", "WeldingDetectionReq", "SessionStopReq",
]  # fmt: skip
AC_EIM = [
    "supportedAppProtocolReq", "SessionSetupReq", "ServiceDiscoveryReq",
    "PaymentServiceSelectionReq", "AuthorizationReq", "ChargeParameterDiscoveryReq",
    "PowerDeliveryReq", "ChargingStatusReq", "PowerDeliveryReq", "SessionStopReq",
]  # fmt: skip
DIN_DC = [
    "supportedAppProtocolReq", "SessionSetupReq", "ServiceDiscoveryReq",
    "ServicePaymentSelectionReq", "ContractAuthenticationReq", "ChargeParameterDiscoveryReq",
    "CableCheckReq", "PreChargeReq", "PowerDeliveryReq", "CurrentDemandReq",
    "PowerDeliveryReq", "WeldingDetectionReq", "SessionStopReq",
]  # fmt: skip


def collapse(names: list[str]) -> list[str]:
    """Names with immediate repeats (loops) folded into one."""
    return [n for i, n in enumerate(names) if i == 0 or names[i - 1] != n]


def run_session(
    josev: JosevRunner, secc_config: JosevConfig, evcc_config: JosevConfig, sessions: int = 1
) -> tuple[JosevProcess, JosevProcess, list[SessionEnd], list[SessionEnd]]:
    """Josev's SECC and EVCC; both verdicts of each of ``sessions`` sessions.

    Both start at once (each JVM takes seconds to start and warm up): Josev's EV keeps
    sending SDP requests for 12.5 s, which covers the charger's start-up.
    """
    secc = josev.start_secc(secc_config, wait_ready=False)
    evcc = josev.start_evcc(evcc_config, wait_ready=False)
    secc.wait_ready()
    evcc_ends = [evcc.wait_session_end(timeout=60, count=n + 1) for n in range(sessions)]
    secc_ends = [secc.wait_session_end(timeout=15, count=n + 1) for n in range(sessions)]
    return secc, evcc, secc_ends, evcc_ends


def assert_clean(*procs: JosevProcess) -> None:
    for proc in procs:
        for end in proc.session_ends:
            assert end.ok, proc.failure_report()
        assert not proc.errors(), proc.failure_report()


def assert_mirrored(secc: JosevProcess, evcc: JosevProcess) -> None:
    """What one side logged as sent, the other logged as received, in the same order."""
    assert secc.received_names() == evcc.sent_names()
    assert secc.sent_names() == evcc.received_names()


def responses(proc: JosevProcess, name: str) -> list[dict[str, Any]]:
    return [m.body for m in proc.messages() if m.name == name]


# --- scenarios ------------------------------------------------------------------------


def test_din_dc_eim(josev: JosevRunner) -> None:
    # Josev's DIN EV waits only 250 ms for CurrentDemandRes; its own SECC needs 100-300 ms.
    config = JosevConfig(protocols=("DIN",), energy="DC", stop_linger=FAST, min_response_timeout=1)
    secc, evcc, (secc_end,), (evcc_end,) = run_session(josev, config, config)
    assert_clean(secc, evcc)
    assert secc_end.protocol == evcc_end.protocol == "DIN_SPEC_70121"
    assert collapse(secc.received_names()) == DIN_DC
    assert_mirrored(secc, evcc)
    (payment,) = responses(evcc, "ServicePaymentSelectionReq")
    assert payment["SelectedPaymentOption"] == "ExternalPayment"


def test_iso2_dc_eim_tcp(josev: JosevRunner) -> None:
    """Also pins Josev's real post-stop behaviour: TCP stays open 5 s after SessionStop."""
    config = JosevConfig(protocols=("ISO-2",), energy="DC")
    secc, evcc, (secc_end,), (evcc_end,) = run_session(josev, config, config)
    assert_clean(secc, evcc)
    assert secc_end.session_id == evcc_end.session_id
    assert len(secc_end.session_id) == 16  # 8 random bytes from Josev's SECC
    assert collapse(secc.received_names()) == DC_EIM
    assert_mirrored(secc, evcc)
    (setup,) = responses(secc, "SessionSetupRes")
    assert setup["ResponseCode"] == "OK_NewSessionEstablished"
    closed = secc.wait_for_event("session_closed", timeout=10)
    (end_event,) = secc.events("session_end")
    assert closed["t"] - end_event["t"] >= 4.9
    assert evcc.wait_exit(timeout=15) == 0  # Josev's EV exits after a good session


def test_iso2_dc_eim_tls12(josev: JosevRunner) -> None:
    config = JosevConfig(protocols=("ISO-2",), energy="DC", tls=True, stop_linger=FAST)
    secc, evcc, _, _ = run_session(josev, config, config)
    assert_clean(secc, evcc)
    assert "TLS server started" in secc.log
    assert "Security: TLS" in evcc.log
    assert collapse(secc.received_names()) == DC_EIM
    (discovery,) = responses(secc, "ServiceDiscoveryRes")
    # Over TLS Josev's SECC offers the certificate service (ServiceID 2) as well.
    assert discovery["ServiceList"]["Service"][0]["ServiceID"] == 2
    assert_mirrored(secc, evcc)


def test_iso2_ac_eim(josev: JosevRunner) -> None:
    config = JosevConfig(protocols=("ISO-2",), energy="AC", charge_loops=3, stop_linger=FAST)
    secc, evcc, _, _ = run_session(josev, config, config)
    assert_clean(secc, evcc)
    assert collapse(secc.received_names()) == AC_EIM
    # chargeLoopCycle=N: Josev's EV sends N+1 ChargingStatusReq (N CurrentDemandReq in DC).
    assert secc.received_names().count("ChargingStatusReq") == 4
    (discovery,) = responses(secc, "ServiceDiscoveryRes")
    modes = discovery["ChargeService"]["SupportedEnergyTransferMode"]["EnergyTransferMode"]
    assert modes == ["AC_three_phase_core"]
    assert_mirrored(secc, evcc)


def test_iso2_dc_pnc_tls_with_certificate_installation(josev: JosevRunner) -> None:
    secc_config = JosevConfig(
        protocols=("ISO-2",), energy="DC", tls=True, auth_modes=("EIM", "PnC"),
        stop_linger=FAST,
    )  # fmt: skip
    evcc_config = JosevConfig(
        protocols=("ISO-2",), energy="DC", tls=True, auth_modes=("PnC",), cert_install=True,
        charge_loops=2, stop_linger=FAST,
    )  # fmt: skip
    secc, evcc, _, _ = run_session(josev, secc_config, evcc_config)
    assert_clean(secc, evcc)
    names = collapse(secc.received_names())
    assert names[:8] == [
        "supportedAppProtocolReq", "SessionSetupReq", "ServiceDiscoveryReq",
        "ServiceDetailReq", "PaymentServiceSelectionReq", "CertificateInstallationReq",
        "PaymentDetailsReq", "AuthorizationReq",
    ]  # fmt: skip
    (selection,) = responses(evcc, "PaymentServiceSelectionReq")
    assert selection["SelectedPaymentOption"] == "Contract"
    (details,) = responses(evcc, "PaymentDetailsReq")
    contract = josev.pki.pki.cert("contract_leaf")
    (emaid,) = contract.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    assert details["eMAID"] == emaid.value
    (auth,) = [m for m in evcc.messages() if m.name == "AuthorizationReq"]
    assert auth.header.get("Signature")  # signed with the installed contract key


def test_pause_then_resume_with_the_old_session_id(josev: JosevRunner) -> None:
    secc_config = JosevConfig(protocols=("ISO-2",), energy="AC", stop_linger=FAST)
    evcc_config = JosevConfig(
        protocols=("ISO-2",), energy="AC", charge_loops=2, pause=True, resume_after=0.5,
        stop_linger=FAST,
    )  # fmt: skip
    secc, evcc, secc_ends, evcc_ends = run_session(josev, secc_config, evcc_config, sessions=2)
    assert_clean(secc, evcc)
    assert [e.paused for e in secc_ends] == [True, False]  # paused once, then terminated
    assert secc_ends[0].session_id == secc_ends[1].session_id == evcc_ends[1].session_id
    setups = [m for m in evcc.messages() if m.name == "SessionSetupReq"]
    assert [m.header["SessionID"] for m in setups] == ["00", secc_ends[0].session_id]
    codes = [body["ResponseCode"] for body in responses(secc, "SessionSetupRes")]
    assert codes == ["OK_NewSessionEstablished", "OK_OldSessionJoined"]
    stops = [body["ChargingSession"] for body in responses(evcc, "SessionStopReq")]
    assert stops == ["Pause", "Terminate"]
    assert [e["session_id"] for e in evcc.events("resume")] == [secc_ends[0].session_id]


@pytest.mark.parametrize("energy", ["AC", "DC"])
def test_ev_initiated_renegotiation(josev: JosevRunner, energy: Energy) -> None:
    secc_config = JosevConfig(protocols=("ISO-2",), energy=energy, stop_linger=FAST)
    evcc_config = JosevConfig(
        protocols=("ISO-2",), energy=energy, charge_loops=3, ev_renegotiate_after=2,
        stop_linger=FAST,
    )  # fmt: skip
    secc, evcc, _, _ = run_session(josev, secc_config, evcc_config)
    assert_clean(secc, evcc)
    progress = [body["ChargeProgress"] for body in responses(evcc, "PowerDeliveryReq")]
    assert progress == ["Start", "Renegotiate", "Start", "Stop"]
    names = collapse(secc.received_names())
    after = names[names.index("ChargeParameterDiscoveryReq", 6) :]
    if energy == "AC":
        assert after[:3] == ["ChargeParameterDiscoveryReq", "PowerDeliveryReq", "ChargingStatusReq"]
    else:  # Josev (both sides) redo CableCheck and PreCharge after a DC renegotiation
        assert after[:4] == ["ChargeParameterDiscoveryReq", "CableCheckReq", "PreChargeReq",
                             "PowerDeliveryReq"]  # fmt: skip
    assert_mirrored(secc, evcc)


def test_evse_initiated_renegotiation_ac(josev: JosevRunner) -> None:
    secc_config = JosevConfig(
        protocols=("ISO-2",), energy="AC", evse_renegotiate_after=2, stop_linger=FAST
    )
    evcc_config = JosevConfig(protocols=("ISO-2",), energy="AC", charge_loops=4, stop_linger=FAST)
    secc, evcc, _, _ = run_session(josev, secc_config, evcc_config)
    assert_clean(secc, evcc)
    notes = [
        body["AC_EVSEStatus"]["EVSENotification"] for body in responses(secc, "ChargingStatusRes")
    ]
    assert notes[1] == "ReNegotiation" and notes.count("ReNegotiation") == 1
    progress = [body["ChargeProgress"] for body in responses(evcc, "PowerDeliveryReq")]
    assert progress == ["Start", "Renegotiate", "Start", "Stop"]
    assert secc.received_names().count("ChargeParameterDiscoveryReq") == 2


def test_cable_check_ongoing_for_10_s(josev: JosevRunner) -> None:
    secc_config = JosevConfig(
        protocols=("ISO-2",), energy="DC", cable_check_seconds=10, stop_linger=FAST
    )
    evcc_config = JosevConfig(protocols=("ISO-2",), energy="DC", charge_loops=1, stop_linger=FAST)
    secc, evcc, _, _ = run_session(josev, secc_config, evcc_config)
    assert_clean(secc, evcc)
    checks = [m for m in secc.messages() if m.name == "CableCheckRes"]
    ongoing = [m for m in checks if m.body["EVSEProcessing"] == "Ongoing"]
    assert checks[-1].body["EVSEProcessing"] == "Finished"
    # the charger times 10 s from the first request; its first answer comes a little later
    assert (checks[-1].time - checks[0].time).total_seconds() >= 9.5
    assert len(ongoing) == len(checks) - 1 >= 2


def test_authorization_ongoing_free_charging_and_evse_stop(josev: JosevRunner) -> None:
    secc_config = JosevConfig(
        protocols=("ISO-2",), energy="AC", authorization_seconds=2, free_charging=True,
        evse_stop_after=2, stop_linger=FAST,
    )  # fmt: skip
    evcc_config = JosevConfig(protocols=("ISO-2",), energy="AC", charge_loops=5, stop_linger=FAST)
    secc, evcc, _, _ = run_session(josev, secc_config, evcc_config)
    assert_clean(secc, evcc)
    auth = [m for m in secc.messages() if m.name == "AuthorizationRes"]
    ongoing = {m.body["EVSEProcessing"] for m in auth[:-1]}
    assert ongoing == {"Ongoing_WaitingForCustomerInteraction"}  # what Josev says for EIM
    assert auth[-1].body["EVSEProcessing"] == "Finished"
    # the charger times 2 s from the first request; its first answer comes a little later
    assert (auth[-1].time - auth[0].time).total_seconds() >= 1.9
    (discovery,) = responses(secc, "ServiceDiscoveryRes")
    assert discovery["ChargeService"]["FreeService"] is True
    (parameters,) = responses(secc, "ChargeParameterDiscoveryRes")
    assert "SalesTariff" not in parameters["SAScheduleList"]["SAScheduleTuple"][0]
    notes = [b["AC_EVSEStatus"]["EVSENotification"] for b in responses(secc, "ChargingStatusRes")]
    assert notes == ["None", "StopCharging"]  # and Josev's EV stops at once
    assert collapse(secc.received_names())[-3:] == [
        "ChargingStatusReq", "PowerDeliveryReq", "SessionStopReq",
    ]  # fmt: skip


# --- the harness's own parts, without Josev -------------------------------------------

_SAMPLE = """\
INFO    2026-12-07 04:51:09,768 - iso15118.shared.exi_codec (248): Message to encode (ns=Namespace.ISO_V2_MSG_DEF): {"V2G_Message": {"Header": {"SessionID": "00"}, "Body": {"SessionSetupReq": {"EVCCID": "6A2527B4C6CB"}}}}
INFO    2026-12-07 04:51:09,768 - iso15118.shared.comm_session (431): Sent SessionSetupReq
INFO    2026-12-07 04:51:09,768 - iso15118.shared.states (139): Entered state SessionSetup
INFO    2026-12-07 04:51:10,818 - iso15118.shared.exi_codec (302): Decoded message (ns=Namespace.ISO_V2_MSG_DEF): {"V2G_Message":{"Header":{"SessionID":"BA850C8C6AA9F8CD"},"Body":{"SessionSetupRes":{"ResponseCode":"OK_NewSessionEstablished","EVSEID":"UK123E1234","EVSETimeStamp":1796619070}}}}
INFO    2026-12-07 04:51:10,818 - iso15118.shared.comm_session (235): SessionSetupRes received
Traceback (most recent call last):
INFO    2026-12-07 04:51:11,026 - iso15118.shared.comm_session (431): Sent ServiceDiscoveryReq
"""  # noqa: E501


def test_log_parsing_pairs_messages_with_their_logged_content() -> None:
    messages = parse_josev_log(_SAMPLE.splitlines())
    assert [(m.direction, m.name) for m in messages] == [
        ("sent", "SessionSetupReq"),
        ("received", "SessionSetupRes"),
        ("sent", "ServiceDiscoveryReq"),
    ]
    assert messages[0].header == {"SessionID": "00"}
    assert messages[1].body["ResponseCode"] == "OK_NewSessionEstablished"
    assert messages[2].content is None  # no "Message to encode" line before it
    assert (messages[1].time - messages[0].time).total_seconds() == pytest.approx(1.05)


def test_netns_pair_is_removed_on_exit() -> None:
    reason = netns_unavailable_reason()
    if reason:
        pytest.skip(reason)
    with netns_pair() as pair:
        listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
        assert pair.secc_ns in listed and pair.evcc_ns in listed
        sleeper = subprocess.Popen(["ip", "netns", "exec", pair.evcc_ns, "sleep", "60"])
        time.sleep(0.2)
    assert sleeper.wait(timeout=10) != 0  # ended with the namespace
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert pair.secc_ns not in listed and pair.evcc_ns not in listed
    assert subprocess.run(["ip", "link", "show", pair.secc_if], capture_output=True).returncode


def test_pki_is_written_in_josev_layout(tmp_path: Path) -> None:
    from .harness import make_josev_pki

    pki = make_josev_pki(tmp_path)
    certs = tmp_path / "iso15118_2" / "certs"
    chain = (certs / "cpoCertChain.pem").read_bytes()
    assert chain.count(b"BEGIN CERTIFICATE") == 3
    assert (certs / "v2gRootCACert.der").read_bytes() == pki.pki.certificates["v2g_root"].der
    assert pki.key_path("secc_leaf").read_bytes().startswith(b"-----BEGIN PRIVATE KEY")
    assert (tmp_path / "iso15118_2" / "private_keys" / "seccLeafPassword.txt").read_text() == ""
