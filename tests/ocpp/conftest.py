"""Fixtures of the OCPP bridge tests: real EXI rows from the shared vectors, the test PKIs,
and a check that a payload is valid against the OCA schema of its message."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from iso15118 import codec
from iso15118.pki import build_test_pki
from iso15118.pki.testpki import TestPki

#: the codec's name for each protocol of the vector files
PROTO = {"iso20-common": "iso20-common", "iso20-dc": "iso20-dc", "iso20-ac": "iso20-ac",
         "iso2": "iso2", "din": "din", "appHand": "apphand"}


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


def rows_named(rows: list[dict[str, Any]], message: str,
               protocol: str | None = None) -> list[dict[str, Any]]:
    return [r for r in rows if r.get("message") == message
            and (protocol is None or r["protocol"] == protocol)]


def decoded(row: dict[str, Any]) -> Any:
    """The row's message: the V2G_Message body element, or the -20 / appHand document."""
    data = bytes.fromhex(row["hex"])
    protocol = PROTO[row["protocol"]]
    if protocol in ("iso2", "din"):
        return codec.decode(data, protocol).body.body_element
    return codec.decode_element(data, protocol)[1]


@pytest.fixture(scope="session")
def pki2() -> TestPki:
    return build_test_pki(2)


@pytest.fixture(scope="session")
def pki20() -> TestPki:
    return build_test_pki(20)
