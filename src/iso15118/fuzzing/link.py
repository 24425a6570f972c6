"""A raw V2GTP connection for the fuzzer, and the transcript of everything on it.

:class:`iso15118.transport.V2GConnection` refuses to send a broken header, which is the
point of it; the fuzzer has to, so it writes bytes itself and reads frames through the
same sans-IO :class:`iso15118.v2gtp.V2GTPParser`. Every byte in either direction goes to
the :class:`Transcript`, from which a finding's pcap is made (:mod:`.evidence`).
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
from dataclasses import dataclass, field
from typing import Any

from iso15118.v2gtp import (
    Frame,
    FrameDiscarded,
    ProtocolViolation,
    RemoteProtocolError,
    V2GTPParser,
)

__all__ = ["Link", "Record", "Transcript", "open_link"]

_READ = 65536
#: what we accept from the target: its frames are judged, never buffered without bound
_MAX_PAYLOAD = 1 << 20


@dataclass(frozen=True)
class Record:
    """One thing that happened: ``kind`` is tcp/udp data, connect, close, reset, note."""

    time: float
    direction: str  # "out" (to the target) or "in"
    kind: str
    data: bytes = b""
    local: tuple[str, int] | None = None
    remote: tuple[str, int] | None = None
    text: str = ""

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"t": round(self.time, 6), "dir": self.direction,
                               "kind": self.kind}
        if self.data:
            out["hex"] = self.data.hex()
        if self.remote:
            out["remote"] = list(self.remote)
        if self.text:
            out["text"] = self.text
        return out


@dataclass
class Transcript:
    """Everything a case did, in order (wall-clock times, for the pcap)."""

    records: list[Record] = field(default_factory=list)

    def add(self, direction: str, kind: str, data: bytes = b"", *, link: Link | None = None,
            local: tuple[str, int] | None = None, remote: tuple[str, int] | None = None,
            text: str = "") -> None:
        if link is not None:
            local, remote = link.local, link.remote
        self.records.append(Record(time.time(), direction, kind, bytes(data), local, remote,
                                   text))

    def note(self, text: str) -> None:
        self.add("-", "note", text=text)


def _addr(info: Any) -> tuple[str, int] | None:
    if not info:
        return None
    return (str(info[0]).split("%", 1)[0], int(info[1]))


class Link:
    """One TCP/TLS connection, either side: raw writes, parsed frames, everything logged."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 transcript: Transcript) -> None:
        self.reader, self.writer, self.transcript = reader, writer, transcript
        self.parser = V2GTPParser(max_payload_length=_MAX_PAYLOAD)
        self.pending: list[Frame] = []
        self.local = _addr(writer.get_extra_info("sockname"))
        self.remote = _addr(writer.get_extra_info("peername"))
        obj = writer.get_extra_info("ssl_object")
        self.tls_version: str | None = obj.version() if obj is not None else None
        #: the peer's certificate (DER), as TLS presented it: a -20 vehicle's, checked
        self.peer_certificate: bytes | None = (
            obj.getpeercert(binary_form=True) if obj is not None else None)
        self.closed = False
        self.eof = False
        #: a write failed (the peer closed or reset): nothing more goes out
        self.unwritable = False
        #: the TLS error that ended the connection (an alert from the peer), if one did
        self.tls_alert: str | None = None
        self.reset = False
        self.broken: RemoteProtocolError | None = None
        transcript.add("-", "connect", link=self)

    async def write(self, data: bytes) -> bool:
        """Send ``data``; False when the connection is gone.

        A failed write leaves what the peer sent before it readable: a peer that answers
        and closes (FAILED, then close) before our next write arrives has still answered.
        Over TLS this is the usual order, since the peer's close_notify ends our side's
        writing at once, while over TCP the kernel takes the write and the reset comes
        later."""
        if self.closed or self.eof or self.unwritable:
            return False
        self.transcript.add("out", "tcp", data, link=self)
        try:
            self.writer.write(data)
            await asyncio.wait_for(self.writer.drain(), 5.0)
        except (ConnectionError, OSError, asyncio.TimeoutError) as exc:
            self.reset = True
            self.unwritable = True
            self.transcript.note(f"write failed: {exc or type(exc).__name__}")
            return False
        return True

    async def frame(self, timeout: float | None) -> Frame | None:
        """The next frame; None on close, reset, a V2GTP violation or the timeout
        (``timed_out`` tells them apart)."""
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        self.timed_out = False
        while not self.pending:
            if self.eof or self.closed or self.broken is not None:
                return None
            remaining = None if deadline is None else max(0.0, deadline - loop.time())
            try:
                data = await asyncio.wait_for(self.reader.read(_READ), remaining)
            except asyncio.TimeoutError:
                self.timed_out = True
                return None
            except (ConnectionError, OSError, ssl.SSLError) as exc:
                self.reset = self.eof = True
                if isinstance(exc, ssl.SSLError):
                    self.tls_alert = exc.reason or str(exc)
                self.transcript.add("in", "reset", link=self,
                                    text=f"{type(exc).__name__}: {exc}"[:200])
                return None
            if not data:
                self.eof = True
                self.transcript.add("in", "close", link=self)
                return None
            self.transcript.add("in", "tcp", data, link=self)
            for event in self.parser.feed(data):
                if isinstance(event, Frame):
                    self.pending.append(event)
                elif isinstance(event, FrameDiscarded):
                    self.transcript.note(f"target sent a discarded frame: {event.error}")
                elif isinstance(event, ProtocolViolation):
                    self.broken = event.error
                    self.transcript.note(f"target broke V2GTP: {event.error}")
                    break
        return self.pending.pop(0)

    async def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.transcript.add("out", "close", link=self)
        self.writer.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.writer.wait_closed(), 1.0)

    def abort(self) -> None:
        if not self.closed:
            self.closed = True
            self.transcript.add("out", "reset", link=self)
            self.writer.transport.abort()


async def open_link(host: str, port: int, transcript: Transcript, *,
                    ssl_context: ssl.SSLContext | None = None,
                    timeout: float = 5.0) -> Link:
    """Connect (OSError or asyncio.TimeoutError when the target does not accept)."""
    kwargs: dict[str, Any] = {}
    if ssl_context is not None:
        kwargs = {"ssl": ssl_context, "server_hostname": host.split("%", 1)[0]}
    reader, writer = await asyncio.wait_for(
        asyncio.open_connection(host, port, limit=_READ, **kwargs), timeout)
    return Link(reader, writer, transcript)
