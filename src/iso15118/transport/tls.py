"""TLS contexts for V2G connections, built on Python's :mod:`ssl` (OpenSSL).

ISO 15118-2:2014, clause 7.7.3 (TLS):

* TLS 1.2 only (RFC 5246); the SECC is the TLS server and only the server authenticates
  (the EVCC sends no certificate; contract authentication happens in the V2G messages).
* Cipher suites (-2 Table 7 as cited by several implementations):
  TLS_ECDH_ECDSA_WITH_AES_128_CBC_SHA256 and TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256,
  with secp256r1 keys and ECDSA certificates.
* **Static ECDH is not available:** OpenSSL removed the static-ECDH cipher suites in
  1.1.0, so ``TLS_ECDH_ECDSA_WITH_AES_128_CBC_SHA256`` cannot be negotiated by any
  Python linked against a current OpenSSL. :func:`supported_iso2_cipher_suites` probes the
  local library; the contexts below configure whatever of the two it supports, which in
  practice is the ECDHE suite alone. Every -2 SECC must support the ECDHE suite, so
  interoperability does not suffer.
* The SECC certificate names an SECC ID, not a host name, so host-name checking is off;
  the chain is verified against the V2G root certificates the caller provides.

ISO 15118-20:2022, clause 7.7 (TLS):

* TLS 1.3 only (RFC 8446) [V2G20-1264, as cited by other implementations], mutual
  authentication: the EVCC presents its vehicle certificate and the SECC verifies it.
* Certificates use secp521r1 (ECDSA with SHA-512) or Ed448; key exchange secp521r1 or
  X448. Python's ``ssl`` lets us choose one key-exchange group (``group``, default
  secp521r1) but cannot restrict the TLS 1.3 cipher suites or signature algorithms;
  OpenSSL's defaults (which include TLS_AES_256_GCM_SHA384 and
  TLS_CHACHA20_POLY1305_SHA256) apply.
"""

from __future__ import annotations

import functools
import os
import ssl
from typing import Final

__all__ = [
    "ISO2_CIPHER_SUITES",
    "iso2_client_context",
    "iso2_server_context",
    "iso20_client_context",
    "iso20_server_context",
    "supported_iso2_cipher_suites",
]

StrPath = str | os.PathLike[str]

#: IANA name -> OpenSSL name of the two suites ISO 15118-2 names.
ISO2_CIPHER_SUITES: Final[dict[str, str]] = {
    "TLS_ECDH_ECDSA_WITH_AES_128_CBC_SHA256": "ECDH-ECDSA-AES128-SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256": "ECDHE-ECDSA-AES128-SHA256",
}
ISO2_GROUP: Final = "prime256v1"  # secp256r1
ISO20_DEFAULT_GROUP: Final = "secp521r1"


@functools.cache
def supported_iso2_cipher_suites() -> tuple[str, ...]:
    """The -2 cipher suites (IANA names) the local OpenSSL can negotiate."""
    supported = []
    for iana, openssl_name in ISO2_CIPHER_SUITES.items():
        probe = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        try:
            probe.set_ciphers(openssl_name)
        except ssl.SSLError:
            continue
        if any(c["name"] == openssl_name for c in probe.get_ciphers()):
            supported.append(iana)
    return tuple(supported)


def _iso2_base(purpose: int) -> ssl.SSLContext:
    ctx = ssl.SSLContext(purpose)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    suites = supported_iso2_cipher_suites()
    if not suites:
        raise ssl.SSLError("the local OpenSSL supports none of the ISO 15118-2 cipher suites")
    ctx.set_ciphers(":".join(ISO2_CIPHER_SUITES[s] for s in suites))
    ctx.set_ecdh_curve(ISO2_GROUP)
    # A V2G session has no use for renegotiation or compression (CRIME).
    ctx.options |= ssl.OP_NO_COMPRESSION | ssl.OP_NO_RENEGOTIATION
    return ctx


def _load_trust(
    ctx: ssl.SSLContext, cafile: StrPath | None, capath: StrPath | None, cadata: str | bytes | None
) -> None:
    if cafile is None and capath is None and cadata is None:
        raise ValueError("trust anchors (cafile, capath or cadata) are required")
    ctx.load_verify_locations(cafile=cafile, capath=capath, cadata=cadata)


def _verify_server(ctx: ssl.SSLContext, verify: bool, cafile: StrPath | None,
                   capath: StrPath | None, cadata: str | bytes | None) -> None:
    ctx.check_hostname = False  # the SECC certificate names an SECC ID, not a host
    if verify:
        ctx.verify_mode = ssl.CERT_REQUIRED
        _load_trust(ctx, cafile, capath, cadata)
    else:
        ctx.verify_mode = ssl.CERT_NONE
        if cafile is not None or capath is not None or cadata is not None:
            ctx.load_verify_locations(cafile=cafile, capath=capath, cadata=cadata)


def iso2_client_context(
    *,
    cafile: StrPath | None = None,
    capath: StrPath | None = None,
    cadata: str | bytes | None = None,
    verify: bool = True,
    keylog_filename: StrPath | None = None,
) -> ssl.SSLContext:
    """The EVCC's context for ISO 15118-2: TLS 1.2, verify the SECC against V2G roots.

    ``verify=False`` does not check the SECC's certificate and needs no roots: for test
    tools talking to test devices (``iso15118 fuzz-live`` without ``--trust``), never for
    a vehicle.
    """
    ctx = _iso2_base(ssl.PROTOCOL_TLS_CLIENT)
    _verify_server(ctx, verify, cafile, capath, cadata)
    if keylog_filename is not None:
        ctx.keylog_filename = os.fspath(keylog_filename)
    return ctx


