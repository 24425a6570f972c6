"""The three OpenSSL calls Python's ``ssl`` does not offer, made through ``ctypes``, for tests.

KeyUpdate (``SSL_key_update``) and 0-RTT early data (``SSL_CTX_set_max_early_data``,
``SSL_write_early_data``, ``SSL_read_early_data``) are ordinary TLS 1.3 but have no
Python API. The ``SSL *`` and ``SSL_CTX *`` pointers are read out of CPython's
``_ssl`` objects, whose layout is private, so :func:`unavailable` first checks it on a
throw-away connection: the ``SSL *`` found must belong to the ``SSL_CTX *`` found
(``SSL_get_SSL_CTX``) and speak TLS 1.3. Where that fails the tests skip with the reason
instead of poking at the wrong memory.
"""

from __future__ import annotations

import ctypes
import functools
import select
import socket
import ssl
from typing import Any

_SSL_OFFSET = 3 * ctypes.sizeof(ctypes.c_void_p)  # PyObject_HEAD, weakref to the socket
_CTX_OFFSET = 2 * ctypes.sizeof(ctypes.c_void_p)  # PyObject_HEAD
READ_EARLY_ERROR, READ_EARLY_SUCCESS, READ_EARLY_FINISH = 0, 1, 2
EARLY_NOT_SENT, EARLY_REJECTED, EARLY_ACCEPTED = 0, 1, 2
_WANT_READ, _WANT_WRITE = 2, 3


@functools.cache
def _lib() -> Any:
    import _ssl

    lib = ctypes.CDLL(_ssl.__file__)  # resolves libssl's symbols through _ssl's links
    vp, size_p = ctypes.c_void_p, ctypes.POINTER(ctypes.c_size_t)
    for name, args, result in (
            ("SSL_get_SSL_CTX", [vp], vp), ("SSL_version", [vp], ctypes.c_int),
            ("SSL_key_update", [vp, ctypes.c_int], ctypes.c_int),
            ("SSL_CTX_set_max_early_data", [vp, ctypes.c_uint32], ctypes.c_int),
            ("SSL_write_early_data", [vp, ctypes.c_char_p, ctypes.c_size_t, size_p],
             ctypes.c_int),
            ("SSL_read_early_data", [vp, ctypes.c_char_p, ctypes.c_size_t, size_p],
             ctypes.c_int),
            ("SSL_get_early_data_status", [vp], ctypes.c_int),
            ("SSL_get_error", [vp, ctypes.c_int], ctypes.c_int)):
        fn = getattr(lib, name)
        fn.argtypes, fn.restype = args, result
    return lib


def _ssl_ptr(sock: ssl.SSLSocket) -> int:
    obj = sock._sslobj  # type: ignore[attr-defined]
    value = ctypes.c_void_p.from_address(id(obj) + _SSL_OFFSET).value
    assert value, "no SSL * in this socket"
    return value


def _ctx_ptr(ctx: ssl.SSLContext) -> int:
    value = ctypes.c_void_p.from_address(id(ctx) + _CTX_OFFSET).value
    assert value, "no SSL_CTX * in this context"
    return value


@functools.cache
def unavailable() -> str | None:
    """None when the calls can be made here, else why not."""
    try:
        lib = _lib()
    except (OSError, AttributeError) as e:
        return f"OpenSSL's TLS 1.3 calls are not reachable through ctypes: {e}"
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    a, b = socket.socketpair()
    try:
        sock = ctx.wrap_socket(a, do_handshake_on_connect=False, server_hostname="probe")
        ptr = ctypes.c_void_p.from_address(id(sock._sslobj) + _SSL_OFFSET).value
        if not ptr or lib.SSL_get_SSL_CTX(ptr) != _ctx_ptr(ctx):
            return "this CPython's _ssl object layout is not the one these tests know"
        if lib.SSL_version(ptr) != 0x0304:
            return "OpenSSL here does not speak TLS 1.3"
    finally:
        a.close()
        b.close()
    return None


def key_update(sock: ssl.SSLSocket, request_peer: bool = True) -> None:
    """Send a KeyUpdate with the next write (RFC 8446 clause 4.6.3)."""
    if _lib().SSL_key_update(_ssl_ptr(sock), 1 if request_peer else 0) != 1:
        raise ssl.SSLError("SSL_key_update failed")


def allow_early_data(ctx: ssl.SSLContext, size: int = 16384) -> None:
    """Server side: tickets issued from now on allow ``size`` bytes of 0-RTT data."""
    if _lib().SSL_CTX_set_max_early_data(_ctx_ptr(ctx), size) != 1:
        raise ssl.SSLError("SSL_CTX_set_max_early_data failed")


def _wait(sock: ssl.SSLSocket, ptr: int, result: int) -> None:
    """A socket with a timeout is non-blocking underneath: wait as ``ssl`` itself would."""
    error = _lib().SSL_get_error(ptr, result)
    if error not in (_WANT_READ, _WANT_WRITE):
        raise ssl.SSLError(f"OpenSSL early-data call failed (SSL_get_error {error})")
    readable, writable = ([sock], []) if error == _WANT_READ else ([], [sock])
    if not any(select.select(readable, writable, [], sock.gettimeout())):
        raise TimeoutError("the peer did not answer")


def write_early_data(sock: ssl.SSLSocket, data: bytes) -> None:
    """Client side, before the handshake of a resumed session: send ``data`` as 0-RTT."""
    ptr, written = _ssl_ptr(sock), ctypes.c_size_t()
    while (result := _lib().SSL_write_early_data(ptr, data, len(data),
                                                 ctypes.byref(written))) != 1:
        _wait(sock, ptr, result)
    if written.value != len(data):
        raise ssl.SSLError("SSL_write_early_data wrote part of the data")


def read_early_data(sock: ssl.SSLSocket) -> bytes:
    """Server side, before the handshake: the client's 0-RTT data (empty if none)."""
    ptr, buf, got, out = _ssl_ptr(sock), ctypes.create_string_buffer(16384), ctypes.c_size_t(), b""
    while True:
        status = _lib().SSL_read_early_data(ptr, buf, len(buf), ctypes.byref(got))
        if status == READ_EARLY_ERROR:
            _wait(sock, ptr, status)
            continue
        out += buf.raw[:got.value]
        if status == READ_EARLY_FINISH:
            return out


def early_data_status(sock: ssl.SSLSocket) -> int:
    """EARLY_NOT_SENT, EARLY_REJECTED or EARLY_ACCEPTED, after the handshake."""
    return int(_lib().SSL_get_early_data_status(_ssl_ptr(sock)))
