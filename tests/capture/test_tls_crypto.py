"""Key derivation against published values; record decryption is tested on real captures
(test_real_captures.py, RiseV2G/Josev) and on OpenSSL's records (test_live_tls_capture.py)."""

from __future__ import annotations

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDFExpand

from iso15118.capture.keylog import KeyLog
from iso15118.capture.tls_crypto import CIPHER_SUITES, hkdf_expand_label, tls12_prf


def test_tls12_prf_matches_the_published_sha256_vector() -> None:
    # the P_SHA256 test vector circulated on the IETF TLS list for RFC 5246
    out = tls12_prf("sha256", bytes.fromhex("9bbe436ba940f017b17652849a71db35"), b"test label",
                    bytes.fromhex("a0ba9f936cda311827a6f796ffd5198c"), 100)
    assert out.hex() == (
        "e3f229ba727be17b8d122620557cd453c2aab21d07c3d495329b52d4e61edb5a6b301791e90d35c9c9a4"
        "6b4e14baf9af0fa022f7077def17abfd3797c0564bab4fbc91666e9def9b97fce34f796789baa48082d1"
        "22ee42c5a72e5a5110fff70187347b66")


def test_hkdf_expand_label_is_hkdf_expand_with_the_rfc8446_info() -> None:
    secret = bytes(range(48))
    for label, length in (("key", 32), ("iv", 12), ("traffic upd", 48)):
        full = b"tls13 " + label.encode()
        info = length.to_bytes(2, "big") + bytes([len(full)]) + full + b"\x00"
        want = HKDFExpand(hashes.SHA384(), length, info).derive(secret)
        assert hkdf_expand_label("sha384", secret, label, length) == want


def test_the_iso15118_suites_are_known() -> None:
    assert CIPHER_SUITES[0xC023].name == "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256"
    assert CIPHER_SUITES[0xC025].kind == "cbc"  # the static-ECDH -2 suite
    assert {CIPHER_SUITES[s].kind for s in (0x1301, 0x1302, 0x1303)} == {"gcm", "chacha"}


def test_key_log_lines_and_comments() -> None:
    log = KeyLog.parse("# comment\n\nCLIENT_RANDOM 0a0b 0c0d\nclient_traffic_secret_0 0a0b ff\n")
    assert log.secret(b"\x0a\x0b", "CLIENT_RANDOM") == b"\x0c\x0d"
    assert log.secret(b"\x0a\x0b", "CLIENT_TRAFFIC_SECRET_0") == b"\xff"
    assert log.secret(b"\x00", "CLIENT_RANDOM") is None and len(log) == 1
