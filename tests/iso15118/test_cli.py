"""The CLI contract scripts rely on (``python -m iso15118`` in a real subprocess)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SAMPLES = Path(__file__).resolve().parent.parent / "vectors" / "oracle_samples"
SSR = "809802000000000000000011d018286cb0f5397c00"


def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "iso15118", *args], input=stdin,
                          capture_output=True, text=True, timeout=120)


def test_decode_hex_argument_to_xml_and_json() -> None:
    r = run("decode", "--protocol", "iso2", SSR)
    assert r.returncode == 0, r.stderr
    assert "SessionSetupReq" in r.stdout and "0A1B2C3D4E5F" in r.stdout
    pasted = "0x80:98 02 00000000000000001\n1d018286cb0f5397c00"
    r = run("decode", "-p", "iso2", "--format", "json", pasted)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["V2G_Message"]["Body"]["SessionSetupReq"]["EVCCID"] == "0A1B2C3D4E5F"


def test_encode_file_and_stdin_round_trip() -> None:
    f = SAMPLES / "iso2" / "SessionSetupReq.xml"
    r = run("encode", "--protocol", "iso2", str(f))
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == SSR
    j = run("decode", "-p", "iso2", "-f", "json", SSR).stdout
    r = run("encode", "-p", "iso2", "-", stdin=j)
    assert r.stdout.strip() == SSR


def test_batch_goes_on_after_errors() -> None:
    r = run("decode", "-p", "iso2", "--batch", stdin=f"{SSR}\nnot-hex\n8098\n{SSR}\n")
    lines = r.stdout.splitlines()
    assert len(lines) == 4
    assert lines[0].startswith("<") and lines[3] == lines[0]
    assert lines[1].startswith("error:") and lines[2].startswith("error:")
    xml = lines[0]
    r = run("encode", "-p", "iso2", "--batch", stdin=f"{xml}\n<nonsense/>\n")
    out = r.stdout.splitlines()
    assert out[0] == SSR and out[1].startswith("error:")


def test_fragment_encoding_matches_the_reference_sample() -> None:
    f = SAMPLES / "xmldsig" / "SignedInfo.frag.xml"
    want = f.with_name("SignedInfo.frag.exi.hex").read_text().strip()
    r = run("encode", "-p", "xmldsig", "--fragment", str(f))
    assert r.stdout.strip() == want
    r = run("decode", "-p", "xmldsig", "--fragment", want)
    assert "SignedInfo" in r.stdout


def test_errors_are_one_line_with_nonzero_exit() -> None:
    r = run("decode", "-p", "iso2", "8098")
    assert r.returncode == 1
    assert r.stderr.startswith("error:") and len(r.stderr.strip().splitlines()) == 1
    r = run("decode", "-p", "nonsense", SSR)
    assert r.returncode == 2
