"""The ``josev`` fixture: a namespace pair, a test PKI and Josev processes, all cleaned up."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from .harness import JosevRunner, josev_runner, require_josev


@pytest.fixture
def josev(tmp_path: Path) -> Iterator[JosevRunner]:
    """Skips (with the reason) without Josev's venv, Java, root or ``ip netns``."""
    require_josev()
    with josev_runner(tmp_path) as runner:
        yield runner
