"""Base class of the objects the codec reads and writes, and the value of a nil element.

A model class has one attribute per member of its complex type (attributes, child
elements, simple content ``value`` or ordered ``children``) and class-level metadata
(``_exi_members``) that keeps the XSD names, so XML and JSON conversion is lossless.
The generic codec creates these classes at run time; :mod:`iso15118.messages`
generates typed ones from the same compiled schema (with required keyword arguments
where the schema requires a member).

The compiled core fills instances behind ``__init__`` (it allocates them and sets the
slots), which is why a non-strict decode can hand back an object whose required member
is ``None``: the stream left it out. :meth:`Model.construct` is the same path for
Python code (test generators, converters): no required-field check.
"""

from __future__ import annotations

from typing import Any, ClassVar, TypeVar

T = TypeVar("T", bound="Model")


class Nil:
    """An element that the stream marked ``xsi:nil="true"`` (EXI 1.0, 8.5.4.4.1).

    Distinct from an absent element (``None``) so that XML, JSON and re-encoding give
    back what the stream said. A nil element of a complex type may still carry its
    attributes; they are in ``attributes`` (a model object whose content is unset).
    Non-strict decoding accepts nil on any element, as the EXI spec allows; strict
    decoding only where the schema declares the element nillable.
    """

    __slots__ = ("attributes",)

    def __init__(self, attributes: Model | None = None) -> None:
        self.attributes = attributes

    def __eq__(self, other: object) -> bool:
        if type(other) is not Nil:
            return NotImplemented
        return self.attributes == other.attributes

    def __hash__(self) -> int:  # as hashable as its attributes (a Model object is not)
        return hash((Nil, self.attributes))

    def __repr__(self) -> str:
        return "Nil()" if self.attributes is None else f"Nil({self.attributes!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (Nil, (self.attributes,))


NIL = Nil()


class Model:
    """A value of a complex type: plain attributes, compared by value."""

    __slots__ = ()
    _exi_name: ClassVar[str] = ""
    _exi_namespace: ClassVar[str] = ""
    # (python name, xml local name, kind, is_list, namespace) per member
    _exi_members: ClassVar[tuple[tuple[str, str, int, bool, str], ...]] = ()
    # python names of the members the schema requires (minOccurs >= 1, outside choices)
    _exi_required: ClassVar[tuple[str, ...]] = ()

    def __init__(self, **kwargs: Any) -> None:
        for name, _xml, _kind, is_list, _ns in self._exi_members:
            object.__setattr__(self, name, kwargs.pop(name, [] if is_list else None))
        if kwargs:
            raise TypeError(f"{type(self).__name__} has no field(s) {', '.join(kwargs)}")

    @classmethod
    def construct(cls: type[T], **fields: Any) -> T:
        """An instance with ``fields`` set and every other member None (lists empty),
        without the required-field check of ``__init__``: what a non-strict decode of
        a stream that leaves members out produces. Encoding still refuses it."""
        obj = cls.__new__(cls)
        for name, _xml, _kind, is_list, _ns in cls._exi_members:
            object.__setattr__(obj, name, fields.pop(name, [] if is_list else None))
        if fields:
            raise TypeError(f"{cls.__name__} has no field(s) {', '.join(fields)}")
        return obj

    def replace(self: T, **changes: Any) -> T:
        """A copy with ``changes`` applied (like :func:`dataclasses.replace`; shallow)."""
        obj = type(self).__new__(type(self))
        for m in self._exi_members:
            object.__setattr__(obj, m[0], changes.pop(m[0]) if m[0] in changes
                               else getattr(self, m[0]))
        if changes:
            raise TypeError(f"{type(self).__name__} has no field(s) {', '.join(changes)}")
        return obj

    __replace__ = replace  # copy.replace() (Python 3.13)

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
        "__match_args__": tuple(m[0] for m in members),
        "_exi_name": name,
        "_exi_namespace": namespace,
        "_exi_members": members,
    }
    return type(name, (Model,), ns)
