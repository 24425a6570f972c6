"""Fixtures of the fuzzer's tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fuzz_targets import Planted


@pytest.fixture
def planted() -> Iterator[type[Planted]]:
    made: list[Planted] = []

    class Factory(Planted):
        def __init__(self, fault: str) -> None:
            super().__init__(fault)
            made.append(self)
            self.start()

    yield Factory
    for p in made:
        p.stop()
