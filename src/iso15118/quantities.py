"""Numbers in and out of the scaled integers the messages carry.

DIN 70121 and ISO 15118-2 send a ``PhysicalValueType`` (Value x 10^Multiplier, with a
unit); ISO 15118-20 a ``RationalNumberType`` (Value x 10^Exponent). Every integrator
needs the number on every charge-loop message, and getting the scale wrong is a
factor-of-ten bug on the wire, so the generated classes of those types carry these
mixins: ``float(v)``, ``v.to_decimal()`` and ``Cls.from_number(x, unit)``.

The ranges come from the XSDs through the generated classes (``_scale_range``,
``_value_range``): Multiplier -3..3 (DIN, -2), Exponent -128..127 (-20), Value int16.
A number that no (scale, value) pair represents exactly is refused with
:class:`UnrepresentableValueError` unless the caller names a rounding mode: rounding is a
decision the caller makes, never a silent one.
"""

from __future__ import annotations

import decimal
from decimal import Decimal
from enum import Enum
from typing import Any, ClassVar, TypeVar

from iso15118.errors import Iso15118Error

__all__ = ["ScaledNumber", "UnrepresentableValueError", "to_decimal_exact"]

T = TypeVar("T", bound="ScaledNumber")


class UnrepresentableValueError(Iso15118Error, ValueError):
    """A number that the message's scaled-integer type cannot carry (exactly)."""


def to_decimal_exact(number: int | float | Decimal | str) -> Decimal:
    """The decimal a caller means: floats by their shortest repr (``0.1`` is 0.1)."""
    if isinstance(number, bool):
        raise UnrepresentableValueError("a boolean is not a quantity")
    if isinstance(number, float):
        d = Decimal(repr(number))
    elif isinstance(number, (int, Decimal, str)):
        try:
            d = Decimal(number)
        except decimal.InvalidOperation:
            raise UnrepresentableValueError(f"not a number: {number!r}") from None
    else:
        raise UnrepresentableValueError(f"not a number: {type(number).__name__}")
    if not d.is_finite():
        raise UnrepresentableValueError(f"not a finite number: {number!r}")
    return d


def pick_scale(number: Decimal, scale_range: tuple[int, int], value_range: tuple[int, int],
               rounding: str | None = None) -> tuple[int, int]:
    """(scale, value) with ``value * 10**scale == number``.

    Exact representations are preferred with the scale nearest to zero (``230`` V is
    230 x 10^0, ``400.5`` V is 4005 x 10^-1, ``350000`` W is 3500 x 10^2). With
    ``rounding`` (a :mod:`decimal` mode such as ``decimal.ROUND_HALF_EVEN``) an inexact
    number takes the finest scale whose rounded value fits.

    Computed from the number's digits rather than by trying each scale: -20's
    RationalNumber has 256 scales, and trying them cost about 0.3 ms per value, most of a
    charge-loop message's handling.
    """
    lo, hi = scale_range
    vlo, vhi = value_range
    exact = _exact_scale(number, lo, hi, vlo, vhi)
    if exact is not None:
        return exact
    if rounding is not None:
        with decimal.localcontext() as ctx:
            ctx.prec = 200
            ctx.Emax = 10_000
            ctx.Emin = -10_000
            # below scale adjusted - width every value has more digits than the range
            width = len(str(max(abs(vlo), abs(vhi))))
            start = lo if number.is_zero() else max(lo, number.adjusted() - width)
            for s in range(start, hi + 1):
                v = number.scaleb(-s).to_integral_value(rounding=rounding)
                if vlo <= v <= vhi:
                    return s, int(v)
    detail = "exactly " if rounding is None else ""
    raise UnrepresentableValueError(
        f"{number} cannot be written {detail}as Value x 10^scale with Value in "
        f"{vlo}..{vhi} and scale in {lo}..{hi}"
        + ("" if rounding is not None else " (pass rounding= to round)"))


def _exact_scale(number: Decimal, lo: int, hi: int, vlo: int, vhi: int
                 ) -> tuple[int, int] | None:
    """The exact (scale, value) with the scale nearest to zero (the negative one first on a
    tie), or None. ``number`` is ``coefficient x 10^exponent`` with no trailing zero in the
    coefficient: a scale above that exponent leaves a fraction, and each lower one makes
    the value ten times larger, so only a few scales can fit; those are tried in order."""
    sign, digits, exponent = number.as_tuple()
    assert isinstance(exponent, int)  # finite: to_decimal_exact made sure
    coefficient = int("".join(map(str, digits)))
    if coefficient == 0:
        if not vlo <= 0 <= vhi:
            return None
        nearest = min(range(lo, hi + 1), key=lambda s: (abs(s), s), default=None)
        return None if nearest is None else (nearest, 0)
    while coefficient % 10 == 0:
        coefficient //= 10
        exponent += 1
    largest = max(abs(vlo), abs(vhi))
    spare = -1  # how many zeros the coefficient can take and stay within the range
    while coefficient * 10 ** (spare + 1) <= largest:
        spare += 1
    if sign:
        coefficient = -coefficient
    first, last = max(lo, exponent - spare), min(hi, exponent)
    for s in sorted(range(first, last + 1), key=lambda s: (abs(s), s)):
        v = coefficient * 10 ** (exponent - s)
        if vlo <= v <= vhi:
            return s, v
    return None


class ScaledNumber:
    """Mixin of the generated PhysicalValueType / RationalNumberType classes."""

    __slots__ = ()
    _scale_field: ClassVar[str] = "multiplier"
    _scale_range: ClassVar[tuple[int, int]] = (-3, 3)
    _value_range: ClassVar[tuple[int, int]] = (-32768, 32767)
    _unit_enum: ClassVar[type[Enum] | None] = None

    def to_decimal(self) -> Decimal:
        """The exact value (``Value x 10^scale``) as a :class:`decimal.Decimal`."""
        scale = getattr(self, self._scale_field)
        value = getattr(self, "value")  # noqa: B009 (a slot of the generated class)
        if not isinstance(value, int) or not isinstance(scale, int):
            raise UnrepresentableValueError(
                f"{type(self).__name__} has no number (value={value!r}, "
                f"{self._scale_field}={scale!r})")
        return Decimal(value).scaleb(scale)

    def __float__(self) -> float:
        return float(self.to_decimal())

    @classmethod
    def from_number(cls: type[T], number: int | float | Decimal | str, unit: Any = None, *,
                    rounding: str | None = None) -> T:
        """The value of ``number`` (with ``unit`` where the type has one).

        Refuses a number that cannot be represented exactly unless ``rounding`` names
        a :mod:`decimal` rounding mode; the unit is given as the enum member or its
        schema value (``"V"``, ``"A"``, ``"W"``, ``"Wh"``, ...).
        """
        scale, value = pick_scale(to_decimal_exact(number), cls._scale_range,
                                  cls._value_range, rounding)
        fields: dict[str, Any] = {cls._scale_field: scale, "value": value}
        if cls._unit_enum is not None:
            if unit is None:
                if "unit" in getattr(cls, "_exi_required", ()):
                    raise UnrepresentableValueError(f"{cls.__name__} needs a unit")
            else:
                try:
                    unit = cls._unit_enum(unit)
                except ValueError:
                    raise UnrepresentableValueError(
                        f"{unit!r} is not a unit of {cls.__name__} (one of "
                        f"{', '.join(str(u.value) for u in cls._unit_enum)})") from None
            fields["unit"] = unit
        elif unit is not None:
            raise UnrepresentableValueError(f"{cls.__name__} carries no unit")
        return cls(**fields)
