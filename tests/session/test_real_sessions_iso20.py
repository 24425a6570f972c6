"""The ISO 15118-20 sessions of the loader (``real_sessions.py``), against facts checked
another way.

* The three dSPACE captures (DS5366 against Josev, ``dsV2Gshark``): one session each, in
  wire order; counts per connection as ``iso15118 pcap`` reports them; every message has
  the namespace its V2GTP payload type names (ISO 15118-20 Table 12), which the jsonl
  rows' own ``v2gtp_header`` (collected with tshark and the dsV2Gshark dissector)
  confirms; requests and responses alternate with matching names.
* The -20 jsonl rows outside those captures (EVerest libcbv2g and libiso15118 unit
  tests) form no session, and why.
* The statistics report (``real_sessions_report_iso20.py``) names each session's energy
  service, control mode, authorization and TLS as the messages say them.

The data is read in place from ``../shared/vectors/real``; the tests skip without it.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import pytest
from real_sessions import ALL_PROTOCOLS, SESSION_PROTOCOLS, RealData, RecordedMessage, load
from real_sessions_report_iso20 import report

from iso15118 import codec
from iso15118.cli import main as cli_main
from iso15118.errors import Iso15118Error

# ISO 15118-20:2022 Table 12, V2GTP payload types; 0x8001 carries the handshake.
PAYLOAD_TYPE_NAMESPACE = {0x8001: "apphand", 0x8002: "iso20-common", 0x8003: "iso20-ac",
                          0x8004: "iso20-dc", 0x8005: "iso20-acdp", 0x8006: "iso20-wpt"}
CAPTURES = {"dsV2Gshark/ISO-20_BPT_AC_DS5366_Josev.pcapng": "urn:iso:std:iso:15118:-20:AC",
            "dsV2Gshark/ISO-20_TLS13_DC_DS5366_Josev.pcapng": "urn:iso:std:iso:15118:-20:DC",
            "dsV2Gshark/ISO-20_mTLS_DC_DS5366_Josev.pcapng": "urn:iso:std:iso:15118:-20:DC"}


@pytest.fixture(scope="module")
def real_dir(shared_dir: Path) -> Path:
    real = shared_dir / "vectors" / "real"
    if not (real / "pcap").is_dir():
        pytest.skip(f"{real}/pcap not present")
    return real


@pytest.fixture(scope="module")
def data(shared_dir: Path, real_dir: Path) -> RealData:
    return load(shared_dir, ("iso20",))


@pytest.fixture(scope="module")
def rows(real_dir: Path) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for f in sorted(real_dir.glob("*.jsonl")):
        with f.open(encoding="utf-8") as fh:
            out.extend(json.loads(line) for line in fh)
    return [r for r in out if r["protocol"].startswith("iso20")]


def test_each_iso20_capture_is_one_complete_session(shared_dir: Path, data: RealData) -> None:
    assert {s.file: s.namespace for s in data.sessions} == CAPTURES
    assert [s.source.split("#")[1] for s in data.sessions] == ["tcp 1", "tls 1", "tls 1"]
    assert all(s.protocol == "iso20" and s.complete for s in data.sessions)
    assert all(s.provenance == "synthetic:test-system" for s in data.sessions)
    # the DIN/-2 callers see what they saw before: -20 is skipped unless asked for
    default = load(shared_dir)
    assert {s.protocol for s in default.sessions} == set(SESSION_PROTOCOLS)
    skipped = {k.source.split("#")[0]: k.reason for k in default.skipped}
    assert all(skipped[f].startswith("ISO 15118-20 (") for f in CAPTURES)
    both = load(shared_dir, ALL_PROTOCOLS)
    assert len(both.sessions) == len(default.sessions) + 3
    with pytest.raises(ValueError, match="iso15118-20"):
        load(shared_dir, ("iso15118-20",))


def test_each_message_has_the_namespace_its_payload_type_names(data: RealData) -> None:
    for s in data.sessions:
        energy = {"urn:iso:std:iso:15118:-20:AC": "iso20-ac",
                  "urn:iso:std:iso:15118:-20:DC": "iso20-dc"}[s.namespace or ""]
        for m in s.messages:
            assert m.payload_type is not None, (s.source, m.frame)
            assert PAYLOAD_TYPE_NAMESPACE[m.payload_type] == m.protocol, (s.source, m.frame)
            codec.decode(m.payload, m.protocol, strict=True)
        assert [m.protocol for m in s.messages[:2]] == ["apphand", "apphand"]
        assert {m.protocol for m in s.messages[2:]} == {"iso20-common", energy}, s.source
        for m in s.messages[2:]:
            # energy-specific messages (AC_*, DC_*) travel in their own namespace
            assert m.name.startswith(("AC_", "DC_")) == (m.protocol == energy), m.name


def test_the_payload_type_decides_where_the_bytes_alone_do_not(data: RealData) -> None:
    """Each EIM AuthorizationReq of the captures is also a valid ACDP_ConnectReq."""
    ambiguous: Counter[tuple[str, str, str]] = Counter()
    for s in data.sessions:
        for m in s.messages[2:]:
            for other in ("iso20-common", "iso20-ac", "iso20-dc", "iso20-acdp", "iso20-wpt"):
                if other == m.protocol:
                    continue
                with contextlib.suppress(Iso15118Error):
                    element, _ = codec.decode_element(m.payload, other, strict=True)
                    ambiguous[(m.protocol, m.name, f"{other} {element}")] += 1
    assert ambiguous == {("iso20-common", "AuthorizationReq",
                          "iso20-acdp {urn:iso:std:iso:15118:-20:ACDP}ACDP_ConnectReq"): 3}


def test_requests_and_responses_alternate_with_matching_names(data: RealData) -> None:
    for s in data.sessions:
        exchanges = s.exchanges()
        assert all(x.request is not None and x.response is not None for x in exchanges), (
            s.source, [(x.request and x.request.name, x.response and x.response.name)
                       for x in exchanges if x.request is None or x.response is None])
        assert len(exchanges) * 2 == len(s.messages)
        assert s.messages[-1].name == "SessionStopRes"


def test_messages_are_in_wire_order_with_one_session_id(data: RealData) -> None:
    for s in data.sessions:
        frames = [m.frame or 0 for m in s.messages]
        times = [m.timestamp or 0.0 for m in s.messages]
        assert frames == sorted(frames) and times == sorted(times), s.source
        for m in s.messages:
            assert m.name.endswith({"ev": "Req", "evse": "Res"}[m.direction]), (s.source, m)
        setup_req = s.messages[2]
        assert (setup_req.name, setup_req.session_id) == ("SessionSetupReq", bytes(8))
        assert s.session_id is not None and len(s.session_id) == 8
        assert {m.session_id for m in s.messages[3:]} == {s.session_id}, s.source


def _cli_frames(path: Path) -> dict[str, int]:
    """``{"tls 1": 112}`` from the summary lines of ``iso15118 pcap FILE``."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        assert cli_main(["pcap", str(path)]) == 0
    lines = re.finditer(r"^# ((?:tcp|tls) \d+): EV .*?, (\d+) frames", out.getvalue(), re.M)
    return {m[1]: int(m[2]) for m in lines}


