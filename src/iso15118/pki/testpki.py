"""A complete test PKI for ISO 15118-2 or -20, with deliberately broken variants.

Never use it outside tests: keys are written unencrypted and names are made up.

:func:`build_test_pki` returns everything in memory (what the test-suite uses);
:func:`create_test_pki` writes it to a directory: ``certs/<name>.pem`` and ``.der``,
``keys/<name>.key.pem`` (PKCS#8) and ``index.json`` describing every chain::

    {"version": 2, "generated_at": "...",
     "certificates": {"<name>": {"pem": ..., "der": ..., "key": ..., "subject": ...}},
     "chains": {"<chain>": {"role": "secc", "leaf": "<name>",
                            "intermediates": ["<name>", ...], "trust_roots": ["<name>"],
                            "expect": "valid" | {"rule": "cert.expired", "certificate": 0}}}}

Chains for both versions: ``secc`` (V2G root -> CPO sub-CA 1 -> CPO sub-CA 2 -> SECC),
``cps`` (V2G root -> CPS sub-CA 1 -> CPS sub-CA 2 -> CPS leaf), ``contract`` (MO root ->
MO sub-CA 1 -> MO sub-CA 2 -> contract), ``oem`` (OEM root -> OEM sub-CA 1 -> OEM sub-CA 2
-> OEM provisioning). Version 20 uses secp521r1/ecdsa-with-SHA512 and adds the same four
chains on Ed448 (``*_ed448``). Chains named ``broken/...`` each break one profile rule.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448
from cryptography.x509.oid import AuthorityInformationAccessOID, NameOID

from iso15118.pki.certs import iso20_key_identifier
from iso15118.pki.emaid import compute_check_digit
from iso15118.pki.profiles import KeyUsageBit, ProtocolVersion, Role
from iso15118.pki.verdict import Rule

PrivateKey = ec.EllipticCurvePrivateKey | ed448.Ed448PrivateKey

#: eMAID of the test contract certificate (check digit computed below).
TEST_EMAID_BODY = "DE8AA1A2B3C4D5"
#: PCID (OEM provisioning certificate CN) of the test vehicle, 18 characters.
TEST_PCID = "WMIV2G0000000001A5"

_DAY = _dt.timedelta(days=1)


@dataclass(frozen=True)
class IssuedCertificate:
    """A certificate with its private key."""

    name: str
    certificate: x509.Certificate
    private_key: PrivateKey

    @property
    def der(self) -> bytes:
        """DER encoding of the certificate."""
        return self.certificate.public_bytes(serialization.Encoding.DER)


@dataclass(frozen=True)
class ChainSpec:
    """One chain of the test PKI and what validating it must give."""

    role: Role
    leaf: str
    intermediates: tuple[str, ...]
    trust_roots: tuple[str, ...]
    expect_rule: Rule | None = None
    expect_index: int | None = None

    @property
    def expect_valid(self) -> bool:
        """Whether the chain is meant to validate."""
        return self.expect_rule is None


@dataclass
class TestPki:
    """Everything :func:`build_test_pki` makes."""

    version: ProtocolVersion
    generated_at: _dt.datetime
    ocsp_url: str
    certificates: dict[str, IssuedCertificate] = field(default_factory=dict)
    chains: dict[str, ChainSpec] = field(default_factory=dict)

    __test__ = False  # not a pytest test class

    def cert(self, name: str) -> x509.Certificate:
        """The certificate called ``name``."""
        return self.certificates[name].certificate

    def key(self, name: str) -> PrivateKey:
        """The private key of the certificate called ``name``."""
        return self.certificates[name].private_key

    def chain_certs(
        self, chain: str
    ) -> tuple[x509.Certificate, list[x509.Certificate], list[x509.Certificate]]:
        """``(leaf, intermediates, trust_roots)`` of a chain."""
        spec = self.chains[chain]
        return (
            self.cert(spec.leaf),
            [self.cert(n) for n in spec.intermediates],
            [self.cert(n) for n in spec.trust_roots],
        )


class _Issuer:
    """Makes certificates in one generation's style."""

    def __init__(self, version: ProtocolVersion, now: _dt.datetime, ocsp_url: str) -> None:
        self.version = version
        self.now = now
        self.ocsp_url = ocsp_url
        self.pki = TestPki(version, now, ocsp_url)

    def new_key(self, kind: str) -> PrivateKey:
        if kind == "ed448":
            return ed448.Ed448PrivateKey.generate()
        curve: ec.EllipticCurve = {
            "p256": ec.SECP256R1(),
            "p384": ec.SECP384R1(),
            "p521": ec.SECP521R1(),
        }[kind]
        return ec.generate_private_key(curve)

    def default_hash(self) -> hashes.HashAlgorithm:
        if self.version is ProtocolVersion.ISO15118_2:
            return hashes.SHA256()
        return hashes.SHA512()

    def ski(self, key: PrivateKey) -> x509.SubjectKeyIdentifier:
        public = key.public_key()
        if self.version is ProtocolVersion.ISO15118_2:
            return x509.SubjectKeyIdentifier.from_public_key(public)
        return iso20_key_identifier(public)

    def issue(
        self,
        name: str,
        cn: str,
        dc: str | None,
        key: PrivateKey,
        issuer: IssuedCertificate | None,
        *,
        ca: bool,
        path_length: int | None = None,
        key_usage: frozenset[KeyUsageBit] | None = None,
        not_before: _dt.datetime | None = None,
        not_after: _dt.datetime | None = None,
        days: int = 365,
        sign_hash: hashes.HashAlgorithm | None | str = "default",
        sign_key: PrivateKey | None = None,
        issuer_name: x509.Name | None = None,
        bc_critical: bool = True,
        basic_constraints: bool = True,
        extra: Callable[[x509.CertificateBuilder], x509.CertificateBuilder] | None = None,
    ) -> IssuedCertificate:
        attrs = [x509.NameAttribute(NameOID.COMMON_NAME, cn)]
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, "iso15118 test PKI"))
        attrs.append(x509.NameAttribute(NameOID.COUNTRY_NAME, "DE"))
        if dc is not None:
            attrs.append(x509.NameAttribute(NameOID.DOMAIN_COMPONENT, dc))
        subject = x509.Name(attrs)
        nb = not_before or (self.now - _DAY)
        na = not_after or (nb + _dt.timedelta(days=days))
        signer_key = sign_key or (issuer.private_key if issuer else key)
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer_name or (issuer.certificate.subject if issuer else subject))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(nb)
            .not_valid_after(na)
            .add_extension(self.ski(key), critical=False)
        )
        if basic_constraints:
            builder = builder.add_extension(
                x509.BasicConstraints(ca=ca, path_length=path_length if ca else None),
                critical=bc_critical,
            )
        if key_usage is not None:
            builder = builder.add_extension(_key_usage(key_usage), critical=True)
        if issuer is not None:
            builder = builder.add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(
                    self.ski(issuer.private_key)
                ),
                critical=False,
            )
            builder = builder.add_extension(
                x509.AuthorityInformationAccess(
                    [
                        x509.AccessDescription(
                            AuthorityInformationAccessOID.OCSP,
                            x509.UniformResourceIdentifier(self.ocsp_url),
                        )
                    ]
                ),
                critical=False,
            )
        if extra is not None:
            builder = extra(builder)
        if isinstance(signer_key, ed448.Ed448PrivateKey):
            algorithm: hashes.HashAlgorithm | None = None
        elif sign_hash == "default":
            algorithm = self.default_hash()
        else:
            algorithm = sign_hash  # type: ignore[assignment]
        cert = builder.sign(signer_key, algorithm)  # type: ignore[arg-type]
        issued = IssuedCertificate(name, cert, key)
        self.pki.certificates[name] = issued
        return issued


