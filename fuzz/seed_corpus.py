"""Write the seed corpora of the harnesses under ``fuzz/corpus/`` (git-ignored).

Seeds decide where a campaign starts, so they come from bytes other encoders wrote as
well as from ours:

* ``../shared/vectors/real/*.jsonl``: captures of real cars and chargers and of test
  systems (read in place, never copied into the repository; at most ``--per-protocol``
  rows per protocol, picked evenly by hash so reruns pick the same ones);
* ``../shared/vectors/cbv2g/vectors.json``: the cross-implementation messages;
* ``tests/vectors/conformance.jsonl`` and ``tests/vectors/oracle_samples``: the
  reference's encodings (documents and signature fragments);
* generated messages (:mod:`iso15118.testing`): every message of every protocol, each
  profile, as documents and fragments, plus one facet violation each (lenient encoder);
* for V2GTP: those EXI streams framed, also two or three frames in one stream and frames
  with unknown payload types; for SDP: the captured SDP frames and every message kind;
* for the PKI: the test PKIs' chains (DER and PEM) and the certificates found in decoded
  ISO 15118-2 captures.

    python fuzz/seed_corpus.py [--shared ../shared] [--per-protocol 300]
"""

from __future__ import annotations

import argparse
import hashlib
import ipaddress
import json
import random
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
CORPUS = HERE / "corpus"

#: names in the shared/oracle vectors -> our protocol names
PROTOCOL_NAMES = {"appHand": "apphand", "apphand": "apphand", "din": "din", "iso2": "iso2",
                  "iso20-common": "iso20-common", "iso20-ac": "iso20-ac",
                  "iso20-dc": "iso20-dc", "iso20-wpt": "iso20-wpt",
                  "iso20-acdp": "iso20-acdp", "xmldsig": "xmldsig"}
CBV2G_PREFIXES = {"appHand_": "apphand", "iso2_": "iso2", "din_": "din",
                  "iso20_DC_": "iso20-dc", "iso20_": "iso20-common"}


def _write(directory: Path, items: Iterable[bytes]) -> int:
    """Content-addressed files (the names libFuzzer gives its own finds)."""
    directory.mkdir(parents=True, exist_ok=True)
    n = 0
    for data in items:
        name = hashlib.sha1(data).hexdigest()
        path = directory / name
        if not path.exists():
            path.write_bytes(data)
            n += 1
    return n


def _evenly(rows: list[bytes], limit: int) -> list[bytes]:
    unique = sorted(set(rows), key=lambda b: hashlib.sha1(b).digest())
    return unique[:limit]


# ------------------------------------------------------------------ EXI sources


def shared_exi(shared: Path | None, per_protocol: int) -> dict[str, list[bytes]]:
    out: dict[str, list[bytes]] = {}
    if shared is None:
        return out
    for path in sorted((shared / "vectors" / "real").glob("*.jsonl")):
        for line in path.read_text().splitlines():
            row = json.loads(line)
            proto = PROTOCOL_NAMES.get(row.get("protocol", ""))
            if proto and row.get("hex"):
                out.setdefault(proto, []).append(bytes.fromhex(row["hex"]))
    cbv2g = shared / "vectors" / "cbv2g" / "vectors.json"
    if cbv2g.exists():
        for msg in json.loads(cbv2g.read_text())["messages"]:
            for prefix, proto in CBV2G_PREFIXES.items():
                if msg["name"].startswith(prefix):
                    out.setdefault(proto, []).append(bytes.fromhex(msg["hex"]))
                    break
    return {p: _evenly(rows, per_protocol) for p, rows in out.items()}


def repository_exi() -> dict[str, list[bytes]]:
    out: dict[str, list[bytes]] = {}
    conformance = ROOT / "tests" / "vectors" / "conformance.jsonl"
    for line in conformance.read_text().splitlines():
        row = json.loads(line)
        out.setdefault(PROTOCOL_NAMES[row["protocol"]], []).append(bytes.fromhex(row["hex"]))
    for path in sorted((ROOT / "tests" / "vectors" / "oracle_samples").glob("*/*.hex")):
        proto = PROTOCOL_NAMES.get(path.parent.name)
        if proto:
            out.setdefault(proto, []).append(bytes.fromhex(path.read_text().strip()))
    return out


