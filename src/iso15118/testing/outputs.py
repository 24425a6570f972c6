"""Every output path a decoded value can take, as callables: for totality checks.

The contract of :mod:`iso15118.codec` and the summaries is that a value the decoder
returns either renders or raises :class:`iso15118.Iso15118Error`. ``fuzz/outputs.py``
(the campaign) and the test suite drive decoded values through the same list, so a path
added here is checked by both.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from iso15118 import codec, summary

__all__ = ["render_paths"]


def render_paths(protocol: str, element: str, value: Any) -> list[tuple[str, Callable[[], Any]]]:
    """(name, render) for XML, JSON (as UTF-8, as written to a file), the key-value
    summary line and the message name of one decoded value."""
    return [
        ("xml", lambda: codec.to_xml(value, protocol, element=element)),
        ("json", lambda: codec.to_json(value, protocol, element=element).encode("utf-8")),
        ("summary", lambda: " ".join(f"{k}={v}" for k, v in summary.key_values(value)
                                     ).encode("utf-8")),
        ("name", lambda: summary.message_name(protocol, element, value)),
    ]
