"""``decode`` without ``--protocol``, ``validate``, ``convert``, colours and error lines."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from iso15118.cli import main

SSR = "809802000000000000000011d018286cb0f5397c00"
SAP_RES = "80400040"


def run(*args: str, stdin: str | None = None, env: dict[str, str] | None = None
        ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "iso15118", *args], input=stdin,
                          capture_output=True, text=True, timeout=120, env=env)


def test_decode_detects_the_protocol_and_says_which_on_stderr() -> None:
    r = run("decode", "-f", "json", SSR)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["V2G_Message"]["Body"]["SessionSetupReq"]
    assert r.stderr.strip() == (
        "protocol: iso2 (detected: the only grammar that decodes it strictly)")


def test_decode_strips_a_pasted_v2gtp_header_and_uses_its_payload_type(
        capsys: pytest.CaptureFixture[str]) -> None:
    framed = "01 fe 80 01 00 00 00 04\n0x80:40:00:40"
    assert main(["decode", framed]) == 0
    out = capsys.readouterr()
    assert "supportedAppProtocolRes" in out.out
    auth = "800004121319d232ca97fb0b2f3f7c706200"
    assert main(["decode", "01fe800200000012" + auth]) == 0
    out = capsys.readouterr()
    assert "AuthorizationReq" in out.out and "payload type 0x8002" in out.err


def test_decode_reports_ambiguity_as_an_error_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["decode", SAP_RES]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ambiguous: apphand, iso20-wpt")
    assert len(err.strip().splitlines()) == 1


def test_decode_batch_without_protocol_keeps_the_line_contract() -> None:
    r = run("decode", "--batch", stdin=f"{SSR}\n{SAP_RES}\nzz\n01fe9000000000021000\n")
    lines = r.stdout.splitlines()
    assert len(lines) == 4 and r.returncode == 1
    assert lines[0].startswith("<") and lines[1].startswith("error: ambiguous")
    assert lines[2].startswith("error:") and lines[3].startswith("SDPRequest security=")
    assert r.stderr == ""


def test_convert_between_hex_xml_and_json(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["convert", "--to", "xml", "--pretty", SSR]) == 0
    xml = capsys.readouterr().out
    f = tmp_path / "m.xml"
    f.write_text(xml)
    assert main(["convert", str(f)]) == 0
    assert capsys.readouterr().out.strip() == SSR
    assert main(["convert", "--to", "json", str(f)]) == 0
    doc = capsys.readouterr().out
    j = tmp_path / "m.json"
    j.write_text(doc)
    # JSON carries no namespace: DIN and ISO-2 both accept this one
    assert main(["convert", str(j)]) == 1
    assert "ambiguous: din, iso2" in capsys.readouterr().err
    assert main(["convert", "-p", "iso2", str(j)]) == 0
    assert capsys.readouterr().out.strip() == SSR


def test_validate_accepts_valid_and_lists_each_violation(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["convert", "--to", "xml", "--pretty", SSR]) == 0
    xml = capsys.readouterr().out
    good = tmp_path / "good.xml"
    good.write_text(xml)
    assert main(["validate", str(good)]) == 0
    assert capsys.readouterr().out.strip() == f"{good}: valid (iso2)"
    bad = tmp_path / "bad.xml"
    bad.write_text(xml.replace("0A1B2C3D4E5F", "0A1B2C3D4E5F0011").replace(
        "<ns0:EVCCID>", "<ns0:Unknown/><ns0:EVCCID>"))
    assert main(["validate", str(bad)]) == 1
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines and all(x.startswith(f"{bad}: invalid: line ") for x in lines)
    wrong_ns = tmp_path / "ns.xml"
    wrong_ns.write_text("<a xmlns='urn:nothing'/>")
    assert main(["validate", str(wrong_ns)]) == 1
    assert "names no protocol" in capsys.readouterr().err


def test_validate_json_needs_or_finds_a_protocol(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["convert", "--to", "json", SAP_RES, "-p", "apphand"]) == 0
    j = tmp_path / "sap.json"
    j.write_text(capsys.readouterr().out)
    assert main(["validate", str(j)]) == 0
    assert "valid (apphand)" in capsys.readouterr().out


def test_errors_are_one_line_and_help_has_examples_everywhere() -> None:
    r = run("validate", "/nonexistent/file.xml")
    assert r.returncode == 1 and r.stderr.startswith("error: cannot read")
    assert len(r.stderr.strip().splitlines()) == 1
    r = run("pcap", "--format", "yaml", "x.pcap")
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1
    for command in ("decode", "encode", "pcap", "validate", "convert", "sdp", "pki"):
        r = run(command, "--help")
        assert r.returncode == 0 and "examples:" in r.stdout, command


def test_colours_only_when_asked_for_or_on_a_terminal() -> None:
    import os

    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    plain = run("decode", "nothex!", env=env)
    assert "\x1b[" not in plain.stderr
    forced = run("decode", "nothex!", env={**env, "FORCE_COLOR": "1"})
    assert "\x1b[31;1merror:\x1b[0m" in forced.stderr
