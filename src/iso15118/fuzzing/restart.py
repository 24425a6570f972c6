"""Bringing a dead target back with a shell command (``fuzz-live --restart-cmd``).

A crash or a liveness finding leaves the target down; the campaign can only go on, and
the finding can only be minimised (each rerun that reproduces it kills the target again),
if something brings it back: a relay script that power-cycles a charger, ``systemctl
restart ...``, or a command that starts a local simulator again. :class:`RestartCommand`
is the campaign's ``restart`` hook for such a command: it runs it in a shell, bounded in
time, and reads the new process id from its last line of output.

The command's output is read until the shell exits, not until the pipe closes: a command
that starts a process in the background (``target & echo $!``) leaves that process
holding the pipe, and waiting for its end would wait for the target's death. Whatever that
process writes afterwards is read and dropped until the campaign ends, so that it neither
blocks on a full pipe nor dies of a closed one.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from dataclasses import dataclass, field

from iso15118.fuzzing.model import FuzzError

__all__ = ["RestartCommand", "pid_from_output"]

#: after the shell exits, how long what it wrote may take to be read from the pipe
_OUTPUT_GRACE_S = 0.2
#: bytes of one output line kept (a pid is short; a runaway line is cut, not stored)
_LINE_LIMIT = 4096


def pid_from_output(last_line: str) -> int | None:
    """The new target pid a restart command printed as its last line, or None when that
    line is not a (positive) integer: the target keeps its pid, or has none to watch."""
    text = last_line.strip()
    if text.isdigit() and int(text) > 0:
        return int(text)
    return None


@dataclass
class RestartCommand:
    """The ``restart`` hook of :class:`~iso15118.fuzzing.Options` for ``command`` (run by
    ``/bin/sh -c``): returns the pid its last stdout line names, or None. Raises
    :class:`FuzzError` when it fails (non-zero exit) or takes longer than ``timeout``
    seconds (its process group is killed then). Call :meth:`close` when the campaign ends.
    """

    command: str
    timeout: float = 60.0
    runs: int = 0
    _drains: dict[asyncio.Task[None], asyncio.BaseTransport] = field(default_factory=dict)

    async def __call__(self) -> int | None:
        self.runs += 1
        # a session of its own: on a timeout the whole group goes, not just the shell;
        # a target it starts is not ended by the fuzzer's Ctrl-C either (it is the
        # user's device, as the first one was)
        # a pipe of our own, not asyncio's: asyncio's wait() also waits for its pipes to
        # close, which a process left running in the background never does
        read_fd, write_fd = os.pipe()
        try:
            proc = await asyncio.create_subprocess_shell(
                self.command, stdin=asyncio.subprocess.DEVNULL, stdout=write_fd,
                start_new_session=True)
        except BaseException:
            os.close(read_fd)
            raise
        finally:
            os.close(write_fd)
        stream, transport = await _stream(read_fd)
        last: list[str] = [""]
        reader = asyncio.ensure_future(_read_lines(stream, last))
        try:
            code = await asyncio.wait_for(proc.wait(), self.timeout)
        except asyncio.TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            await proc.wait()
            reader.cancel()
            transport.close()
            raise FuzzError(f"--restart-cmd did not finish within {self.timeout:g} s: "
                            f"{self.command}") from None
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(asyncio.shield(reader), _OUTPUT_GRACE_S)
        line = last[0]
        if reader.done():
            transport.close()
        else:
            self._drains[reader] = transport  # a process it left running holds the pipe
        if code != 0:
            raise FuzzError(f"--restart-cmd exited with status {code}: {self.command}")
        return pid_from_output(line)

    async def close(self) -> None:
        """Stop reading the output of the processes the command left running."""
        for task, transport in self._drains.items():
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
            transport.close()
        self._drains.clear()
        await asyncio.sleep(0)  # the transports close their pipes on the next turn


async def _stream(fd: int) -> tuple[asyncio.StreamReader, asyncio.BaseTransport]:
    """An asyncio reader over the read end of a pipe, and its transport (which closes the
    pipe)."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=_LINE_LIMIT)
    transport, _protocol = await loop.connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(fd, "rb", buffering=0))
    return reader, transport


async def _read_lines(stream: asyncio.StreamReader, last: list[str]) -> None:
    """Keep the last non-empty line read into ``last[0]``, until end of file."""
    while True:
        try:
            raw = await stream.readline()
        except ValueError:  # a line past the stream's limit: skip what is there
            raw = await stream.read(_LINE_LIMIT)
            continue
        if not raw:
            return
        text = raw[:_LINE_LIMIT].decode("utf-8", "replace").strip()
        if text:
            last[0] = text
