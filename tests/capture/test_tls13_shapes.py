"""Each TLS 1.3 handshake shape, made by OpenSSL on loopback, captured, decrypted and decoded.

The sessions come from :mod:`tls13_live` (Python's ``ssl``; KeyUpdate and 0-RTT through
:mod:`openssl_calls`), so the records are OpenSSL's, not ours. Every test checks that
the shape really happened on the wire (the client's own view: resumed, early data
accepted or rejected) before it checks what the reader made of the capture.
"""

from __future__ import annotations

import asyncio
import ssl
import subprocess
import sys
from pathlib import Path

import openssl_calls
import pytest
from capture_certs import make_pair
from cryptography.hazmat.primitives.asymmetric import ec
from loopback_capture import LoopbackCapture, available
from tls13_live import EXCHANGES, MESSAGES, Plan, TlsLab

from iso15118.capture import CaptureResult, KeyLog, read_capture
from iso15118.capture.packets import dissect
from iso15118.capture.pcapfile import read_frames
from iso15118.transport import V2GConnection, iso20_server_context, open_connection, serve

pytestmark = pytest.mark.skipif(available() is not None, reason=str(available()))
needs_ctypes = pytest.mark.skipif(openssl_calls.unavailable() is not None,
                                  reason=str(openssl_calls.unavailable()))


def _read(pcap: bytes, keylog: Path | str) -> CaptureResult:
    text = keylog.read_text() if isinstance(keylog, Path) else keylog
    return read_capture(pcap, KeyLog.parse(text))


def _sent(exchanges: list[tuple[bytes, bytes]]) -> list[bytes]:
    return [frame[8:] for pair in exchanges for frame in pair]


def _notices(result: CaptureResult, stream: str | None = None) -> list[str]:
    return [e.name for e in result.entries
            if e.kind == "notice" and (stream is None or e.stream == stream)]


def _assert_all_decoded(result: CaptureResult, payloads: list[bytes]) -> None:
    assert [m.payload for m in result.messages] == payloads
    assert all(m.error is None for m in result.messages)
    assert result.problems == [], [e.name for e in result.problems]
    assert all(c.undecrypted_records == 0 for c in result.connections)


def test_a_server_preferring_another_group_forces_a_retry_and_the_session_decrypts(
        tmp_path: Path) -> None:
    lab = TlsLab(tmp_path, server_group="secp384r1")
    lab.connect(Plan(EXCHANGES))
    result = _read(lab.close(), lab.keylog)
    _assert_all_decoded(result, _sent(EXCHANGES))
    [conn] = result.connections
    assert conn.tls == "TLS 1.3 TLS_AES_256_GCM_SHA384 (after HelloRetryRequest), decrypted"
    assert [m.name for m in result.messages] == MESSAGES
    assert [m.direction for m in result.messages] == ["EV->EVSE", "EVSE->EV"] * 3
    hrr = [n for n in _notices(result) if "HelloRetryRequest" in n]
    assert hrr == ["TLS 1.3 HelloRetryRequest: the server asks for a secp384r1 key share "
                   "(offered: x25519)"]


def test_an_secc_on_this_library_answering_an_x25519_ev_with_a_retry(tmp_path: Path) -> None:
    """The interop case: our -20 SECC (secp521r1 only) and an EV with OpenSSL's defaults."""
    root, chain, key = make_pair(tmp_path, "secc", ec.SECP521R1())
    ev_root, ev_chain, ev_key = make_pair(tmp_path, "ev", ec.SECP521R1())
    keylog = tmp_path / "keys.txt"
    server_ctx = iso20_server_context(chain, key, cafile=ev_root, keylog_filename=keylog)
    client_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # default groups: x25519 first
    client_ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    client_ctx.check_hostname = False
    client_ctx.load_verify_locations(root)
    client_ctx.load_cert_chain(ev_chain, ev_key)
    client_ctx.keylog_filename = str(keylog)
    answers = {request[8:]: response[8:] for request, response in EXCHANGES}
    capture = LoopbackCapture()

    async def handler(conn: V2GConnection) -> None:
        async for frame in conn:
            await conn.send(frame.payload_type, answers[frame.payload])

    async def session() -> None:
        server = await serve(handler, "::1", 0, ssl_context=server_ctx)
        capture.port = server.sockets[0].getsockname()[1]
        async with server:
            async with await open_connection("::1", capture.port,
                                             ssl_context=client_ctx) as conn:
                for request, response in EXCHANGES:
                    await conn.send(int.from_bytes(request[2:4], "big"), request[8:])
                    assert (await conn.receive(timeout=5)).payload == response[8:]

    try:
        asyncio.run(asyncio.wait_for(session(), 20))
    finally:
        pcap = capture.stop()
    result = _read(pcap, keylog)
    _assert_all_decoded(result, _sent(EXCHANGES))
    assert any("asks for a secp521r1 key share (offered: x25519)" in n for n in _notices(result))
    assert result.connections[0].protocol == "iso20-dc"


