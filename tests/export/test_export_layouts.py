"""Each hex log layout reads back the messages of a real capture: same names, protocols,
directions, times, and the sessions split where the capture's TCP connections are."""

from __future__ import annotations

from pathlib import Path

import pytest
from export_logs import HAVE_CAPTURES, messages_of, wire_hex, write_log

from iso15118.export import Layout, read_log
from iso15118.export.hexlog import layout_of_file, plan_chunks
from iso15118.export.layouts import detect_layout, parse_time
from iso15118.export.records import ExportInputError

pytestmark = pytest.mark.skipif(not HAVE_CAPTURES, reason="../shared/vectors/real/pcap absent")

DC = "ISO-2_DC_DS5366.pcapng"
REGEX = r"^\[(?P<timestamp>[\d.]+)\] <(?P<direction>\w+)> .*payload=(?P<hex>[0-9a-f]+)$"


def _expected(name: str) -> list[tuple[str, str | None, str]]:
    return [(e.name, e.protocol, e.direction) for e in messages_of(name)]


@pytest.mark.parametrize("layout", ["hex", "timestamped", "csv", "regex"])
def test_each_layout_reads_back_every_message_of_a_capture(tmp_path: Path, layout: str) -> None:
    entries = messages_of(DC)
    log = write_log(tmp_path / f"dc.{'csv' if layout == 'csv' else 'log'}", entries, layout)
    given = Layout("regex", pattern=REGEX) if layout == "regex" else None
    found = layout_of_file(log, given)
    assert found.name == layout
    records = list(read_log(log, found))
    assert [(r.name, r.protocol, r.direction) for r in records] == _expected(DC)
    assert all(r.error is None for r in records)
    assert len({r.session for r in records}) == 1
    if layout != "hex":  # the layouts with a time column keep it to the microsecond
        assert [r.time_s for r in records] == pytest.approx([e.timestamp for e in entries],
                                                            abs=1e-6)


def test_bare_payloads_without_v2gtp_header_follow_the_negotiation(tmp_path: Path) -> None:
    log = write_log(tmp_path / "din.log", messages_of("DIN_DC_DS5366_Josev.pcapng"), "hex",
                    header=False)
    records = list(read_log(log, Layout("hex")))
    assert [(r.name, r.protocol) for r in records] == [
        (n, p) for n, p, _ in _expected("DIN_DC_DS5366_Josev.pcapng")]
    assert {r.protocol for r in records} == {"sdp", "apphand", "din"}
    # without a direction column the direction comes from the message name
    assert [r.direction for r in records] == [d for _, _, d in
                                              _expected("DIN_DC_DS5366_Josev.pcapng")]


def test_iso20_payloads_without_header_are_detected_among_the_20_namespaces(
        tmp_path: Path) -> None:
    name = "ISO-20_BPT_AC_DS5366_Josev.pcapng"
    log = write_log(tmp_path / "ac20.log", messages_of(name), "hex", header=False)
    records = list(read_log(log, Layout("hex")))
    got = [(r.name, r.protocol) for r in records]
    assert [n for n, _ in got] == [n for n, _, _ in _expected(name)]
    assert all(r.error is None for r in records)
    assert "AC_ChargeLoopReq" in {n for n, _ in got}


def test_sessions_are_split_at_the_handshake_and_keyed_by_offset(tmp_path: Path) -> None:
    one = messages_of(DC)
    log = write_log(tmp_path / "three.log", one * 3, "timestamped")
    records = list(read_log(log, Layout("timestamped")))
    sessions = list(dict.fromkeys(r.session for r in records))
    assert len(sessions) == 3
    assert all(s.startswith(f"{log}@") for s in sessions)
    assert [sum(r.session == s for r in records) for s in sessions] == [len(one)] * 3
    # each session starts at its SDP request, not at the handshake after it
    firsts = [next(r for r in records if r.session == s) for s in sessions]
    assert {r.name for r in firsts} == {"SDPRequest"}


