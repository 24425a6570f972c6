"""PhysicalValue (DIN, -2) and RationalNumber (-20) to and from Python numbers, exactly.

The edges are the XSD's: Multiplier -3..3 and Exponent -128..127, Value int16.
"""

from __future__ import annotations

import decimal
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from iso15118 import codec
from iso15118.messages import din, iso2, iso20_types
from iso15118.quantities import UnrepresentableValueError, pick_scale

INT16_EDGES = (-32768, -32767, -1, 0, 1, 32766, 32767)


@pytest.mark.parametrize("cls", [iso2.PhysicalValueType, din.PhysicalValueType])
@pytest.mark.parametrize("multiplier", range(-3, 4))
@pytest.mark.parametrize("value", INT16_EDGES)
def test_physical_values_round_trip_at_the_edges(cls: type, multiplier: int, value: int) -> None:
    exact = Decimal(value).scaleb(multiplier)
    pv = cls.from_number(exact, "V")
    assert pv.to_decimal() == exact
    assert float(pv) == float(exact)
    assert pv.unit == cls._unit_enum("V")
    assert -3 <= pv.multiplier <= 3 and -32768 <= pv.value <= 32767
    back = cls(multiplier=multiplier, unit=pv.unit, value=value)
    assert back.to_decimal() == exact


@pytest.mark.parametrize("exponent", [-128, -127, -1, 0, 1, 126, 127])
@pytest.mark.parametrize("value", INT16_EDGES)
def test_rational_numbers_round_trip_at_the_edges(exponent: int, value: int) -> None:
    exact = Decimal(value).scaleb(exponent)
    rn = iso20_types.RationalNumberType.from_number(exact)
    assert rn.to_decimal() == exact
    assert -128 <= rn.exponent <= 127 and -32768 <= rn.value <= 32767


@pytest.mark.parametrize(("number", "scale", "value"), [
    (230, 0, 230), (400.5, -1, 4005), (350_000, 2, 3500), (0.001, -3, 1), (-12.5, -1, -125),
    (32767, 0, 32767), (327670, 1, 32767), (32770, 1, 3277),
])
def test_the_scale_nearest_zero_is_chosen(number: float, scale: int, value: int) -> None:
    pv = iso2.PhysicalValueType.from_number(number, "W")
    assert (pv.multiplier, pv.value) == (scale, value)


@pytest.mark.parametrize("number", [
    Decimal(32768).scaleb(3),  # past int16 at the largest multiplier
    Decimal(-32769).scaleb(3),
    Decimal("0.0001"),  # finer than 10^-3
    1 / 3,  # no finite decimal fits int16
    Decimal("1.2345"),
    float("nan"), float("inf"), "abc", True,
])
def test_unrepresentable_physical_values_are_refused(number: object) -> None:
    with pytest.raises(UnrepresentableValueError):
        iso2.PhysicalValueType.from_number(number, "A")  # type: ignore[arg-type]


def test_minus_20_reaches_what_minus_2_cannot() -> None:
    assert iso20_types.RationalNumberType.from_number(Decimal("0.0001")).exponent == -4
    assert iso20_types.RationalNumberType.from_number(Decimal(32767).scaleb(127)).value == 32767
    with pytest.raises(UnrepresentableValueError):
        iso20_types.RationalNumberType.from_number(Decimal(32768).scaleb(127))
    with pytest.raises(UnrepresentableValueError):
        iso20_types.RationalNumberType.from_number(Decimal(1).scaleb(-129))


def test_rounding_is_explicit_and_takes_the_finest_scale() -> None:
    pv = iso2.PhysicalValueType.from_number(1 / 3, "A", rounding=decimal.ROUND_HALF_EVEN)
    assert (pv.multiplier, pv.value) == (-3, 333)
    pv = iso2.PhysicalValueType.from_number(32768, "W", rounding=decimal.ROUND_HALF_EVEN)
    assert (pv.multiplier, pv.value) == (1, 3277)
    with pytest.raises(UnrepresentableValueError):  # even rounded, too large for 10^3
        iso2.PhysicalValueType.from_number(123_456_789, "W", rounding=decimal.ROUND_HALF_UP)


