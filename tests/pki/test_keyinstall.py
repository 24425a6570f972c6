"""Contract key transport of CertificateInstallationRes/UpdateRes, both sides, both versions."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, x448
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from iso15118.pki import (
    KeyInstallationError,
    decrypt_contract_key_iso2,
    decrypt_contract_key_iso20_ed448,
    decrypt_contract_key_iso20_secp521,
    decrypt_contract_key_iso20_x448,
    encrypt_contract_key_iso2,
    encrypt_contract_key_iso20,
    generate_ed448_contract_key,
    installation_aad,
    x448_private_from_ed448,
    x448_public_from_ed448,
)
from iso15118.pki.certs import subject_key_identifier
from iso15118.pki.keyinstall import ISO20_KDF_HASH, concat_kdf
from iso15118.pki.testpki import TEST_PCID, TestPki


def _ec(pki: TestPki, name: str) -> ec.EllipticCurvePrivateKey:
    key = pki.key(name)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return key


def _scalar(key: ec.EllipticCurvePrivateKey) -> int:
    return key.private_numbers().private_value


# ---------------------------------------------------------------------------- ISO 15118-2


def test_iso2_installation_round_trip(pki2: TestPki) -> None:
    contract_key = _ec(pki2, "contract_leaf")
    oem_key = _ec(pki2, "oem_leaf")
    enc = encrypt_contract_key_iso2(contract_key, _ec(pki2, "oem_leaf").public_key())
    assert len(enc.dh_public_key) == 65 and enc.dh_public_key[0] == 4  # [V2G2-819]
    assert len(enc.encrypted_private_key) == 48  # IV(16) || 32 bytes [V2G2-815]
    key = decrypt_contract_key_iso2(
        enc.encrypted_private_key, enc.dh_public_key, oem_key, pki2.cert("contract_leaf")
    )
    assert _scalar(key) == _scalar(contract_key)


def test_iso2_update_uses_the_old_contract_key(pki2: TestPki) -> None:
    old = _ec(pki2, "contract_leaf")
    new = ec.generate_private_key(ec.SECP256R1())
    enc = encrypt_contract_key_iso2(new, old.public_key())
    key = decrypt_contract_key_iso2(enc.encrypted_private_key, enc.dh_public_key, old)
    assert _scalar(key) == _scalar(new)


def test_iso2_session_key_is_concat_kdf_sha256_with_01_55_56(pki2: TestPki) -> None:
    """Recompute [V2G2-818] by hand: K = SHA-256(00000001 || Z || 01 'U' 'V')[:16]."""
    receiver = _ec(pki2, "oem_leaf")
    eph = ec.generate_private_key(ec.SECP256R1())
    iv = bytes(range(16))
    enc = encrypt_contract_key_iso2(
        _ec(pki2, "contract_leaf"),
        receiver.public_key(),
        ephemeral_key=eph,
        iv=iv,
    )
    z = eph.exchange(ec.ECDH(), receiver.public_key())
    k = hashlib.sha256(b"\x00\x00\x00\x01" + z + b"\x01UV").digest()[:16]
    dec = Cipher(algorithms.AES(k), modes.CBC(iv)).decryptor()
    plain = dec.update(enc.encrypted_private_key[16:]) + dec.finalize()
    assert enc.encrypted_private_key[:16] == iv
    assert int.from_bytes(plain, "big") == _scalar(_ec(pki2, "contract_leaf"))


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
def test_iso2_decrypts_an_envelope_built_by_openssl(tmp_path: Path, pki2: TestPki) -> None:
    """Known answer from an independent implementation: OpenSSL does ECDH, KDF and CBC."""

    def run(*args: str, data: bytes | None = None) -> bytes:
        out = subprocess.run(
            ["openssl", *args],
            input=data,
            capture_output=True,
            check=True,
            env={"OPENSSL_CONF": "/dev/null", "PATH": "/usr/bin:/bin"},
        )
        return out.stdout

    receiver = _ec(pki2, "oem_leaf")
    contract = ec.generate_private_key(ec.SECP256R1())
    ephemeral = ec.generate_private_key(ec.SECP256R1())
    pem = serialization.Encoding.PEM
    (tmp_path / "eph.pem").write_bytes(
        ephemeral.private_bytes(
            pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    (tmp_path / "recv.pub").write_bytes(
        receiver.public_key().public_bytes(pem, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    z = run(
        "pkeyutl",
        "-derive",
        "-inkey",
        str(tmp_path / "eph.pem"),
        "-peerkey",
        str(tmp_path / "recv.pub"),
    )
    kdf_input = b"\x00\x00\x00\x01" + z + b"\x01UV"
    digest = run("dgst", "-sha256", "-binary", data=kdf_input)
    iv = b"0123456789abcdef"
    ciphertext = run(
        "enc",
        "-aes-128-cbc",
        "-nopad",
        "-K",
        digest[:16].hex(),
        "-iv",
        iv.hex(),
        data=_scalar(contract).to_bytes(32, "big"),
    )
    dh = ephemeral.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    key = decrypt_contract_key_iso2(iv + ciphertext, dh, receiver)
    assert _scalar(key) == _scalar(contract)


def test_iso2_wrong_receiver_key_is_caught_by_the_certificate_match(pki2: TestPki) -> None:
    enc = encrypt_contract_key_iso2(_ec(pki2, "contract_leaf"), _ec(pki2, "oem_leaf").public_key())
    stranger = ec.generate_private_key(ec.SECP256R1())
    with pytest.raises(KeyInstallationError, match="V2G2-823"):
        decrypt_contract_key_iso2(
            enc.encrypted_private_key, enc.dh_public_key, stranger, pki2.cert("contract_leaf")
        )


def test_iso2_tampered_ciphertext_does_not_yield_the_certificate_key(pki2: TestPki) -> None:
    enc = encrypt_contract_key_iso2(_ec(pki2, "contract_leaf"), _ec(pki2, "oem_leaf").public_key())
    tampered = bytearray(enc.encrypted_private_key)
    tampered[-1] ^= 1
    with pytest.raises(KeyInstallationError):
        decrypt_contract_key_iso2(
            bytes(tampered),
            enc.dh_public_key,
            _ec(pki2, "oem_leaf"),
            pki2.cert("contract_leaf"),
        )


@pytest.mark.parametrize(
    ("field_len", "dh"),
    [(47, b"\x04" + b"\x01" * 64), (48, b"\x02" + b"\x01" * 32), (48, b"\x04" + b"\x01" * 64)],
)
def test_iso2_malformed_fields_are_typed_errors(pki2: TestPki, field_len: int, dh: bytes) -> None:
    with pytest.raises(KeyInstallationError):
        decrypt_contract_key_iso2(bytes(field_len), dh, _ec(pki2, "oem_leaf"))


def test_iso2_refuses_keys_off_secp256r1() -> None:
    with pytest.raises(KeyInstallationError, match="secp256r1"):
        encrypt_contract_key_iso2(
            ec.generate_private_key(ec.SECP384R1()),
            ec.generate_private_key(ec.SECP256R1()).public_key(),
        )


# --------------------------------------------------------------------------- ISO 15118-20


def test_iso20_aad_is_pcid_then_upper_case_ski_hex(pki20: TestPki) -> None:
    cert = pki20.cert("contract_leaf")
    ski = subject_key_identifier(cert)
    assert ski is not None and len(ski) == 8  # 16 hex characters [V2G20-2492]
    aad = installation_aad(TEST_PCID, cert)
    assert aad == TEST_PCID.encode() + ski.hex().upper().encode()
    assert len(aad) == 34
    with pytest.raises(KeyInstallationError):
        installation_aad("WMI-V2G-0001", cert)


def test_iso20_secp521_round_trip_and_layout(pki20: TestPki) -> None:
    contract, oem = _ec(pki20, "contract_leaf"), _ec(pki20, "oem_leaf")
    cert = pki20.cert("contract_leaf")
    enc = encrypt_contract_key_iso20(contract, oem.public_key(), TEST_PCID, cert)
    assert enc.ecdh_curve == "SECP521"
    assert len(enc.dh_public_key) == 133 and enc.dh_public_key[0] == 4  # [V2G20-2489]
    assert len(enc.encrypted_private_key) == 12 + 66 + 16  # [V2G20-2499]
    key = decrypt_contract_key_iso20_secp521(
        enc.encrypted_private_key, enc.dh_public_key, oem, TEST_PCID, cert
    )
    assert _scalar(key) == _scalar(contract)


def test_iso20_wrong_pcid_fails_authentication(pki20: TestPki) -> None:
    cert = pki20.cert("contract_leaf")
    enc = encrypt_contract_key_iso20(
        _ec(pki20, "contract_leaf"), _ec(pki20, "oem_leaf").public_key(), TEST_PCID, cert
    )
    with pytest.raises(KeyInstallationError, match="V2G20-2504"):
        decrypt_contract_key_iso20_secp521(
            enc.encrypted_private_key,
            enc.dh_public_key,
            _ec(pki20, "oem_leaf"),
            "WMIV2G0000000002A5",
            cert,
        )


def test_iso20_tampered_tag_fails_authentication(pki20: TestPki) -> None:
    cert = pki20.cert("contract_leaf")
    enc = encrypt_contract_key_iso20(
        _ec(pki20, "contract_leaf"), _ec(pki20, "oem_leaf").public_key(), TEST_PCID, cert
    )
    field = bytearray(enc.encrypted_private_key)
    field[-1] ^= 0x80
    with pytest.raises(KeyInstallationError, match="authentication"):
        decrypt_contract_key_iso20_secp521(
            bytes(field), enc.dh_public_key, _ec(pki20, "oem_leaf"), TEST_PCID, cert
        )


def _seal_raw(pki20: TestPki, plaintext: bytes) -> tuple[bytes, bytes]:
    """Encrypt arbitrary 66 bytes exactly as the SA would, to test the EV's checks."""
    oem = _ec(pki20, "oem_leaf")
    eph = ec.generate_private_key(ec.SECP521R1())
    key = concat_kdf(eph.exchange(ec.ECDH(), oem.public_key()), 32, ISO20_KDF_HASH())
    iv = bytes(12)
    aad = installation_aad(TEST_PCID, pki20.cert("contract_leaf"))
    dh = eph.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return iv + AESGCM(key).encrypt(iv, plaintext, aad), dh