def test_chunks_start_at_sessions_and_read_the_same_as_the_whole_file(tmp_path: Path) -> None:
    one = messages_of(DC)
    log = write_log(tmp_path / "many.log", one * 5, "timestamped")
    layout = Layout("timestamped")
    chunks = plan_chunks(log, layout, chunk_bytes=log.stat().st_size // 7)
    assert len(chunks) == 5  # one cut per session: a cut never falls inside one
    assert chunks[0][0] == 0 and chunks[-1][1] is None
    assert all(a[1] == b[0] for a, b in zip(chunks, chunks[1:], strict=False))
    whole = list(read_log(log, layout))
    pieces = [r for start, end in chunks for r in read_log(log, layout, start=start, end=end)]
    assert pieces == whole


def test_lines_that_are_not_hex_become_rows_with_an_error(tmp_path: Path) -> None:
    entries = messages_of(DC)[:6]
    log = write_log(tmp_path / "bad.log", entries, "hex")
    text = log.read_text().splitlines()
    text.insert(4, "zz not hex at all")
    text.insert(5, "01fe8001000000ff8098")  # a header announcing more than follows
    text.insert(6, "8098deadbeef")  # hex, but no valid message
    log.write_text("\n".join(text) + "\n")
    records = list(read_log(log, Layout("hex")))
    assert len(records) == 9
    bad = [r for r in records if r.error]
    assert [r.name for r in bad] == ["(unparseable line)", "(undecodable)", "(undecodable)"]
    assert "not hexadecimal" in (bad[0].error or "")
    assert "announces 255 payload bytes" in (bad[1].error or "")


def test_layout_detection_and_its_refusals() -> None:
    assert detect_layout(["8098021050", "01fe80010000000480980210"]).name == "hex"
    assert detect_layout(["2024-03-22 10:15:02.125 EV->EVSE 809802"]).name == "timestamped"
    csv = detect_layout(["time,dir,exi", "1,EV,8098"])
    assert (csv.name, csv.columns) == ("csv", ("time", "dir", "exi"))
    with pytest.raises(ExportInputError, match="cannot tell the log layout"):
        detect_layout(["hello world"])
    with pytest.raises(ExportInputError, match="named group"):
        Layout("regex", pattern=r"(?P<payload>\w+)")
    with pytest.raises(ExportInputError, match="bad regex"):
        Layout("regex", pattern=r"(?P<hex>")
    with pytest.raises(ExportInputError, match="no hex column"):
        Layout("csv", columns=("a", "b"))


def test_timestamps_in_seconds_or_iso_8601() -> None:
    assert parse_time("12.5") == 12.5
    assert parse_time("1970-01-01T00:01:00Z") == 60.0
    assert parse_time("1970-01-01 01:00:00+01:00") == 0.0
    assert parse_time("1970-01-01T00:00:30") == 30.0  # naive times are UTC
    assert parse_time("yesterday") is None


def test_batches_of_a_log_hold_whole_sessions(tmp_path: Path) -> None:
    from iso15118.export.tasks import batches

    one = messages_of(DC)
    log = write_log(tmp_path / "four.log", one * 4, "timestamped")
    records = list(read_log(log, Layout("timestamped")))
    parts = list(batches(records, size=len(one) // 2))
    assert [len(p) for p in parts] == [len(one)] * 4  # cut only where a session begins
    assert [len({r.session for r in p}) for p in parts] == [1, 1, 1, 1]


def test_an_overlong_line_is_one_error_row_and_reading_goes_on(tmp_path: Path) -> None:
    from iso15118.export.lines import MAX_LINE_BYTES

    entries = messages_of(DC)[:4]
    log = write_log(tmp_path / "long.log", entries, "hex")
    lines = log.read_text().splitlines()
    lines.insert(3, "8098" * (MAX_LINE_BYTES // 2))  # 2 MiB of hex on one line
    log.write_text("\n".join(lines) + "\n")
    records = list(read_log(log, Layout("hex")))
    assert [r.name for r in records] == [entries[0].name, entries[1].name,
                                         "(unparseable line)", entries[2].name, entries[3].name]
    assert "longer than" in (records[2].error or "")
    assert records[3].offset == records[2].offset + 4 * (MAX_LINE_BYTES // 2) + 1
    # a file without any line break is one such row, and its layout cannot be told
    blob = tmp_path / "blob.bin"
    blob.write_bytes(b"\x00" * (3 * MAX_LINE_BYTES))
    assert [r.name for r in read_log(blob, Layout("hex"))] == ["(unparseable line)"]
    with pytest.raises(ExportInputError, match="empty log"):
        layout_of_file(blob)


def test_interleaved_connectors_are_followed_per_channel(tmp_path: Path) -> None:
    """Two chargers' sessions (ISO-2 DC and DIN) in one CSV, lines interleaved by time, a
    connector column apart: each comes out as one session, its messages in order and
    decoded with its own negotiated protocol."""
    from iso15118.export.tasks import plan

    iso2, din = messages_of(DC), messages_of("DIN_DC_DS5366_Josev.pcapng")
    rows = sorted([(i * 1.0, "A", e) for i, e in enumerate(iso2)]
                  + [(i * 1.0 + 0.5, "B", e) for i, e in enumerate(din)], key=lambda r: r[0])
    log = tmp_path / "site.csv"
    log.write_text("ts,connector,dir,exi\n" + "".join(
        f"{t},{c},{'EV' if e.direction == 'EV->EVSE' else 'EVSE'},"
        f"{wire_hex(e)}\n" for t, c, e in rows))
    layout = layout_of_file(log)
    assert layout.has_channel
    records = list(read_log(log, layout))
    sessions = list(dict.fromkeys(r.session for r in records))
    assert len(sessions) == 2
    by = {s: [r for r in records if r.session == s] for s in sessions}
    got = sorted(([(r.name, r.protocol) for r in rs] for rs in by.values()), key=len)
    assert got == sorted(([(e.name, e.protocol) for e in din],
                          [(e.name, e.protocol) for e in iso2]), key=len)
    # each session's records are contiguous downstream, and the file is one task
    assert [r.session for r in records] == sorted((r.session for r in records),
                                                  key=sessions.index)
    tasks, problems = plan([str(log)], chunk_bytes=4096)
    assert len(tasks) == 1 and not problems
    regex = Layout("regex", pattern=r"^(?P<timestamp>[^,]+),(?P<channel>\w+),(?P<direction>\w+),"
                                    r"(?P<hex>[0-9a-f]+)$")
    assert [r.name for r in read_log(log, regex)] == [r.name for r in records]