def test_message_counts_equal_what_iso15118_pcap_reports(
        data: RealData, real_dir: Path) -> None:
    counts = {}
    for s in data.sessions:
        frames = _cli_frames(real_dir / "pcap" / s.file)
        stream = s.source.split("#")[1]
        assert frames == {stream: len(s.messages)}, s.source
        counts[Path(s.file).name] = len(s.messages)
    assert counts == {"ISO-20_BPT_AC_DS5366_Josev.pcapng": 46,
                      "ISO-20_TLS13_DC_DS5366_Josev.pcapng": 112,
                      "ISO-20_mTLS_DC_DS5366_Josev.pcapng": 110}


def test_messages_match_the_first_occurrences_the_jsonl_rows_record(
        data: RealData, rows: list[dict[str, Any]]) -> None:
    by_file = {Path(s.file).name: s for s in data.sessions}
    checked = 0
    for row in rows:
        session = by_file.get(Path(row["source_path"]).name)
        if session is None:
            continue
        first: dict[str, RecordedMessage] = {}
        for m in session.messages:
            first.setdefault(m.payload.hex(), m)
        m = first[row["hex"]]
        direction = {"EV->EVSE": "ev", "EVSE->EV": "evse"}[row["direction"]]
        assert (m.frame, m.direction, m.name, m.protocol) == (
            row["index_in_capture"], direction, row["message"], row["protocol"]), row["id"]
        assert m.timestamp == pytest.approx(float(row["timestamp"]), abs=1e-5), row["id"]
        # the dissector saw the same V2GTP payload type
        assert int(row["v2gtp_header"][4:8], 16) == m.payload_type, row["id"]
        if not row.get("seen_in"):
            assert sum(x.payload == m.payload for x in session.messages) == row[
                "occurrences"], row["id"]
        checked += 1
    assert checked == 211  # every dsV2Gshark -20 row lies in one of the three captures


def test_tls_is_1_3_and_mutual_only_where_the_file_says_so(data: RealData) -> None:
    for s in data.sessions:
        assert s.tls == ("TLS" in s.file)
        if s.tls:
            assert s.tls_info == "TLS 1.3 TLS_AES_256_GCM_SHA384, decrypted"
            assert len(s.tls_server_certificates) == 3
        assert s.mutual_tls == ("mTLS" in s.file), s.source


