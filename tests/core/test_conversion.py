"""The money rules as the database evaluates them agree with the Python rules, on many inputs.

``convert_minor_value`` is SQLite's ``opp_convert``: minor × rate × 10^shift rounded half up once;
``forecast_minor_expr`` is the forecast formula in SQL, which must equal ``money.forecast_minor``.
"""

from __future__ import annotations

import decimal
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st
from sqlalchemy import BigInteger, Integer, create_engine, event, literal, select

from opp.core.money.amounts import MAX_MINOR, forecast_minor
from opp.core.money.figures import forecast_minor_expr
from opp.core.money.rates import parse_rate
from opp.store.dialect import convert_minor, convert_minor_value, register_sqlite_functions

# What a deal's value (or value × probability, for a forecast) can reach, in minor units.
minors = st.integers(min_value=0, max_value=MAX_MINOR * 100)
# Decimals of the target minus those of the source (JPY 0 … CLF 4), less 2 for a forecast's percent.
shifts = st.integers(min_value=-6, max_value=4)
# Rates as opp stores them: positive, at most 12 digits either side of the point, as parse_rate gives.
rates = (
    st.integers(min_value=0, max_value=12)
    .flatmap(
        lambda places: st.decimals(
            min_value=Decimal(1).scaleb(-places), max_value=Decimal("999999999999"), places=places
        )
    )
    .map(lambda number: format(parse_rate(format(number, "f")), "f"))
)

_EXACT = decimal.Context(prec=100)


def half_up(exact: Fraction) -> int:
    """Round a non-negative rational half up."""
    whole, rest = divmod(exact.numerator, exact.denominator)
    return whole + (1 if 2 * rest >= exact.denominator else 0)


@given(minor=minors, rate=rates, shift=shifts)
@example(minor=5, rate="0.5", shift=0)  # 2.5 → 3, not 2 as half-even would give
@example(minor=25, rate="1.1", shift=-2)  # a forecast: 0.275 → 0 (a cent of 0.25 × 1.1)
def test_convert_minor_value_multiplies_exactly_and_rounds_half_up_once(minor, rate, shift):
    with decimal.localcontext(_EXACT):  # enough digits for the product to be exact
        expected = int(
            (Decimal(minor) * Decimal(rate) * Decimal(10) ** shift).quantize(Decimal(1), ROUND_HALF_UP)
        )
    assert convert_minor_value(minor, rate, None, shift) == expected
    assert convert_minor_value(minor, rate, "7", shift) == expected  # a direct rate wins over the inverse


@given(minor=minors, inverse=rates, shift=shifts)
@example(minor=126, inverse="1.44", shift=0)  # 87.5 exactly; 1 / 1.44 taken first gives 87.4999… → 87
@example(minor=35962, inverse="71924", shift=0)  # 0.5 exactly
@example(minor=1, inverse="3", shift=0)  # 0.333… → 0
def test_the_inverse_rate_divides_exactly_and_rounds_half_up_once(minor, inverse, shift):
    expected = half_up(Fraction(minor) * Fraction(10) ** shift / Fraction(inverse))
    assert convert_minor_value(minor, None, inverse, shift) == expected


def test_no_rate_or_no_amount_gives_null():
    assert convert_minor_value(100, None, None, 0) is None
    assert convert_minor_value(None, "1.1", None, 0) is None


@pytest.fixture(scope="module")
def sqlite():
    engine = create_engine("sqlite://")
    event.listen(engine, "connect", lambda dbapi, _record: register_sqlite_functions(dbapi))
    with engine.connect() as conn:
        yield conn
    engine.dispose()


def evaluate(conn, expression):
    """Run ``SELECT expression`` with its values written into the SQL text, as SQLite sees it."""
    sql = str(select(expression).compile(conn, compile_kwargs={"literal_binds": True}))
    return conn.exec_driver_sql(sql).scalar_one()


@given(
    value=st.integers(min_value=0, max_value=MAX_MINOR), probability=st.integers(min_value=0, max_value=100)
)
@example(value=5, probability=50)  # 0.025 → 0.03
@example(value=MAX_MINOR, probability=100)
@example(value=1, probability=49)  # 0.0049 → 0
def test_the_sql_forecast_equals_the_python_forecast(sqlite, value, probability):
    expression = forecast_minor_expr(literal(value, BigInteger), literal(probability, Integer))
    assert evaluate(sqlite, expression) == forecast_minor(value, probability)


@given(minor=minors, rate=rates, inverse=st.none() | rates, shift=shifts)
def test_sqlite_converts_as_convert_minor_value(sqlite, minor, rate, inverse, shift):
    direct = literal(rate) if inverse is None else literal(None)
    expression = convert_minor(
        "sqlite", literal(minor, BigInteger), direct, literal(inverse or rate), literal(shift, Integer)
    )
    expected = convert_minor_value(minor, rate if inverse is None else None, inverse or rate, shift)
    assume(expected is not None and expected < 2**63)  # SQLite integers are 64-bit
    assert evaluate(sqlite, expression) == expected
