"""Typed errors of :mod:`iso15118.pki`.

A chain that fails a profile rule is *not* an error: :func:`~iso15118.pki.validate_chain`
returns a :class:`~iso15118.pki.ChainVerdict` for that. Errors are for input that cannot be
processed at all (bytes that are not a certificate, a ciphertext of the wrong length, an OCSP
response that is not signed by whom it must be) and for cryptographic checks whose failure
must stop the caller (a contract key that does not match its certificate, [V2G2-823]).
"""

from __future__ import annotations

from iso15118.errors import Iso15118Error


class PkiError(Iso15118Error):
    """Base class of every error raised by :mod:`iso15118.pki`."""


class CertificateLoadError(PkiError):
    """Bytes or a file that do not hold a parseable X.509 certificate or private key."""


class EmaidError(PkiError):
    """A string that is not an eMAID in the syntax of ISO 15118-2 Annex H."""


class OcspError(PkiError):
    """An OCSP request cannot be built, or an OCSP response cannot be trusted or read."""


class KeyInstallationError(PkiError):
    """The contract private key of a CertificateInstallationRes/UpdateRes cannot be used.

    Raised for malformed fields (lengths, points), failed authenticated decryption
    ([V2G20-2504]) and a decrypted key that does not belong to the contract certificate
    ([V2G2-823], [V2G20-2507], [V2G20-2510]).
    """
