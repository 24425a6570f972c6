""":class:`RestartCommand`, the hook behind ``--restart-cmd``, with real shells: the pid
from the last line, a background process that keeps the pipe open, the time bound, and
a failing command."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path

import pytest

from iso15118.fuzzing import FuzzError, RestartCommand
from iso15118.fuzzing.restart import pid_from_output


def _alive(pid: int) -> bool:
    try:
        stat = open(f"/proc/{pid}/stat").read()  # noqa: SIM115, PTH123 - one read
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def test_the_last_line_names_the_pid_only_when_it_is_a_number() -> None:
    assert pid_from_output(" 4242 \n") == 4242
    assert pid_from_output("restarted") is None
    assert pid_from_output("0") is None and pid_from_output("-5") is None
    assert pid_from_output("") is None


def test_a_background_target_holding_the_pipe_does_not_block_the_restart() -> None:
    async def go() -> tuple[int | None, float]:
        command = RestartCommand("echo starting; sleep 30 & echo $!", timeout=10)
        started = time.monotonic()
        try:
            pid = await command()
            return pid, time.monotonic() - started
        finally:
            await command.close()

    pid, took = asyncio.run(go())
    assert pid is not None
    try:
        assert _alive(pid) and took < 5  # not the 30 s the sleeper holds the pipe
    finally:
        os.kill(pid, signal.SIGKILL)


def test_no_number_on_the_last_line_keeps_the_pid() -> None:
    assert asyncio.run(RestartCommand("echo 17; echo done")()) is None


def test_a_command_past_its_time_is_ended_with_its_children(tmp_path: Path) -> None:
    child = tmp_path / "child.pid"

    async def go() -> None:
        await RestartCommand(f"sleep 30 & echo $! > {child}; wait", timeout=0.5)()

    started = time.monotonic()
    with pytest.raises(FuzzError, match="did not finish within 0.5 s"):
        asyncio.run(go())
    assert time.monotonic() - started < 5
    pid = int(child.read_text())
    deadline = time.monotonic() + 5
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not _alive(pid)  # the whole process group went, not just the shell


def test_the_pipe_is_closed_when_the_campaign_ends() -> None:
    async def go() -> tuple[int, int, int]:
        before = len(os.listdir("/proc/self/fd"))
        command = RestartCommand("sleep 30 & echo $!", timeout=10)
        pid = await command()
        assert pid is not None
        during = len(os.listdir("/proc/self/fd"))
        await command.close()
        os.kill(pid, signal.SIGKILL)
        return before, during, len(os.listdir("/proc/self/fd"))

    before, during, after = asyncio.run(go())
    assert during == before + 1 and after == before


def test_a_failing_command_says_its_status() -> None:
    with pytest.raises(FuzzError, match="exited with status 3"):
        asyncio.run(RestartCommand("exit 3")())
