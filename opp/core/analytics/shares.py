"""Shares and counts the analytics have in common: one rounding of a rate, one SQL count of the rows
that meet a condition.

A rate is part / whole rounded half up (away from zero) to four decimals, computed exactly from
integers or fractions, never through a float.
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

from sqlalchemy import ColumnElement, case, func

#: Decimals of every rate: win rates, conversion, calibration, suggestions.
RATE_DECIMALS = 4


def half_up(exact: Fraction) -> int:
    """An exact fraction rounded half away from zero to a whole number (no float, no precision limit)."""
    magnitude = (2 * abs(exact.numerator) + exact.denominator) // (2 * exact.denominator)
    return magnitude if exact >= 0 else -magnitude


def rate(exact: Fraction) -> Decimal:
    """A rate rounded half up to four decimals."""
    return Decimal(half_up(exact * 10**RATE_DECIMALS)).scaleb(-RATE_DECIMALS)


def share(part: Fraction | int, whole: int) -> Decimal | None:
    """part / whole rounded half up to four decimals; None when there is nothing to divide."""
    return None if whole == 0 else rate(Fraction(part) / whole)


def count_where(condition: ColumnElement[bool]) -> ColumnElement[int]:
    """How many rows meet ``condition`` (0, not null, over no rows)."""
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)
