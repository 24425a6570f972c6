"""Fixtures the session tests share."""

from __future__ import annotations

from pathlib import Path

import pytest

from iso15118.pki import create_test_pki


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An ISO 15118-2 test PKI on disk (``create_test_pki``). Tests that let a vehicle
    install a contract work on a copy: installing writes into the directory."""
    directory = tmp_path_factory.mktemp("pki")
    create_test_pki(directory, 2)
    return directory