def generated_exi(per_job: int) -> dict[str, list[bytes]]:
    """Every message in every profile, as document and (where declared) as fragment,
    and once more with one facet broken."""
    from iso15118 import codec, protocols
    from iso15118.errors import Iso15118Error
    from iso15118.testing import lenient
    from iso15118.testing.generate import PROFILES, UngeneratableError, generator_for

    out: dict[str, list[bytes]] = {}
    for proto in protocols.PROTOCOLS:
        gen = generator_for(proto)
        c = codec.get_codec(proto)
        rng = random.Random(proto)
        items = out.setdefault(proto, [])
        for job in gen.jobs:
            for profile in PROFILES:
                for _ in range(per_job):
                    try:
                        doc = gen.generate(job, seed=rng.getrandbits(32), profile=profile)
                    except UngeneratableError:
                        continue
                    items.append(doc.to_bytes())
                    try:
                        items.append(c.encode_value(doc.element, doc.value, fragment=True))
                    except Exception:  # noqa: BLE001 - not every element is a fragment root
                        pass
                    value, found = lenient.violate(doc.value, proto, rng, element=doc.element)
                    if found:
                        try:
                            items.append(lenient.encode(value, proto, element=doc.element))
                        except Iso15118Error:
                            pass
    return out


# ------------------------------------------------------------------ V2GTP and SDP


def v2gtp_streams(exi: dict[str, list[bytes]], rng: random.Random) -> Iterator[bytes]:
    from iso15118.v2gtp import PAYLOAD_TYPE_PROTOCOLS, PayloadType, encode_frame

    by_protocol: dict[str, int] = {}
    for ptype, proto in PAYLOAD_TYPE_PROTOCOLS.items():
        by_protocol.setdefault(proto, ptype)
    frames: list[bytes] = []
    for proto, streams in exi.items():
        ptype = by_protocol.get(proto, PayloadType.SAP_ISO2_DIN)
        frames.extend(encode_frame(ptype, s) for s in streams[:40])
    frames.extend(sdp_frames())
    yield from frames
    for _ in range(200):
        yield b"".join(rng.sample(frames, rng.randint(2, 3)))
    for ptype in (0x0000, 0x8000, 0x8007, 0xFFFF):
        yield encode_frame(ptype, b"\x80\x00") + rng.choice(frames)
    yield bytes.fromhex("01fe8001ffffffff")  # a length nobody should buffer
    yield bytes.fromhex("02fd800100000002") + b"\x80\x00"  # wrong version


def sdp_frames() -> list[bytes]:
    from iso15118 import sdp

    addr = ipaddress.IPv6Address("fe80::1234:5678:9abc:def0")
    messages: list[Any] = [
        sdp.SDPRequest(sdp.Security.TLS, sdp.TransportProtocol.TCP),
        sdp.SDPRequest(sdp.Security.NO_TLS, sdp.TransportProtocol.TCP),
        sdp.SDPRequest(0x20, 0x08),
        sdp.SDPResponse(addr, 15118, sdp.Security.TLS),
        sdp.SDPResponse(addr, 65535, sdp.Security.NO_TLS, sdp.TransportProtocol.UDP),
        sdp.SDPRequestWireless(sdp.Security.TLS, sdp.TransportProtocol.TCP, 0x0101, 2,
                               "ZZ00000".rjust(20, "0"), "DE*ABC*E1234567*1".ljust(36)),
        sdp.SDPResponseWireless(addr, 50000, sdp.Security.TLS, sdp.TransportProtocol.TCP,
                                sdp.DiagStatus.FINISHED_WITH_EVSEID, 1,
                                "DE*ABC*E1234567*1".ljust(36)),
    ]
    return [sdp.encode(m) for m in messages]


def shared_sdp(shared: Path | None) -> list[bytes]:
    out: list[bytes] = []
    if shared is None:
        return out
    for path in sorted((shared / "vectors" / "real").glob("*.jsonl")):
        for line in path.read_text().splitlines():
            row = json.loads(line)
            if row.get("protocol") == "sdp" and row.get("hex"):
                out.append(bytes.fromhex(row["hex"]))
    return out


