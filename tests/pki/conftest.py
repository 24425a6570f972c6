"""Fixtures for the PKI tests: one test PKI per generation per session, an OCSP responder."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448
from cryptography.x509 import ocsp

from iso15118.pki import build_test_pki
from iso15118.pki.testpki import TestPki


@pytest.fixture(scope="session")
def pki2() -> TestPki:
    return build_test_pki(2)


@pytest.fixture(scope="session")
def pki20() -> TestPki:
    return build_test_pki(20)


@dataclass
class OcspResponder:
    """A tiny RFC 6960 responder on loopback, signing with a test CA's key."""

    issuer: x509.Certificate
    issuer_key: ec.EllipticCurvePrivateKey | ed448.Ed448PrivateKey
    statuses: dict[int, str] = field(default_factory=dict)
    known: dict[int, x509.Certificate] = field(default_factory=dict)
    signer: tuple[x509.Certificate, object] | None = None  # delegated responder
    next_update: dt.timedelta | None = dt.timedelta(days=1)
    url: str = ""
    requests: int = 0

    def respond(self, body: bytes) -> bytes:
        self.requests += 1
        try:
            req = ocsp.load_der_ocsp_request(body)
        except ValueError:
            return ocsp.OCSPResponseBuilder.build_unsuccessful(
                ocsp.OCSPResponseStatus.MALFORMED_REQUEST
            ).public_bytes(serialization.Encoding.DER)
        status = self.statuses.get(req.serial_number, "unknown")
        now = dt.datetime.now(dt.timezone.utc)
        # cryptography's builder fills the CertID from a certificate object, so the
        # responder keeps the certificates it answers for by serial.
        cert = self.known.get(req.serial_number, self.issuer)
        cert_status = {
            "good": ocsp.OCSPCertStatus.GOOD,
            "revoked": ocsp.OCSPCertStatus.REVOKED,
            "unknown": ocsp.OCSPCertStatus.UNKNOWN,
        }[status]
        revoked = status == "revoked"
        builder = ocsp.OCSPResponseBuilder().add_response(
            cert=cert,
            issuer=self.issuer,
            algorithm=req.hash_algorithm,
            cert_status=cert_status,
            this_update=now - dt.timedelta(minutes=1),
            next_update=(now + self.next_update) if self.next_update is not None else None,
            revocation_time=now - dt.timedelta(hours=1) if revoked else None,
            revocation_reason=x509.ReasonFlags.key_compromise if revoked else None,
        )
        signer_cert, signer_key = self.signer or (self.issuer, self.issuer_key)
        builder = builder.responder_id(ocsp.OCSPResponderEncoding.HASH, signer_cert)
        if self.signer is not None:
            builder = builder.certificates([signer_cert])
        algorithm = None if isinstance(signer_key, ed448.Ed448PrivateKey) else hashes.SHA256()
        resp = builder.sign(signer_key, algorithm)  # type: ignore[arg-type]
        return resp.public_bytes(serialization.Encoding.DER)

    def set_status(self, cert: x509.Certificate, status: str) -> None:
        self.known[cert.serial_number] = cert
        self.statuses[cert.serial_number] = status


@pytest.fixture()
def ocsp_responder(pki2: TestPki) -> Iterator[OcspResponder]:
    """Responder for certificates issued by the -2 CPO sub-CA 2, on 127.0.0.1."""
    responder = OcspResponder(pki2.cert("cpo_sub_ca2"), pki2.key("cpo_sub_ca2"))  # type: ignore[arg-type]

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server naming)
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(min(length, 65536))
            out = responder.respond(body)
            self.send_response(200)
            self.send_header("Content-Type", "application/ocsp-response")
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    responder.url = f"http://127.0.0.1:{server.server_address[1]}/ocsp"
    try:
        yield responder
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
