"""Findings of the PKI fuzz harness (fuzz/fuzz_pki.py), kept as regression tests.

The contract is the library's: bad input raises :class:`iso15118.errors.Iso15118Error`
(here :class:`iso15118.pki.CertificateLoadError`) or gives a verdict with failed checks.
The inputs below break it. Each is the test PKI's SECC leaf with one field damaged the way
the fuzzer damaged it (the fuzzer's own inputs are 400-700 bytes of DER; the damage is
what matters). ``leaked`` names the exception cryptography raised through the library
before the fix.

Cause (fixed): cryptography parses subject, issuer, extensions and public key lazily, on
first access, so ``load_certificate`` accepted such certificates and ``validate_chain`` met
cryptography's exception later; and ``load_certificate`` mapped ``ValueError`` but not
``x509.InvalidVersion``. ``load_certificate`` now touches every field once.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import pytest
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.x509 import InvalidVersion

from iso15118.errors import Iso15118Error
from iso15118.pki import build_test_pki, load_certificate, validate_chain
from iso15118.pki.testpki import TestPki


def _replace(old: str, new: str) -> Callable[[bytes], bytes]:
    def damage(der: bytes) -> bytes:
        assert bytes.fromhex(old) in der
        return der.replace(bytes.fromhex(old), bytes.fromhex(new), 1)
    return damage


def _flip_point_byte(der: bytes) -> bytes:
    at = der.index(bytes.fromhex("03420004")) + 10  # inside the P-256 public point
    return der[:at] + bytes([der[at] ^ 0xFF]) + der[at + 1:]


DAMAGE = [
    # TBSCertificate version [0] INTEGER 2 -> 18
    pytest.param(_replace("a003020102", "a003020112"), InvalidVersion, id="version-18"),
    # commonName's UTF8String tag 0x0c -> 0x0e (no such string type)
    pytest.param(_replace("0603550403" "0c", "0603550403" "0e"), KeyError, id="name-tag-14"),
    # a point that is not on the curve
    pytest.param(_flip_point_byte, ValueError, id="public-key-point"),
    # id-ecPublicKey 1.2.840.10045.2.1 -> .2.9 (unknown key algorithm)
    pytest.param(_replace("2a8648ce3d0201", "2a8648ce3d0209"), UnsupportedAlgorithm,
                 id="public-key-algorithm"),
    # basicConstraints value SEQUENCE -> SET
    pytest.param(_replace("551d130101ff04023000", "551d130101ff04023100"), ValueError,
                 id="basic-constraints-encoding"),
]


@pytest.fixture(scope="module")
def pki() -> TestPki:
    return build_test_pki(2)


def _validate(pki: TestPki, der: bytes) -> None:
    leaf = load_certificate(der)
    validate_chain(leaf, [pki.cert("cpo_sub_ca2"), pki.cert("cpo_sub_ca1")],
                   [pki.cert("v2g_root")], role="secc", at=pki.generated_at)


def test_the_undamaged_leaf_validates(pki: TestPki) -> None:
    _validate(pki, pki.certificates["secc_leaf"].der)


@pytest.mark.parametrize(("damage", "leaked"), DAMAGE)
def test_damaged_certificates_raise_the_library_error_or_give_a_verdict(
        pki: TestPki, damage: Callable[[bytes], bytes], leaked: type[Exception],
        request: pytest.FixtureRequest) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            _validate(pki, damage(pki.certificates["secc_leaf"].der))
        except Iso15118Error:
            pass


def test_a_pem_bundle_with_a_bad_version_raises_the_load_error(pki: TestPki) -> None:
    """Campaign find: the bundle path of load_certificates let InvalidVersion through."""
    import base64

    from cryptography.hazmat.primitives.serialization import Encoding

    from iso15118.pki import CertificateLoadError, load_certificates

    leaf = pki.certificates["secc_leaf"]
    der = leaf.der.replace(bytes.fromhex("a003020102"), bytes.fromhex("a003020142"), 1)
    pem = pki.cert("v2g_root").public_bytes(Encoding.PEM) + (
        b"-----BEGIN CERTIFICATE-----\n" + base64.encodebytes(der)
        + b"-----END CERTIFICATE-----\n")
    with pytest.raises(CertificateLoadError):
        load_certificates(pem)