def test_a_resumed_session_with_a_pre_shared_key_decrypts(tmp_path: Path) -> None:
    lab = TlsLab(tmp_path)
    first = lab.connect(Plan(EXCHANGES))
    second = lab.connect(Plan(EXCHANGES), session=first.session)
    assert (first.resumed, second.resumed) == (False, True)
    result = _read(lab.close(), lab.keylog)
    _assert_all_decoded(result, _sent(EXCHANGES) * 2)
    one, two = result.connections
    assert one.tls == "TLS 1.3 TLS_AES_256_GCM_SHA384, decrypted"
    assert two.tls == "TLS 1.3 TLS_AES_256_GCM_SHA384 (resumed with PSK), decrypted"
    assert "TLS 1.3 session resumed with a pre-shared key" in _notices(result, "tls 2")
    assert "TLS 1.3 session resumed with a pre-shared key" not in _notices(result, "tls 1")


@needs_ctypes
def test_accepted_0rtt_early_data_is_delivered_once(tmp_path: Path) -> None:
    lab = TlsLab(tmp_path, early_data=True)
    first = lab.connect(Plan(EXCHANGES))
    second = lab.connect(Plan(EXCHANGES, early=True), session=first.session)
    assert second.resumed and second.early_status == openssl_calls.EARLY_ACCEPTED
    result = _read(lab.close(), lab.keylog)
    _assert_all_decoded(result, _sent(EXCHANGES) * 2)
    two = result.connections[1]
    assert two.tls == ("TLS 1.3 TLS_AES_256_GCM_SHA384 (resumed with PSK, 0-RTT accepted), "
                       "decrypted")
    size = len(EXCHANGES[0][0])
    assert f"0-RTT early data accepted by the server ({size} bytes)" in _notices(result, "tls 2")
    early = [m for m in result.messages if m.stream == "tls 2"][0]
    assert early.name == "supportedAppProtocolReq" and early.direction == "EV->EVSE"


@needs_ctypes
def test_refused_0rtt_early_data_is_reported_not_delivered(tmp_path: Path) -> None:
    lab = TlsLab(tmp_path, early_data=True)
    first = lab.connect(Plan(EXCHANGES))
    second = lab.connect(Plan(EXCHANGES, early=True, accept_early=False), session=first.session)
    assert second.resumed and second.early_status == openssl_calls.EARLY_REJECTED
    result = _read(lab.close(), lab.keylog)
    # the request the server skipped is not in the timeline; the one sent again is, once
    _assert_all_decoded(result, _sent(EXCHANGES) * 2)
    assert "0-RTT refused" in (result.connections[1].tls or "")
    [refused] = [n for n in _notices(result, "tls 2") if "refused" in n]
    assert refused.startswith("0-RTT early data refused (no early_data in EncryptedExtensions)"
                              f": {len(EXCHANGES[0][0])} bytes the server never read")


@needs_ctypes
def test_without_the_early_secret_the_reason_names_it(tmp_path: Path) -> None:
    lab = TlsLab(tmp_path, early_data=True)
    first = lab.connect(Plan(EXCHANGES))
    lab.connect(Plan(EXCHANGES, early=True), session=first.session)
    pcap = lab.close()
    keys = "\n".join(x for x in lab.keylog.read_text().splitlines()
                     if not x.startswith("CLIENT_EARLY_TRAFFIC_SECRET"))
    result = _read(pcap, keys)
    [problem] = result.problems
    assert problem.stream == "tls 2" and problem.direction == "EV->EVSE"
    assert problem.name.startswith("0-RTT early data, but the key log has no "
                                   "CLIENT_EARLY_TRAFFIC_SECRET for client random ")
    # the rest of the session decrypts: only the early request is missing
    sent = _sent(EXCHANGES)
    assert [m.payload for m in result.messages] == sent + sent[1:]