def _key_usage(bits: frozenset[KeyUsageBit]) -> x509.KeyUsage:
    def has(bit: KeyUsageBit) -> bool:
        return bit in bits

    return x509.KeyUsage(
        digital_signature=has(KeyUsageBit.DIGITAL_SIGNATURE),
        content_commitment=has(KeyUsageBit.NON_REPUDIATION),
        key_encipherment=has(KeyUsageBit.KEY_ENCIPHERMENT),
        data_encipherment=False,
        key_agreement=has(KeyUsageBit.KEY_AGREEMENT),
        key_cert_sign=has(KeyUsageBit.KEY_CERT_SIGN),
        crl_sign=has(KeyUsageBit.CRL_SIGN),
        encipher_only=False,
        decipher_only=False,
    )


_CA = frozenset({KeyUsageBit.KEY_CERT_SIGN, KeyUsageBit.CRL_SIGN})
_SIG = KeyUsageBit.DIGITAL_SIGNATURE
_LEAF_USAGE: dict[Role, frozenset[KeyUsageBit]] = {
    Role.SECC: frozenset({_SIG, KeyUsageBit.KEY_AGREEMENT}),
    Role.CONTRACT: frozenset({_SIG, KeyUsageBit.NON_REPUDIATION, KeyUsageBit.KEY_AGREEMENT}),
    Role.OEM: frozenset({_SIG, KeyUsageBit.KEY_AGREEMENT}),
    Role.CPS: frozenset({_SIG}),
}
_LEAF_DC = {Role.SECC: "CPO", Role.CONTRACT: "MO", Role.OEM: "OEM", Role.CPS: "CPS"}
# (chain name, role, root name, root DC, sub-CA prefix, sub-CA DC, leaf CN)
_CHAINS = [
    ("secc", Role.SECC, "v2g_root", "V2G", "cpo", "V2G", "SECC-DE*8AA*E0001"),
    ("cps", Role.CPS, "v2g_root", "V2G", "cps", "V2G", "CPS Leaf"),
    ("contract", Role.CONTRACT, "mo_root", "MO", "mo", "MO", "contract"),
    ("oem", Role.OEM, "oem_root", "OEM", "oem", "OEM", TEST_PCID),
]