def test_iso20_plaintext_with_high_bits_set_is_rejected(pki20: TestPki) -> None:
    scalar = _scalar(_ec(pki20, "contract_leaf")).to_bytes(66, "big")
    field, dh = _seal_raw(pki20, bytes([scalar[0] | 0x80]) + scalar[1:])
    with pytest.raises(KeyInstallationError, match="V2G20-2678"):
        decrypt_contract_key_iso20_secp521(
            field, dh, _ec(pki20, "oem_leaf"), TEST_PCID, pki20.cert("contract_leaf")
        )


def test_iso20_key_not_matching_the_certificate_is_rejected(pki20: TestPki) -> None:
    other = _scalar(ec.generate_private_key(ec.SECP521R1())).to_bytes(66, "big")
    field, dh = _seal_raw(pki20, other)
    with pytest.raises(KeyInstallationError, match="V2G20-2507"):
        decrypt_contract_key_iso20_secp521(
            field, dh, _ec(pki20, "oem_leaf"), TEST_PCID, pki20.cert("contract_leaf")
        )


def test_iso20_x448_round_trip(pki20: TestPki) -> None:
    receiver = x448.X448PrivateKey.generate()
    contract = x448.X448PrivateKey.generate()
    cert = pki20.cert("contract_leaf_ed448")
    enc = encrypt_contract_key_iso20(contract, receiver.public_key(), TEST_PCID, cert)
    assert enc.ecdh_curve == "X448"
    assert len(enc.dh_public_key) == 56  # no filler bytes [V2G20-2495]
    assert len(enc.encrypted_private_key) == 12 + 56 + 16  # [V2G20-2502]
    key = decrypt_contract_key_iso20_x448(
        enc.encrypted_private_key, enc.dh_public_key, receiver, TEST_PCID, cert
    )
    raw = serialization.Encoding.Raw, serialization.PrivateFormat.Raw
    none = serialization.NoEncryption()
    assert key.private_bytes(*raw, none) == contract.private_bytes(*raw, none)
    with pytest.raises(KeyInstallationError):
        decrypt_contract_key_iso20_x448(
            enc.encrypted_private_key,
            enc.dh_public_key,
            x448.X448PrivateKey.generate(),
            TEST_PCID,
            cert,
        )


