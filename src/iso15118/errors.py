"""The library's exception hierarchy.

:class:`Iso15118Error` is the one class callers catch for any bad input. Codec errors
from :mod:`exi_codec` are re-raised as the matching subclasses below, which also derive
from the codec's own classes, so ``except exi_codec.ExiError`` keeps working.
"""

from __future__ import annotations

from exi_codec.errors import DecodeError as _ExiDecodeError
from exi_codec.errors import EncodeError as _ExiEncodeError
from exi_codec.errors import ExiError


class Iso15118Error(Exception):
    """Base class of every error raised by :mod:`iso15118`."""


class MessageEncodeError(Iso15118Error, _ExiEncodeError):
    """A message cannot be encoded: a facet, a missing field or a wrong type (see ``path``)."""


class MessageDecodeError(Iso15118Error, _ExiDecodeError):
    """Bytes are not a valid EXI message of the protocol (see ``bit_offset``, ``position``)."""


class ValidationError(Iso15118Error, ExiError):
    """A message violates its schema (facets, cardinality, choice)."""


def wrap_codec_error(exc: ExiError) -> Iso15118Error:
    """Turn a codec error into the library's hierarchy, keeping its location fields."""
    if isinstance(exc, Iso15118Error):
        return exc
    if isinstance(exc, _ExiDecodeError):
        new: Iso15118Error = MessageDecodeError.__new__(MessageDecodeError)
        Exception.__init__(new, *exc.args)
        new.bit_offset = exc.bit_offset  # type: ignore[attr-defined]
        new.position = exc.position  # type: ignore[attr-defined]
        return new
    if isinstance(exc, _ExiEncodeError):
        new = MessageEncodeError.__new__(MessageEncodeError)
        Exception.__init__(new, *exc.args)
        new.path = exc.path  # type: ignore[attr-defined]
        return new
    new = ValidationError(str(exc))
    return new