def build_test_pki(
    version: int | ProtocolVersion = 2,
    *,
    now: _dt.datetime | None = None,
    ocsp_url: str = "http://127.0.0.1:8080/ocsp",
    broken: bool = True,
) -> TestPki:
    """Make every chain of ``version`` in memory (see the module docstring)."""
    v = ProtocolVersion.parse(version)
    when = now or _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0)
    iss = _Issuer(v, when, ocsp_url)
    kinds = ["p256"] if v is ProtocolVersion.ISO15118_2 else ["p521", "ed448"]
    emaid = TEST_EMAID_BODY + compute_check_digit(TEST_EMAID_BODY)
    for kind in kinds:
        suffix = "" if kind in ("p256", "p521") else "_ed448"
        for chain, role, root_name, root_dc, prefix, sub_dc, leaf_cn in _CHAINS:
            root_id = root_name + suffix
            if root_id not in iss.pki.certificates:
                iss.issue(
                    root_id,
                    f"{root_dc} Root CA{suffix}",
                    root_dc,
                    iss.new_key(kind),
                    None,
                    ca=True,
                    key_usage=_CA,
                    days=365 * 40,
                )
            root = iss.pki.certificates[root_id]
            sub1 = iss.issue(
                f"{prefix}_sub_ca1{suffix}",
                f"{prefix.upper()} Sub-CA 1{suffix}",
                sub_dc,
                iss.new_key(kind),
                root,
                ca=True,
                path_length=1,
                key_usage=_CA,
                days=365 * 4,
            )
            sub2 = iss.issue(
                f"{prefix}_sub_ca2{suffix}",
                f"{prefix.upper()} Sub-CA 2{suffix}",
                sub_dc,
                iss.new_key(kind),
                sub1,
                ca=True,
                path_length=0,
                key_usage=_CA,
                days=365 * 2,
            )
            cn = emaid if role is Role.CONTRACT else leaf_cn
            leaf_name = f"{chain}_leaf{suffix}"
            iss.issue(
                leaf_name,
                cn,
                _LEAF_DC[role],
                iss.new_key(kind),
                sub2,
                ca=False,
                key_usage=_LEAF_USAGE[role],
                days=730 if role is Role.CONTRACT else 365,
            )
            iss.pki.chains[chain + suffix] = ChainSpec(
                role, leaf_name, (sub2.name, sub1.name), (root.name,)
            )
    if broken:
        _add_broken(iss, kinds[0])
    return iss.pki


