"""A packet capture of the loopback interface in pure Python, for tests.

An ``AF_PACKET`` socket on ``lo`` sees every frame the kernel passes over loopback,
with the (all-zero) Ethernet header. Like libpcap, the copy of each frame marked
``PACKET_OUTGOING`` is dropped, since on loopback every frame is also received. Only
frames of one TCP port are kept, because other processes use loopback too.
"""

from __future__ import annotations

import socket
import struct
import threading
import time

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4


def available() -> str | None:
    """None when a capture can be made here, else the reason it cannot."""
    if not hasattr(socket, "AF_PACKET"):
        return "AF_PACKET sockets exist only on Linux"
    try:
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    except PermissionError:
        return "capturing on lo needs root (CAP_NET_RAW)"
    except OSError as e:
        return f"cannot open a packet socket: {e}"
    s.close()
    return None


def _tcp_ports(frame: bytes) -> tuple[int, int] | None:
    if len(frame) < 14:
        return None
    ethertype = struct.unpack_from(">H", frame, 12)[0]
    if ethertype == 0x86DD and len(frame) >= 58 and frame[20] == 6:
        return struct.unpack_from(">HH", frame, 54)
    if ethertype == 0x0800 and len(frame) >= 38 and frame[23] == 6:
        ihl = (frame[14] & 0x0F) * 4
        return struct.unpack_from(">HH", frame, 14 + ihl)
    return None


class LoopbackCapture:
    """Frames on ``lo`` to or from ``port``, collected by a thread until :meth:`stop`."""

    def __init__(self) -> None:
        self.port: int | None = None
        self.frames: list[tuple[float, bytes]] = []
        self._sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        self._sock.bind(("lo", 0))
        self._sock.settimeout(0.05)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                frame, address = self._sock.recvfrom(65536)
            except TimeoutError:
                continue
            if address[2] == PACKET_OUTGOING:
                continue
            ports = _tcp_ports(frame)
            if ports is not None and self.port in ports:
                self.frames.append((time.time(), frame))

    def stop(self) -> bytes:
        """Stop capturing; the frames as a classic pcap file (Ethernet link type)."""
        time.sleep(0.1)  # let the last frames (FIN/ACK) arrive
        self._stop.set()
        self._thread.join()
        self._sock.close()
        out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)]
        for ts, frame in self.frames:
            sec = int(ts)
            out.append(struct.pack("<IIII", sec, int((ts - sec) * 1e6), len(frame), len(frame)))
            out.append(frame)
        return b"".join(out)
