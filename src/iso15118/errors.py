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
        return MessageDecodeError(exc.reason, exc.bit_offset, exc.position)
    if isinstance(exc, _ExiEncodeError):
        return MessageEncodeError(exc.reason, exc.path)
    return ValidationError(str(exc))