def _add_broken(iss: _Issuer, kind: str) -> None:
    """Each variant breaks exactly one rule of the SECC chain (or builds its own CAs)."""
    pki = iss.pki
    root = pki.certificates["v2g_root"]
    sub1 = pki.certificates["cpo_sub_ca1"]
    sub2 = pki.certificates["cpo_sub_ca2"]
    usage = _LEAF_USAGE[Role.SECC]
    normal = (sub2.name, sub1.name)
    is2 = iss.version is ProtocolVersion.ISO15118_2

    def leaf(name: str, rule: Rule, index: int = 0, **kw: Any) -> None:
        args: dict[str, Any] = {"ca": False, "key_usage": usage}
        args.update(kw)
        key = args.pop("key", None) or iss.new_key(kind)
        dc = args.pop("dc", "CPO")
        iss.issue(f"broken_{name}", f"SECC {name}", dc, key, sub2, **args)
        pki.chains[f"broken/{name}"] = ChainSpec(
            Role.SECC, f"broken_{name}", normal, (root.name,), rule, index
        )

    leaf(
        "expired_leaf",
        Rule.VALIDITY_NOT_AFTER,
        not_before=iss.now - 400 * _DAY,
        not_after=iss.now - 30 * _DAY,
    )
    leaf(
        "not_yet_valid_leaf",
        Rule.VALIDITY_NOT_BEFORE,
        not_before=iss.now + 30 * _DAY,
        not_after=iss.now + 400 * _DAY,
    )
    leaf("wrong_curve_leaf", Rule.PUBLIC_KEY, key=iss.new_key("p384" if is2 else "p256"))
    leaf(
        "wrong_signature_algorithm",
        Rule.SIGNATURE_ALGORITHM,
        sign_hash=hashes.SHA384() if is2 else hashes.SHA256(),
    )
    leaf("missing_key_usage", Rule.KEY_USAGE, key_usage=None)
    leaf("ca_flag_on_leaf", Rule.CA_FLAG, ca=True, path_length=None)
    leaf("wrong_dc", Rule.DOMAIN_COMPONENT, dc="MO")
    leaf("wrong_signature", Rule.SIGNATURE, sign_key=iss.new_key(kind))
    leaf("basic_constraints_not_critical", Rule.BASIC_CONSTRAINTS, bc_critical=False)
    leaf(
        "leaf_without_key_agreement" if is2 else "leaf_without_digital_signature",
        Rule.KEY_USAGE,
        key_usage=frozenset({_SIG}) if is2 else frozenset({KeyUsageBit.KEY_AGREEMENT}),
    )
    if is2:

        def big(b: x509.CertificateBuilder) -> x509.CertificateBuilder:
            names = [x509.DNSName(f"host{i:03d}.charger.example") for i in range(40)]
            return b.add_extension(x509.SubjectAlternativeName(names), critical=False)

        leaf("oversized_certificate", Rule.CERTIFICATE_SIZE, extra=big)

    # pathLen violation: sub-CA 1 says no sub-CA may follow, yet sub-CA 2 does.
    p1 = iss.issue(
        "broken_pathlen_sub_ca1",
        "CPO Sub-CA 1 pathlen 0",
        "V2G",
        iss.new_key(kind),
        root,
        ca=True,
        path_length=0,
        key_usage=_CA,
    )
    p2 = iss.issue(
        "broken_pathlen_sub_ca2",
        "CPO Sub-CA 2 under pathlen 0",
        "V2G",
        iss.new_key(kind),
        p1,
        ca=True,
        path_length=0,
        key_usage=_CA,
    )
    iss.issue(
        "broken_pathlen_leaf",
        "SECC pathlen",
        "CPO",
        iss.new_key(kind),
        p2,
        ca=False,
        key_usage=usage,
    )
    pki.chains["broken/path_length_violation"] = ChainSpec(
        Role.SECC, "broken_pathlen_leaf", (p2.name, p1.name), (root.name,), Rule.PATH_LENGTH, 2
    )

    # Too deep: three sub-CAs (no pathLen constraints, so only the depth rule fires).
    d1 = iss.issue(
        "broken_deep_sub_ca1",
        "Deep Sub-CA 1",
        "V2G",
        iss.new_key(kind),
        root,
        ca=True,
        key_usage=_CA,
    )
    d2 = iss.issue(
        "broken_deep_sub_ca2", "Deep Sub-CA 2", "V2G", iss.new_key(kind), d1, ca=True, key_usage=_CA
    )
    d3 = iss.issue(
        "broken_deep_sub_ca3", "Deep Sub-CA 3", "V2G", iss.new_key(kind), d2, ca=True, key_usage=_CA
    )
    iss.issue(
        "broken_deep_leaf", "SECC deep", "CPO", iss.new_key(kind), d3, ca=False, key_usage=usage
    )
    pki.chains["broken/too_deep"] = ChainSpec(
        Role.SECC,
        "broken_deep_leaf",
        (d3.name, d2.name, d1.name),
        (root.name,),
        Rule.CHAIN_DEPTH,
        3,
    )

    # A sub-CA whose keyUsage does not allow certificate signing.
    k2 = iss.issue(
        "broken_no_certsign_sub_ca2",
        "CPO Sub-CA 2 no keyCertSign",
        "V2G",
        iss.new_key(kind),
        sub1,
        ca=True,
        path_length=0,
        key_usage=frozenset({_SIG}),
    )
    iss.issue(
        "broken_no_certsign_leaf",
        "SECC under no-certsign",
        "CPO",
        iss.new_key(kind),
        k2,
        ca=False,
        key_usage=usage,
    )
    pki.chains["broken/ca_without_key_cert_sign"] = ChainSpec(
        Role.SECC,
        "broken_no_certsign_leaf",
        (k2.name, sub1.name),
        (root.name,),
        Rule.KEY_USAGE,
        1,
    )

    # A complete chain under a root that is not in the trust store.
    r = iss.issue(
        "rogue_root", "Rogue Root CA", "V2G", iss.new_key(kind), None, ca=True, key_usage=_CA
    )
    r1 = iss.issue(
        "rogue_sub_ca1",
        "Rogue Sub-CA 1",
        "V2G",
        iss.new_key(kind),
        r,
        ca=True,
        path_length=1,
        key_usage=_CA,
    )
    r2 = iss.issue(
        "rogue_sub_ca2",
        "Rogue Sub-CA 2",
        "V2G",
        iss.new_key(kind),
        r1,
        ca=True,
        path_length=0,
        key_usage=_CA,
    )
    iss.issue("rogue_leaf", "SECC rogue", "CPO", iss.new_key(kind), r2, ca=False, key_usage=usage)
    pki.chains["broken/untrusted_root"] = ChainSpec(
        Role.SECC, "rogue_leaf", (r2.name, r1.name, r.name), (root.name,), Rule.TRUST_ANCHOR, 3
    )

    # The issuer is simply not supplied.
    pki.chains["broken/missing_intermediates"] = ChainSpec(
        Role.SECC, "secc_leaf", (), (root.name,), Rule.CHAIN_BUILT, 0
    )


