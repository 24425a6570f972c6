"""``iso15118 fuzz``: reproducible hex lines, valid where promised, damaged where promised."""

from __future__ import annotations

import subprocess
import sys

import pytest

from iso15118 import codec, protocols
from iso15118.cli_fuzz import generate_lines
from iso15118.errors import Iso15118Error
from iso15118.v2gtp import Frame, V2GTPParser


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "iso15118", "fuzz", *args],
                          capture_output=True, text=True, timeout=120)


def test_same_seed_same_lines_through_the_real_command() -> None:
    first = run("--protocol", "iso2", "-n", "5", "--seed", "7", "--mode", "mutated")
    second = run("-p", "iso2", "-n", "5", "--seed", "7", "--mode", "mutated")
    assert first.returncode == 0, first.stderr
    assert first.stdout == second.stdout
    lines = first.stdout.splitlines()
    assert len(lines) == 5 and all(bytes.fromhex(line) for line in lines)
    assert first.stderr == ""  # the seed is only reported when it was not given


def test_without_a_seed_the_chosen_one_is_reported_and_repeats_the_run() -> None:
    r = run("-p", "din", "-n", "3")
    assert r.returncode == 0, r.stderr
    seed = r.stderr.split("--seed ")[1].split(")")[0]
    assert run("-p", "din", "-n", "3", "--seed", seed).stdout == r.stdout


@pytest.mark.parametrize("protocol", list(protocols.PROTOCOLS))
def test_valid_lines_decode_strictly(protocol: str) -> None:
    for data, what in generate_lines(protocol, 12, seed=3):
        element, _ = codec.decode_element(data, protocol, strict=True)
        assert element.rsplit("}", 1)[-1] in what or protocol in ("din", "iso2"), what


def test_mutated_lines_differ_from_the_valid_ones_with_the_same_seed() -> None:
    valid = generate_lines("iso2", 30, seed=11)
    mutated = generate_lines("iso2", 30, seed=11, mode="mutated")
    assert all(m != v for (m, _), (v, _) in zip(mutated, valid, strict=True))
    for data, _ in mutated:
        try:
            codec.decode(data, "iso2")
        except Iso15118Error:
            pass


def test_lenient_lines_are_refused_by_strict_decoding() -> None:
    for data, what in generate_lines("din", 20, seed=5, mode="lenient",
                                     element="CurrentDemandReq"):
        assert "broken by" in what
        with pytest.raises(Iso15118Error):
            codec.decode(data, "din", strict=True)


def test_element_and_v2gtp_framing() -> None:
    lines = generate_lines("iso20-dc", 4, seed=2, element="DC_ChargeLoopReq", v2gtp=True)
    parser = V2GTPParser()
    for data, what in lines:
        assert what.startswith("DC_ChargeLoopReq")
        (frame,) = parser.feed(data)
        assert isinstance(frame, Frame) and frame.protocol == "iso20-dc"
        element, _ = codec.decode_element(frame.payload, "iso20-dc")
        assert element.endswith("}DC_ChargeLoopReq")


def test_unknown_message_is_a_one_line_error() -> None:
    r = run("-p", "iso2", "--element", "NoSuchReq", "-n", "1", "--seed", "1")
    assert r.returncode == 1
    assert r.stderr.startswith("error:") and "CurrentDemandReq" in r.stderr
