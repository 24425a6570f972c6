"""Throw-away certificates for the TLS capture tests (root + leaf per role)."""

from __future__ import annotations

import datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def make_pair(directory: Path, name: str, curve: ec.EllipticCurve, *, alt_names: int = 0
              ) -> tuple[Path, Path, Path]:
    """(root PEM, leaf PEM, leaf key PEM) written to ``directory``.

    ``alt_names`` DNS names in the leaf make its Certificate message as large as needed
    (about 40 bytes each), e.g. larger than one TLS record.
    """
    now = datetime.datetime.now(datetime.timezone.utc)
    digest = hashes.SHA512() if isinstance(curve, ec.SECP521R1) else hashes.SHA256()
    root_key, leaf_key = ec.generate_private_key(curve), ec.generate_private_key(curve)
    root_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{name} root")])
    leaf_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])

    def build(subject: x509.Name, key: ec.EllipticCurvePrivateKey, ca: bool) -> x509.Certificate:
        builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(root_name)
                   .public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now - datetime.timedelta(minutes=5))
                   .not_valid_after(now + datetime.timedelta(days=1))
                   .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
        if not ca and alt_names:
            builder = builder.add_extension(x509.SubjectAlternativeName(
                [x509.DNSName(f"secc-{i:05d}.charger.example") for i in range(alt_names)]),
                critical=False)
        return builder.sign(root_key, digest)

    root, leaf = build(root_name, root_key, True), build(leaf_name, leaf_key, False)
    paths = (directory / f"{name}-root.pem", directory / f"{name}.pem",
             directory / f"{name}.key")
    paths[0].write_bytes(root.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(leaf_key.private_bytes(serialization.Encoding.PEM,
                                                serialization.PrivateFormat.PKCS8,
                                                serialization.NoEncryption()))
    return paths
