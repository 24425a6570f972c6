"""The loader of recorded sessions (``real_sessions.py``) against facts checked another way.

* Counts and order: the ``*.jsonl`` rows were collected from the same captures with
  tshark and the dsV2Gshark dissector. Every row of a capture names the frame and time
  of the hex's first occurrence and how often the hex occurs; the sessions must agree.
* The ``iso15118 pcap`` CLI's per-connection frame counts.
* The message pattern of DIN SPEC 70121 and ISO 15118-2: requests and responses
  alternate, each response named after its request; the supportedAppProtocolRes picks
  the protocol from the EV's list.

The data is read in place from ``../shared/vectors/real``; the tests skip without it.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from real_sessions import (
    SESSION_PROTOCOLS,
    RealData,
    RecordedMessage,
    RecordedSession,
    load,
)

from iso15118 import protocols
from iso15118.cli import main as cli_main

_BY_NAMESPACE = {p.namespace: p.name for p in protocols.PROTOCOLS.values()}


@pytest.fixture(scope="module")
def real_dir(shared_dir: Path) -> Path:
    real = shared_dir / "vectors" / "real"
    if not (real / "pcap").is_dir():
        pytest.skip(f"{real}/pcap not present")
    return real


@pytest.fixture(scope="module")
def data(shared_dir: Path, real_dir: Path) -> RealData:
    return load(shared_dir)


def _rows(real_dir: Path) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for f in real_dir.glob("*.jsonl"):
        with f.open(encoding="utf-8") as fh:
            rows.extend(json.loads(line) for line in fh)
    return rows


def _by_file(data: RealData) -> dict[str, list[RecordedSession]]:
    out: dict[str, list[RecordedSession]] = {}
    for s in data.sessions:
        out.setdefault(s.file, []).append(s)
    return out


def test_every_capture_is_a_session_or_skipped_with_a_reason(
        data: RealData, real_dir: Path) -> None:
    captures = {f"{p.parent.name}/{p.name}" for p in real_dir.glob("pcap/*/*")
                if p.suffix in (".pcap", ".pcapng")}
    assert len(captures) == 31
    accounted = {s.file for s in data.sessions} | {k.source.split("#")[0] for k in data.skipped}
    assert captures <= accounted
    reasons = Counter(k.reason.split(" (")[0] for k in data.skipped
                      if k.source.split("#")[0] in captures)
    # the -20 sessions wait for the -20 issue; two pyPLC captures end before TCP
    assert reasons == {"ISO 15118-20": 3, "no V2GTP message": 2}
    assert len(data.sessions) == 30
    assert Counter(s.protocol for s in data.sessions) == {"din": 18, "iso2": 12}


def test_session_messages_match_the_first_occurrences_the_jsonl_rows_record(
        data: RealData, real_dir: Path) -> None:
    rows = _rows(real_dir)
    checked = 0
    for name, sessions in _by_file(data).items():
        messages = [m for s in sessions for m in s.messages]
        first: dict[str, RecordedMessage] = {}
        for m in messages:
            first.setdefault(m.payload.hex(), m)
        counts = Counter(m.payload.hex() for m in messages)
        for row in rows:
            if Path(row["source_path"]).name != Path(name).name or row["layer"] != "exi":
                continue
            m = first[row["hex"]]
            assert (m.frame, m.direction) == (
                row["index_in_capture"], {"EV->EVSE": "ev", "EVSE->EV": "evse"}[
                    row["direction"]]), row["id"]
            assert m.timestamp == pytest.approx(float(row["timestamp"]), abs=1e-5), row["id"]
            if not row.get("seen_in"):  # the hex occurs in this capture only
                assert counts[row["hex"]] == row["occurrences"], row["id"]
            checked += 1
    assert checked > 2800


def _cli_frames(path: Path) -> dict[str, int]:
    """``{"tcp 1": 330, ...}`` from the summary lines of ``iso15118 pcap FILE``."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        assert cli_main(["pcap", str(path)]) == 0
    lines = re.finditer(r"^# ((?:tcp|tls) \d+): EV .*?, (\d+) frames", out.getvalue(), re.M)
    return {m[1]: int(m[2]) for m in lines}


def test_message_counts_per_connection_equal_what_iso15118_pcap_reports(
        data: RealData, real_dir: Path) -> None:
    for name, sessions in _by_file(data).items():
        frames = _cli_frames(real_dir / "pcap" / name)
        for s in sessions:
            assert len(s.messages) == frames[s.source.split("#")[1]], s.source


