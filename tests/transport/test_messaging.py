"""Typed messages over real loopback TCP: payload types, protocol switch, -20 namespaces."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from iso15118 import codec
from iso15118.errors import Iso15118Error, MessageDecodeError
from iso15118.messages import apphand, iso2, iso20_common, iso20_dc
from iso15118.messaging import MessageChannel, UnexpectedPayloadTypeError, payload_type_of
from iso15118.transport import open_connection, serve
from iso15118.v2gtp import PayloadType


def _sap_req() -> Any:
    return apphand.supportedAppProtocolReq(app_protocol=[apphand.AppProtocolType(
        protocol_namespace="urn:iso:15118:2:2013:MsgDef", version_number_major=2,
        version_number_minor=0, schema_id=1, priority=1)])


def _sap_res() -> Any:
    return apphand.supportedAppProtocolRes(
        response_code=apphand.ResponseCodeType.OK_SuccessfulNegotiation, schema_id=1)


def _iso2(body: Any, session: bytes = bytes(8)) -> Any:
    return iso2.V2G_Message(header=iso2.MessageHeaderType(session_id=session),
                            body=iso2.BodyType(body_element=body))


async def _pair(handler: Any) -> tuple[Any, MessageChannel]:
    server = await serve(handler, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    conn = await open_connection("127.0.0.1", port)
    return server, MessageChannel(conn)


def test_handshake_then_iso2_session_setup_over_tcp() -> None:
    seen: list[Any] = []

    async def secc(conn: Any) -> None:
        ch = MessageChannel(conn)
        req = await ch.receive(2.0)
        seen.append(req)
        await ch.send(_sap_res())
        ch.protocol = "iso2"
        setup = await ch.receive(2.0)
        seen.append(setup)
        await ch.send(_iso2(iso2.SessionSetupResType(
            response_code=iso2.ResponseCodeType.OK_NewSessionEstablished,
            evse_id="DE*ABC*E1", evse_time_stamp=1_700_000_000), b"\x01" * 8))

    async def run() -> Any:
        server, ev = await _pair(secc)
        async with server:
            res = await ev.exchange(_sap_req(), 2.0)
            assert res == _sap_res()
            ev.protocol = "iso2"
            reply = await ev.exchange(_iso2(iso2.SessionSetupReqType(evcc_id=b"\x0a" * 6)), 2.0)
            await ev.connection.close()
            return reply

    reply = asyncio.run(run())
    assert seen == [_sap_req(), _iso2(iso2.SessionSetupReqType(evcc_id=b"\x0a" * 6))]
    assert reply.header.session_id == b"\x01" * 8
    assert reply.body.body_element.response_code == iso2.ResponseCodeType.OK_NewSessionEstablished


def test_iso20_messages_travel_with_their_namespace_payload_type() -> None:
    frames: list[tuple[int, bytes]] = []
    common = iso20_common.SessionStopReqType(
        header=iso20_common.MessageHeaderType(session_id=bytes(8), time_stamp=1),
        charging_session=iso20_common.ChargingSessionType.Terminate)
    dc = iso20_dc.DC_CableCheckReqType(
        header=iso20_dc.MessageHeaderType(session_id=bytes(8), time_stamp=2))

    async def secc(conn: Any) -> None:
        for _ in range(2):
            frame = await conn.receive(2.0)
            frames.append((frame.payload_type, frame.payload))
            await conn.send(frame.payload_type, frame.payload)  # echo

    async def run() -> list[Any]:
        server, ev = await _pair(secc)
        async with server:
            got = [await ev.exchange(common, 2.0), await ev.exchange(dc, 2.0)]
            await ev.connection.close()
            return got

    assert asyncio.run(run()) == [common, dc]
    assert [t for t, _ in frames] == [PayloadType.ISO20_COMMON, PayloadType.ISO20_DC]
    assert frames[1][1] == codec.encode(dc, "iso20-dc")


def test_garbage_and_foreign_payload_types_raise_the_library_errors() -> None:
    async def secc(conn: Any) -> None:
        await conn.send(PayloadType.SAP_ISO2_DIN, b"\x80\xff\xff")
        await conn.send(PayloadType.SDP_REQUEST, b"\x10\x00")
        await asyncio.sleep(0.5)

    async def run() -> list[type[BaseException]]:
        server, ev = await _pair(secc)
        errors: list[type[BaseException]] = []
        async with server:
            for _ in range(2):
                try:
                    await ev.receive(2.0)
                except Iso15118Error as e:
                    errors.append(type(e))
            await ev.connection.close()
        return errors

    assert asyncio.run(run()) == [MessageDecodeError, UnexpectedPayloadTypeError]


def test_payload_types_and_protocol_setting() -> None:
    assert payload_type_of("iso2") == payload_type_of("din") == payload_type_of("apphand") == 0x8001
    assert [payload_type_of(p) for p in ("iso20-common", "iso20-ac", "iso20-dc", "iso20-acdp",
                                         "iso20-wpt")] == [0x8002, 0x8003, 0x8004, 0x8005, 0x8006]
    ch = MessageChannel.__new__(MessageChannel)
    with pytest.raises(Iso15118Error):
        ch.protocol = "iso20-dc"  # -20 payloads carry their namespace; 0x8001 does not
