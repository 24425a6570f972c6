"""SDP codecs and the sans-IO client/server state machines (iso15118.sdp), on a fake clock."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from iso15118.sdp import (
    SDP_MAX_REQUESTS,
    SDP_RESPONSE_TIMEOUT,
    ClientState,
    SDPClient,
    SDPPayloadError,
    SDPRequest,
    SDPRequestWireless,
    SDPResponse,
    SDPResponseWireless,
    SDPServer,
    SECCInfo,
    Security,
    TransportProtocol,
    choose_security,
    decode,
    encode,
)
from iso15118.v2gtp import PayloadType, V2GTPError, encode_frame

SECC = ipaddress.IPv6Address("fe80::1234:56ff:fe78:9abc")

addresses = st.integers(0, 2**128 - 1).map(ipaddress.IPv6Address)
ascii_text = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=1)
securities = st.sampled_from(Security)
transports = st.sampled_from(TransportProtocol)


# ----------------------------------------------------------------------------- codecs


def test_request_frame_is_header_plus_security_and_transport() -> None:
    assert encode(SDPRequest(Security.NO_TLS)) == bytes.fromhex("01fe9000 00000002 1000")
    assert encode(SDPRequest(Security.TLS)) == bytes.fromhex("01fe9000 00000002 0000")


def test_response_frame_is_address_port_security_transport() -> None:
    frame = encode(SDPResponse(SECC, 15118, Security.TLS))
    assert frame == (
        bytes.fromhex("01fe9001 00000014") + SECC.packed + (15118).to_bytes(2, "big") + b"\0\0"
    )
    assert decode(frame) == SDPResponse(SECC, 15118, Security.TLS, TransportProtocol.TCP)


@given(securities, transports)
def test_request_round_trips(security: Security, transport: TransportProtocol) -> None:
    message = SDPRequest(security, transport)
    assert decode(encode(message)) == message


@given(addresses, st.integers(0, 0xFFFF), securities, transports)
def test_response_round_trips(
    address: ipaddress.IPv6Address, port: int, security: Security, transport: TransportProtocol
) -> None:
    message = SDPResponse(address, port, security, transport)
    assert decode(encode(message)) == message


@given(
    securities,
    transports,
    st.integers(0, 0xFFFF),
    st.integers(0, 0xFF),
    ascii_text.map(lambda s: (s * 20)[:20]),
    ascii_text.map(lambda s: (s * 36)[:36]),
)
def test_wireless_request_round_trips(
    security: Security,
    transport: TransportProtocol,
    flags: int,
    coupling: int,
    evid: str,
    evseid: str,
) -> None:
    message = SDPRequestWireless(security, transport, flags, coupling, evid, evseid)
    frame = encode(message)
    assert len(frame) == 8 + 61
    assert frame[2:4] == bytes.fromhex("9002")
    assert decode(frame) == message


@given(
    addresses,
    st.integers(0, 0xFFFF),
    securities,
    st.integers(0, 0xFF),
    st.integers(0, 0xFF),
    ascii_text.map(lambda s: (s * 36)[:36]),
)
def test_wireless_response_round_trips(
    address: ipaddress.IPv6Address,
    port: int,
    security: Security,
    diag: int,
    coupling: int,
    evseid: str,
) -> None:
    message = SDPResponseWireless(
        address, port, security, TransportProtocol.TCP, diag, coupling, evseid
    )
    frame = encode(message)
    assert len(frame) == 8 + 58
    assert decode(frame) == message


@given(st.integers(0, 0xFF), st.integers(0, 0xFF), addresses, st.integers(0, 0xFFFF))
def test_reserved_values_are_kept_so_decoding_is_lossless(
    security: int, transport: int, address: ipaddress.IPv6Address, port: int
) -> None:
    request = encode_frame(0x9000, bytes((security, transport)))
    assert encode(decode(request)) == request
    response = encode_frame(
        0x9001, address.packed + port.to_bytes(2, "big") + bytes((security, transport))
    )
    decoded = decode(response)
    assert encode(decoded) == response
    assert decoded.security == security and decoded.transport_protocol == transport
    assert isinstance(decoded.security, Security) == (security in (0x00, 0x10))


@pytest.mark.parametrize(
    "frame",
    [
        encode_frame(0x9000, b"\x10"),  # short
        encode_frame(0x9001, bytes(19)),  # short
        encode_frame(0x9001, bytes(21)),  # long
        encode_frame(0x9002, bytes(2)),  # wireless needs its extra fields
        encode_frame(0x9003, bytes(20)),
    ],
)
def test_malformed_payloads_are_sdp_payload_errors(frame: bytes) -> None:
    with pytest.raises(SDPPayloadError):
        decode(frame)


@pytest.mark.parametrize(
    "frame",
    [
        encode_frame(0x8001, b"\x10\x00"),  # not SDP
        encode_frame(PayloadType.SDP_REQUEST_EMSP, b""),  # layout unknown: left opaque
        b"\x01\xff" + encode_frame(0x9000, b"\x10\x00")[2:],
        encode_frame(0x9000, b"\x10\x00") + b"\x00",
    ],
)
def test_bad_frames_are_v2gtp_errors(frame: bytes) -> None:
    with pytest.raises(V2GTPError):
        decode(frame)


def test_fixed_width_ids_are_checked_on_encode() -> None:
    with pytest.raises(SDPPayloadError):
        encode(SDPRequestWireless(Security.TLS, TransportProtocol.TCP, 1, 0, "short", "x" * 36))
    with pytest.raises(SDPPayloadError):
        SDPResponse(SECC, 70000, Security.TLS)


def test_secc_info_host_carries_the_scope_of_link_local_addresses() -> None:
    info = SECCInfo.from_response(SDPResponse(SECC, 50000, Security.TLS), scope_id=3)
    assert info.host == f"{SECC.compressed}%3"
    assert info.tls
    assert SECCInfo(ipaddress.IPv6Address("2001:db8::1"), 1, Security.NO_TLS,
                    TransportProtocol.TCP, 3).host == "2001:db8::1"  # fmt: skip


# ----------------------------------------------------------------------------- client


def _answer(security: Security = Security.TLS, port: int = 50000) -> bytes:
    return encode(SDPResponse(SECC, port, security))


def test_client_retransmits_every_250ms_and_gives_up_after_50_requests() -> None:
    assert (SDP_MAX_REQUESTS, SDP_RESPONSE_TIMEOUT) == (50, 0.25)
    client = SDPClient(SDPRequest(Security.TLS))
    now = 1000.0
    sent_at = [now]
    assert client.start(now) == encode(SDPRequest(Security.TLS))
    while not client.finished:
        assert client.deadline is not None
        # nothing is resent before the 250 ms window is over [V2G2-159]
        assert client.timeout(client.deadline - 0.001) is None
        now = client.deadline
        if client.timeout(now) is not None:
            sent_at.append(now)
    assert client.state is ClientState.FAILED
    assert client.requests_sent == 50 == len(sent_at)  # [V2G2-161]
    gaps = {round(b - a, 9) for a, b in zip(sent_at, sent_at[1:], strict=False)}
    assert gaps == {0.25}
    assert client.deadline is None
    assert client.timeout(now + 10) is None


def test_client_stops_at_the_first_usable_response() -> None:
    client = SDPClient(SDPRequest(Security.NO_TLS))
    client.start(0.0)
    for attempt in range(1, 4):
        assert client.timeout(0.25 * attempt) is not None
    response = client.datagram_received(_answer(Security.NO_TLS), 0.8)
    assert response == SDPResponse(SECC, 50000, Security.NO_TLS)
    assert client.state is ClientState.DONE
    assert client.requests_sent == 4
    assert client.deadline is None and client.timeout(99.0) is None


def test_client_ignores_garbage_and_requests_and_keeps_waiting() -> None:
    client = SDPClient(SDPRequest())
    client.start(0.0)
    reserved_security = encode(SDPResponse(SECC, 1, 0x01))
    for junk in (
        b"",
        b"\x01\xfe\x90",
        encode(SDPRequest()),
        encode_frame(0x8001, b"x" * 20),
        reserved_security,  # cannot tell whether to use TLS
    ):
        assert client.datagram_received(junk, 0.1) is None
    assert client.ignored == 5
    assert client.state is ClientState.WAITING


def test_client_tolerates_a_reserved_transport_byte_as_real_chargers_send_it() -> None:
    client = SDPClient(SDPRequest(Security.NO_TLS))
    client.start(0.0)
    odd = SDPResponse(SECC, 15118, Security.NO_TLS, 0x08)
    assert client.datagram_received(encode(odd), 0.1) == odd
    info = SECCInfo.from_response(odd, scope_id=2)
    assert info.description == f"{SECC.compressed}%2 15118 NO_TLS 0x08"


@pytest.mark.parametrize(("address", "port"), [(SECC, 0), ("::", 50000), ("ff02::1", 50000),
                                               ("::1", 50000), ("::ffff:192.0.2.1", 50000)])
def test_client_keeps_asking_past_an_answer_no_connection_can_follow(address: str,
                                                                    port: int) -> None:
    client = SDPClient(SDPRequest(Security.NO_TLS))
    client.start(0.0)
    assert client.datagram_received(encode(SDPResponse(address, port, Security.NO_TLS)),
                                    0.1) is None
    assert client.ignored == 1 and client.state is ClientState.WAITING
    assert client.timeout(0.25) is not None  # the next request, as [V2G2-159] has it
    good = SDPResponse(SECC, 15118, Security.NO_TLS)  # a port real chargers announce
    assert client.datagram_received(encode(good), 0.3) == good
    scan = SDPClient(SDPRequest(Security.NO_TLS), collect=True)  # a scan lists them all
    scan.start(0.0)
    assert scan.datagram_received(encode(SDPResponse(address, port, Security.NO_TLS)), 0.1)


def test_client_in_collect_mode_lists_every_secc_in_the_window() -> None:
    client = SDPClient(SDPRequest(), collect=True)
    client.start(0.0)
    client.datagram_received(_answer(port=1), 0.1)
    client.datagram_received(_answer(port=1), 0.12)  # the same SECC twice
    client.datagram_received(_answer(port=2), 0.2)
    assert client.state is ClientState.WAITING
    assert client.timeout(0.25) is None  # no further request once someone answered
    assert client.state is ClientState.DONE
    assert [r.port for r in client.responses] == [1, 2]


def test_wireless_client_expects_a_wireless_response() -> None:
    request = SDPRequestWireless(
        Security.TLS, TransportProtocol.TCP, 0x0001, 0x00, "Z" * 20, "0" * 36
    )
    client = SDPClient(request)
    client.start(0.0)
    assert client.datagram_received(_answer(), 0.1) is None
    wireless = SDPResponseWireless(
        SECC, 1, Security.TLS, TransportProtocol.TCP, 0x01, 0x00, "E" * 36
    )
    assert client.datagram_received(encode(wireless), 0.1) == wireless


def test_client_rejects_nonsense_parameters() -> None:
    with pytest.raises(ValueError):
        SDPClient(SDPRequest(), max_requests=0)
    with pytest.raises(ValueError):
        SDPClient(SDPRequest(), response_timeout=0)


# ----------------------------------------------------------------------------- server


def test_security_choice_prefers_what_the_evcc_asked_for() -> None:
    both = frozenset(Security)
    assert choose_security(Security.TLS, both) is Security.TLS
    assert choose_security(Security.NO_TLS, both) is Security.NO_TLS
    assert choose_security(Security.NO_TLS, frozenset({Security.TLS})) is Security.TLS
    assert choose_security(Security.TLS, frozenset({Security.NO_TLS})) is Security.NO_TLS


def test_server_answers_with_the_port_of_the_chosen_security() -> None:
    server = SDPServer(SECC, {Security.TLS: 64000, Security.NO_TLS: 64001})
    request, frame = server.datagram_received(encode(SDPRequest(Security.NO_TLS)))
    assert request == SDPRequest(Security.NO_TLS)
    assert frame is not None
    assert decode(frame) == SDPResponse(SECC, 64001, Security.NO_TLS)
    _, frame = server.datagram_received(encode(SDPRequest(Security.TLS)))
    assert frame is not None and decode(frame) == SDPResponse(SECC, 64000, Security.TLS)


def test_server_stays_silent_on_garbage_and_non_tcp_requests() -> None:
    server = SDPServer(SECC, {Security.TLS: 64000})
    assert server.datagram_received(b"\x00" * 10) == (None, None)
    assert server.datagram_received(_answer()) == (None, None)
    request, frame = server.datagram_received(
        encode(SDPRequest(Security.TLS, TransportProtocol.UDP))
    )
    assert request is not None and frame is None
    request, frame = server.datagram_received(encode(SDPRequest(0x20, TransportProtocol.TCP)))
    assert request == SDPRequest(0x20) and frame is None


def test_link_local_address_skips_tentative_and_failed_addresses() -> None:
    from iso15118.transport.sdp_io import link_local_from_table

    table = [
        "fe800000000000000000000000000001 03 40 20 c0     eth0\n",  # tentative (DAD running)
        "fe800000000000000000000000000002 03 40 20 88     eth0\n",  # DAD failed
        "20010db8000000000000000000000003 03 40 00 80     eth0\n",  # global scope
        "fe800000000000000000000000000004 02 40 20 80     eth1\n",  # other interface
        "fe800000000000000000000000000005 03 40 20 80     eth0\n",
    ]
    assert str(link_local_from_table(table, 3)) == "fe80::5"
    assert link_local_from_table(table[:2], 3) is None
