"""Errors of the XML signature layer: one class per failing step, all :class:`SignatureError`.

Callers that only need "valid or not" catch :class:`SignatureError`; the subclasses and
the ``step``/``reference`` attributes say which step failed for which reference, which is
what an SECC has to log when it answers ``FAILED_SignatureError``.
"""

from __future__ import annotations

from iso15118.errors import Iso15118Error


class SignatureError(Iso15118Error):
    """A signature could not be made or does not verify.

    ``step`` names the failing step (``signature``, ``algorithm``, ``reference``,
    ``digest``, ``coverage``, ``signed-info``, ``signature-value``, ``key``) and
    ``reference`` the URI of the reference concerned, if any.
    """

    step = "signature"

    def __init__(self, message: str, *, reference: str | None = None) -> None:
        super().__init__(message)
        self.reference = reference


class NoSignatureError(SignatureError):
    """The message has no header or no ``Signature`` in it."""

    step = "signature"


class UnsupportedAlgorithmError(SignatureError):
    """An algorithm URI (canonicalization, transform, digest, signature) is not supported."""

    step = "algorithm"


class ReferenceNotFoundError(SignatureError):
    """A reference URI names no element of the message (or more than one)."""

    step = "reference"


class DigestMismatchError(SignatureError):
    """A referenced element's EXI fragment does not hash to the signed DigestValue."""

    step = "digest"


class UnsignedElementError(SignatureError):
    """An element of the message carries an ``Id`` but no reference covers it."""

    step = "coverage"


class SignatureValueError(SignatureError):
    """The SignatureValue is malformed or does not verify over SignedInfo with the key."""

    step = "signature-value"
