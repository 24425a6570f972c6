"""Our test PKI (``iso15118.pki.testpki``) written where and how Josev 0.31.2 reads it.

Josev reads every certificate and key below ``PKI_PATH/iso15118_2/`` (``certs/*Cert.{pem,der}``,
``private_keys/*.key`` and ``*Password.txt``; ``iso15118/shared/security.py``, ``CertPath``
and ``KeyPath`` join that folder name to every file), whatever the protocol: also for ISO
15118-20 in 0.31.2, which has no ``iso15118_20/`` folder of its own. So a -20 PKI goes into
``iso15118_2/`` too, under the same file names.

What Josev does with each kind of key (checked by running it; see README.md):

- ISO 15118-2 PKI (secp256r1): everything, in -2 and in -20 (Josev signs -20 messages the -2
  way: ecdsa-sha256 over secp256r1, 64-byte r||s).
- ISO 15118-20 PKI, secp521r1: TLS 1.2 and 1.3 (server and vehicle certificates); Josev's own
  XML signatures fail with it (it writes r and s as 32 bytes each), so no PnC.
- ISO 15118-20 PKI, Ed448 (``ed448=True``): TLS 1.3 (OpenSSL does it); Josev's own
  signatures load only EC private keys, so no PnC.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

__all__ = ["JosevPki", "PkiVersion", "make_josev_pki"]

#: Which of our test PKIs: ISO 15118-2 (secp256r1) or ISO 15118-20.
PkiVersion = Literal[2, 20]

#: Our test PKI's certificate names -> Josev's file stems (``iso15118/shared/security.py``).
_CERT_NAMES = {
    "v2g_root": ("v2gRootCACert", "v2gRootCA"),
    "cpo_sub_ca1": ("cpoSubCA1Cert", "cpoSubCA1"),
    "cpo_sub_ca2": ("cpoSubCA2Cert", "cpoSubCA2"),
    "secc_leaf": ("seccLeafCert", "seccLeaf"),
    "cps_sub_ca1": ("cpsSubCA1Cert", "cpsSubCA1"),
    "cps_sub_ca2": ("cpsSubCA2Cert", "cpsSubCA2"),
    "cps_leaf": ("cpsLeafCert", "cpsLeaf"),
    "oem_root": ("oemRootCACert", "oemRootCA"),
    "oem_sub_ca1": ("oemSubCA1Cert", "oemSubCA1"),
    "oem_sub_ca2": ("oemSubCA2Cert", "oemSubCA2"),
    "oem_leaf": ("oemLeafCert", "oemLeaf"),
    "mo_root": ("moRootCACert", "moRootCA"),
    "mo_sub_ca1": ("moSubCA1Cert", "moSubCA1"),
    "mo_sub_ca2": ("moSubCA2Cert", "moSubCA2"),
    "contract_leaf": ("contractLeafCert", "contractLeaf"),
}
#: Files Josev concatenates: (file, [certificates leaf first]).
_CHAIN_FILES = {
    "cpoCertChain.pem": ("secc_leaf", "cpo_sub_ca2", "cpo_sub_ca1"),
    "oemCertChain.pem": ("oem_leaf", "oem_sub_ca2", "oem_sub_ca1"),
    "intermediateMOCACerts.pem": ("mo_sub_ca2", "mo_sub_ca1"),
    "intermediateCPSCACerts.pem": ("cps_sub_ca2", "cps_sub_ca1"),
}
#: Josev reads a password file per leaf key; empty means "key not encrypted".
_PASSWORD_FILES = (
    "seccLeafPassword.txt",
    "oemLeafPassword.txt",
    "contractLeafPassword.txt",
    "cpsLeafPassword.txt",
    "moSubCA2LeafPassword.txt",
)


@dataclass(frozen=True)
class JosevPki:
    """Our ISO 15118-2 test PKI, written where and how Josev reads it.

    ``path`` is Josev's PKI_PATH; Josev reads ``iso15118_2/certs/*Cert.{pem,der}``,
    ``iso15118_2/private_keys/*.key`` and ``*Password.txt``. ``pki`` is the same PKI in
    memory for our side of the test (``pki.cert("v2g_root")``, ``pki.key("secc_leaf")``).
    """

    path: Path
    pki: Any  # iso15118.pki.testpki.TestPki
    #: 2 (secp256r1) or 20 (secp521r1, or Ed448 when ``ed448``).
    version: PkiVersion = 2
    ed448: bool = False

    def name(self, name: str) -> str:
        """Our certificate name in ``pki`` for a Josev role name (``_ed448`` variants)."""
        return f"{name}_ed448" if self.ed448 else name

    def cert_path(self, name: str, ext: Literal["pem", "der"] = "pem") -> Path:
        """File of our certificate ``name`` (e.g. "v2g_root") in Josev's layout."""
        return self.path / "iso15118_2" / "certs" / f"{_CERT_NAMES[name][0]}.{ext}"

    def key_path(self, name: str) -> Path:
        """Unencrypted PEM (PKCS#8) private key of our certificate ``name``."""
        return self.path / "iso15118_2" / "private_keys" / f"{_CERT_NAMES[name][1]}.key"


def make_josev_pki(directory: Path, version: PkiVersion = 2, *, ed448: bool = False) -> JosevPki:
    """Make a fresh test PKI (``iso15118.pki.testpki``) of ``version`` in Josev's layout.

    ``version=20`` writes the secp521r1 chains (or, with ``ed448``, the Ed448 ones) under
    the names Josev reads for -2, in ``iso15118_2/`` (see the module docstring).
    """
    from cryptography.hazmat.primitives import serialization

    from iso15118.pki.testpki import build_test_pki

    if ed448 and version != 20:
        raise ValueError("Ed448 chains exist only in the ISO 15118-20 test PKI")
    pki = build_test_pki(version, broken=False)
    josev = JosevPki(directory, pki, version, ed448)
    certs = directory / "iso15118_2" / "certs"
    keys = directory / "iso15118_2" / "private_keys"
    certs.mkdir(parents=True, exist_ok=True)
    keys.mkdir(parents=True, exist_ok=True)
    pem = serialization.Encoding.PEM
    for name, (cert_stem, key_stem) in _CERT_NAMES.items():
        issued = pki.certificates[josev.name(name)]
        (certs / f"{cert_stem}.pem").write_bytes(issued.certificate.public_bytes(pem))
        (certs / f"{cert_stem}.der").write_bytes(issued.der)
        key = issued.private_key.private_bytes(
            pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        (keys / f"{key_stem}.key").write_bytes(key)
    for file, names in _CHAIN_FILES.items():
        chain = b"".join(pki.cert(josev.name(n)).public_bytes(pem) for n in names)
        (certs / file).write_bytes(chain)
    for file in _PASSWORD_FILES:
        (keys / file).write_text("")
    return josev