def iso2_server_context(
    certfile: StrPath,
    keyfile: StrPath | None = None,
    *,
    password: str | bytes | None = None,
    keylog_filename: StrPath | None = None,
) -> ssl.SSLContext:
    """The SECC's context for ISO 15118-2: TLS 1.2, server authentication only.

    ``certfile`` holds the SECC leaf certificate followed by its sub-CA certificates.
    """
    ctx = _iso2_base(ssl.PROTOCOL_TLS_SERVER)
    ctx.verify_mode = ssl.CERT_NONE  # unilateral authentication in -2
    ctx.load_cert_chain(certfile, keyfile, password)
    if keylog_filename is not None:
        ctx.keylog_filename = os.fspath(keylog_filename)
    return ctx


def _iso20_base(purpose: int, group: str | None) -> ssl.SSLContext:
    ctx = ssl.SSLContext(purpose)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.maximum_version = ssl.TLSVersion.TLSv1_3
    if group is not None:  # None: OpenSSL's default groups (x25519, P-256, x448, P-521, ...)
        ctx.set_ecdh_curve(group)
    ctx.options |= ssl.OP_NO_COMPRESSION
    return ctx


def _allow_iso2(ctx: ssl.SSLContext) -> None:
    """TLS 1.2 with the -2 cipher suites as well (TLS 1.3 suites are not affected by
    ``set_ciphers``): one context for a peer that speaks -2 or -20."""
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    suites = supported_iso2_cipher_suites()
    if suites:
        ctx.set_ciphers(":".join(ISO2_CIPHER_SUITES[s] for s in suites))
    ctx.options |= ssl.OP_NO_RENEGOTIATION


def iso20_client_context(
    *,
    certfile: StrPath | None,
    keyfile: StrPath | None = None,
    password: str | bytes | None = None,
    cafile: StrPath | None = None,
    capath: StrPath | None = None,
    cadata: str | bytes | None = None,
    group: str | None = ISO20_DEFAULT_GROUP,
    also_iso2: bool = False,
    verify: bool = True,
    keylog_filename: StrPath | None = None,
) -> ssl.SSLContext:
    """The EVCC's context for ISO 15118-20: TLS 1.3, presents the vehicle certificate.

    ``certfile`` (vehicle certificate chain) may be None only for testing a server that
    does not require client authentication. ``group=None`` offers OpenSSL's default key
    exchange groups, secp521r1 and x448 among them, for chargers that pick another one
    (Josev 0.31.2 allows prime256v1 only). ``also_iso2=True`` accepts a TLS 1.2 charger with
    the -2 cipher suites too (a vehicle that offers -2 as well); on such a link the session
    does not offer -20 (``iso15118.session.handshake.usable``). ``verify=False`` does not
    check the SECC's certificate (test tools only, as for :func:`iso2_client_context`);
    the vehicle certificate is presented all the same.
    """
    ctx = _iso20_base(ssl.PROTOCOL_TLS_CLIENT, group)
    if also_iso2:
        _allow_iso2(ctx)
    _verify_server(ctx, verify, cafile, capath, cadata)
    if certfile is not None:
        ctx.load_cert_chain(certfile, keyfile, password)
    if keylog_filename is not None:
        ctx.keylog_filename = os.fspath(keylog_filename)
    return ctx


def iso20_server_context(
    certfile: StrPath,
    keyfile: StrPath | None = None,
    *,
    password: str | bytes | None = None,
    cafile: StrPath | None = None,
    capath: StrPath | None = None,
    cadata: str | bytes | None = None,
    require_client_certificate: bool = True,
    group: str | None = ISO20_DEFAULT_GROUP,
    also_iso2: bool = False,
    keylog_filename: StrPath | None = None,
) -> ssl.SSLContext:
    """The SECC's context for ISO 15118-20: TLS 1.3, verifies the vehicle certificate.

    The trust anchors (``cafile``/``capath``/``cadata``) are the roots the vehicle
    certificates chain to (OEM roots). ``group=None`` accepts OpenSSL's default key exchange
    groups (secp521r1 and x448 among them), for vehicles that offer another one.

    ``also_iso2=True`` serves ISO 15118-2 vehicles on the same port: TLS 1.2 with the -2
    cipher suites is accepted too, and the vehicle certificate becomes optional (a -2 EV
    sends none); the session then negotiates -20 only over TLS 1.3, and only with a
    certificate when ``SeccConfig.require_vehicle_certificate`` is set
    (``iso15118.session.handshake.usable``). One certificate serves both, so it is the one
    ``certfile`` names (a -2 EV checks it against the V2G roots it trusts).
    """
    ctx = _iso20_base(ssl.PROTOCOL_TLS_SERVER, group)
    if also_iso2:
        _allow_iso2(ctx)
        require_client_certificate = False
    ctx.load_cert_chain(certfile, keyfile, password)
    ctx.verify_mode = ssl.CERT_REQUIRED if require_client_certificate else ssl.CERT_OPTIONAL
    _load_trust(ctx, cafile, capath, cadata)
    if keylog_filename is not None:
        ctx.keylog_filename = os.fspath(keylog_filename)
    return ctx
