"""A finding's evidence on disk: the case, its bytes, the transcript and a pcap.

The pcap is made from the transcript (what the fuzzer wrote and read, so over TLS it is
the plaintext: the key log next to it decrypts a capture taken on the wire at the same
time). Packets are synthesised as raw IP (LINKTYPE_RAW, 101) with TCP or UDP headers and
consistent sequence numbers, which Wireshark's V2GTP dissector and our own
``iso15118 pcap`` read; checksums are left zero (a synthesised capture has no NIC).
"""

from __future__ import annotations

import ipaddress
import json
import shutil
import struct
from pathlib import Path
from typing import Any

from iso15118.fuzzing.link import Record, Transcript
from iso15118.fuzzing.model import Case, Finding

__all__ = ["pcap_bytes", "write_finding"]

LINKTYPE_RAW = 101
_SYN, _FIN, _RST, _PSH, _ACK = 0x02, 0x01, 0x04, 0x08, 0x10
_PLACEHOLDER = ("::1", 0)


def _ip(src: str, dst: str, proto: int, payload: bytes) -> bytes:
    a, b = ipaddress.ip_address(src), ipaddress.ip_address(dst)
    if a.version == 6 or b.version == 6:
        a6 = a if a.version == 6 else ipaddress.IPv6Address(f"::ffff:{a}")
        b6 = b if b.version == 6 else ipaddress.IPv6Address(f"::ffff:{b}")
        return struct.pack(">IHBB", 0x6000_0000, len(payload), proto, 64) + a6.packed \
            + b6.packed + payload
    return struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), 0, 0x4000, 64, proto, 0,
                       a.packed, b.packed) + payload


def _tcp(sport: int, dport: int, seq: int, ack: int, flags: int, data: bytes) -> bytes:
    return struct.pack(">HHIIBBHHH", sport, dport, seq & 0xFFFF_FFFF, ack & 0xFFFF_FFFF,
                       5 << 4, flags, 65535, 0, 0) + data


def _udp(sport: int, dport: int, data: bytes) -> bytes:
    return struct.pack(">HHHH", sport, dport, 8 + len(data), 0) + data


def pcap_bytes(transcript: Transcript) -> bytes:
    """The transcript as a classic pcap file (microsecond timestamps)."""
    out = bytearray(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, LINKTYPE_RAW))
    seqs: dict[tuple[Any, Any], list[int]] = {}

    def packet(t: float, data: bytes) -> None:
        sec = int(t)
        out.extend(struct.pack("<IIII", sec, int((t - sec) * 1e6), len(data), len(data)))
        out.extend(data)

    def tcp(r: Record, src: tuple[str, int], dst: tuple[str, int], flags: int,
            data: bytes = b"") -> None:
        key = (min(src, dst), max(src, dst))
        s = seqs.setdefault(key, [1000, 5000])
        mine, theirs = (0, 1) if src == key[0] else (1, 0)
        packet(r.time, _ip(src[0], dst[0], 6, _tcp(src[1], dst[1], s[mine], s[theirs],
                                                    flags, data)))
        s[mine] += len(data) + (1 if flags & (_SYN | _FIN) else 0)

    for r in transcript.records:
        local, remote = r.local or _PLACEHOLDER, r.remote or _PLACEHOLDER
        src, dst = (local, remote) if r.direction == "out" else (remote, local)
        if r.kind == "connect":
            tcp(r, local, remote, _SYN)
            tcp(r, remote, local, _SYN | _ACK)
            tcp(r, local, remote, _ACK)
        elif r.kind == "tcp":
            tcp(r, src, dst, _PSH | _ACK, r.data)
        elif r.kind == "close":
            tcp(r, src, dst, _FIN | _ACK)
        elif r.kind == "reset":
            tcp(r, src, dst, _RST | _ACK)
        elif r.kind == "udp":
            packet(r.time, _ip(src[0], dst[0], 17, _udp(src[1], dst[1], r.data)))
    return bytes(out)


def write_finding(folder: Path, finding: Finding, case: Case, input_bytes: bytes,
                  transcript: Transcript, keylog: Path | None,
                  verdict: dict[str, Any]) -> None:
    """Everything needed to understand and replay one finding, in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "case.json").write_text(json.dumps(case.to_json(), indent=1) + "\n")
    (folder / "finding.json").write_text(json.dumps(finding.to_json(), indent=1) + "\n")
    (folder / "input.bin").write_bytes(input_bytes)
    (folder / "transcript.json").write_text(
        json.dumps([r.to_json() for r in transcript.records], indent=0) + "\n")
    (folder / "session.pcap").write_bytes(pcap_bytes(transcript))
    (folder / "verdict.json").write_text(json.dumps(verdict, indent=1) + "\n")
    if keylog is not None and keylog.exists():
        shutil.copyfile(keylog, folder / "keys.log")
    if finding.minimised_steps:
        minimal = case.with_steps(finding.minimised_steps)
        (folder / "minimised.json").write_text(json.dumps(minimal.to_json(), indent=1) + "\n")
        (folder / "minimised.bin").write_bytes(bytes.fromhex(finding.minimised_hex))
