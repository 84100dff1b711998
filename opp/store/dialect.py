"""The SQL that differs between SQLite and PostgreSQL, in one place."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Integer, String, cast, func, literal


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