def test_requests_and_responses_alternate_with_matching_names(data: RealData) -> None:
    unanswered = []
    for s in data.sessions:
        exchanges = s.exchanges()
        assert all(x.request is not None for x in exchanges), s.source
        assert all(x.response is not None for x in exchanges[:-1]), s.source
        if exchanges[-1].response is None:
            assert not s.complete
            assert exchanges[-1].request is not None
            unanswered.append((s.source.split("/", 1)[1], exchanges[-1].request.name))
    # Each recording that ends on a request: the capture stopped, or the peer gave up.
    assert sorted(unanswered) == [
        ("2022-11-25_v0.2_ABB_until_ChargeParamDiscovery.pcapng#tcp 1",
         "ChargeParameterDiscoveryReq"),
        ("2023-04-05_wt32_alpi_first_charge.pcapng#tcp 1", "ContractAuthenticationReq"),
        ("2023-04-05_wt32_alpi_first_charge.pcapng#tcp 2", "CurrentDemandReq"),
        ("2025-07-16_Foccci_v3_with_pyPLC.pcapng#tcp 1", "CurrentDemandReq"),
        ("2025-07-22_pyPLC_with_tesla_model_x_plaid_until_charging_loop.pcapng#tcp 1",
         "CurrentDemandReq"),
        ("2026-02-08_pyPLC_FoccciCape_AudiQ4_break_after_cableCheck.pcap#tcp 1",
         "PowerDeliveryReq"),
        ("2026-02-08_pyPLC_FoccciCape_AudiQ4_break_after_cableCheck.pcap#tcp 8",
         "PowerDeliveryReq"),
        ("2026-02-08_pyPLC_FoccciCape_AudiQ4_break_after_cableCheck.pcap#tcp 9",
         "PowerDeliveryReq"),
    ]


def test_protocol_is_the_one_the_handshake_response_chose(data: RealData) -> None:
    for s in data.sessions:
        req, res = s.messages[0], s.messages[1]
        assert (req.name, res.name) == ("supportedAppProtocolReq", "supportedAppProtocolRes")
        offered = {p.schema_id: p.protocol_namespace for p in req.message.app_protocol}
        assert res.response_code in ("OK_SuccessfulNegotiation",
                                     "OK_SuccessfulNegotiationWithMinorDeviation"), s.source
        namespace = offered[res.message.schema_id]
        assert namespace == s.namespace
        assert _BY_NAMESPACE[namespace] == s.protocol in SESSION_PROTOCOLS
        assert {m.protocol for m in s.messages[2:]} == {s.protocol}, s.source
        assert all(m.protocol == "apphand" for m in s.messages[:2])


def test_messages_are_in_wire_order_with_names_that_fit_their_direction(
        data: RealData) -> None:
    for s in data.sessions:
        frames = [m.frame or 0 for m in s.messages]
        assert frames == sorted(frames), s.source
        times = [m.timestamp or 0.0 for m in s.messages]
        assert times == sorted(times), s.source
        for m in s.messages:
            assert m.name.endswith({"ev": "Req", "evse": "Res"}[m.direction]), (s.source, m)
        assert s.complete == (s.messages[-1].name == "SessionStopRes")
        assert s.session_id is not None


def test_tls_sessions_are_the_captures_with_key_logs(data: RealData, real_dir: Path) -> None:
    keyed = {f"{p.parent.name}/{p.name.removesuffix('.keylog.txt')}"
             for p in real_dir.glob("pcap/*/*.keylog.txt")}
    tls = {s.file for s in data.sessions if s.tls}
    assert tls == {k for k in keyed if "ISO-20" not in k}
    assert len(tls) == 4


def test_every_session_has_the_provenance_the_readme_gives(data: RealData) -> None:
    allowed = {"real:both-sides-commercial", "real:EV-side-commercial",
               "real:EVSE-side-commercial", "real:EV-side-commercial(bench)",
               "bench:open-source-both-sides", "synthetic:test-system"}
    for s in data.sessions:
        assert s.provenance in allowed, s.source
        if s.provenance == "synthetic:test-system":  # the README: sides not stated
            assert "dSPACE DS5366" in s.devices, s.source
        else:
            assert s.devices.startswith("EV: ") and " | EVSE: " in s.devices, s.source


def test_identical_sessions_at_different_times_are_both_kept(data: RealData) -> None:
    # The Audi Q4 capture holds two sessions byte for byte the same (pyPLC as charger
    # always assigns SessionID 0102030405060708); they are two sessions, not a copy.
    audi = [s for s in data.sessions if "AudiQ4" in s.source]
    assert [s.source.split("#")[1] for s in audi] == ["tcp 1", "tcp 8", "tcp 9"]
    assert [m.payload for m in audi[1].messages] == [m.payload for m in audi[2].messages]
    assert audi[1].messages[0].timestamp != audi[2].messages[0].timestamp
    keys = [tuple((m.payload, m.timestamp) for m in s.messages) for s in data.sessions]
    assert len(set(keys)) == len(keys)


def test_no_jsonl_only_log_has_a_known_full_order(data: RealData) -> None:
    """Each trace misses frames: some of its hex strings recur (``occurrences`` > 1) or
    occur in other files too, so their other positions are not recorded anywhere; or
    the session's start (handshake, SessionSetupReq) was first seen in another file."""
    assert data.traces
    start = ["supportedAppProtocolReq", "supportedAppProtocolRes", "SessionSetupReq"]
    for t in data.traces:
        unique = all(f.occurrences == 1 and not f.elsewhere for f in t.frames)
        assert not (unique and [f.message.name for f in t.frames[:3]] == start), t.source
        assert t.protocol in SESSION_PROTOCOLS
        frames = [f.message.frame or 0 for f in t.frames]
        assert frames == sorted(frames), t.source