def test_the_report_gives_service_mode_authorization_and_tls_of_each_session(
        shared_dir: Path, data: RealData, capsys: pytest.CaptureFixture[str]) -> None:
    report(data, load(shared_dir, ALL_PROTOCOLS))
    out = capsys.readouterr().out
    for expected in (
            "selected AC_BPT (ParameterSetID 1)", "ControlMode=Scheduled",
            "AC_ChargeLoopReq: BPT_Scheduled_AC_CLReqControlMode",
            "selected DC (ParameterSetID 1)", "ControlMode=Dynamic",
            "DC_ChargeLoopReq: Dynamic_DC_CLReqControlMode", "selected ['EIM']",
            "server-only: charger chain CPO EVSE Test-PKI <- CPO SubCA2 Test-PKI",
            "EV chain OEM Prov Test-PKI <- OEM SubCA2 Test-PKI <- OEM SubCA1 Test-PKI",
            "EVCCID 'WMIV1234567890ABCDEX' = Josev's EV simulator",
            "PowerDeliveryReq Start with EVProcessing Ongoing (frame 217)",
            "none: no response of the three sessions carries EVSEStatus"):
        assert expected in out, expected
    assert out.count("SessionStop: ['Terminate']") == 3
    assert out.count("charger TimeStamp in us, +359") == 3


# --------------------------------------------------------------------------- unit vectors


def test_no_iso20_row_outside_the_captures_forms_a_session(
        data: RealData, rows: list[dict[str, Any]]) -> None:
    """The -20 rows not in a capture are EVerest unit-test streams: no position, no time,
    each seen once. Grouped by the SessionID of their headers, none is a session: the
    largest group holds AC and DC messages (a session selects one energy service),
    even two charge loop requests with one TimeStamp, and the requests of its service
    messages carry another SessionID than their responses; no group has a
    SessionSetupReq."""
    outside = [r for r in rows if "dsV2Gshark" not in r["source_path"]]
    assert {r["source_repo"] for r in outside} == {"EVerest/libcbv2g", "EVerest/libiso15118"}
    assert all(r["source_path"].endswith(".cpp") and r["index_in_capture"] is None
               and r["timestamp"] is None and r["occurrences"] == 1 for r in outside)
    vectors = [v for v in data.vectors if v.message.protocol.startswith("iso20")]
    assert len(vectors) == len(outside) == 47
    by_id = {r["id"]: r for r in outside}
    for v in vectors:
        assert v.message.name == by_id[v.row_id]["message"], v.row_id
    recorded = {m.payload for s in data.sessions for m in s.messages}
    assert not recorded & {v.message.payload for v in vectors}

    groups: dict[bytes, list[Any]] = defaultdict(list)
    for v in vectors:
        assert v.message.session_id is not None
        groups[v.message.session_id].append(v.message)
    assert all(m.name != "SessionSetupReq" or sid == bytes(8) for sid, g in groups.items()
               for m in g)
    assert all(len(g) == 1 for sid, g in groups.items() if sid == bytes(8))
    sid, largest = max(groups.items(), key=lambda kv: len(kv[1]))
    assert sid.hex() == "3d4cbf93374ed89b" and len(largest) == 25
    names = {m.name for m in largest}
    assert {"AC_ChargeLoopReq", "DC_ChargeLoopReq", "AC_ChargeParameterDiscoveryRes",
            "DC_ChargeParameterDiscoveryRes"} <= names
    loops = {m.name: m.header_time for m in largest
             if m.name in ("AC_ChargeLoopReq", "DC_ChargeLoopReq")}
    assert loops == {"AC_ChargeLoopReq": 1725456333, "DC_ChargeLoopReq": 1725456333}
    unanswered = {m.name.removesuffix("Res") for m in largest if m.direction == "evse"} - {
        m.name.removesuffix("Req") for m in largest if m.direction == "ev"}
    assert unanswered == {"ServiceDiscovery", "ServiceDetail", "ServiceSelection"}
    requests = {other for other, g in groups.items() for m in g
                if m.name in ("ServiceDiscoveryReq", "ServiceDetailReq", "ServiceSelectionReq")}
    assert requests == {bytes.fromhex("04ebff2c9459db42")}


def test_unit_vectors_are_not_sessions_in_the_loader(data: RealData) -> None:
    skipped = {k.source: k.reason for k in data.skipped}
    for v in data.vectors:
        assert skipped[v.source] == "unit-test vectors, not a session"
    assert not any(s.file.endswith(".cpp") for s in data.sessions)
