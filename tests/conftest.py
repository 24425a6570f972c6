"""Session-wide fixtures shared by all test packages."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from support.oracle import get_oracle
from support.oracle import shared_dir as _find_shared_dir


@pytest.fixture(scope="session")
def oracle() -> Any:
    """The started EXI reference oracle; the test is skipped (with the reason) without Java."""
    instance, reason = get_oracle()
    if instance is None:
        pytest.skip(f"EXI oracle unavailable: {reason}")
    return instance


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """``<repo>/../shared`` or ``$V2G_SHARED``; skips when it is not there."""
    found = _find_shared_dir()
    if found is None:
        pytest.skip("shared directory not found (set V2G_SHARED)")
    return found
