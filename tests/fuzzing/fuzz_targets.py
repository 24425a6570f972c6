"""The planted-fault charger of the fuzzer's tests, as a real process, and helpers."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
SRC = HERE.parents[1] / "src"


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET6, kind) as s:
        s.bind(("::1", 0))
        return int(s.getsockname()[1])


def env() -> dict[str, str]:
    out = dict(os.environ)
    out["PYTHONPATH"] = str(SRC) + os.pathsep + out.get("PYTHONPATH", "")
    out["PYTHONUNBUFFERED"] = "1"
    return out


@dataclass
class Planted:
    """One planted-fault charger on ::1; ``restart()`` brings it back after a crash."""

    fault: str
    port: int = field(default_factory=free_port)
    sdp_port: int = field(default_factory=lambda: free_port(socket.SOCK_DGRAM))
    proc: subprocess.Popen[str] | None = None
    starts: int = 0
    tls_pki: Path | None = None

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self) -> int:
        self.stop()
        self.proc = subprocess.Popen(
            [sys.executable, str(HERE / "planted_target.py"), "--port", str(self.port),
             "--sdp-port", str(self.sdp_port), "--fault", self.fault,
             *(["--tls-pki", str(self.tls_pki)] if self.tls_pki else [])],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env())
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        assert line.strip() == "ready", f"planted target did not start: {line!r}"
        self.starts += 1
        return self.proc.pid

    async def restart(self) -> int:
        return await asyncio.get_running_loop().run_in_executor(None, self.start)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
