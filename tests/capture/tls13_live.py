"""TLS 1.3 sessions of each handshake shape, made by OpenSSL on ``::1`` and captured, for tests.

A :class:`TlsLab` is one server (a thread with blocking ``ssl`` sockets) and its client,
with one NSS key log both write and a :class:`LoopbackCapture` of the port. Each
:meth:`TlsLab.connect` is one TCP connection whose shape the :class:`Plan` picks:

* HelloRetryRequest: a server restricted to a group (``server_group``) other than the
  client's first key share (OpenSSL's default client sends x25519 only);
* resumption: ``session=`` a session of an earlier connection (PSK, RFC 8446 clause 2.2);
* 0-RTT: ``early=True`` sends the first request as early data; the server reads it
  (accepted) or not (``accept_early=False``: refused, and the client sends it again);
* KeyUpdate: the server updates its keys after the first response and asks the client
  to update too;
* segmentation: ``split`` puts a relay between client and server that passes the
  server's bytes on in TCP segments of that many bytes (the capture is of the client's
  side of the relay); ``alt_names`` makes the Certificate message too large for one
  record. (``TCP_MAXSEG`` does not do it: loopback hands large GSO packets over whole.)

Blocking sockets, not asyncio, because only ``SSLSocket`` takes a ``session`` and the
early-data calls (:mod:`openssl_calls`) need the ``SSL *`` of one.
"""

from __future__ import annotations

import queue
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import openssl_calls
from capture_certs import make_pair
from cryptography.hazmat.primitives.asymmetric import ec
from loopback_capture import LoopbackCapture

from iso15118 import codec
from iso15118.v2gtp import PayloadType, encode_frame

_HEADER = "0102030405060708"


def _iso20(text: str) -> bytes:
    qn, value = codec.from_json(text, "iso20-common")
    return encode_frame(PayloadType.ISO20_COMMON, codec.encode(value, "iso20-common",
                                                               element=qn))


def _sap(text: str) -> bytes:
    qn, value = codec.from_json(text, "apphand")
    return encode_frame(PayloadType.SAP_ISO2_DIN, codec.encode(value, "apphand", element=qn))


#: request and response frames of the start of an ISO 15118-20 DC session
EXCHANGES: list[tuple[bytes, bytes]] = [
    (_sap('{"supportedAppProtocolReq": {"AppProtocol": [{"ProtocolNamespace": '
          '"urn:iso:std:iso:15118:-20:DC", "VersionNumberMajor": 1, "VersionNumberMinor": 0, '
          '"SchemaID": 1, "Priority": 1}]}}'),
     _sap('{"supportedAppProtocolRes": {"ResponseCode": "OK_SuccessfulNegotiation", '
          '"SchemaID": 1}}')),
    (_iso20('{"SessionSetupReq": {"Header": {"SessionID": "0000000000000000", "TimeStamp": '
            '1700000000}, "EVCCID": "WMIV1234567890ABCDEX"}}'),
     _iso20(f'{{"SessionSetupRes": {{"Header": {{"SessionID": "{_HEADER}", "TimeStamp": '
            '1700000001}, "ResponseCode": "OK_NewSessionEstablished", "EVSEID": "DE*ABC*E1"}}')),
    (_iso20(f'{{"AuthorizationSetupReq": {{"Header": {{"SessionID": "{_HEADER}", '
            '"TimeStamp": 1700000002}}}'),
     _iso20(f'{{"AuthorizationSetupRes": {{"Header": {{"SessionID": "{_HEADER}", "TimeStamp": '
            '1700000003}, "ResponseCode": "OK", "AuthorizationServices": ["EIM"], '
            '"CertificateInstallationService": false, "EIM_ASResAuthorizationMode": {}}}')),
]
MESSAGES = ["supportedAppProtocolReq", "supportedAppProtocolRes", "SessionSetupReq",
            "SessionSetupRes", "AuthorizationSetupReq", "AuthorizationSetupRes"]


@dataclass
class Plan:
    """What one connection does."""

    exchanges: list[tuple[bytes, bytes]]
    early: bool = False  # the first request goes as 0-RTT early data
    accept_early: bool = True
    key_update: bool = False


@dataclass
class Outcome:
    """What the client saw of one connection."""

    session: ssl.SSLSession | None
    resumed: bool
    early_status: int | None
    cipher: str | None


def _read_frame(sock: ssl.SSLSocket) -> bytes:
    data = b""
    while len(data) < 8 or len(data) < 8 + int.from_bytes(data[4:8], "big"):
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed after {len(data)} bytes of a frame")
        data += chunk
    return data


def _listen() -> socket.socket:
    sock = socket.create_server(("::1", 0), family=socket.AF_INET6)
    sock.settimeout(10)
    return sock


