"""Fetching OCSP responses over HTTP (RFC 6960 Appendix A.1), the one I/O piece of ``pki``.

Kept apart from :mod:`iso15118.pki.ocsp` so that the checking logic stays usable where a
charger forwards :class:`~iso15118.pki.ocsp.OcspRequestData` to its CSMS instead of calling
the responder itself (OCPP 2.0.1).
"""

from __future__ import annotations

import urllib.error
import urllib.request

from cryptography import x509

from iso15118.pki.errors import OcspError
from iso15118.pki.ocsp import build_ocsp_request, responder_urls

#: A DER OCSP response is a few hundred bytes; refuse anything absurd.
MAX_RESPONSE_SIZE = 64 * 1024


def post_ocsp_request(url: str, request_der: bytes, timeout: float = 10.0) -> bytes:
    """POST ``request_der`` to ``url`` and return the DER response body."""
    if not url.lower().startswith(("http://", "https://")):
        raise OcspError(f"OCSP responder URL must be http(s): {url!r}")
    req = urllib.request.Request(
        url,
        data=request_der,
        method="POST",
        headers={
            "Content-Type": "application/ocsp-request",
            "Accept": "application/ocsp-response",
        },
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 (scheme checked)
            body: bytes = resp.read(MAX_RESPONSE_SIZE + 1)
    except (urllib.error.URLError, OSError) as exc:
        raise OcspError(f"OCSP request to {url} failed: {exc}") from exc
    if len(body) > MAX_RESPONSE_SIZE:
        raise OcspError("OCSP response too large")
    return body


def fetch_ocsp_response(
    cert: x509.Certificate,
    issuer: x509.Certificate,
    url: str | None = None,
    hash_algorithm: str = "SHA256",
    timeout: float = 10.0,
) -> bytes:
    """Ask the responder of ``cert`` (its AIA URL unless ``url`` is given) about ``cert``."""
    target = url
    if target is None:
        urls = responder_urls(cert)
        if not urls:
            raise OcspError("certificate has no OCSP responder URL in authorityInfoAccess")
        target = urls[0]
    return post_ocsp_request(target, build_ocsp_request(cert, issuer, hash_algorithm), timeout)