def create_test_pki(directory: str | Path, version: int | ProtocolVersion = 2) -> Path:
    """Write the test PKI of ``version`` below ``directory``; return the index.json path."""
    return write_test_pki(build_test_pki(version), directory)


def write_test_pki(pki: TestPki, directory: str | Path) -> Path:
    """Write ``pki`` (from :func:`build_test_pki`) below ``directory`` in the layout
    described above; return the index.json path. A test that hands the same PKI to a peer
    in its own layout (Josev's, say) writes it here too for our side."""
    base = Path(directory)
    (base / "certs").mkdir(parents=True, exist_ok=True)
    (base / "keys").mkdir(parents=True, exist_ok=True)
    certs: dict[str, Any] = {}
    for name, issued in pki.certificates.items():
        pem = issued.certificate.public_bytes(serialization.Encoding.PEM)
        (base / "certs" / f"{name}.pem").write_bytes(pem)
        (base / "certs" / f"{name}.der").write_bytes(issued.der)
        key_pem = issued.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        key_path = base / "keys" / f"{name}.key.pem"
        key_path.write_bytes(key_pem)
        key_path.chmod(0o600)
        certs[name] = {
            "pem": f"certs/{name}.pem",
            "der": f"certs/{name}.der",
            "key": f"keys/{name}.key.pem",
            "subject": issued.certificate.subject.rfc4514_string(),
            "sha256": hashlib.sha256(issued.der).hexdigest(),
        }
    chains: dict[str, Any] = {}
    for name, spec in pki.chains.items():
        expect: Any = "valid"
        if spec.expect_rule is not None:
            expect = {"rule": spec.expect_rule.value, "certificate": spec.expect_index}
        chains[name] = {
            "role": spec.role.value,
            "leaf": spec.leaf,
            "intermediates": list(spec.intermediates),
            "trust_roots": list(spec.trust_roots),
            "expect": expect,
        }
    index = {
        "version": pki.version.value,
        "generated_at": pki.generated_at.isoformat(),
        "ocsp_url": pki.ocsp_url,
        "warning": "TEST PKI: unencrypted keys, never use outside tests",
        "certificates": certs,
        "chains": chains,
    }
    path = base / "index.json"
    path.write_text(json.dumps(index, indent=2, sort_keys=True) + "\n")
    return path


