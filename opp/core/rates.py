"""Dated exchange rates, and converting deals' figures to one currency inside the database.

``opp rate set EUR USD 1.08 --date 2026-01-01`` means 1 EUR = 1.08 USD from that day on, until a later
rate of the same pair. A deal converts at the rate in force on its ``closed_at`` date if closed (so won
revenue stays fixed), else on its expected close, else today; when no direct rate is in force the
inverse pair's rate is inverted. Each deal's figure is converted and rounded half up to the target
currency's minor unit before any sum.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    FromClause,
    Select,
    and_,
    case,
    delete,
    func,
    insert,
    literal,
    select,
)

from opp.core.context import Context
from opp.core.currencies import MINOR_UNITS
from opp.core.dates import format_date, parse_date
from opp.core.errors import Conflict, Invalid, NotFound
from opp.core.figures import forecast_minor_expr
from opp.core.money import normalize_currency
from opp.core.records import Record
from opp.store import schema
from opp.store.dialect import convert_minor, date_of, exponent_case

r = schema.rates
o = schema.opportunities
_RATE = re.compile(r"^\d{1,12}(\.\d{1,12})?$")


@dataclass(frozen=True)
class Rate(Record):
    from_currency: str
    to_currency: str
    rate: Decimal
    date: date


def parse_rate(text: str) -> Decimal:
    """A positive exchange rate with at most 12 digits either side of the point."""
    cleaned = text.strip().replace("_", "")
    if not _RATE.match(cleaned) or Decimal(cleaned) == 0:
        raise Invalid(f"exchange rate must be a positive number, not {text!r}", hint="for example 1.0834")
    return Decimal(cleaned).normalize() if "." in cleaned else Decimal(cleaned)


def _pair(from_currency: str, to_currency: str) -> tuple[str, str]:
    pair = normalize_currency(from_currency), normalize_currency(to_currency)
    if pair[0] == pair[1]:
        raise Invalid(f"a rate needs two different currencies, not {pair[0]} and {pair[1]}")
    return pair


def _rate(row: Any) -> Rate:
    return Rate(
        from_currency=row.from_currency,
        to_currency=row.to_currency,
        rate=Decimal(row.rate),
        date=row.valid_from,
    )


def set_rate(ctx: Context, from_currency: str, to_currency: str, rate: str, *, on: str | None = None) -> Rate:
    """Record 1 FROM = RATE TO from ``on`` (default today); the same pair and day again replaces it."""
    source, target = _pair(from_currency, to_currency)
    value = parse_rate(rate)
    valid_from = parse_date(on, ctx.clock.today()) if on else ctx.clock.today()
    with ctx.unit_of_work("rate set") as uow:
        uow.conn.execute(
            delete(r).where(
                r.c.from_currency == source, r.c.to_currency == target, r.c.valid_from == valid_from
            )
        )
        uow.conn.execute(
            insert(r).values(
                from_currency=source,
                to_currency=target,
                rate=format(value, "f"),
                valid_from=valid_from,
                created_at=uow.at,
            )
        )
    return Rate(source, target, value, valid_from)


def list_rates(ctx: Context, *, currency: str | None = None) -> list[Rate]:
    query = select(r).order_by(r.c.from_currency, r.c.to_currency, r.c.valid_from)
    if currency is not None:
        code = normalize_currency(currency)
        query = query.where((r.c.from_currency == code) | (r.c.to_currency == code))
    with ctx.reading() as conn:
        return [_rate(row) for row in conn.execute(query)]


def remove_rate(ctx: Context, from_currency: str, to_currency: str, *, on: str) -> Rate:
    """Remove the rate of a pair that starts on that day."""
    source, target = _pair(from_currency, to_currency)
    valid_from = parse_date(on, ctx.clock.today())
    with ctx.unit_of_work("rate remove") as uow:
        where = and_(r.c.from_currency == source, r.c.to_currency == target, r.c.valid_from == valid_from)
        row = uow.conn.execute(select(r).where(where)).first()
        if row is None:
            raise NotFound(
                f"no {source}/{target} rate starting {format_date(valid_from)}", hint="see opp rate list"
            )
        uow.conn.execute(delete(r).where(where))
    return _rate(row)


@dataclass(frozen=True)
class Conversion:
    """SQL measures of a deal in one target currency: per-deal converted, rounded minor units."""

    currency: str
    value: ColumnElement[int]
    forecast: ColumnElement[int]


def rate_in_force(source: Any, target: Any, on: Any) -> ColumnElement[Any]:
    newest = (
        select(r.c.rate)
        .where(r.c.from_currency == source, r.c.to_currency == target, r.c.valid_from <= on)
        .order_by(r.c.valid_from.desc())
        .limit(1)
    )
    return newest.scalar_subquery()


def conversion(
    conn: Connection, deals: Select[Any], target: str, *, today: date, source: FromClause = o
) -> Conversion:
    """Each deal's value and forecast in ``target``, converted and rounded once, half up, per deal.

    The forecast converts value × probability exactly and rounds once, so it never differs from the
    unconverted rule (:func:`opp.core.money.forecast_minor`) by a double rounding. ``deals`` selects
    the deals concerned, from ``source`` (the opportunities table, or the deals as they stood at an
    instant: see :mod:`opp.core.asof`); a deal in another currency with no rate in force (direct or
    inverse) is refused, naming the pair and the day, so a figure never silently adds two currencies.
    """
    value = source.c.value_minor
    forecast = forecast_minor_expr(source.c.value_minor, source.c.probability)
    currencies = [row[0] for row in conn.execute(deals.with_only_columns(source.c.currency).distinct())]
    if all(code == target for code in currencies):
        return Conversion(target, value, forecast)
    dialect = conn.dialect.name
    on = func.coalesce(date_of(dialect, source.c.closed_at), source.c.expected_close, literal(today))
    direct = rate_in_force(source.c.currency, literal(target), on)
    inverse = rate_in_force(literal(target), source.c.currency, on)
    missing = conn.execute(
        deals.with_only_columns(source.c.currency, on.label("on"))
        .where(source.c.currency != target, direct.is_(None), inverse.is_(None))
        .order_by(on)
        .limit(1)
    ).first()
    if missing is not None:
        day = missing.on if isinstance(missing.on, date) else date.fromisoformat(str(missing.on))
        raise Conflict(
            f"no exchange rate from {missing.currency} to {target} in force on {format_date(day)}",
            hint=f"add one with opp rate set {missing.currency} {target} RATE --date {format_date(day)}",
        )
    shift = literal(MINOR_UNITS[target]) - exponent_case(
        source.c.currency, {c: MINOR_UNITS[c] for c in currencies}
    )

    def converted(same: Any, minor: Any, scale: Any) -> ColumnElement[int]:
        return case(
            (source.c.currency == target, same), else_=convert_minor(dialect, minor, direct, inverse, scale)
        )

    # The forecast converts value × probability (in hundredths of a minor unit) and rounds only then:
    # rounding the deal's own forecast first would round twice.
    return Conversion(
        target,
        converted(value, value, shift),
        converted(forecast, source.c.value_minor * source.c.probability, shift - 2),
    )
