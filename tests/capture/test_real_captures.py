"""Every capture in ``../shared/vectors/real/pcap`` read to the end, against an independent count.

The count: the ``*.jsonl`` rows collected from the same captures with another tool
(tshark with the dsV2Gshark dissector), one row per unique message hex per source. Every
hex listed for a capture (as ``source_path`` or in ``seen_in``) must be among what the
reader extracted, with the same protocol and direction, and every V2GTP frame found
must decode. The captures are read in place and never copied into the repository.
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
from support.oracle import shared_dir

from iso15118.capture import CaptureResult, Entry, KeyLog, read_capture
from iso15118.v2gtp import encode_frame

_SHARED = shared_dir()
REAL = _SHARED / "vectors" / "real" if _SHARED else None
PCAP_DIR = REAL / "pcap" if REAL else None
CAPTURES = sorted(p for p in PCAP_DIR.glob("*/*.pcap*") if p.suffix in (".pcap", ".pcapng")
                  ) if PCAP_DIR and PCAP_DIR.is_dir() else []
_PROTOCOL = {"appHand": "apphand"}


def _rows_by_capture() -> dict[str, list[dict[str, Any]]]:
    rows: dict[str, list[dict[str, Any]]] = defaultdict(list)
    assert REAL is not None
    for f in REAL.glob("*.jsonl"):
        with f.open(encoding="utf-8") as fh:
            for line in fh:
                row = json.loads(line)
                for name in {os.path.basename(row["source_path"]), *(row.get("seen_in") or [])}:
                    rows[name].append(row)
    return rows


@pytest.fixture(scope="module")
def expected() -> dict[str, list[dict[str, Any]]]:
    return _rows_by_capture()


def _read(path: Path) -> CaptureResult:
    keys = path.with_name(path.name + ".keylog.txt")
    keylog = KeyLog.parse(keys.read_text()) if keys.exists() else None
    return read_capture(path.read_bytes(), keylog)


@pytest.mark.skipif(not CAPTURES, reason="../shared/vectors/real/pcap not present")
@pytest.mark.parametrize("path", CAPTURES, ids=lambda p: p.name)
def test_capture_is_read_to_the_end_with_nothing_lost(
        path: Path, expected: dict[str, list[dict[str, Any]]]) -> None:
    result = _read(path)
    rows = expected[path.name]
    assert rows, f"no jsonl rows name {path.name}"
    # every frame found decodes; nothing was skipped, missing or left encrypted
    assert result.problems == [], [(e.number, e.error) for e in result.problems]
    for c in result.connections:
        assert (c.gaps, c.skipped_bytes, c.undecrypted_records, c.errors) == (0, 0, 0, 0)
    got: dict[str, Entry] = {}
    for e in result.messages:
        got.setdefault(e.payload.hex(), e)
    sdp = {encode_frame(e.payload_type or 0, e.payload).hex()
           for e in result.entries if e.kind == "sdp"}
    for row in rows:
        if row["layer"] == "sdp":
            assert row["hex"] in sdp, row["id"]
            continue
        entry = got.get(row["hex"])
        assert entry is not None, f"{row['id']} ({row['message']}) not extracted"
        assert entry.protocol == _PROTOCOL.get(row["protocol"], row["protocol"]), row["id"]
        assert entry.direction == row["direction"], row["id"]
    # the negotiated protocol is known for each session that carried V2G messages
    if result.messages:
        assert result.protocols
        assert all(c.protocol for c in result.connections if c.frames)


@pytest.mark.skipif(not CAPTURES, reason="../shared/vectors/real/pcap not present")
def test_tls_captures_are_decrypted_with_their_key_logs() -> None:
    tls = [p for p in CAPTURES if p.with_name(p.name + ".keylog.txt").exists()]
    assert len(tls) == 6
    versions = set()
    for path in tls:
        result = _read(path)
        [conn] = result.connections
        assert conn.transport == "tls" and conn.tls and conn.tls.endswith(", decrypted")
        versions.add(conn.tls.split(" TLS_")[0])
        assert len(result.messages) > 50
    assert versions == {"TLS 1.2", "TLS 1.3"}


@pytest.mark.skipif(not CAPTURES, reason="../shared/vectors/real/pcap not present")
def test_only_the_mtls_capture_has_a_client_certificate() -> None:
    """``ISO-20_mTLS_DC``: the charger asks for a certificate and the EV sends its OEM
    provisioning chain (3 certificates); every other TLS capture authenticates the
    charger alone, with its 3-certificate CPO chain."""
    tls = [p for p in CAPTURES if p.with_name(p.name + ".keylog.txt").exists()]
    for path in tls:
        [conn] = _read(path).connections
        assert len(conn.tls_server_certificates) == 3, path.name
        assert all(c[0] == 0x30 for c in conn.tls_server_certificates)  # DER SEQUENCE
        assert len(conn.tls_client_certificates) == (3 if "mTLS" in path.name else 0), (
            path.name)


@pytest.mark.skipif(not CAPTURES, reason="../shared/vectors/real/pcap not present")
def test_spi_sniffs_hold_ethernet_frames_with_homeplug_and_ipv6() -> None:
    spi = [p for p in CAPTURES if p.parent.name == "Ioniq28Investigations"]
    assert spi
    for path in spi:
        result = _read(path)
        assert set(result.linktypes) == {1}  # rebuilt as Ethernet frames
        assert result.non_ip_frames > 0  # HomePlug (SLAC) management frames
        assert result.connections and result.connections[0].negotiated == (
            "urn:din:70121:2012:MsgDef")
