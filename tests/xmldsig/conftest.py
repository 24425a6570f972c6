"""Fixtures for the XML signature tests: one test PKI per generation, the real captures."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from iso15118.pki import build_test_pki
from iso15118.pki.testpki import TestPki


@pytest.fixture(scope="session")
def pki2() -> TestPki:
    return build_test_pki(2, broken=False)


@pytest.fixture(scope="session")
def pki20() -> TestPki:
    return build_test_pki(20, broken=False)


@pytest.fixture(scope="session")
def dsv2gshark(shared_dir: Path) -> list[dict[str, Any]]:
    """The ISO-2 rows of the dSPACE captures (RISE-V2G/Josev sessions), read in place."""
    path = shared_dir / "vectors" / "real" / "dsv2gshark.jsonl"
    if not path.is_file():
        pytest.skip(f"{path} not present")
    with path.open() as f:
        return [r for r in map(json.loads, f) if r.get("protocol") == "iso2"]
