"""Primitive steps on single certificates: loading, key type, signature check, names.

These are the building blocks :mod:`iso15118.pki.chain` composes; they are public so that
callers (and the XML signature layer) can use the same definitions, e.g. "verify this
signature with the key of that certificate" for an EXI-encoded SignedInfo.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448
from cryptography.x509.oid import NameOID

from iso15118.pki.errors import CertificateLoadError
from iso15118.pki.profiles import Curve

_PEM_MARKER = b"-----BEGIN CERTIFICATE-----"


def load_certificate(data: bytes) -> x509.Certificate:
    """Parse one certificate from PEM or DER bytes, every field of it.

    cryptography parses names, extensions and the public key lazily, on first use, so a
    damaged field would otherwise surface later, inside validation, as one of its own
    exceptions. Certificates come from the network (messages, TLS peers): they are
    checked here, once, and any damage is a :class:`CertificateLoadError`.
    """
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            cert = x509.load_pem_x509_certificate(data)
        else:
            cert = x509.load_der_x509_certificate(data)
    except (ValueError, TypeError, x509.InvalidVersion) as exc:
        raise CertificateLoadError(f"not an X.509 certificate: {exc}") from exc
    return parsed(cert)


def parsed(cert: x509.Certificate) -> x509.Certificate:
    """``cert`` after touching every field validation reads (see :func:`load_certificate`)."""
    try:
        cert.version  # noqa: B018  (lazy: raises InvalidVersion)
        for name in (cert.subject, cert.issuer):
            for attr in name:
                attr.value  # noqa: B018
        for ext in cert.extensions:
            ext.value  # noqa: B018
        cert.public_key()
        cert.signature_algorithm_oid  # noqa: B018
        cert.not_valid_before_utc  # noqa: B018
        cert.not_valid_after_utc  # noqa: B018
    except (ValueError, KeyError, TypeError, x509.InvalidVersion, UnsupportedAlgorithm,
            x509.DuplicateExtension, x509.UnsupportedGeneralNameType) as exc:
        raise CertificateLoadError(
            f"damaged X.509 certificate: {type(exc).__name__}: {exc}") from exc
    return cert


def load_certificates(data: bytes) -> list[x509.Certificate]:
    """Parse every certificate of a PEM bundle, or the single certificate of DER bytes."""
    if _PEM_MARKER in data:
        try:
            certs = x509.load_pem_x509_certificates(data)
        except (ValueError, TypeError, x509.InvalidVersion) as exc:
            raise CertificateLoadError(f"bad PEM certificate bundle: {exc}") from exc
        return [parsed(c) for c in certs]
    return [load_certificate(data)]


def load_certificate_files(paths: Iterable[str | Path]) -> list[x509.Certificate]:
    """Read certificates from files (PEM bundles or DER), in the order given."""
    out: list[x509.Certificate] = []
    for path in paths:
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            raise CertificateLoadError(f"cannot read {path}: {exc}") from exc
        out.extend(load_certificates(data))
    return out


def load_private_key(data: bytes, password: bytes | None = None) -> object:
    """Parse a PEM or DER private key (PKCS#8 or SEC1)."""
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            return serialization.load_pem_private_key(data, password)
        return serialization.load_der_private_key(data, password)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise CertificateLoadError(f"not a private key: {exc}") from exc


def curve_of(public_key: object) -> Curve | None:
    """The profile curve of a public key, or None for any key type outside both PKIs."""
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        if isinstance(public_key.curve, ec.SECP256R1):
            return Curve.SECP256R1
        if isinstance(public_key.curve, ec.SECP521R1):
            return Curve.SECP521R1
        return None
    if isinstance(public_key, ed448.Ed448PublicKey):
        return Curve.ED448
    return None


def describe_key(public_key: object) -> str:
    """A short human name of a public key type, for verdict details."""
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        return f"EC {public_key.curve.name}"
    return type(public_key).__name__.replace("PublicKey", "").lstrip("_")


def signature_is_valid(cert: x509.Certificate, issuer_public_key: object) -> bool:
    """Whether ``cert``'s signature verifies under ``issuer_public_key``.

    Only the key types of the two profiles are supported; any other key type (RSA, Ed25519,
    ...) yields False rather than an exception, since such a key cannot sign a valid link.
    """
    try:
        if isinstance(issuer_public_key, ec.EllipticCurvePublicKey):
            algorithm = cert.signature_hash_algorithm
            if algorithm is None:
                return False
            issuer_public_key.verify(
                cert.signature, cert.tbs_certificate_bytes, ec.ECDSA(algorithm)
            )
            return True
        if isinstance(issuer_public_key, ed448.Ed448PublicKey):
            issuer_public_key.verify(cert.signature, cert.tbs_certificate_bytes)
            return True
    except (InvalidSignature, UnsupportedAlgorithm, ValueError, TypeError):
        return False
    return False


def is_self_signed(cert: x509.Certificate) -> bool:
    """Subject equals issuer and the certificate's own key verifies its signature."""
    return cert.subject == cert.issuer and signature_is_valid(cert, cert.public_key())


def domain_components(name: x509.Name) -> list[str]:
    """All DC (0.9.2342.19200300.100.1.25) values of a name, in order."""
    return [str(a.value) for a in name.get_attributes_for_oid(NameOID.DOMAIN_COMPONENT)]


def common_name(cert: x509.Certificate) -> str | None:
    """The first CN of the subject, or None."""
    attrs = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(attrs[0].value) if attrs else None


def fingerprint_sha256(cert: x509.Certificate) -> str:
    """Hex SHA-256 over the DER encoding."""
    return cert.fingerprint(hashes.SHA256()).hex()


def der_of(cert: x509.Certificate) -> bytes:
    """The DER encoding of a certificate."""
    return cert.public_bytes(serialization.Encoding.DER)


def subject_key_identifier(cert: x509.Certificate) -> bytes | None:
    """The SKI extension value, or None when absent."""
    try:
        ext = cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
    except x509.ExtensionNotFound:
        return None
    return ext.value.digest


def iso20_key_identifier(public_key: object) -> x509.SubjectKeyIdentifier:
    """The subjectKeyIdentifier a -20 certificate carries: -20 sends the SKI as 16 hex
    characters in the contract key's AAD [V2G20-2492], so it is RFC 5280 4.2.1.2 method
    (2): 0100 followed by the low 60 bits of the SHA-1 key hash (8 bytes)."""
    sha1 = x509.SubjectKeyIdentifier.from_public_key(public_key).digest  # type: ignore[arg-type]
    low = bytearray(sha1[-8:])
    low[0] = 0x40 | (low[0] & 0x0F)
    return x509.SubjectKeyIdentifier(bytes(low))
