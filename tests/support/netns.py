"""Two network namespaces joined by a veth pair, for tests that need real IPv6 link-local
multicast (SDP) between an SECC and an EVCC on one machine.

Why namespaces: Linux does not carry link-local multicast over ``lo``, so SDP needs two
interfaces on one link. Topology (``tag`` makes every pair unique, so tests can run one
after another, or in parallel processes)::

    netns jv-<pid>-<n>-s  [jv<tag>s fe80::1] ==veth== [jv<tag>e fe80::2]  netns jv-<pid>-<n>-e
            SECC side                                                         EVCC side

Each interface has exactly one address: ``addrgenmode none`` stops the kernel from adding
its EUI-64 link-local address, which would stay "tentative" (unbindable) for 1-2 s of
duplicate address detection, and software that picks "the interface's link-local address"
(Josev does) could pick that one. ``nodad`` makes the fixed address usable at once.

Cleanup is robust: :func:`netns_pair` deletes both namespaces (which deletes the veth
pair) on any exit, ends the processes still inside them, and, before creating a pair,
removes pairs left behind by test processes that no longer run (names carry the pid).
Needs root (CAP_NET_ADMIN) and iproute2; :func:`netns_unavailable_reason` says why not.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "EVCC_ADDRESS",
    "SECC_ADDRESS",
    "NetnsPair",
    "in_netns",
    "netns_pair",
    "netns_pair_or_skip",
    "netns_unavailable_reason",
]

SECC_ADDRESS = "fe80::1"
EVCC_ADDRESS = "fe80::2"
_PREFIX = "jv-"
_NAME = re.compile(rf"^{_PREFIX}(\d+)-(\d+)-[se]$")
_counter = itertools.count()


@dataclass(frozen=True)
class NetnsPair:
    """The names of one namespace pair; the SECC side has fe80::1, the EVCC side fe80::2."""

    secc_ns: str
    evcc_ns: str
    secc_if: str
    evcc_if: str
    secc_address: str = SECC_ADDRESS
    evcc_address: str = EVCC_ADDRESS


def _ip(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, timeout=10)


def in_netns(ns: str, *command: str) -> list[str]:
    """``command`` run inside namespace ``ns`` (``ip netns exec`` execs it: same pid)."""
    return ["ip", "netns", "exec", ns, *command]


def netns_unavailable_reason() -> str | None:
    """Why network namespaces cannot be made here, or None when they can."""
    if shutil.which("ip") is None:
        return "the 'ip' tool (iproute2) is not installed"
    if os.geteuid() != 0:
        return "network namespaces need root (CAP_NET_ADMIN)"
    probe = f"{_PREFIX}{os.getpid()}-probe"
    result = _ip("netns", "add", probe)
    if result.returncode != 0:
        return f"cannot create a network namespace: {result.stderr.strip()}"
    _ip("netns", "delete", probe)
    return None


def _pid_alive(pid: int) -> bool:
    """Running (a zombie, ended but not yet reaped by its parent, counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def _end_processes_in(ns: str) -> None:
    """End what still runs in ``ns`` (only our own launches ever run there)."""
    pids = [int(p) for p in _ip("netns", "pids", ns).stdout.split() if p.isdigit()]
    for sig in (signal.SIGTERM, signal.SIGKILL):
        alive = [p for p in pids if _pid_alive(p)]
        if not alive:
            return
        for pid in alive:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline and any(_pid_alive(p) for p in alive):
            time.sleep(0.05)


def _delete(ns: str) -> None:
    _end_processes_in(ns)
    _ip("netns", "delete", ns)


def _sweep_stale() -> None:
    """Delete pairs whose creating process is gone (a killed test run)."""
    listing = _ip("netns", "list").stdout.split("\n")
    for line in listing:
        name = line.split(" ", 1)[0]
        match = _NAME.match(name)
        if match and not _pid_alive(int(match.group(1))):
            _delete(name)


def _create(pair: NetnsPair) -> None:
    steps: list[tuple[str, ...]] = [
        ("link", "add", pair.secc_if, "type", "veth", "peer", "name", pair.evcc_if),
        ("link", "set", pair.secc_if, "netns", pair.secc_ns),
        ("link", "set", pair.evcc_if, "netns", pair.evcc_ns),
    ]
    for ns, iface, address in (
        (pair.secc_ns, pair.secc_if, pair.secc_address),
        (pair.evcc_ns, pair.evcc_if, pair.evcc_address),
    ):
        steps += [
            ("-n", ns, "link", "set", "lo", "up"),
            ("-n", ns, "link", "set", iface, "addrgenmode", "none"),
            ("-n", ns, "addr", "add", f"{address}/64", "dev", iface, "nodad"),
            ("-n", ns, "link", "set", iface, "up"),
        ]
    for step in steps:
        result = _ip(*step)
        if result.returncode != 0:
            raise OSError(f"'ip {' '.join(step)}' failed: {result.stderr.strip()}")


@contextlib.contextmanager
def netns_pair() -> Iterator[NetnsPair]:
    """Create a fresh namespace pair; delete it (and end what runs in it) on exit.

    Raises OSError when a step fails; check :func:`netns_unavailable_reason` first to
    turn a missing capability into a skip.
    """
    _sweep_stale()
    pid, n = os.getpid(), next(_counter)
    tag = f"{pid:x}{n:x}"[-11:]  # interface names are limited to 15 characters
    pair = NetnsPair(
        secc_ns=f"{_PREFIX}{pid}-{n}-s",
        evcc_ns=f"{_PREFIX}{pid}-{n}-e",
        secc_if=f"jv{tag}s",
        evcc_if=f"jv{tag}e",
    )
    created: list[str] = []
    try:
        for ns in (pair.secc_ns, pair.evcc_ns):
            result = _ip("netns", "add", ns)
            if result.returncode != 0:
                raise OSError(f"cannot create network namespace {ns}: {result.stderr.strip()}")
            created.append(ns)
        _create(pair)
        yield pair
    finally:
        for ns in created:  # deleting a namespace also deletes its end of the veth pair
            _delete(ns)
        if _ip("link", "show", pair.secc_if).returncode == 0:  # never moved into a namespace
            _ip("link", "delete", pair.secc_if)


@contextlib.contextmanager
def netns_pair_or_skip() -> Iterator[NetnsPair]:
    """:func:`netns_pair` for a test fixture: the test is skipped, with the reason, where
    namespaces cannot be made (CI runs as root and has them, so nothing skips there)."""
    import pytest

    reason = netns_unavailable_reason()
    if reason is not None:
        pytest.skip(f"netns test skipped: {reason}")
    with netns_pair() as pair:
        yield pair