def secc_tls_files(directory: str | Path) -> tuple[Path, Path, Path]:
    """The TLS files of the SECC in a test PKI written by :func:`create_test_pki`: its
    certificate chain as TLS sends it (leaf, then the sub-CAs; written as
    ``secc_chain.pem``), its private key, and the V2G root a vehicle trusts."""
    return _tls_files(Path(directory), "secc")


def vehicle_tls_files(directory: str | Path) -> tuple[Path, Path, Path]:
    """The ISO 15118-20 TLS files of the vehicle in a test PKI: its certificate chain (the
    OEM provisioning chain, which -20's mutual authentication presents; written as
    ``oem_chain.pem``), its private key, and the OEM root a charger trusts it by."""
    return _tls_files(Path(directory), "oem")


def _tls_files(base: Path, chain_name: str) -> tuple[Path, Path, Path]:
    index = json.loads((base / "index.json").read_text())
    chain, certs = index["chains"][chain_name], index["certificates"]
    chain_file = base / f"{chain_name}_chain.pem"
    chain_file.write_bytes(b"".join((base / certs[name]["pem"]).read_bytes()
                                    for name in [chain["leaf"], *chain["intermediates"]]))
    root = base / certs[chain["trust_roots"][0]]["pem"]
    return chain_file, base / certs[chain["leaf"]]["key"], root
