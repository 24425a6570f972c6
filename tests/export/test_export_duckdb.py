"""The written dataset is read without help: DuckDB queries the part files by glob (and
joins the two tables), pandas reads the directory, polars the glob; all agree with the
rows written."""

from __future__ import annotations

from pathlib import Path

import pytest
from export_logs import HAVE_CAPTURES, capture, messages_of, write_log

from iso15118 import cli

duckdb = pytest.importorskip("duckdb")
pytestmark = pytest.mark.skipif(not HAVE_CAPTURES, reason="../shared/vectors/real/pcap absent")

DC = "ISO-2_DC_DS5366.pcapng"


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("duck")
    log = write_log(d / "din.csv", messages_of("DIN_DC_DS5366_Josev.pcapng"), "csv")
    target = d / "out"
    assert cli.main(["export", str(capture(DC)), str(log), "-o", str(target)]) == 0
    return target


def test_duckdb_answers_per_session_questions(out: Path) -> None:
    m, s = f"'{out}/messages/*.parquet'", f"'{out}/sessions/*.parquet'"
    con = duckdb.connect()
    rows = con.sql(f"""
        select s.protocol, s.evccid, s.duration_s, count(*) as loops,
               max(m.ev_target_current_a), max(m.session_time_s)
        from {m} m join {s} s using (session)
        where m.message = 'CurrentDemandReq'
        group by all order by 1""").fetchall()
    expected_din = sum(e.name == "CurrentDemandReq"
                       for e in messages_of("DIN_DC_DS5366_Josev.pcapng"))
    expected_iso2 = sum(e.name == "CurrentDemandReq" for e in messages_of(DC))
    # the largest target current as the pcap timeline prints it ("EVTargetCurrent=200 A")
    din_max = max(float(dict(e.values)["EVTargetCurrent"].split()[0])
                  for e in messages_of("DIN_DC_DS5366_Josev.pcapng")
                  if e.name == "CurrentDemandReq")
    assert [r[:2] + r[3:5] for r in rows] == [
        ("din", "00E04C68001D", expected_din, din_max),
        ("iso2", "644D700102C8", expected_iso2, 200.0)]
    assert all(0 < r[5] <= r[2] for r in rows)  # the loop lies within the session
    types = dict(con.sql(f"select column_name, column_type from (describe select * from {m})"
                         ).fetchall())
    assert types["time"] == "TIMESTAMP WITH TIME ZONE"
    assert types["ev_target_current_a"] == "DOUBLE" and types["payload"] == "BLOB"
    # the phase durations, per protocol, straight from the sessions table
    phases = con.sql(f"select protocol, cable_check_s > 0, precharge_s > 0 from {s} "
                     "order by 1").fetchall()
    assert phases == [("din", True, True), ("iso2", True, True)]


def test_pandas_reads_the_directory(out: Path) -> None:
    pd = pytest.importorskip("pandas")
    frame = pd.read_parquet(out / "messages")
    assert len(frame) == len(messages_of(DC)) + len(messages_of("DIN_DC_DS5366_Josev.pcapng"))
    sessions = pd.read_parquet(out / "sessions")
    assert sorted(sessions["outcome"]) == ["stopped", "stopped"]


def test_polars_reads_the_glob(out: Path) -> None:
    pl = pytest.importorskip("polars")
    sessions = pl.read_parquet(f"{out}/sessions/*.parquet")
    assert sessions.height == 2
    assert dict(zip(sessions["protocol"].to_list(), sessions["charge_loop_messages"].to_list(),
                    strict=True)) == {
        "iso2": 417, "din": sum(e.name == "CurrentDemandReq"
                                for e in messages_of("DIN_DC_DS5366_Josev.pcapng"))}
    messages = pl.read_parquet(f"{out}/messages/*.parquet")
    assert str(messages.schema["time"]).startswith("Datetime(time_unit='us', time_zone='UTC')")
    assert messages.filter(pl.col("message") == "CurrentDemandRes")["evse_present_current_a"] \
        .max() == pytest.approx(200.03)
