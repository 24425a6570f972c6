"""Real sockets on loopback: V2G connections over TCP, TLS 1.2 (-2) and TLS 1.3 (-20)."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import pytest
from transport_certs import CertFiles, make_pki

from iso15118.sdp import SECCInfo, Security, TransportProtocol
from iso15118.transport import (
    ConnectionClosedError,
    PeerProtocolError,
    ReceiveTimeoutError,
    SecurityMismatchError,
    TLSError,
    V2GConnection,
    connect,
    iso2_client_context,
    iso2_server_context,
    iso20_client_context,
    iso20_server_context,
    open_connection,
    serve,
    supported_iso2_cipher_suites,
)
from iso15118.transport.errors import TransportError
from iso15118.v2gtp import (
    FrameDiscarded,
    InvalidVersionError,
    PayloadType,
    TruncatedStreamError,
    encode_frame,
)

T = TypeVar("T")
HOSTS = ["127.0.0.1", "::1"]


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(asyncio.wait_for(coro, 20))


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, CertFiles]:
    directory: Path = tmp_path_factory.mktemp("pki")
    return {
        "secc-p256": make_pki(directory, "p256", "secc"),
        "secc-p521": make_pki(directory, "p521", "secc"),
        "ev-p521": make_pki(directory, "p521", "ev"),
        "secc-ed448": make_pki(directory, "ed448", "secc"),
        "ev-ed448": make_pki(directory, "ed448", "ev"),
        "other-p256": make_pki(directory, "p256", "other"),
    }


async def _echo(conn: V2GConnection) -> None:
    async for frame in conn:
        await conn.send(frame.payload_type, frame.payload[::-1])


async def _with_server(
    handler: Callable[[V2GConnection], Awaitable[None]],
    host: str,
    client: Callable[[int], Awaitable[T]],
    **server_options: Any,
) -> T:
    server = await serve(handler, host, 0, **server_options)
    port = server.sockets[0].getsockname()[1]
    async with server:
        return await client(port)


async def _exchange(host: str, port: int, **options: Any) -> tuple[str | None, str | None]:
    async with await open_connection(host, port, **options) as conn:
        payload = bytes(range(256)) * 40  # spans many TCP segments
        await conn.send(PayloadType.ISO20_DC, payload)
        await conn.send(PayloadType.SAP_ISO2_DIN, b"")
        first = await conn.receive(timeout=5)
        second = await conn.receive(timeout=5)
        assert (first.payload_type, first.payload) == (PayloadType.ISO20_DC, payload[::-1])
        assert (second.payload_type, second.payload) == (PayloadType.SAP_ISO2_DIN, b"")
        return conn.tls_version, conn.cipher


@pytest.mark.parametrize("host", HOSTS)
def test_plain_tcp_carries_frames_both_ways(host: str) -> None:
    version, cipher = run(_with_server(_echo, host, lambda port: _exchange(host, port)))
    assert (version, cipher) == (None, None)


def test_iso2_cipher_suites_available_locally() -> None:
    suites = supported_iso2_cipher_suites()
    # Static ECDH was removed from OpenSSL 1.1.0; the ECDHE suite must be there.
    assert "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256" in suites


@pytest.mark.parametrize("host", HOSTS)
def test_iso2_tls12_with_ecdhe_ecdsa_aes128_cbc_sha256(
    host: str, pki: dict[str, CertFiles]
) -> None:
    secc = pki["secc-p256"]
    server_ctx = iso2_server_context(secc.chain, secc.key)
    client_ctx = iso2_client_context(cafile=secc.root)
    version, cipher = run(
        _with_server(
            _echo,
            host,
            lambda port: _exchange(host, port, ssl_context=client_ctx),
            ssl_context=server_ctx,
        )
    )
    assert version == "TLSv1.2"
    assert cipher == "ECDHE-ECDSA-AES128-SHA256"


@pytest.mark.parametrize("host", HOSTS)
@pytest.mark.parametrize("kind", ["p521", "ed448"])
def test_iso20_tls13_with_mutual_authentication(
    host: str, kind: str, pki: dict[str, CertFiles]
) -> None:
    secc, ev = pki[f"secc-{kind}"], pki[f"ev-{kind}"]
    seen_vehicle_certs: list[bytes | None] = []

    async def handler(conn: V2GConnection) -> None:
        seen_vehicle_certs.append(conn.peer_certificate)
        await _echo(conn)

    server_ctx = iso20_server_context(secc.chain, secc.key, cafile=ev.root)
    client_ctx = iso20_client_context(certfile=ev.chain, keyfile=ev.key, cafile=secc.root)
    version, _ = run(
        _with_server(
            handler,
            host,
            lambda port: _exchange(host, port, ssl_context=client_ctx),
            ssl_context=server_ctx,
        )
    )
    assert version == "TLSv1.3"
    assert seen_vehicle_certs and seen_vehicle_certs[0] == _der(ev.chain)


def _der(pem_file: Path) -> bytes:
    import ssl

    return ssl.PEM_cert_to_DER_cert(pem_file.read_text())


def test_iso20_server_refuses_a_vehicle_without_certificate(pki: dict[str, CertFiles]) -> None:
    secc, ev = pki["secc-p521"], pki["ev-p521"]
    server_ctx = iso20_server_context(secc.chain, secc.key, cafile=ev.root)
    client_ctx = iso20_client_context(certfile=None, cafile=secc.root)

    async def client(port: int) -> None:
        # TLS 1.3 reports a refused client certificate after the handshake, on first read
        conn = await open_connection("::1", port, ssl_context=client_ctx)
        async with conn:
            await conn.send(PayloadType.ISO20_COMMON, b"x")
            await conn.receive(timeout=5)

    with pytest.raises((TLSError, ConnectionClosedError)):
        run(_with_server(_echo, "::1", client, ssl_context=server_ctx))


def test_iso2_client_refuses_an_untrusted_secc(pki: dict[str, CertFiles]) -> None:
    secc = pki["secc-p256"]
    server_ctx = iso2_server_context(secc.chain, secc.key)
    client_ctx = iso2_client_context(cafile=pki["other-p256"].root)
    with pytest.raises(TLSError):
        run(
            _with_server(
                _echo,
                "127.0.0.1",
                lambda port: open_connection("127.0.0.1", port, ssl_context=client_ctx),
                ssl_context=server_ctx,
            )
        )


def test_client_contexts_without_verification_need_no_roots_and_accept_any_secc(
    pki: dict[str, CertFiles],
) -> None:
    """verify=False (test tools such as fuzz-live without --trust): no roots needed, and
    an SECC the client has no root for is accepted; the vehicle certificate still goes
    out. verify=True without roots stays an error."""
    import ssl

    with pytest.raises(ValueError):
        iso2_client_context()
    secc, ev = pki["secc-p256"], pki["ev-p521"]
    iso2 = iso2_client_context(verify=False)
    assert iso2.verify_mode == ssl.CERT_NONE
    version, _ = run(_with_server(
        _echo, "::1", lambda port: _exchange("::1", port, ssl_context=iso2),
        ssl_context=iso2_server_context(secc.chain, secc.key)))
    assert version == "TLSv1.2"

    secc20 = pki["secc-p521"]
    seen: list[bytes | None] = []

    async def handler(conn: V2GConnection) -> None:
        seen.append(conn.peer_certificate)
        await _echo(conn)

    iso20 = iso20_client_context(certfile=ev.chain, keyfile=ev.key, verify=False)
    version, _ = run(_with_server(
        handler, "::1", lambda port: _exchange("::1", port, ssl_context=iso20),
        ssl_context=iso20_server_context(secc20.chain, secc20.key, cafile=ev.root)))
    assert version == "TLSv1.3" and seen == [_der(ev.chain)]


def test_iso2_and_iso20_contexts_do_not_interoperate(pki: dict[str, CertFiles]) -> None:
    secc = pki["secc-p256"]
    server_ctx = iso2_server_context(secc.chain, secc.key)  # TLS 1.2 only
    client_ctx = iso20_client_context(certfile=None, cafile=secc.root)  # TLS 1.3 only
    with pytest.raises(TLSError):
        run(
            _with_server(
                _echo,
                "::1",
                lambda port: open_connection("::1", port, ssl_context=client_ctx),
                ssl_context=server_ctx,
            )
        )


# ----------------------------------------------------------------------------- errors


async def _raw_client(port: int, data: bytes, *, close: bool = True) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(data)
    await writer.drain()
    if close:
        writer.close()
        await writer.wait_closed()
    else:
        await asyncio.sleep(0.5)
        writer.close()


def _server_outcome(data: bytes, **options: Any) -> tuple[list[Any], list[BaseException]]:
    frames: list[Any] = []
    errors: list[BaseException] = []

    async def main() -> None:
        finished = asyncio.Event()

        async def handler(conn: V2GConnection) -> None:
            try:
                while True:
                    frames.append(await conn.receive(timeout=2))
            except BaseException as exc:
                errors.append(exc)
            finally:
                finished.set()

        server = await serve(handler, "127.0.0.1", 0, **options)
        port = server.sockets[0].getsockname()[1]
        async with server:
            await _raw_client(port, data)
            await asyncio.wait_for(finished.wait(), 5)

    run(main())
    return frames, errors


def test_peer_with_a_bad_header_is_reported_as_a_remote_error_and_cut_off() -> None:
    frames, errors = _server_outcome(encode_frame(0x8001, b"ok") + b"\x02\xfd" + bytes(6))
    assert [f.payload for f in frames] == [b"ok"]
    assert isinstance(errors[0], PeerProtocolError)
    assert errors[0].side == "remote"
    assert isinstance(errors[0].error, InvalidVersionError)


def test_unknown_payload_type_is_skipped_and_reported() -> None:
    discarded: list[FrameDiscarded] = []
    frames, errors = _server_outcome(
        encode_frame(0x7777, b"?" * 100) + encode_frame(0x8001, b"after"),
        on_discard=discarded.append,
    )
    assert [f.payload for f in frames] == [b"after"]
    assert len(discarded) == 1 and discarded[0].header.payload_type == 0x7777
    assert isinstance(errors[0], ConnectionClosedError)


def test_close_on_discard_turns_a_discard_into_a_remote_error() -> None:
    frames, errors = _server_outcome(
        encode_frame(0x8001, b"x" * 100), max_payload_length=10, close_on_discard=True
    )
    assert frames == []
    assert isinstance(errors[0], PeerProtocolError)


def test_connection_closed_mid_frame_is_a_truncation_error() -> None:
    frames, errors = _server_outcome(encode_frame(0x8001, b"complete")[:-3])
    assert frames == []
    assert isinstance(errors[0], TruncatedStreamError)


def test_silence_is_a_receive_timeout_and_the_connection_survives_it() -> None:
    async def main() -> None:
        server = await serve(_echo, "::1", 0)
        port = server.sockets[0].getsockname()[1]
        async with server, await open_connection("::1", port) as conn:
            with pytest.raises(ReceiveTimeoutError):
                await conn.receive(timeout=0.1)
            assert isinstance(ReceiveTimeoutError("x"), TimeoutError)
            await conn.send(PayloadType.SAP_ISO2_DIN, b"abc")
            assert (await conn.receive(timeout=5)).payload == b"cba"

    run(main())


def test_iteration_ends_when_the_peer_closes_cleanly() -> None:
    async def main() -> list[bytes]:
        async def handler(conn: V2GConnection) -> None:
            for i in range(3):
                await conn.send(PayloadType.SAP_ISO2_DIN, bytes([i]))

        server = await serve(handler, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        async with server, await open_connection("127.0.0.1", port) as conn:
            return [frame.payload async for frame in conn]

    assert run(main()) == [b"\x00", b"\x01", b"\x02"]


def test_connect_refuses_to_change_the_announced_security(pki: dict[str, CertFiles]) -> None:
    tls_secc = SECCInfo(ipaddress.IPv6Address("::1"), 1, Security.TLS, TransportProtocol.TCP)
    tcp_secc = SECCInfo(ipaddress.IPv6Address("::1"), 1, Security.NO_TLS, TransportProtocol.TCP)
    with pytest.raises(SecurityMismatchError):
        run(connect(tls_secc))
    with pytest.raises(SecurityMismatchError):
        run(connect(tcp_secc, ssl_context=iso2_client_context(cafile=pki["secc-p256"].root)))


def test_connection_refused_is_a_transport_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nobody listens here once the probe closes
    with pytest.raises(TransportError):
        run(open_connection("127.0.0.1", port))
