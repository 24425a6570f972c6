"""Hello and Certificate parsing, handshake reassembly: fields, every truncation, bounds."""

from __future__ import annotations

import pytest
from tls13_synthetic import CLIENT, SERVER, psk_session

from iso15118.capture.tls_handshake import (
    HRR_RANDOM,
    HandshakeReassembler,
    MalformedHandshakeError,
    group_name,
    has_early_data_extension,
    parse_certificate_list,
    parse_client_hello,
    parse_server_hello,
)


def _hellos(**options: object) -> tuple[bytes, bytes]:
    conv = psk_session([], [], **options)  # type: ignore[arg-type]
    ch = next(r for s, r in conv.records if s == CLIENT and r[0] == 22)[9:]
    sh = next(r for s, r in conv.records if s == SERVER and r[0] == 22)[9:]
    return ch, sh


def test_client_hello_fields() -> None:
    ch, _sh = _hellos(early_data=b"x")
    hello = parse_client_hello(ch)
    assert hello.suites == (0x1301,) and hello.versions == (0x0304,) and hello.offers_tls13
    assert hello.key_share_groups == (0x001D,)
    assert hello.offers_psk and hello.offers_early_data


def test_server_hello_and_retry_fields() -> None:
    _ch, sh = _hellos()
    hello = parse_server_hello(sh)
    assert (hello.version, hello.suite, hello.retry, hello.psk_accepted, hello.group) == (
        0x0304, 0x1301, False, True, 0x001D)
    conv = psk_session([], [], retry=True)
    hrr = parse_server_hello(conv.records[1][1][9:])
    assert hrr.retry and hrr.random == HRR_RANDOM and hrr.group == 0x001D


def test_a_tls12_server_hello_without_extensions_keeps_its_legacy_version() -> None:
    body = b"\x03\x03" + bytes(32) + b"\x00" + b"\xc0\x23" + b"\x00"
    hello = parse_server_hello(body)
    assert (hello.version, hello.suite, hello.psk_accepted, hello.group) == (
        0x0303, 0xC023, False, None)


@pytest.mark.parametrize("which", ["client", "server"])
def test_every_truncation_is_a_malformed_handshake_error(which: str) -> None:
    ch, sh = _hellos(early_data=b"x")
    body, parse = (ch, parse_client_hello) if which == "client" else (sh, parse_server_hello)
    for cut in range(len(body)):
        try:
            parse(body[:cut])  # type: ignore[operator]
        except MalformedHandshakeError:
            continue
        # a cut exactly before the extensions block is a valid pre-TLS 1.3 hello:
        # version, random, session id (32 bytes from the client), one suite, compression
        assert cut == (2 + 32 + 33 + 4 + 2 if which == "client" else 2 + 32 + 1 + 2 + 1)


def test_early_data_in_encrypted_extensions() -> None:
    assert has_early_data_extension(b"\x00\x04\x00\x2a\x00\x00")
    assert not has_early_data_extension(b"\x00\x00")
    with pytest.raises(MalformedHandshakeError):
        has_early_data_extension(b"\x00\x08\x00\x2a")


def _u24(data: bytes) -> bytes:
    return len(data).to_bytes(3, "big") + data


def test_certificate_lists_of_tls13_and_tls12() -> None:
    # TLS 1.3: request context, then entries of (certificate, extensions)
    entries = _u24(b"leaf") + b"\x00\x05\x00\x05\x00\x01\x00" + _u24(b"sub") + b"\x00\x00"
    assert parse_certificate_list(b"\x00" + _u24(entries), tls13=True) == (b"leaf", b"sub")
    assert parse_certificate_list(b"\x02ab" + _u24(b""), tls13=True) == ()  # none to give
    # TLS 1.2: the certificates alone
    assert parse_certificate_list(_u24(_u24(b"leaf") + _u24(b"sub")), tls13=False) == (
        b"leaf", b"sub")
    with pytest.raises(MalformedHandshakeError):
        parse_certificate_list(b"\x00" + _u24(_u24(b"leaf")), tls13=True)  # no extensions
    with pytest.raises(MalformedHandshakeError):
        parse_certificate_list(_u24(b"\x00\x00\x09leaf"), tls13=False)


def test_reassembly_joins_split_messages_and_splits_joined_ones() -> None:
    messages = b"\x08\x00\x00\x02\x00\x00" + b"\x14\x00\x00\x03abc" + b"\x04\x00\x00\x00"
    r = HandshakeReassembler()
    out = []
    for byte in messages:
        out.extend(r.feed(bytes([byte])))
    assert out == [(8, b"\x00\x00"), (20, b"abc"), (4, b"")] and r.pending == 0
    assert HandshakeReassembler().feed(messages) == out


def test_reassembly_refuses_a_length_no_handshake_message_has() -> None:
    with pytest.raises(MalformedHandshakeError):
        HandshakeReassembler().feed(b"\x0b\xff\xff\xff")


def test_group_names() -> None:
    assert [group_name(g) for g in (0x17, 0x19, 0x1D, 0x1234)] == [
        "secp256r1", "secp521r1", "x25519", "group 0x1234"]