def test_units_are_kept_checked_and_optional_only_where_the_xsd_says() -> None:
    assert iso2.PhysicalValueType.from_number(10, iso2.UnitSymbolType.A).unit is (
        iso2.UnitSymbolType.A)
    with pytest.raises(UnrepresentableValueError, match="not a unit"):
        iso2.PhysicalValueType.from_number(10, "furlong")
    with pytest.raises(UnrepresentableValueError, match="needs a unit"):
        iso2.PhysicalValueType.from_number(10)
    assert din.PhysicalValueType.from_number(10).unit is None  # Unit is minOccurs=0 in DIN
    with pytest.raises(UnrepresentableValueError, match="no unit"):
        iso20_types.RationalNumberType.from_number(10, "V")


def test_a_message_built_from_numbers_reads_back_the_same_numbers() -> None:
    status = iso2.DC_EVStatusType(ev_ready=True, ev_error_code=iso2.DC_EVErrorCodeType.NO_ERROR,
                                  evress_soc=42)
    req = iso2.CurrentDemandReqType(
        dc_ev_status=status, ev_target_current=iso2.PhysicalValueType.from_number(125.5, "A"),
        ev_target_voltage=iso2.PhysicalValueType.from_number(401.2, "V"),
        ev_maximum_power_limit=iso2.PhysicalValueType.from_number(150_000, "W"),
        charging_complete=False)
    msg = iso2.V2G_Message(header=iso2.MessageHeaderType(session_id=bytes(8)),
                           body=iso2.BodyType(body_element=req))
    back = codec.decode(codec.encode(msg, "iso2"), "iso2").body.body_element
    assert float(back.ev_target_current) == 125.5
    assert back.ev_target_voltage.to_decimal() == Decimal("401.2")
    assert float(back.ev_maximum_power_limit) == 150_000.0


def test_a_decoded_value_without_a_number_is_a_library_error() -> None:
    with pytest.raises(UnrepresentableValueError):
        float(iso2.PhysicalValueType.construct(multiplier=0))


def _each_scale(number: Decimal, scales: tuple[int, int], values: tuple[int, int],
                rounding: str | None) -> tuple[int, int] | None:
    """``pick_scale`` by its definition: every scale tried, nearest to zero first (the
    negative one on a tie); with ``rounding``, the finest scale whose rounded value fits."""
    lo, hi = scales
    with decimal.localcontext() as ctx:
        ctx.prec, ctx.Emax, ctx.Emin = 400, 10_000, -10_000
        for s in sorted(range(lo, hi + 1), key=lambda s: (abs(s), s)):
            v = number.scaleb(-s)
            if v == v.to_integral_value() and values[0] <= v <= values[1]:
                return s, int(v)
        if rounding is not None:
            for s in range(lo, hi + 1):
                v = number.scaleb(-s).to_integral_value(rounding=rounding)
                if values[0] <= v <= values[1]:
                    return s, int(v)
    return None


@settings(max_examples=3000, deadline=None)
@given(number=st.one_of(
           st.decimals(allow_nan=False, allow_infinity=False, places=None),
           st.builds(lambda c, e: Decimal(c).scaleb(e), st.integers(-10**7, 10**7),
                     st.integers(-140, 140)),
           st.floats(allow_nan=False, allow_infinity=False).map(lambda f: Decimal(repr(f)))),
       ranges=st.sampled_from([((-3, 3), (-32768, 32767)), ((-128, 127), (-32768, 32767)),
                               ((-5, 5), (-1000, -100)), ((2, 6), (-10, 1000)),
                               ((-4, -1), (0, 999))]),
       rounding=st.sampled_from([None, decimal.ROUND_HALF_EVEN, decimal.ROUND_FLOOR]))
def test_pick_scale_is_its_definition(number: Decimal, ranges: tuple[tuple[int, int],
                                                                   tuple[int, int]],
                                      rounding: str | None) -> None:
    """The scale is computed from the number's digits (trying -20's 256 scales one by one
    cost 0.3 ms a value); it must be what trying them gives, including asymmetric ranges
    that exclude zero and rounding."""
    scales, values = ranges
    expected = _each_scale(number, scales, values, rounding)
    try:
        got: tuple[int, int] | None = pick_scale(number, scales, values, rounding)
    except UnrepresentableValueError:
        got = None
    assert got == expected