def test_iso20_refuses_mixed_curves(pki20: TestPki) -> None:
    cert: x509.Certificate = pki20.cert("contract_leaf")
    with pytest.raises(KeyInstallationError):
        encrypt_contract_key_iso20(
            ec.generate_private_key(ec.SECP256R1()),
            ec.generate_private_key(ec.SECP256R1()).public_key(),
            TEST_PCID,
            cert,
        )


# ------------------------------------------------- Ed448 keys in the X448 transport


def _ed448_certificate(key: ed448.Ed448PrivateKey, pki: TestPki) -> x509.Certificate:
    """A contract certificate for ``key`` with the -20 SKI (16 hex characters in the AAD)."""
    import datetime as dt

    from cryptography.x509.oid import NameOID

    issuer = pki.cert("mo_sub_ca2_ed448")
    now = dt.datetime.now(dt.timezone.utc)
    ski = x509.SubjectKeyIdentifier(bytes.fromhex("4011223344556677"))
    return (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "DE8AA1A2B3C4D5")]))
            .issuer_name(issuer.subject).public_key(key.public_key())
            .serial_number(1).not_valid_before(now).not_valid_after(now + dt.timedelta(days=1))
            .add_extension(ski, critical=False)
            .sign(pki.key("mo_sub_ca2_ed448"), None))  # type: ignore[arg-type]


