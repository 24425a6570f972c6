"""Fixtures of the OCPP bridge tests: real EXI rows from the shared vectors, the test PKIs,
and a check that a payload is valid against the OCA schema of its message."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from ocpp_vectors import PROTO

from iso15118.pki import build_test_pki
from iso15118.pki.testpki import TestPki


@pytest.fixture(scope="session")
def schemas_available() -> None:
    """The OCA schemas ship in the ``ocpp`` package (Python >= 3.11, the ``ocpp`` extra)."""
    pytest.importorskip("ocpp", reason="the ocpp package (extra 'ocpp') holds the schemas")
    pytest.importorskip("jsonschema")


@pytest.fixture(scope="session")
def valid(schemas_available: None) -> Callable[[str, Any, str], None]:
    """``valid(message, payload, version)``: assert the payload passes its schema."""
    from iso15118.ocpp import validate

    def check(message: str, payload: Any, version: str) -> None:
        validate(message, payload, version)

    return check


@pytest.fixture(scope="session")
def real_rows(shared_dir: Path) -> list[dict[str, Any]]:
    rows = []
    for f in sorted((shared_dir / "vectors" / "real").glob("*.jsonl")):
        with open(f, encoding="utf-8") as fh:
            for line in fh:
                r = json.loads(line)
                if r.get("layer") == "exi" and r["protocol"] in PROTO:
                    rows.append(r)
    return rows


@pytest.fixture(scope="session")
def pki2() -> TestPki:
    return build_test_pki(2)


@pytest.fixture(scope="session")
def pki20() -> TestPki:
    return build_test_pki(20)
