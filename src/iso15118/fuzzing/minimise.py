"""Delta debugging (Zeller's ddmin) over a case's mutation steps.

A case has a handful of steps, each a rerun on a live target costs a session, so the
search is bounded by ``budget`` reruns; what it returns is the smallest subset found that
still reproduces the finding (1-minimal when the budget sufficed).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

__all__ = ["ddmin"]

T = TypeVar("T")


async def ddmin(items: Sequence[T], reproduces: Callable[[tuple[T, ...]], Awaitable[bool]],
                budget: int = 8) -> tuple[tuple[T, ...], int]:
    """The smallest subset of ``items`` for which ``reproduces`` holds (``items`` itself
    is assumed to), in their order, and the number of reruns spent."""
    current = list(range(len(items)))
    spent = 0
    n = 2

    async def test(indices: list[int]) -> bool:
        nonlocal spent
        spent += 1
        return await reproduces(tuple(items[i] for i in indices))

    while len(current) >= 2 and spent < budget:
        size = -(-len(current) // n)
        chunks = [current[i:i + size] for i in range(0, len(current), size)]
        for chunk in chunks:  # a chunk alone
            if spent >= budget:
                break
            if await test(chunk):
                current, n = chunk, 2
                break
        else:
            for chunk in chunks if len(chunks) > 2 else ():  # all but a chunk
                if spent >= budget:
                    break
                rest = [i for i in current if i not in chunk]
                if await test(rest):
                    current, n = rest, max(n - 1, 2)
                    break
            else:
                if n >= len(current):
                    break
                n = min(len(current), n * 2)
    return tuple(items[i] for i in current), spent
