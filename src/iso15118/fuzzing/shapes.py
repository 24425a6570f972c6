"""Structural shapes of a typed message: empty choices and arrays at their bounds.

These change a message object, not its bytes, and the result is written by the codec, so
what reaches the target is a well-formed EXI stream of an unusual shape (the kind that hit
an assert or an unchecked array index in other stacks: CVE-2025-68134, an empty -20
control-mode choice; CVE-2025-68141, an optional array). What the grammar cannot carry at
all (an item past a bounded ``maxOccurs``; see :mod:`iso15118.testing.lenient`) is not
offered: the nearest shape is the array *at* its bound.
"""

from __future__ import annotations

import copy
import dataclasses
import types
import typing
from collections.abc import Iterator
from typing import Any

from iso15118 import codec
from iso15118.errors import Iso15118Error

__all__ = ["Shape", "apply_shape", "shapes"]

Path = tuple[str, ...]
#: the longest array we try to grow to when looking for its bound
_MAX_ITEMS = 64
_DEPTH = 4


@dataclasses.dataclass(frozen=True)
class Shape:
    """One structural change: ``kind`` ("empty-choice", "array-empty", "array-bound") of
    the field at ``path`` (attribute names from the body down), with its ``value``."""

    kind: str
    path: Path
    value: Any

    @property
    def site(self) -> str:
        return "/".join(self.path)


def _fields(obj: Any) -> list[str]:
    slots = getattr(type(obj), "__slots__", None)
    if dataclasses.is_dataclass(obj):
        return [f.name for f in dataclasses.fields(obj)]
    if slots:
        return [s for s in slots if not s.startswith("_")]
    return [k for k in vars(obj) if not k.startswith("_")] if hasattr(obj, "__dict__") else []


def _union_members(cls: type, name: str) -> tuple[type, ...]:
    try:
        hints = typing.get_type_hints(cls.__init__)  # type: ignore[misc]
    except Exception:  # noqa: BLE001 - forward references the module cannot resolve
        return ()
    hint = hints.get(name)
    if hint is None:
        return ()
    args = typing.get_args(hint)
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return tuple(a for a in args if isinstance(a, type) and a is not type(None))
    return ()


def _empty(cls: type) -> Any | None:
    try:
        return cls()
    except TypeError:
        return None


def _walk(obj: Any, path: Path, depth: int) -> Iterator[tuple[Path, Any, Any]]:
    """(path, owner, value) of every field below ``obj``."""
    if depth > _DEPTH:
        return
    for name in _fields(obj):
        value = getattr(obj, name, None)
        yield (*path, name), obj, value
        if isinstance(value, list):
            if value and not isinstance(value[0], (bytes, str, int, float, bool)):
                yield from _walk(value[0], (*path, name, "0"), depth + 1)
        elif value is not None and not isinstance(value, (bytes, str, int, float, bool)) \
                and _fields(value):
            yield from _walk(value, (*path, name), depth + 1)


def _encodes(message: Any, grammar: str) -> bool:
    try:
        codec.encode(message, grammar)
    except (Iso15118Error, TypeError, ValueError, AttributeError):
        return False
    return True


def shapes(message: Any, body: Any, grammar: str) -> list[Shape]:
    """Every shape the codec can still write for ``body`` inside ``message``."""
    out: list[Shape] = []
    for path, owner, value in _walk(body, (), 0):
        name = path[-1]
        if isinstance(value, list) and value:
            item = value[0]
            if _encodes(apply_shape(message, body, Shape("array-empty", path, [])), grammar):
                out.append(Shape("array-empty", path, []))
            n = len(value)
            best = None
            while n < _MAX_ITEMS:
                n = min(_MAX_ITEMS, n * 2)
                trial = Shape("array-bound", path, [copy.deepcopy(item) for _ in range(n)])
                if not _encodes(apply_shape(message, body, trial), grammar):
                    break
                best = trial
            if best is not None:
                out.append(best)
            continue
        if value is None or isinstance(value, (bytes, str, int, float, bool, list)):
            continue
        for member in _union_members(type(owner), name):
            empty = None if member is type(value) else _empty(member)
            if empty is None or any(getattr(empty, f, None) not in (None, [])
                                    for f in _fields(empty)):
                continue
            shaped = Shape("empty-choice", path, empty)
            if _encodes(apply_shape(message, body, shaped), grammar):
                out.append(shaped)
                break
    return out


def apply_shape(message: Any, body: Any, shape: Shape) -> Any:
    """A deep copy of ``message`` whose ``body`` has ``shape`` applied."""
    out = copy.deepcopy(message)
    target = _find_body(out, body)
    for name in shape.path[:-1]:
        target = target[int(name)] if name.isdigit() else getattr(target, name)
    setattr(target, shape.path[-1], copy.deepcopy(shape.value))
    return out


def _find_body(message: Any, body: Any) -> Any:
    """The copy of ``body`` inside the copied ``message`` (found by type)."""
    if type(message) is type(body):
        return message
    for _path, _owner, value in _walk(message, (), 0):
        if type(value) is type(body):
            return value
    raise Iso15118Error(f"{type(body).__name__} not found in {type(message).__name__}")
