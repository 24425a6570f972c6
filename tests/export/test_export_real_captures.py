"""Every capture in ../shared/vectors/real/pcap exported: per capture, the messages table
holds as many V2GTP and SDP messages as ``iso15118 pcap`` counts in its header line, and
the sessions table one row per V2G connection the command lists (``# tcp N`` /
``# tls N``), with that connection's message count."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from export_logs import CAPTURES, HAVE_CAPTURES, PCAP_DIR

from iso15118 import cli
from iso15118.capture import KeyLog, read_capture
from iso15118.cli_capture import summary_lines

pytestmark = pytest.mark.skipif(not HAVE_CAPTURES, reason="../shared/vectors/real/pcap absent")

_COUNTS = re.compile(r"; (\d+) SDP, (\d+) V2GTP messages")


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("real") / "out"
    assert cli.main(["export", str(PCAP_DIR), "-o", str(out)]) == 0
    return out


def _pcap_command_view(path: Path) -> tuple[int, int, dict[str, int]]:
    """(SDP, V2GTP, {session key: frames}) as the pcap command reports them."""
    keys = path.with_name(path.name + ".keylog.txt")
    result = read_capture(path.read_bytes(),
                          KeyLog.parse(keys.read_text()) if keys.exists() else None)
    header = summary_lines(result, path.name)[0]
    m = _COUNTS.search(header)
    assert m is not None, header
    sessions = {f"{path}#{c.transport} {c.id}": c.frames for c in result.connections
                if c.frames}
    return int(m[1]), int(m[2]), sessions


def test_every_capture_exports_the_counts_of_the_pcap_command(exported: Path) -> None:
    messages = pq.read_table(exported / "messages",
                             columns=["source", "session", "kind", "error"]).to_pylist()
    sessions = pq.read_table(exported / "sessions",
                             columns=["session", "source", "messages"]).to_pylist()
    per_source = Counter((m["source"], m["kind"]) for m in messages)
    total_sdp = total_v2gtp = 0
    assert len(CAPTURES) == 31
    for path in CAPTURES:
        sdp, v2gtp, expected_sessions = _pcap_command_view(path)
        assert per_source[(str(path), "sdp")] == sdp, path.name
        assert per_source[(str(path), "exi")] == v2gtp, path.name
        rows = {s["session"]: s["messages"] for s in sessions if s["source"] == str(path)}
        assert rows == expected_sessions, path.name
        total_sdp, total_v2gtp = total_sdp + sdp, total_v2gtp + v2gtp
    assert (total_v2gtp, total_sdp) == (10_812, 170)  # the figures
    assert len(sessions) == len({s["session"] for s in sessions}) == 33
    assert all(m["error"] is None for m in messages)
    # every V2GTP message belongs to a session row; SDP only when a connection followed
    keys = {s["session"] for s in sessions}
    assert {m["session"] for m in messages if m["kind"] == "exi"} == keys
    assert {m["session"] for m in messages if m["kind"] == "sdp"} <= keys | {None}


def test_session_rows_say_what_a_test_engineer_asks(exported: Path) -> None:
    rows = {r["session"].rsplit("/", 1)[-1]: r
            for r in pq.read_table(exported / "sessions").to_pylist()}
    dc = rows["ISO-2_DC_DS5366.pcapng#tcp 1"]
    assert (dc["protocol"], dc["outcome"], dc["last_message"]) == ("iso2", "stopped",
                                                                    "SessionStopRes")
    assert dc["protocols_offered"] == ["urn:iso:15118:2:2013:MsgDef", "urn:din:70121:2012:MsgDef"]
    assert (dc["evccid"], dc["evse_id"], dc["session_id"]) == ("644D700102C8", "ZZ00000",
                                                               "9D7799360D2D747C")
    assert (dc["energy_transfer_mode"], dc["payment_option"]) == ("DC_extended",
                                                                  "ExternalPayment")
    assert dc["charge_loop_messages"] == 417
    assert dc["cable_check_s"] == pytest.approx(9.4946, abs=1e-3)
    assert dc["precharge_s"] == pytest.approx(2.5511, abs=1e-3)
    assert (dc["ev_target_current_max_a"], dc["evse_present_current_max_a"]) == (200.0, 200.03)
    failed = rows["2023-04-05_wt32_alpi_first_charge.pcapng#tcp 2"]
    assert (failed["outcome"], failed["first_failed_code"]) == ("failed", "FAILED_UnknownSession")
    ac20 = rows["ISO-20_BPT_AC_DS5366_Josev.pcapng#tcp 1"]
    assert (ac20["protocol"], ac20["energy_transfer_mode"], ac20["payment_option"]) == (
        "iso20-ac", "AC_BPT", "EIM")
    # a renegotiation interrupts the charge loop (and repeats the cable check): the
    # phases count their runs of messages, not the time between the runs
    reneg = rows["ISO-2_DC_Renegotiation_DS5366_RiseV2G.pcapng#tcp 1"]
    loop = [m["time_s"] for m in pq.read_table(exported / "messages").to_pylist()
            if m["session"] == reneg["session"] and m["message"].startswith("CurrentDemand")]
    assert reneg["charge_loop_s"] < max(loop) - min(loop) - 1.0
    assert reneg["cable_check_s"] + reneg["precharge_s"] + reneg["charge_loop_s"] < \
        reneg["duration_s"]
    tls20 = rows["ISO-20_TLS13_DC_DS5366_Josev.pcapng#tls 1"]
    assert tls20["protocol"] == "iso20-dc" and tls20["charge_loop_s"] > 0
