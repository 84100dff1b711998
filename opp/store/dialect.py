"""The SQL that differs between SQLite and PostgreSQL, in one place."""

from __future__ import annotations

import decimal
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Date, Integer, Numeric, String, case, cast, func, literal

# Exact enough for any amount opp stores (at most 16 digits) times any rate (at most 20 digits).
_CONTEXT = decimal.Context(prec=60, rounding=decimal.ROUND_HALF_UP)


def convert_minor_value(minor: int | None, rate: str | None, inverse: str | None, shift: int) -> int | None:
    """``minor`` × rate × 10^shift rounded half up to a whole minor unit (the inverse of ``inverse``
    when no direct rate is given); None when there is no rate at all.

    This is SQLite's ``opp_convert`` function; PostgreSQL evaluates the same with ``numeric``.
    """
    if minor is None:
        return None
    if rate is not None:
        factor = Decimal(rate)
    elif inverse is not None:
        factor = _CONTEXT.divide(Decimal(1), Decimal(inverse))
    else:
        return None
    exact = _CONTEXT.multiply(_CONTEXT.multiply(Decimal(minor), factor), Decimal(1).scaleb(shift))
    return int(exact.quantize(Decimal(1), rounding=decimal.ROUND_HALF_UP))


def _unicode_lower(text: str | None) -> str | None:
    return None if text is None else text.lower()


def register_sqlite_functions(dbapi_connection: Any) -> None:
    """SQLite's own lower() folds only ASCII; opp's searches fold every script, as PostgreSQL does."""
    dbapi_connection.create_function("lower", 1, _unicode_lower, deterministic=True)
    dbapi_connection.create_function("opp_convert", 4, convert_minor_value, deterministic=True)


def convert_minor(dialect_name: str, minor: Any, rate: Any, inverse: Any, shift: Any) -> ColumnElement[int]:
    """SQL for :func:`convert_minor_value`."""
    if dialect_name == "sqlite":
        return func.opp_convert(minor, rate, inverse, shift)
    factor = func.coalesce(cast(rate, Numeric), literal(1, Numeric) / func.nullif(cast(inverse, Numeric), 0))
    return cast(func.round(cast(minor, Numeric) * factor * func.power(literal(10, Numeric), shift)), Integer)


def date_of(dialect_name: str, instant: Any) -> ColumnElement[Any]:
    """The UTC date of a stored instant."""
    if dialect_name == "sqlite":
        return func.date(instant)
    return cast(instant, Date)


def month_key(dialect_name: str, day: Any) -> ColumnElement[str]:
    """``YYYY-MM`` of a date column."""
    if dialect_name == "sqlite":
        return func.strftime("%Y-%m", day)
    return func.to_char(day, "YYYY-MM")


def quarter_key(dialect_name: str, day: Any) -> ColumnElement[str]:
    """``YYYYQn`` of a date column."""
    if dialect_name == "sqlite":
        month = cast(func.strftime("%m", day), Integer)
        return func.strftime("%Y", day) + literal("Q") + cast((month + 2) // 3, String)
    return func.to_char(day, 'YYYY"Q"Q')


def exponent_case(currency: Any, exponents: dict[str, int]) -> ColumnElement[int]:
    """The number of decimals of each deal's currency, for the currencies at hand."""
    return case(exponents, value=currency, else_=2)
