"""The test PKI on disk and the ``pki`` CLI handlers (called directly, plus one subprocess)."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from iso15118 import cli_pki
from iso15118.pki import load_certificate_files, validate_chain

SRC = Path(__file__).resolve().parents[2] / "src"


@pytest.fixture(scope="module")
def pki_dirs(tmp_path_factory: pytest.TempPathFactory) -> dict[int, Path]:
    out = {}
    for version in (2, 20):
        directory = tmp_path_factory.mktemp(f"pki{version}")
        args = argparse.Namespace(directory=str(directory), version=version)
        assert cli_pki.cmd_create_test_pki(args) == 0
        out[version] = directory
    return out


def _index(directory: Path) -> dict:  # type: ignore[type-arg]
    return json.loads((directory / "index.json").read_text())


@pytest.mark.parametrize("version", [2, 20])
def test_written_pki_validates_exactly_as_its_index_says(
    pki_dirs: dict[int, Path], version: int
) -> None:
    base = pki_dirs[version]
    index = _index(base)
    assert index["version"] == version
    certs = index["certificates"]
    for name, chain in index["chains"].items():

        def files(names: list[str], kind: str = "pem") -> list[Path]:
            return [base / certs[n][kind] for n in names]

        leaf = load_certificate_files(files([chain["leaf"]], "der"))[0]
        verdict = validate_chain(
            leaf,
            load_certificate_files(files(chain["intermediates"])),
            load_certificate_files(files(chain["trust_roots"])),
            role=chain["role"],
            version=version,
        )
        if chain["expect"] == "valid":
            assert verdict.valid, (name, verdict.failures)
        else:
            got = [(c.rule.value, c.index) for c in verdict.failures]
            assert got == [(chain["expect"]["rule"], chain["expect"]["certificate"])], name


def test_keys_are_written_with_private_permissions(pki_dirs: dict[int, Path]) -> None:
    key = pki_dirs[2] / "keys" / "secc_leaf.key.pem"
    assert key.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    assert key.stat().st_mode & 0o077 == 0


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="iso15118")
    cli_pki.add_subparser(parser.add_subparsers(dest="command"))
    return parser.parse_args(argv)


def _verify_argv(base: Path, chain: dict, version: int) -> list[str]:  # type: ignore[type-arg]
    certs = _index(base)["certificates"]
    return [
        "pki",
        "verify-chain",
        str(base / certs[chain["leaf"]]["pem"]),
        *(str(base / certs[n]["der"]) for n in chain["intermediates"]),
        "--trust",
        *(str(base / certs[n]["pem"]) for n in chain["trust_roots"]),
        "--role",
        chain["role"],
        "--version",
        str(version),
    ]


@pytest.mark.parametrize("version", [2, 20])
def test_verify_chain_exit_codes_and_json(
    pki_dirs: dict[int, Path], version: int, capsys: pytest.CaptureFixture[str]
) -> None:
    base = pki_dirs[version]
    chains = _index(base)["chains"]
    args = _parse(_verify_argv(base, chains["contract"], version))
    assert args.func(args) == 0
    assert json.loads(capsys.readouterr().out)["status"] == "valid"

    args = _parse(_verify_argv(base, chains["broken/wrong_dc"], version))
    assert args.func(args) == 1
    out = json.loads(capsys.readouterr().out)
    assert out["status"] == "invalid"
    assert [(f["rule"], f["certificate"]) for f in out["failures"]] == [
        ("cert.domain_component", 0)
    ]


def test_verify_chain_with_time_and_missing_file(
    pki_dirs: dict[int, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    base = pki_dirs[2]
    argv = _verify_argv(base, _index(base)["chains"]["secc"], 2)
    args = _parse([*argv, "--at", "2001-01-01T00:00:00Z"])
    assert args.func(args) == 1
    failures = json.loads(capsys.readouterr().out)["failures"]
    assert {f["rule"] for f in failures} == {"cert.not_yet_valid"}

    args = _parse([*argv[:2], str(base / "nope.pem"), "--trust", argv[-5], "--role", "secc"])
    assert args.func(args) == 2
    assert "cannot read" in capsys.readouterr().err


def test_usage_errors_exit_with_2(pki_dirs: dict[int, Path]) -> None:
    with pytest.raises(SystemExit) as exc:
        _parse(["pki", "verify-chain", "leaf.pem", "--trust", "r.pem", "--role", "nobody"])
    assert exc.value.code == 2
    with pytest.raises(SystemExit) as exc:
        _parse(["pki", "create-test-pki", "x", "--version", "3"])
    assert exc.value.code == 2


def test_emaid_command(pki_dirs: dict[int, Path], capsys: pytest.CaptureFixture[str]) -> None:
    base = pki_dirs[20]
    args = _parse(["pki", "emaid", str(base / "certs" / "contract_leaf.der")])
    assert args.func(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["emaid"] == "DE8AA1A2B3C4D5V"
    assert out["check_digit_valid"] is True
    assert out["update_due"] is False

    args = _parse(["pki", "emaid", "DE-8AA-1A2B3C4D5-X"])
    assert args.func(args) == 1
    assert json.loads(capsys.readouterr().out)["check_digit_valid"] is False

    args = _parse(["pki", "emaid", str(base / "certs" / "secc_leaf.pem")])
    assert args.func(args) == 2
    assert "not an eMAID" in capsys.readouterr().err


def test_subprocess_run(pki_dirs: dict[int, Path]) -> None:
    base = pki_dirs[2]
    argv = _verify_argv(base, _index(base)["chains"]["broken/too_deep"], 2)[1:]
    env = dict(os.environ, PYTHONPATH=str(SRC))
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from iso15118.cli_pki import run; sys.exit(run())",
            *argv,
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert proc.returncode == 1, proc.stderr
    assert json.loads(proc.stdout)["failures"][0]["rule"] == "chain.depth"
