"""Test PKI made at test time: a root and a leaf per curve, written as PEM files.

Used by the loopback tests and by the network-namespace helper scripts (which run in
other processes and get the file paths on their command line).
"""

from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448
from cryptography.x509.oid import NameOID

PrivateKey = ec.EllipticCurvePrivateKey | ed448.Ed448PrivateKey


@dataclass(frozen=True)
class CertFiles:
    root: Path  # trust anchor (PEM)
    chain: Path  # leaf + nothing else (PEM)
    key: Path  # leaf private key (PEM, unencrypted)


def _new_key(kind: str) -> PrivateKey:
    if kind == "p256":
        return ec.generate_private_key(ec.SECP256R1())
    if kind == "p521":
        return ec.generate_private_key(ec.SECP521R1())
    if kind == "ed448":
        return ed448.Ed448PrivateKey.generate()
    raise ValueError(kind)


def _hash_for(kind: str) -> hashes.SHA256 | hashes.SHA512 | None:
    if kind == "p256":
        return hashes.SHA256()
    return hashes.SHA512() if kind == "p521" else None  # Ed448 signs without a digest


def make_pki(directory: Path, kind: str, common_name: str) -> CertFiles:
    """Root CA + leaf certificate of key type ``kind`` ('p256', 'p521', 'ed448')."""
    now = datetime.datetime.now(datetime.timezone.utc)
    validity = (now - datetime.timedelta(minutes=5), now + datetime.timedelta(days=1))
    root_key = _new_key(kind)
    root_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{common_name} Root")])
    root = (
        x509.CertificateBuilder()
        .subject_name(root_name)
        .issuer_name(root_name)
        .public_key(root_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(validity[0])
        .not_valid_after(validity[1])
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(root_key, _hash_for(kind))
    )
    leaf_key = _new_key(kind)
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .issuer_name(root_name)
        .public_key(leaf_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(validity[0])
        .not_valid_after(validity[1])
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.DNSName("localhost"),
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                    x509.IPAddress(ipaddress.ip_address("::1")),
                ]
            ),
            critical=False,
        )
        .sign(root_key, _hash_for(kind))
    )
    directory.mkdir(parents=True, exist_ok=True)
    files = CertFiles(
        directory / f"{common_name}-{kind}-root.pem",
        directory / f"{common_name}-{kind}-chain.pem",
        directory / f"{common_name}-{kind}-key.pem",
    )
    files.root.write_bytes(root.public_bytes(serialization.Encoding.PEM))
    files.chain.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    files.key.write_bytes(
        leaf_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return files