@needs_ctypes
def test_key_updates_in_both_directions_are_followed(tmp_path: Path) -> None:
    lab = TlsLab(tmp_path)
    lab.connect(Plan(EXCHANGES, key_update=True))
    pcap = lab.close()
    result = _read(pcap, lab.keylog)
    _assert_all_decoded(result, _sent(EXCHANGES))
    [conn] = result.connections
    assert conn.tls == "TLS 1.3 TLS_AES_256_GCM_SHA384 (2 key updates), decrypted"
    updates = [(e.direction, e.name) for e in result.entries if "key update" in e.name]
    assert updates == [("EVSE->EV", "key update (and asks the peer to update too)"),
                       ("EV->EVSE", "key update")]
    # the messages after the update were under the new keys: the close_notify alerts too
    assert _notices(result)[-2:] == ["TLS alert close_notify"] * 2


def test_a_handshake_over_many_small_segments_and_records_decrypts(tmp_path: Path) -> None:
    lab = TlsLab(tmp_path, server_group="secp384r1", split=97, alt_names=700)
    lab.connect(Plan(EXCHANGES))
    pcap = lab.close()
    packets = [dissect(f.number, f.timestamp, f.linktype, f.data) for f in read_frames(pcap)]
    server = [len(p.payload) for p in packets
              if p is not None and p.payload and p.sport == lab.port]
    # the ~21 kB Certificate and everything else of the server in small pieces
    assert sum(server) > 20000 and len(server) > 200 and max(server) <= 97
    stream = b"".join(p.payload for p in packets if p is not None and p.sport == lab.port)
    records = []
    while stream:
        records.append(int.from_bytes(stream[3:5], "big"))
        stream = stream[5 + records[-1]:]
    assert 16384 + 17 in records  # a full record (type byte, tag): the Certificate goes on
    result = _read(pcap, lab.keylog)
    _assert_all_decoded(result, _sent(EXCHANGES))
    assert "after HelloRetryRequest" in (result.connections[0].tls or "")


def test_with_an_empty_key_log_the_reason_is_given_and_pcap_problems_shows_it(
        tmp_path: Path) -> None:
    lab = TlsLab(tmp_path, server_group="secp384r1")
    lab.connect(Plan(EXCHANGES))
    pcap_path = tmp_path / "hrr.pcap"
    pcap_path.write_bytes(lab.close())
    empty = tmp_path / "empty.txt"
    empty.write_text("# no secrets\n")
    r = subprocess.run([sys.executable, "-m", "iso15118", "pcap", "--problems", str(pcap_path),
                        "-k", str(empty)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert ("TLS 1.3 TLS_AES_256_GCM_SHA384 (after HelloRetryRequest), not decrypted "
            "(TLS 1.3 TLS_AES_256_GCM_SHA384: no key log entry for client random ") in r.stdout
    lines = [x for x in r.stdout.splitlines() if not x.startswith("#")]
    assert len(lines) == 2  # one reason per direction, nothing else
    assert all(": no key log entry for client random " in x and "records stay encrypted" in x
               for x in lines)
    assert {x.split()[2] for x in lines} == {"EV->EVSE", "EVSE->EV"}


def test_with_only_application_secrets_the_handshake_records_are_accounted_for(
        tmp_path: Path) -> None:
    lab = TlsLab(tmp_path)
    lab.connect(Plan(EXCHANGES))
    pcap = lab.close()
    keys = "\n".join(x for x in lab.keylog.read_text().splitlines() if "HANDSHAKE" not in x)
    result = _read(pcap, keys)
    assert [m.payload for m in result.messages] == _sent(EXCHANGES)
    [conn] = result.connections
    assert conn.undecrypted_records > 0
    reasons = sorted(e.name.split(": ", 1)[1] for e in result.problems)
    assert len(reasons) == 2 and all("the key log has no" in r for r in reasons)
    assert "SERVER_HANDSHAKE_TRAFFIC_SECRET" in " ".join(reasons)
    assert "CLIENT_HANDSHAKE_TRAFFIC_SECRET" in " ".join(reasons)
