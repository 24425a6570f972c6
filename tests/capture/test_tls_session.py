"""TlsSession on record sequences OpenSSL does not send, written from RFC 8446 in the test.

The live captures (test_tls13_shapes.py) check the record layer against OpenSSL; these
check what only the RFC allows: several handshake messages in one record, every message
over many records, NewSessionTicket and KeyUpdate sharing a record, 0-RTT whose fate the
capture never shows, and the reasons given when a capture cannot be decrypted.
"""

from __future__ import annotations

import pytest
from tls13_synthetic import CLIENT, SERVER, Conversation, psk_session

from iso15118.capture.keylog import KeyLog
from iso15118.capture.tls import TlsNotice, TlsPlaintext, TlsSession
from iso15118.v2gtp import encode_frame

REQ = encode_frame(0x8001, bytes.fromhex("8000dbab9371d3234b71d1b981899189d191818991d26b9b3a"
                                         "232b30020000040040"))
RES = encode_frame(0x8001, bytes.fromhex("80400040"))


def _run(conv: Conversation, keylog: str | None = None, chunk: int | None = None,
         sides: tuple[int, int] = (0, 1)) -> tuple[TlsSession, list[TlsPlaintext | TlsNotice]]:
    """Feed the records in wire order, each cut into ``chunk``-byte TCP pieces; the
    client is called ``sides[0]`` and the server ``sides[1]``."""
    tls = TlsSession(KeyLog.parse(conv.keylog if keylog is None else keylog))
    events: list[TlsPlaintext | TlsNotice] = []
    for side, record in conv.records:
        step = chunk or len(record)
        for i in range(0, len(record), step):
            events.extend(tls.feed(sides[side], record[i:i + step]))
    events.extend(tls.finish())
    return tls, events


def _data(events: list[TlsPlaintext | TlsNotice]) -> list[tuple[int, bytes]]:
    return [(e.side, e.data) for e in events if isinstance(e, TlsPlaintext)]


def _texts(events: list[TlsPlaintext | TlsNotice]) -> list[str]:
    return [e.text for e in events if isinstance(e, TlsNotice)]


@pytest.mark.parametrize("suite", [0x1301, 0x1302, 0x1303])
def test_a_flight_coalesced_into_one_record_decrypts(suite: int) -> None:
    conv = psk_session([REQ], [RES], suite=suite, coalesce=True)
    server_records = [r for s, r in conv.records if s == SERVER and r[0] == 23]
    assert len(server_records) == 3  # EncryptedExtensions+Finished, ticket, data
    tls, events = _run(conv)
    assert _data(events) == [(CLIENT, REQ), (SERVER, RES)]
    assert not any(isinstance(e, TlsNotice) and e.problem for e in events), _texts(events)
    assert tls.resumed and tls.undecrypted_records == 0


def test_every_message_spread_over_tiny_records_and_tcp_pieces_decrypts() -> None:
    conv = psk_session([REQ], [RES], fragment=5, coalesce=True, key_update=True)
    assert sum(1 for s, r in conv.records if s == CLIENT and r[0] == 22) > 20  # ClientHello
    tls, events = _run(conv, chunk=3, sides=(1, 0))  # and the client seen second
    assert _data(events) == [(1, REQ), (0, RES)]
    assert tls.client_side == 1 and tls.key_updates == 2
    assert not any(isinstance(e, TlsNotice) and e.problem for e in events), _texts(events)


def test_a_key_update_behind_a_session_ticket_in_the_same_record_is_followed() -> None:
    conv = psk_session([REQ], [RES, RES], coalesce=True, key_update=True)
    tls, events = _run(conv)
    assert _data(events) == [(CLIENT, REQ), (SERVER, RES), (SERVER, RES)]
    assert "key update (and asks the peer to update too)" in _texts(events)
    assert _texts(events)[-1] == "TLS alert close_notify"  # under the client's updated key
    assert tls.key_updates == 2
    assert tls.description.startswith("TLS 1.3 TLS_AES_128_GCM_SHA256 (resumed with PSK, "
                                       "2 key updates)")


def test_retry_then_resumption_is_decrypted_and_said() -> None:
    tls, events = _run(psk_session([REQ], [RES], retry=True))
    assert _data(events) == [(CLIENT, REQ), (SERVER, RES)]
    assert tls.retry is not None
    assert "TLS 1.3 HelloRetryRequest: the server asks for a x25519 key share (offered: x25519)" \
        in _texts(events)
    assert "(after HelloRetryRequest, resumed with PSK)" in tls.description