def test_ed448_keys_agree_as_x448() -> None:
    """Either side's X448 view of an Ed448 key agrees with the other's: the static-ephemeral
    exchange gives one secret whichever side computes it (RFC 7748's map is right)."""
    for _ in range(8):
        static = ed448.Ed448PrivateKey.generate()
        ephemeral = x448.X448PrivateKey.generate()
        sender = ephemeral.exchange(x448_public_from_ed448(static.public_key()))
        receiver = x448_private_from_ed448(static).exchange(ephemeral.public_key())
        assert sender == receiver
        assert x448_private_from_ed448(static).public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw) == \
            x448_public_from_ed448(static.public_key()).public_bytes(
                serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def test_iso20_ed448_contract_round_trip_to_an_ed448_oem_key(pki20: TestPki) -> None:
    oem = pki20.key("oem_leaf_ed448")
    assert isinstance(oem, ed448.Ed448PrivateKey)
    contract = generate_ed448_contract_key()
    cert = _ed448_certificate(contract, pki20)
    enc = encrypt_contract_key_iso20(contract, oem.public_key(), TEST_PCID, cert)
    assert enc.ecdh_curve == "X448" and len(enc.encrypted_private_key) == 84
    key = decrypt_contract_key_iso20_ed448(enc.encrypted_private_key, enc.dh_public_key, oem,
                                           TEST_PCID, cert)
    assert key.sign(b"m") == contract.sign(b"m")  # Ed448 is deterministic: the same key
    with pytest.raises(KeyInstallationError, match="AES-GCM"):
        decrypt_contract_key_iso20_ed448(enc.encrypted_private_key, enc.dh_public_key,
                                         ed448.Ed448PrivateKey.generate(), TEST_PCID, cert)
    other = _ed448_certificate(generate_ed448_contract_key(), pki20)  # same SKI, other key
    with pytest.raises(KeyInstallationError, match="V2G20-2510"):
        decrypt_contract_key_iso20_ed448(enc.encrypted_private_key, enc.dh_public_key, oem,
                                         TEST_PCID, other)


def test_iso20_ed448_contract_key_must_fit_56_bytes(pki20: TestPki) -> None:
    seed = bytes(range(1, 58))  # the 57th byte is not zero
    key = ed448.Ed448PrivateKey.from_private_bytes(seed)
    with pytest.raises(KeyInstallationError, match="zero byte"):
        encrypt_contract_key_iso20(key, pki20.key("oem_leaf_ed448").public_key(),  # type: ignore[arg-type]
                                   TEST_PCID, pki20.cert("contract_leaf_ed448"))
