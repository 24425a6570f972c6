"""A real TLS session captured off the loopback interface, then decrypted and decoded.

The EV and the SECC are :mod:`iso15118.transport` over TLS 1.2 (the -2 suite,
ECDHE-ECDSA-AES128-SHA256) and TLS 1.3 (-20, mutual authentication); Python's ``ssl``
writes the NSS key log (``SSLContext.keylog_filename``); an ``AF_PACKET`` socket
captures the frames the kernel carried. Nothing in the test writes TLS records itself,
so decrypting them checks our record layer against OpenSSL's.
"""

from __future__ import annotations

import asyncio
import ssl
import subprocess
import sys
from pathlib import Path

import pytest
from capture_certs import make_pair
from cryptography.hazmat.primitives.asymmetric import ec
from loopback_capture import LoopbackCapture, available

from iso15118 import codec
from iso15118.capture import KeyLog, read_capture
from iso15118.transport import (
    V2GConnection,
    iso2_client_context,
    iso2_server_context,
    iso20_client_context,
    iso20_server_context,
    open_connection,
    serve,
)
from iso15118.v2gtp import PayloadType

pytestmark = pytest.mark.skipif(available() is not None, reason=str(available()))

SAP = int(PayloadType.SAP_ISO2_DIN)


def _exi(protocol: str, text: str) -> bytes:
    qn, value = codec.from_json(text, protocol)
    return codec.encode(value, protocol, element=qn)


def _sap_req(namespace: str, major: int) -> bytes:
    return _exi("apphand", '{"supportedAppProtocolReq": {"AppProtocol": [{"ProtocolNamespace": '
                f'"{namespace}", "VersionNumberMajor": {major}, "VersionNumberMinor": 0, '
                '"SchemaID": 7, "Priority": 1}]}}')


SAP_RES = '{"supportedAppProtocolRes": {"ResponseCode": "OK_SuccessfulNegotiation", "SchemaID": 7}}'
ISO2_CDREQ = ('{"V2G_Message": {"Header": {"SessionID": "0102030405060708"}, "Body": '
              '{"CurrentDemandReq": {"DC_EVStatus": {"EVReady": true, "EVErrorCode": "NO_ERROR", '
              '"EVRESSSOC": 55}, "EVTargetCurrent": {"Multiplier": 0, "Unit": "A", "Value": 125},'
              ' "ChargingComplete": false, "EVTargetVoltage": {"Multiplier": -1, "Unit": "V", '
              '"Value": 4005}}}}}')
ISO2_CDRES = ('{"V2G_Message": {"Header": {"SessionID": "0102030405060708"}, "Body": '
              '{"CurrentDemandRes": {"ResponseCode": "OK", "DC_EVSEStatus": {"EVSENotification": '
              '"None", "NotificationMaxDelay": 0, "EVSEStatusCode": "EVSE_Ready"}, '
              '"EVSEPresentVoltage": {"Multiplier": -1, "Unit": "V", "Value": 3998}, '
              '"EVSEPresentCurrent": {"Multiplier": 0, "Unit": "A", "Value": 124}, '
              '"EVSECurrentLimitAchieved": false, "EVSEVoltageLimitAchieved": false, '
              '"EVSEPowerLimitAchieved": false, "EVSEID": "DE*ABC*E1", "SAScheduleTupleID": 1}}}}')
ISO20_SSREQ = ('{"SessionSetupReq": {"Header": {"SessionID": "0000000000000000", "TimeStamp": '
               '1700000000}, "EVCCID": "WMIV1234567890ABCDEX"}}')
ISO20_SSRES = ('{"SessionSetupRes": {"Header": {"SessionID": "0102030405060708", "TimeStamp": '
               '1700000001}, "ResponseCode": "OK_NewSessionEstablished", "EVSEID": "DE*ABC*E1"}}')


Exchange = tuple[int, bytes, bytes]  # payload type, request, response


async def _session(server_ctx: ssl.SSLContext, client_ctx: ssl.SSLContext,
                   exchanges: list[Exchange], capture: LoopbackCapture) -> None:
    answers = {req: res for _pt, req, res in exchanges}

    async def handler(conn: V2GConnection) -> None:
        async for frame in conn:
            await conn.send(frame.payload_type, answers[frame.payload])

    server = await serve(handler, "::1", 0, ssl_context=server_ctx)
    capture.port = server.sockets[0].getsockname()[1]
    async with server:
        async with await open_connection("::1", capture.port, ssl_context=client_ctx) as conn:
            for payload_type, req, res in exchanges:
                await conn.send(payload_type, req)
                frame = await conn.receive(timeout=5)
                assert frame.payload == res


