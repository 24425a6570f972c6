"""Base class of the objects the codec reads and writes.

A model class has one attribute per member of its complex type (attributes, child
elements, simple content ``value`` or ordered ``children``) and class-level metadata
(``_exi_members``) that keeps the XSD names, so XML and JSON conversion is lossless.
The generic codec creates these classes at run time; :mod:`iso15118.messages`
generates typed ones from the same compiled schema.
"""

from __future__ import annotations

from typing import Any, ClassVar


class Model:
    """A value of a complex type: plain attributes, compared by value."""

    __slots__ = ()
    _exi_type: ClassVar[int] = -1
    _exi_name: ClassVar[str] = ""
    _exi_namespace: ClassVar[str] = ""
    # (python name, xml local name, kind, is_list, namespace) per member
    _exi_members: ClassVar[tuple[tuple[str, str, int, bool, str], ...]] = ()

    def __init__(self, **kwargs: Any) -> None:
        for name, _xml, _kind, is_list, _ns in self._exi_members:
            object.__setattr__(self, name, kwargs.pop(name, [] if is_list else None))
        if kwargs:
            raise TypeError(f"{type(self).__name__} has no field(s) {', '.join(kwargs)}")

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return all(
            getattr(self, m[0]) == getattr(other, m[0]) for m in self._exi_members
        )

    def __hash__(self) -> int:  # mutable value objects
        raise TypeError(f"unhashable type: {type(self).__name__}")

    def __repr__(self) -> str:
        parts = []
        for m in self._exi_members:
            v = getattr(self, m[0], None)
            if v is None or (m[3] and v == []):
                continue
            parts.append(f"{m[0]}={v!r}")
        return f"{type(self).__name__}({', '.join(parts)})"


def make_class(name: str, type_id: int, namespace: str,
               members: tuple[tuple[str, str, int, bool, str], ...]) -> type[Model]:
    """A model class for a complex type (used by the generic codec)."""
    ns: dict[str, Any] = {
        "__slots__": tuple(m[0] for m in members),
        "_exi_type": type_id,
        "_exi_name": name,
        "_exi_namespace": namespace,
        "_exi_members": members,
    }
    return type(name, (Model,), ns)
