"""Shutting a V2G server down while sessions run: quiet, nothing leaked, connections closed.

The regression: Python 3.11 prints "Exception in callback
StreamReaderProtocol.connection_made.<locals>.callback" with a CancelledError traceback
whenever a handler task of ``asyncio.start_server`` is cancelled, which is how every
server ends. The subprocess tests run a real SECC process (shutdown_secc.py) against a
real EV socket and read everything the process printed; the in-process tests watch the
event loop's exception handler and the ``asyncio`` logger directly.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import ssl
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from transport_certs import CertFiles, make_pki

from iso15118.transport import (
    ConnectionClosedError,
    V2GConnection,
    iso2_client_context,
    iso2_server_context,
    open_connection,
    serve,
)
from iso15118.v2gtp import encode_frame

SCRIPT = Path(__file__).with_name("shutdown_secc.py")
FRAME = encode_frame(0x8001, b"\x80\x40\x00\x40")
NOISE = ("Traceback", "Exception in callback", "exception was never retrieved",
         "Task was destroyed", "unclosed", "ResourceWarning", "LOG ERROR", "LOG WARNING",
         "LOG CRITICAL")
needs_taskgroup = pytest.mark.skipif(sys.version_info < (3, 11), reason="TaskGroup is 3.11+")


@pytest.fixture(scope="module")
def secc_pki(tmp_path_factory: pytest.TempPathFactory) -> CertFiles:
    return make_pki(tmp_path_factory.mktemp("pki"), "p256", "secc")


def _ev(port: int, pki: CertFiles | None) -> tuple[socket.socket, bytes]:
    """Connect, exchange one frame, then wait for the SECC to close; what came after."""
    sock: socket.socket = socket.create_connection(("127.0.0.1", port), timeout=20)
    if pki is not None:
        sock = iso2_client_context(cafile=pki.root).wrap_socket(sock)
    sock.sendall(FRAME)
    echoed = b""
    while len(echoed) < len(FRAME):
        echoed += sock.recv(100)
    assert echoed == FRAME
    rest = sock.recv(100)  # blocks until the SECC closes
    if isinstance(sock, ssl.SSLSocket):
        sock = sock.unwrap()  # answer the close_notify, as an EV does
    return sock, rest


@pytest.mark.parametrize("tls", [False, True], ids=["tcp", "tls"])
@pytest.mark.parametrize("mode", ["return", "close", "cancel",
                                  pytest.param("taskgroup", marks=needs_taskgroup)])
def test_secc_shuts_down_quietly_and_closes_the_ev_connection(
        mode: str, tls: bool, secc_pki: CertFiles) -> None:
    cmd = [sys.executable, "-X", "dev", str(SCRIPT), "--mode", mode]
    if tls:
        cmd += ["--chain", str(secc_pki.chain), "--key", str(secc_pki.key)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert first.startswith("PORT "), first + proc.communicate(timeout=20)[1]
        sock, rest = _ev(int(first.split()[1]), secc_pki if tls else None)
        sock.close()
        out, err = proc.communicate(timeout=20)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert rest == b""  # closed by the SECC, cleanly (TLS: with close_notify)
    assert not [line for line in err.splitlines() if any(n in line for n in NOISE)], err
    if mode != "return":  # there the loop is already closing its last tasks
        assert "TASKS 0" in out and "HANDLER CLOSED True" in out, out


# --------------------------------------------------------------------------- in process


class _LoopWatch:
    """What the event loop reports: its exception handler calls and ``asyncio`` log lines."""

    def __init__(self, caplog: pytest.LogCaptureFixture) -> None:
        self.contexts: list[dict[str, Any]] = []
        self.caplog = caplog
        caplog.set_level(logging.DEBUG, logger="asyncio")

    def install(self) -> None:
        asyncio.get_running_loop().set_exception_handler(lambda _l, c: self.contexts.append(c))

    def assert_quiet(self) -> None:
        assert self.contexts == []
        noisy = [r for r in self.caplog.records if r.name == "asyncio"
                 and r.levelno >= logging.WARNING]
        assert noisy == [], [r.getMessage() for r in noisy]


def _run(coro: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coro, 20))


def test_closing_the_server_cancels_handlers_closes_connections_and_leaks_no_task(
        caplog: pytest.LogCaptureFixture) -> None:
    watch = _LoopWatch(caplog)
    cancelled: list[bool] = []

    async def handler(conn: V2GConnection) -> None:
        try:
            async for frame in conn:
                await conn.send(frame.payload_type, frame.payload)
        except asyncio.CancelledError:
            cancelled.append(True)
            raise

    async def main() -> None:
        watch.install()
        before = asyncio.all_tasks()
        server = await serve(handler, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        clients = [await open_connection("127.0.0.1", port) for _ in range(3)]
        for c in clients:
            await c.send(0x8001, b"hi")
            await c.receive(timeout=5)
        assert len(server.connections) == 3
        async with server:
            pass
        assert server.connections == frozenset() and not server.is_serving()
        assert asyncio.all_tasks() == before
        for c in clients:
            with pytest.raises(ConnectionClosedError):
                await c.receive(timeout=5)
            await c.close()

    _run(main())
    assert cancelled == [True] * 3
    watch.assert_quiet()


@needs_taskgroup
def test_a_task_group_ending_takes_serve_forever_and_its_sessions_with_it(
        caplog: pytest.LogCaptureFixture) -> None:
    watch = _LoopWatch(caplog)

    async def main() -> None:
        watch.install()
        before = asyncio.all_tasks()
        server = await serve(lambda conn: conn.receive(timeout=None), "::1", 0)
        port = server.sockets[0].getsockname()[1]
        conn = await open_connection("::1", port)

        async def switch_off() -> None:
            while not server.connections:
                await asyncio.sleep(0.01)
            raise KeyError("switched off")

        with pytest.raises(BaseException) as caught:  # ExceptionGroup, 3.11+
            async with asyncio.TaskGroup() as tg:  # type: ignore[attr-defined]
                tg.create_task(server.serve_forever())
                tg.create_task(switch_off())
        assert [type(e) for e in caught.value.exceptions] == [KeyError]  # type: ignore
        assert asyncio.all_tasks() == before
        with pytest.raises(ConnectionClosedError):
            await conn.receive(timeout=5)
        await conn.close()

    _run(main())
    watch.assert_quiet()


def test_a_handler_failing_is_logged_once_and_the_server_goes_on(
        caplog: pytest.LogCaptureFixture) -> None:
    watch = _LoopWatch(caplog)
    caplog.set_level(logging.INFO, logger="iso15118.transport.connection")

    async def handler(conn: V2GConnection) -> None:
        await conn.receive(timeout=5)
        raise RuntimeError("bug in the handler")

    async def main() -> None:
        watch.install()
        server = await serve(handler, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        async with server:
            for _ in range(2):
                async with await open_connection("127.0.0.1", port) as conn:
                    await conn.send(0x8001, b"x")
                    with pytest.raises(ConnectionClosedError):
                        await conn.receive(timeout=5)

    _run(main())
    failures = [r for r in caplog.records if r.getMessage().startswith("V2G connection handler "
                                                                       "failed")]
    assert len(failures) == 2 and all(r.exc_info for r in failures)
    watch.assert_quiet()


def test_close_cut_short_by_cancellation_aborts_at_once(secc_pki: CertFiles) -> None:
    """A TLS peer that never answers close_notify: close() waits (bounded); cancelled
    while waiting, it aborts the transport and lets the cancellation through."""
    ctx = iso2_server_context(secc_pki.chain, secc_pki.key)
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    seen_end, cancelled = threading.Event(), threading.Event()

    def silent_peer() -> None:
        raw, _ = listener.accept()
        with ctx.wrap_socket(raw, server_side=True) as tls:
            cancelled.wait(10)  # never read, so never answer the close_notify
            plain = socket.socket(fileno=os.dup(tls.fileno()))  # the TCP bytes underneath
            plain.settimeout(5)
            try:
                while plain.recv(100):  # the close_notify, then the end of the stream
                    pass
            except OSError:
                pass  # a reset ends it too
            plain.close()
            seen_end.set()

    thread = threading.Thread(target=silent_peer, daemon=True)
    thread.start()

    async def main() -> float:
        conn = await open_connection("127.0.0.1", port,
                                     ssl_context=iso2_client_context(cafile=secc_pki.root))
        loop = asyncio.get_running_loop()
        start = loop.time()
        task = asyncio.create_task(conn.close())
        await asyncio.sleep(0.2)
        assert not task.done()  # waiting for the peer's close_notify
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert conn.closed
        cancelled.set()
        # cut now, not after the close bound (2 s) a graceful close would wait
        assert await asyncio.to_thread(seen_end.wait, 1.0)
        return loop.time() - start

    assert _run(main()) < 1.5
    listener.close()