def _capture(tmp_path: Path, version: int, suite: str | None = None
             ) -> tuple[Path, Path, list[Exchange]]:
    keylog = tmp_path / "keys.txt"
    if version == 2:
        root, chain, key = make_pair(tmp_path, "secc", ec.SECP256R1())
        server_ctx = iso2_server_context(chain, key, keylog_filename=keylog)
        client_ctx = iso2_client_context(cafile=root, keylog_filename=keylog)
        if suite is not None:  # other TLS 1.2 record protections than the -2 suite's CBC
            server_ctx.set_ciphers(suite)
            client_ctx.set_ciphers(suite)
        exchanges: list[Exchange] = [
            (SAP, _sap_req("urn:iso:15118:2:2013:MsgDef", 2), _exi("apphand", SAP_RES)),
            (SAP, _exi("iso2", ISO2_CDREQ), _exi("iso2", ISO2_CDRES))]
    else:
        secc_root, secc_chain, secc_key = make_pair(tmp_path, "secc", ec.SECP521R1())
        ev_root, ev_chain, ev_key = make_pair(tmp_path, "ev", ec.SECP521R1())
        server_ctx = iso20_server_context(secc_chain, secc_key, cafile=ev_root,
                                          keylog_filename=keylog)
        client_ctx = iso20_client_context(certfile=ev_chain, keyfile=ev_key, cafile=secc_root,
                                          keylog_filename=keylog)
        exchanges = [(SAP, _sap_req("urn:iso:std:iso:15118:-20:DC", 1),
                      _exi("apphand", SAP_RES)),
                     (int(PayloadType.ISO20_COMMON), _exi("iso20-common", ISO20_SSREQ),
                      _exi("iso20-common", ISO20_SSRES))]
    capture = LoopbackCapture()
    try:
        asyncio.run(asyncio.wait_for(_session(server_ctx, client_ctx, exchanges, capture), 20))
    finally:
        pcap = capture.stop()
    path = tmp_path / f"tls{version}.pcap"
    path.write_bytes(pcap)
    return path, keylog, exchanges


@pytest.mark.parametrize(("version", "tls", "protocol"), [
    (2, "TLS 1.2 TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256", "iso2"),
    (20, "TLS 1.3", "iso20-dc"),
])
def test_captured_tls_session_is_decrypted_and_decoded(tmp_path: Path, version: int, tls: str,
                                                       protocol: str) -> None:
    pcap, keylog, exchanges = _capture(tmp_path, version)
    result = read_capture(pcap.read_bytes(), KeyLog.parse(keylog.read_text()))
    [conn] = result.connections
    assert conn.transport == "tls" and conn.tls is not None and conn.tls.startswith(tls)
    assert conn.tls.endswith("decrypted") and conn.undecrypted_records == 0
    assert conn.protocol == protocol
    sent = [p for _t, req, res in exchanges for p in (req, res)]
    assert [m.payload for m in result.messages] == sent
    assert all(m.error is None for m in result.messages)
    assert [m.direction for m in result.messages] == ["EV->EVSE", "EVSE->EV"] * len(exchanges)
    names = [m.name for m in result.messages]
    assert names[:2] == ["supportedAppProtocolReq", "supportedAppProtocolRes"]
    if version == 2:
        assert names[2:] == ["CurrentDemandReq", "CurrentDemandRes"]
        assert ("EVTargetVoltage", "400.5 V") in result.messages[2].values
        assert ("EVSEPresentCurrent", "124 A") in result.messages[3].values
    else:
        assert names[2:] == ["SessionSetupReq", "SessionSetupRes"]


@pytest.mark.parametrize("suite", ["ECDHE-ECDSA-AES128-GCM-SHA256",
                                   "ECDHE-ECDSA-CHACHA20-POLY1305"])
def test_tls12_aead_suites_are_decrypted_too(tmp_path: Path, suite: str) -> None:
    pcap, keylog, exchanges = _capture(tmp_path, 2, suite)
    result = read_capture(pcap.read_bytes(), KeyLog.parse(keylog.read_text()))
    [conn] = result.connections
    assert conn.tls is not None and ("GCM" in conn.tls or "CHACHA20" in conn.tls)
    assert [m.payload for m in result.messages] == [p for _t, q, r in exchanges for p in (q, r)]


def test_without_the_key_log_the_records_stay_encrypted_and_say_so(tmp_path: Path) -> None:
    pcap, _keylog, _ = _capture(tmp_path, 2)
    result = read_capture(pcap.read_bytes())
    assert result.messages == []
    assert result.connections[0].undecrypted_records > 0
    assert any("no key log entry" in (e.error or "") for e in result.entries)


def test_pcap_command_prints_the_decrypted_timeline(tmp_path: Path) -> None:
    pcap, keylog, _ = _capture(tmp_path, 2)
    r = subprocess.run([sys.executable, "-m", "iso15118", "pcap", str(pcap), "--keylog",
                        str(keylog)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "\x1b[" not in r.stdout  # a pipe gets no colours
    lines = [x for x in r.stdout.splitlines() if "CurrentDemand" in x]
    assert "EV->EVSE" in lines[0] and "EVTargetCurrent=125 A" in lines[0]
    assert "EVSE->EV" in lines[1] and "ResponseCode=OK" in lines[1]
    assert "negotiated urn:iso:15118:2:2013:MsgDef (iso2)" in r.stdout
