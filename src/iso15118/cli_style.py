"""Colours for the ``iso15118`` CLI: on a terminal only, never in pipes or files.

Output that a script or a file receives must be plain text, so colour is decided per
stream: only when that stream is a terminal, ``NO_COLOR`` is unset (no-color.org) and
``TERM`` is not ``dumb``. ``FORCE_COLOR`` turns it on regardless, for tests and for
pagers such as ``less -R``.
"""

from __future__ import annotations

import os
from typing import Final, TextIO

__all__ = ["Style", "style_for"]

_CODES: Final = {"bold": "1", "dim": "2", "red": "31", "green": "32", "yellow": "33",
                 "blue": "34", "magenta": "35", "cyan": "36"}


def _wants_colour(stream: TextIO) -> bool:
    if os.environ.get("FORCE_COLOR"):
        return True
    if os.environ.get("NO_COLOR") is not None or os.environ.get("TERM") == "dumb":
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


class Style:
    """Wraps text in ANSI colour codes when enabled, returns it unchanged otherwise."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled

    def __call__(self, text: str, *styles: str) -> str:
        if not self.enabled or not styles:
            return text
        codes = ";".join(_CODES[s] for s in styles)
        return f"\x1b[{codes}m{text}\x1b[0m"


def style_for(stream: TextIO) -> Style:
    return Style(_wants_colour(stream))
