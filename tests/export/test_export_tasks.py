"""A task writes its part file in batches (Parquet row groups) that hold whole sessions,
and the result is the same table as one batch would give."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest
from export_logs import HAVE_CAPTURES, messages_of, write_log

from iso15118.export import Layout
from iso15118.export import tasks as tasks_module
from iso15118.export.tasks import Task, run_task

pytestmark = pytest.mark.skipif(not HAVE_CAPTURES, reason="../shared/vectors/real/pcap absent")


def test_batched_task_writes_row_groups_of_whole_sessions(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    one = messages_of("DIN_DC_DS5366_Josev.pcapng")
    log = write_log(tmp_path / "three.log", one * 3, "timestamped")
    task = Task(0, str(log), "hexlog", Layout("timestamped"))
    whole = run_task(task, str(tmp_path / "whole"))
    monkeypatch.setattr(tasks_module, "BATCH_RECORDS", 100)
    batched = run_task(task, str(tmp_path / "batched"))
    assert (batched.messages, batched.sessions, batched.error) == (
        whole.messages, whole.sessions, None) == (sum(e.kind == "exi" for e in one) * 3, 3,
                                                  None)
    f = pq.ParquetFile(tmp_path / "batched" / "messages" / "part-00000.parquet")
    assert f.num_row_groups == 3
    assert pq.read_table(tmp_path / "batched" / "messages").equals(
        pq.read_table(tmp_path / "whole" / "messages").replace_schema_metadata(
            f.schema_arrow.metadata))
    assert pq.read_table(tmp_path / "batched" / "sessions").num_rows == 3


def test_a_task_that_fails_leaves_no_file(tmp_path: Path) -> None:
    result = run_task(Task(4, str(tmp_path / "gone.log"), "hexlog", Layout("hex")),
                      str(tmp_path / "out"))
    assert result.error is not None and "gone.log" in result.error
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").rglob("*"))


def test_records_of_every_reader_pickle_with_their_models(tmp_path: Path) -> None:
    """Dask ships records and results between processes: the decoded models must pickle
    and come back equal (-2 with TLS, -20, DIN, SDP, OCPP, an error row)."""
    import base64
    import json
    import pickle

    from export_logs import capture

    from iso15118.export import read_ocpp, read_pcap

    records = list(read_pcap(capture("ISO-20_TLS13_DC_DS5366_Josev.pcapng")))
    records += list(read_pcap(capture("DIN_DC_DS5366_Josev.pcapng")))[:20]
    cert = next(e for e in messages_of("ISO-2_DC_PnC_TLS_CertInstallation_DS5366_RiseV2G.pcapng")
                if e.name == "CertificateInstallationReq")
    ocpp = tmp_path / "ocpp.log"
    ocpp.write_text(json.dumps([2, "1", "Get15118EVCertificate", {
        "iso15118SchemaVersion": "urn:iso:15118:2:2013:MsgDef",
        "exiRequest": base64.b64encode(cert.payload).decode()}]) + "\n"
        + json.dumps([2, "2", "Get15118EVCertificate", {"exiRequest": "AAAA"}]) + "\n")
    records += list(read_ocpp(ocpp))
    assert {r.kind for r in records} == {"exi", "sdp"} and any(r.error for r in records)
    assert {r.protocol for r in records} >= {"iso20-dc", "din", "iso2", "sdp"}
    assert pickle.loads(pickle.dumps(records)) == records
