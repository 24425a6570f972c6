"""Exceptions of the EXI codec.

Every failure on bad input surfaces as a subclass of :class:`ExiError`, never as a
crash or a bare ``IndexError``: decoders of this format face untrusted bytes from the
network, and callers need one type to catch.
"""

from __future__ import annotations


class ExiError(Exception):
    """Base class of every error raised by :mod:`exi_codec`."""


class SchemaError(ExiError):
    """The XSDs could not be turned into EXI grammars (unsupported or invalid schema)."""


class EncodeError(ExiError):
    """A value or structure cannot be encoded; ``path`` names the offending field."""

    def __init__(self, message: str, path: str = "") -> None:
        self.reason = message
        self.path = path
        super().__init__(f"{path}: {message}" if path else message)

    def add_parent(self, name: str) -> None:
        """Prefix the path with an enclosing element while the error unwinds.

        The encoder builds paths only when something fails, so that the common,
        successful case pays nothing for them.
        """
        self.path = f"{name}/{self.path}" if self.path else name
        self.args = (f"{self.path}: {self.reason}",)


class DecodeError(ExiError):
    """The EXI stream is malformed or does not match the grammar.

    ``bit_offset`` is where in the stream the problem was found and ``position``
    the grammar position (element path and state), so a bad capture can be located.
    """

    def __init__(self, message: str, bit_offset: int = -1, position: str = "") -> None:
        self.reason = message
        self.bit_offset = bit_offset
        self.position = position
        super().__init__(self._text())

    def _text(self) -> str:
        where = []
        if self.bit_offset >= 0:
            where.append(f"bit {self.bit_offset}")
        if self.position:
            where.append(self.position)
        return f"{self.reason} ({', '.join(where)})" if where else self.reason

    def set_position(self, position: str) -> None:
        """Fill in the grammar position once decoding has unwound (it is known there)."""
        self.position = position
        self.args = (self._text(),)
