"""Money rules as SQL expressions, so that sums are computed where the data lives.

Each expression here mirrors exactly one rule of :mod:`opp.core.money.amounts` (a test checks they agree
on many inputs): SQLAlchemy 2 turns ``/`` into true division, so every division here is ``//`` on
non-negative integers, which SQLite and PostgreSQL both evaluate exactly.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement


def forecast_minor_expr(value_minor: Any, probability: Any) -> ColumnElement[int]:
    """A deal's forecast in minor units: value × probability / 100, rounded half up (money.forecast_minor)."""
    expr: ColumnElement[int] = (value_minor * probability * 2 + 100) // 200
    return expr
