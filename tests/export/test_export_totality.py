"""Total over the decoder: whatever bytes a log holds, every line becomes a row and
nothing raises: damaged real messages (truncated, bits flipped) decode partly, fail, or
decode to values the JSON writer refuses; each is a row, with ``error`` when it failed."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from export_logs import HAVE_CAPTURES, messages_of
from hypothesis import given, settings
from hypothesis import strategies as st

from iso15118.export import Layout, read_log
from iso15118.export.tables import build_tables

pytestmark = pytest.mark.skipif(not HAVE_CAPTURES, reason="../shared/vectors/real/pcap absent")


def _damaged(seed: int, count: int) -> list[str]:
    rng = random.Random(seed)
    sources = [e for name in ("ISO-2_DC_DS5366.pcapng", "DIN_DC_DS5366_Josev.pcapng",
                              "ISO-20_BPT_AC_DS5366_Josev.pcapng")
               for e in messages_of(name) if e.kind == "exi"]
    lines = []
    for _ in range(count):
        payload = bytearray(rng.choice(sources).payload)
        how = rng.randrange(3)
        if how == 0:
            payload = payload[: rng.randrange(1, len(payload) + 1)]
        elif how == 1:
            for _ in range(rng.randrange(1, 4)):
                payload[rng.randrange(len(payload))] ^= 1 << rng.randrange(8)
        else:
            payload = bytearray(rng.randbytes(rng.randrange(1, 60)))
        lines.append(payload.hex())
    return lines


def test_damaged_messages_all_become_rows(tmp_path: Path) -> None:
    lines = _damaged(17, 1500)
    log = tmp_path / "damaged.log"
    log.write_text("\n".join(lines) + "\n")
    records = list(read_log(log, Layout("hex")))
    assert len(records) == len(lines)
    messages, sessions = build_tables(records)
    assert messages.num_rows == len(lines)
    names = messages.column("message").to_pylist()
    errors = messages.column("error").to_pylist()
    assert all((n == "(undecodable)") == (e is not None and "JSON" not in e)
               for n, e in zip(names, errors, strict=True))
    assert 0 < names.count("(undecodable)") < len(lines)  # both kinds occur
    assert sessions.num_rows >= 1


_LAYOUTS = [Layout("hex"), Layout("timestamped"),
            Layout("csv", columns=("time", "dir", "hex")),
            Layout("regex", pattern=r"(?P<timestamp>\S+) (?P<direction>\S+) (?P<hex>\S+)")]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(
    st.binary(max_size=80),
    st.from_regex(r"\A[0-9a-fA-F :]{0,60}\Z"),
    st.from_regex(r"\A(01fe8001|01fe9000|8000dbab|8098)[0-9a-f]{0,40}\Z"),
    st.text(max_size=40)), max_size=25), st.sampled_from(_LAYOUTS))
def test_any_bytes_in_any_layout_give_rows_not_exceptions(lines: list[object],
                                                          layout: Layout) -> None:
    import tempfile

    from iso15118.export import read_ocpp

    data = b"\n".join(x if isinstance(x, bytes) else str(x).encode() for x in lines)
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "fuzz.log"
        path.write_bytes(data)
        records = list(read_log(path, layout))
        build_tables(records)
        assert all(r.error is None or r.value is None for r in records)
        build_tables(list(read_ocpp(path)))