# ------------------------------------------------------------------ PKI


def pki_inputs(exi: dict[str, list[bytes]]) -> Iterator[bytes]:
    """``selector byte + certificates`` (DER back to back, or a PEM bundle); the harness
    reads role and generation from the selector (see fuzz_pki.py)."""
    from cryptography.hazmat.primitives import serialization

    from iso15118.pki import build_test_pki

    roles = ["secc", "contract", "oem", "cps"]
    for selector_version, version in ((0, 2), (4, 20)):
        pki = build_test_pki(version)
        for spec in pki.chains.values():
            leaf, subs, _roots = pki.chain_certs(next(k for k, v in pki.chains.items()
                                                      if v is spec))
            role = roles.index(spec.role.value) if spec.role.value in roles else 0
            selector = bytes([selector_version | role])
            certs = [leaf, *subs]
            yield selector + b"".join(c.public_bytes(serialization.Encoding.DER) for c in certs)
            yield selector + b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)
        for issued in pki.certificates.values():
            yield bytes([selector_version]) + issued.der
    for der in certificates_in_captures(exi):
        yield b"\x00" + der


def certificates_in_captures(exi: dict[str, list[bytes]]) -> Iterator[bytes]:
    """DER certificates inside decoded ISO 15118-2/-20 messages (certificate chains of
    PaymentDetailsReq, CertificateInstallationRes, ...)."""
    from iso15118 import codec
    from iso15118.errors import Iso15118Error

    seen: set[bytes] = set()
    for proto in ("iso2", "iso20-common"):
        for data in exi.get(proto, []):
            try:
                _, value = codec.decode_element(data, proto)
            except Iso15118Error:
                continue
            for blob in _bytes_in(value):
                if len(blob) > 200 and blob[:2] == b"\x30\x82" and blob not in seen:
                    seen.add(blob)
                    yield blob


def _bytes_in(value: Any, depth: int = 0) -> Iterator[bytes]:
    if depth > 20:
        return
    if isinstance(value, bytes):
        yield value
    elif isinstance(value, list):
        for item in value:
            yield from _bytes_in(item, depth + 1)
    elif hasattr(value, "_exi_members"):
        for member in value._exi_members:
            yield from _bytes_in(getattr(value, member[0], None), depth + 1)


# ------------------------------------------------------------------ main


def default_shared() -> Path | None:
    cand = ROOT.parent / "shared"
    return cand if (cand / "vectors").is_dir() else None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--shared", type=Path, default=default_shared(),
                    help="the shared directory with vectors/ (default: ../shared if present)")
    ap.add_argument("--per-protocol", type=int, default=300,
                    help="captured rows per protocol at most (default 300)")
    ap.add_argument("--per-job", type=int, default=1,
                    help="generated messages per message and profile (default 1)")
    ap.add_argument("--out", type=Path, default=CORPUS)
    args = ap.parse_args(argv)
    sys.path.insert(0, str(ROOT / "src"))

    exi: dict[str, list[bytes]] = {}
    for source in (shared_exi(args.shared, args.per_protocol), repository_exi(),
                   generated_exi(args.per_job)):
        for proto, rows in source.items():
            exi.setdefault(proto, []).extend(rows)
    rng = random.Random(15118)
    report = {}
    for proto, rows in sorted(exi.items()):
        report[f"exi-{proto}"] = _write(args.out / f"exi-{proto}", rows)
    report["v2gtp"] = _write(args.out / "v2gtp", v2gtp_streams(exi, rng))
    report["sdp"] = _write(args.out / "sdp", sdp_frames() + shared_sdp(args.shared))
    report["pki"] = _write(args.out / "pki", pki_inputs(exi))
    for name, count in report.items():
        print(f"{name:18} {count:6} new seeds")
    if args.shared is None:
        print("note: no shared vectors found; seeds are generated and repository ones only")
    return 0


if __name__ == "__main__":
    sys.exit(main())