def _pump(source: socket.socket, sink: socket.socket, split: int | None) -> None:
    """Copy until end of stream; ``split``: in segments of that many bytes, each sent on
    its own (the pause keeps Linux from corking them back together)."""
    while data := source.recv(65536):
        step = split or len(data)
        for i in range(0, len(data), step):
            sink.sendall(data[i:i + step])
            if split:
                time.sleep(0.0005)
    sink.shutdown(socket.SHUT_WR)


class TlsLab:
    def __init__(self, directory: Path, *, server_group: str | None = None,
                 split: int | None = None, alt_names: int = 0, early_data: bool = False
                 ) -> None:
        self.keylog = directory / "keys.txt"
        root, chain, key = make_pair(directory, "secc", ec.SECP256R1(), alt_names=alt_names)
        self.server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.server_ctx.minimum_version = ssl.TLSVersion.TLSv1_3
        self.server_ctx.load_cert_chain(chain, key)
        self.server_ctx.keylog_filename = str(self.keylog)
        if server_group is not None:
            self.server_ctx.set_ecdh_curve(server_group)
        if early_data:
            openssl_calls.allow_early_data(self.server_ctx)
        self.client_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        self.client_ctx.minimum_version = ssl.TLSVersion.TLSv1_3
        self.client_ctx.check_hostname = False
        self.client_ctx.load_verify_locations(root)
        self.client_ctx.keylog_filename = str(self.keylog)
        self._listener = _listen()
        self.server_port = self.port = self._listener.getsockname()[1]
        self._plans: queue.Queue[Plan | None] = queue.Queue()
        self._errors: list[BaseException] = []
        self._threads = [threading.Thread(target=self._serve, daemon=True)]
        self._relay: socket.socket | None = None
        if split is not None:
            self._relay = _listen()
            self.port = self._relay.getsockname()[1]
            self._threads.append(threading.Thread(target=self._run_relay, args=(split,),
                                                  daemon=True))
        self.capture = LoopbackCapture()
        self.capture.port = self.port
        for t in self._threads:
            t.start()

    # ----------------------------------------------------------------- relay

    def _run_relay(self, split: int) -> None:
        assert self._relay is not None
        try:
            while True:
                client, _ = self._relay.accept()
                server = socket.create_connection(("::1", self.server_port), timeout=10)
                client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                up = threading.Thread(target=_pump, args=(client, server, None), daemon=True)
                up.start()
                _pump(server, client, split)
                up.join(10)
                client.close()
                server.close()
        except OSError:
            return  # the relay socket was closed: no more connections

    # ----------------------------------------------------------------- server

    def _serve(self) -> None:
        try:
            while (plan := self._plans.get()) is not None:
                conn, _ = self._listener.accept()
                conn.settimeout(10)
                with self.server_ctx.wrap_socket(conn, server_side=True,
                                                 do_handshake_on_connect=False) as tls:
                    self._serve_one(tls, plan)
        except BaseException as e:  # handed to the test by close()
            self._errors.append(e)

    def _serve_one(self, tls: ssl.SSLSocket, plan: Plan) -> None:
        early = b""
        if plan.early and plan.accept_early:
            early = openssl_calls.read_early_data(tls)
        tls.do_handshake()
        for i, (request, response) in enumerate(plan.exchanges):
            if i == 0 and early:
                assert early == request, "the early data is not the first request"
            else:
                got = _read_frame(tls)
                assert got == request, f"request {i} arrived as {got.hex()}"
            if plan.key_update and i == 1:
                openssl_calls.key_update(tls, request_peer=True)
            tls.sendall(response)
        assert tls.recv(1) == b""  # the client's close_notify
        tls.unwrap()

    # ----------------------------------------------------------------- client

    def connect(self, plan: Plan, session: ssl.SSLSession | None = None) -> Outcome:
        self._plans.put(plan)
        raw = socket.create_connection(("::1", self.port), timeout=10)
        with self.client_ctx.wrap_socket(raw, session=session,
                                         do_handshake_on_connect=False) as tls:
            status = None
            if plan.early:
                openssl_calls.write_early_data(tls, plan.exchanges[0][0])
            tls.do_handshake()
            if plan.early:
                status = openssl_calls.early_data_status(tls)
            for i, (request, response) in enumerate(plan.exchanges):
                if not (i == 0 and status == openssl_calls.EARLY_ACCEPTED):
                    tls.sendall(request)
                assert _read_frame(tls) == response
            outcome = Outcome(tls.session, tls.session_reused, status, (tls.cipher() or [""])[0])
            tls.unwrap()
        return outcome

    def close(self) -> bytes:
        """Stop server and capture; the pcap. Raises what went wrong in the server."""
        self._plans.put(None)
        self._threads[0].join(10)
        self._listener.close()
        if self._relay is not None:
            self._relay.close()
        pcap = self.capture.stop()
        if self._errors:
            raise self._errors[0]
        return pcap