@pytest.mark.parametrize("accept", [True, False])
def test_0rtt_is_delivered_only_when_accepted(accept: bool) -> None:
    tls, events = _run(psk_session([REQ], [RES], early_data=REQ, accept_early=accept))
    texts = _texts(events)
    if accept:
        assert _data(events) == [(CLIENT, REQ), (CLIENT, REQ), (SERVER, RES)]
        assert f"0-RTT early data accepted by the server ({len(REQ)} bytes)" in texts
    else:
        assert _data(events) == [(CLIENT, REQ), (SERVER, RES)]
        assert any(t.startswith("0-RTT early data refused (no early_data in "
                                f"EncryptedExtensions): {len(REQ)} bytes") for t in texts)
    assert tls.early_data == ("accepted" if accept else "refused")


@pytest.mark.parametrize("accept", [True, False])
def test_0rtt_fate_is_read_from_the_client_when_the_server_flight_is_opaque(
        accept: bool) -> None:
    """Without the server's handshake secret, EncryptedExtensions cannot be read: the
    client's EndOfEarlyData (or its absence) still tells (RFC 8446 clause 4.5)."""
    conv = psk_session([REQ], [RES], early_data=REQ, accept_early=accept)
    keys = "\n".join(x for x in conv.keylog_lines if "SERVER_HANDSHAKE" not in x)
    tls, events = _run(conv, keys)
    assert tls.early_data == ("accepted" if accept else "refused")
    delivered = [d for side, d in _data(events) if side == CLIENT]
    assert delivered == ([REQ, REQ] if accept else [REQ])
    why = "" if accept else " (the client sent no EndOfEarlyData)"
    assert any(t.startswith(f"0-RTT early data {'accepted' if accept else 'refused'}{why}")
               for t in _texts(events))


def test_0rtt_whose_answer_was_not_captured_is_shown_and_said() -> None:
    conv = psk_session([REQ], [RES], early_data=REQ)
    conv.records = [r for r in conv.records if r[0] == CLIENT][:3]  # ClientHello, CCS, data
    tls, events = _run(conv)
    assert _data(events) == [(CLIENT, REQ)]
    assert _texts(events)[0].startswith(f"0-RTT early data ({len(REQ)} bytes): the capture "
                                        "ends before the server accepted or refused it")


def test_retry_refuses_offered_early_data() -> None:
    tls = TlsSession()
    conv = psk_session([REQ], [RES], early_data=REQ)
    tls.feed(0, conv.records[0][1])  # a ClientHello offering 0-RTT
    retry = psk_session([REQ], [RES], retry=True).records[1][1]
    texts = [e.text for e in tls.feed(1, retry) if isinstance(e, TlsNotice)]
    assert texts[1] == "0-RTT early data refused (after a HelloRetryRequest)"
    assert tls.early_data == "refused"


def test_the_reasons_records_stay_encrypted() -> None:
    conv = psk_session([REQ], [RES])
    hello = conv.records[0][1]
    # the capture began after the ClientHello
    _tls, events = _run(Conversation(conv.records[1:], conv.keylog_lines))
    assert [e.text for e in events if isinstance(e, TlsNotice) and e.problem][0] == (
        "encrypted records, but the ClientHello was not captured: cannot decrypt")
    # the ServerHello was lost
    records = [r for r in conv.records if not (r[0] == SERVER and r[1][0] == 22)]
    tls, events = _run(Conversation(records, conv.keylog_lines))
    problems = [e.text for e in events if isinstance(e, TlsNotice) and e.problem]
    assert problems == ["the ServerHello was not captured: version and cipher suite unknown: "
                        "records stay encrypted"] * 2
    assert tls.description == ("TLS unknown cipher suite, not decrypted (the ServerHello was "
                               "not captured: version and cipher suite unknown)")
    # a suite this reader has no decryption for (TLS_SHA256_SHA256, RFC 9150)
    sh = next(r for s, r in conv.records if s == SERVER and r[0] == 22)
    at = 5 + 4 + 2 + 32 + 1  # record and message headers, version, random, empty session id
    odd = sh[:at] + b"\xc0\xb4" + sh[at + 2:]
    tls, events = _run(Conversation([(CLIENT, hello), (SERVER, odd), *[
        r for r in conv.records if r[1][0] == 23]], conv.keylog_lines))
    assert "TLS 1.3 cipher suite 0xc0b4 is not supported for decryption: records stay " \
           "encrypted" in _texts(events)
    # a key log for another session
    tls, events = _run(conv, "CLIENT_RANDOM " + "00" * 32 + " " + "11" * 48)
    assert any("TLS 1.3 TLS_AES_128_GCM_SHA256: no key log entry for client random "
               f"{hello[11:19].hex()}..." in t for t in _texts(events))
    assert _data(events) == []
