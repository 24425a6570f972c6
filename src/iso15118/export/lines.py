"""Lines of a log file with their byte offsets, each bounded in length.

A log is untrusted input: a file with no line breaks (a binary dump given by mistake, a
corrupt upload) must not be read into memory as one line. A line longer than the limit
is skipped without being held and reported as ``None``, so the reader can turn it into a
row with an error and go on with the next line.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO, Final

__all__ = ["MAX_LINE_BYTES", "iter_lines"]

#: Longer than any message a log line carries: the largest ISO 15118 messages (certificate
#: installation, -20 schedules) are tens of kilobytes, twice that as hex.
MAX_LINE_BYTES: Final = 1 << 20


def iter_lines(f: BinaryIO, offset: int, end: int | None = None,
               limit: int = MAX_LINE_BYTES) -> Iterator[tuple[int, bytes | None]]:
    """(offset, line) for each line of ``f`` that starts in [offset, end); ``f`` must be
    positioned at ``offset``. ``line`` is None for a line over ``limit`` bytes."""
    while end is None or offset < end:
        line = f.readline(limit + 1)
        if not line:
            return
        here = offset
        offset += len(line)
        if len(line) > limit and not line.endswith(b"\n"):
            while True:  # the rest of the overlong line, one bounded piece at a time
                rest = f.readline(limit)
                offset += len(rest)
                if not rest or rest.endswith(b"\n"):
                    break
            yield here, None
            continue
        yield here, line
