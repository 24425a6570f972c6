"""The target process's resources, read from /proc (Linux), for ``--target-pid``.

Whether it still runs (a zombie counts as gone: it exited and only waits for its parent),
how many file descriptors it holds and its resident set size. A leak is growth over many
sessions beyond what a warm-up explains: :class:`LeakWatch` takes the baseline after the
first sessions (caches, lazily loaded codecs) and reports when a threshold is crossed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

__all__ = ["LeakWatch", "Usage", "alive", "usage"]

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


@dataclass(frozen=True)
class Usage:
    fds: int
    rss: int  # bytes


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] not in ("Z", "X")


def usage(pid: int) -> Usage | None:
    try:
        fds = len(os.listdir(f"/proc/{pid}/fd"))
        pages = int(Path(f"/proc/{pid}/statm").read_text().split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return Usage(fds, pages * _PAGE)


@dataclass
class LeakWatch:
    """Growth of fds or RSS past a threshold after a warm-up (numbers of cases)."""

    pid: int
    warmup: int = 20
    fd_growth: int = 32
    rss_growth: int = 64 * 1024 * 1024
    baseline: Usage | None = None
    reported: frozenset[str] = frozenset()

    def sample(self, cases_run: int) -> tuple[str, str] | None:
        """(resource, reason) when a resource has leaked since the baseline, once each."""
        now = usage(self.pid)
        if now is None:
            return None
        if self.baseline is None:
            if cases_run >= self.warmup:
                self.baseline = now
            return None
        if "fd" not in self.reported and now.fds - self.baseline.fds >= self.fd_growth:
            self.reported |= {"fd"}
            return "fd", (f"{now.fds - self.baseline.fds} more file descriptors after "
                          f"{cases_run - self.warmup} cases ({self.baseline.fds} -> {now.fds})")
        if "rss" not in self.reported and now.rss - self.baseline.rss >= self.rss_growth:
            self.reported |= {"rss"}
            return "rss", (f"RSS grew {(now.rss - self.baseline.rss) >> 20} MiB after "
                           f"{cases_run - self.warmup} cases")
        return None
