"""SDP frames and V2GTP headers captured from real chargers and cars (shared/vectors/real).

The data is read in place and never copied into the repository; the tests are skipped
when the directory is not there.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from iso15118.sdp import SDPRequest, SDPResponse, decode, encode
from iso15118.v2gtp import (
    HEADER_LENGTH,
    Frame,
    PayloadType,
    V2GTPHeader,
    V2GTPParser,
)

# The collector's protocol names for payloads carried in 0x8001 frames.
SAP_FAMILY = {"appHand", "din", "iso2", "unknown"}


@pytest.fixture(scope="module")
def real_rows(shared_dir: Path) -> list[dict[str, Any]]:
    directory = shared_dir / "vectors" / "real"
    files = sorted(directory.glob("*.jsonl"))
    if not files:
        pytest.skip(f"no real vectors under {directory}")
    return list(_rows(files))


def _rows(files: list[Path]) -> Iterator[dict[str, Any]]:
    for path in files:
        with path.open(encoding="utf-8") as lines:
            for line in lines:
                if line.strip():
                    yield json.loads(line)


def test_every_real_sdp_frame_parses_and_re_encodes_identically(
    real_rows: list[dict[str, Any]],
) -> None:
    sdp_rows = [row for row in real_rows if row["layer"] == "sdp"]
    assert sdp_rows, "the real vectors hold SDP rows"
    kinds = set()
    for row in sdp_rows:
        frame = bytes.fromhex(row["hex"])
        message = decode(frame)
        assert encode(message) == frame, row["id"]
        kinds.add(type(message))
        fields = (row.get("decoded_ref") or {}).get("fields") or {}
        if isinstance(message, SDPResponse):
            assert row["direction"] == "EVSE->EV", row["id"]
            if "SECC_IPAddress" in fields:
                assert message.address == ipaddress.IPv6Address(fields["SECC_IPAddress"])
                assert message.port == fields["SECC_Port"]
        else:
            assert isinstance(message, SDPRequest)
            assert row["direction"] == "EV->EVSE", row["id"]
        if "Security" in fields:
            assert message.security == fields["Security"], row["id"]
    assert kinds == {SDPRequest, SDPResponse}


def test_every_real_v2gtp_header_parses_and_frames_its_exi(
    real_rows: list[dict[str, Any]],
) -> None:
    rows = [row for row in real_rows if row.get("v2gtp_header")]
    assert rows
    parser = V2GTPParser()
    stream = bytearray()
    expected: list[Frame] = []
    for row in rows:
        raw = bytes.fromhex(row["v2gtp_header"])
        assert len(raw) == HEADER_LENGTH, row["id"]
        header = V2GTPHeader.parse(raw)
        assert header.encode() == raw
        assert header.payload_type in set(PayloadType), row["id"]
        exi = bytes.fromhex(row["hex"])
        assert header.payload_length == len(exi), row["id"]
        protocol = row["protocol"]
        expected_protocol = "sap-or-iso2-din" if protocol in SAP_FAMILY else protocol
        assert header.protocol == expected_protocol, row["id"]
        stream += raw + exi
        expected.append(Frame(header.payload_type, exi))
    # ... and the whole collection, as one TCP stream in odd-sized chunks, reassembles
    events = []
    for start in range(0, len(stream), 1021):
        events += parser.feed(stream[start : start + 1021])
    parser.feed_eof()
    assert events == expected
