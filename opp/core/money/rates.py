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
from fractions import Fraction
from typing import Any, NoReturn

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Connection,
    Date,
    FromClause,
    Select,
    and_,
    case,
    delete,
    func,
    insert,
    literal,
    null,
    or_,
    select,
)

from opp.core.context import Context
from opp.core.dates import format_date, parse_date
from opp.core.errors import Conflict, Invalid, NotFound
from opp.core.money.amounts import normalize_currency
from opp.core.money.currencies import MINOR_UNITS
from opp.core.money.figures import forecast_minor_expr
from opp.core.records import Record
from opp.store import schema
from opp.store.dialect import INTEGER_LIMIT, convert_minor, date_of, exponent_case, ratio_round

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


# Above this many rate periods in play, each deal looks its rate up in the rates table instead of
# matching a CASE over all of them.
MAX_CASE_PERIODS = 400


@dataclass(frozen=True)
class _Period:
    """While ``start <= day < stop``, minor units of ``currency`` × numerator / denominator are minor
    units of the target currency (the rate and both currencies' decimals folded in)."""

    currency: str
    start: date
    stop: date | None
    numerator: int
    denominator: int


def _periods(conn: Connection, foreign: list[str], target: str) -> list[_Period]:
    """The rate in force for each foreign currency over time: direct rates where one is in force,
    else the inverse pair's rate inverted."""
    rows = conn.execute(
        select(r.c.from_currency, r.c.to_currency, r.c.rate, r.c.valid_from)
        .where(
            or_(
                and_(r.c.to_currency == target, r.c.from_currency.in_(foreign)),
                and_(r.c.from_currency == target, r.c.to_currency.in_(foreign)),
            )
        )
        .order_by(r.c.valid_from)
    ).all()
    periods: list[_Period] = []
    for code in foreign:
        direct = [(row.valid_from, Fraction(row.rate)) for row in rows if row.from_currency == code]
        inverse = [(row.valid_from, 1 / Fraction(row.rate)) for row in rows if row.to_currency == code]
        first_direct = direct[0][0] if direct else None
        timeline = [entry for entry in inverse if first_direct is None or entry[0] < first_direct] + direct
        scale = Fraction(10) ** (MINOR_UNITS[target] - MINOR_UNITS[code])
        for index, (start, factor) in enumerate(timeline):
            stop = timeline[index + 1][0] if index + 1 < len(timeline) else None
            exact = factor * scale
            periods.append(_Period(code, start, stop, exact.numerator, exact.denominator))
    return periods


def conversion(
    conn: Connection, deals: Select[Any], target: str, *, today: date, source: FromClause = o
) -> Conversion:
    """Each deal's value and forecast in ``target``, converted and rounded once, half up, per deal.

    The forecast converts value × probability exactly and rounds only then, so it never differs from
    the unconverted rule (:func:`opp.core.money.amounts.forecast_minor`) by a double rounding. ``deals``
    selects the deals concerned, from ``source`` (the opportunities table, or the deals as they stood
    at an instant: see :mod:`opp.core.pipeline.asof`); a deal in another currency with no rate in
    force (direct or inverse) is refused, naming the pair and the day, so a figure never silently adds
    two currencies.

    The rates in play are few, so they are folded into the query as a CASE over their periods and
    each deal is converted in exact integer arithmetic inside the database, in one pass.
    """
    value = source.c.value_minor
    forecast = forecast_minor_expr(source.c.value_minor, source.c.probability)
    dialect = conn.dialect.name
    on = func.coalesce(date_of(dialect, source.c.closed_at), source.c.expected_close, literal(today))
    # Per currency: the largest value (for the overflow check) and the first and last day converted.
    present = conn.execute(
        deals.with_only_columns(
            source.c.currency, func.max(source.c.value_minor), func.min(on), func.max(on)
        ).group_by(source.c.currency)
    ).all()
    largest = {currency: biggest for currency, biggest, _first, _last in present}
    foreign = sorted(code for code in largest if code != target)
    if not foreign:
        return Conversion(target, value, forecast)
    days = {currency: (_day(first), _day(last)) for currency, _biggest, first, last in present}
    # Only the periods some deal falls in: a quarter's forecast matches a few, not years of rates.
    periods = [
        p
        for p in _periods(conn, foreign, target)
        if p.start <= days[p.currency][1] and (p.stop is None or p.stop > days[p.currency][0])
    ]
    if len(periods) > MAX_CASE_PERIODS:
        return _conversion_by_lookup(conn, deals, target, foreign, on, source)

    # Compared with period starts as instants (a deal closed at 23:30 on the last day of a period is
    # in that period), which spares the database turning every closed_at into a date on every test.
    when = func.coalesce(source.c.closed_at, source.c.expected_close, literal(today, Date))

    def factor(part: str) -> ColumnElement[Any]:
        """CASE currency, then the newest period that started by the deal's day: one short walk."""
        by_currency: dict[str, Any] = {target: literal(1, BigInteger)}
        for code in foreign:
            newest_first = sorted(
                (p for p in periods if p.currency == code), key=lambda p: p.start, reverse=True
            )
            if newest_first:
                by_currency[code] = case(
                    *[
                        (when >= literal(p.start, Date), literal(getattr(p, part), BigInteger))
                        for p in newest_first
                    ],
                    else_=null(),
                )
        return case(by_currency, value=source.c.currency, else_=null())

    numerator, denominator = factor("numerator"), factor("denominator")
    # A currency's periods run on without a gap from its first one: a deal has no rate exactly when its
    # currency has none, or its day comes before the first. The first day of each currency's deals is
    # known already, so the earliest deal without a rate is found without reading the deals again.
    first_start = {p.currency: p.start for p in reversed(periods)}
    missing = [(days[code][0], code) for code in foreign if days[code][0] < first_start.get(code, date.max)]
    if missing:
        day, code = min(missing)
        _no_rate(code, target, day)
    # value × probability × numerator, doubled, must stay a 64-bit integer (SQLite's, bigint).
    worst = max(2 * 100 * largest[p.currency] * p.numerator + 200 * p.denominator for p in periods)
    fits = worst <= INTEGER_LIMIT
    return Conversion(
        target,
        ratio_round(dialect, value, numerator, denominator, fits_in_64_bits=fits),
        # value × probability is in hundredths of a minor unit: a hundred times the denominator.
        ratio_round(
            dialect, value * source.c.probability, numerator, denominator * 100, fits_in_64_bits=fits
        ),
    )


def _day(value: Any) -> date:
    """A day the database computed (SQLite may hand back its text)."""
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def _refuse_missing_rates(
    conn: Connection, unconvertible: Select[Any], currency: Any, on: Any, target: str
) -> None:
    """Refuse (exit 4) when some deal has no rate in force, naming the first such pair and day."""
    missing = conn.execute(
        unconvertible.with_only_columns(currency.label("currency"), on.label("on")).order_by(on).limit(1)
    ).first()
    if missing is not None:
        _no_rate(missing.currency, target, _day(missing.on))


def _no_rate(currency: str, target: str, day: date) -> NoReturn:
    raise Conflict(
        f"no exchange rate from {currency} to {target} in force on {format_date(day)}",
        hint=f"add one with opp rate set {currency} {target} RATE --date {format_date(day)}",
    )


def _conversion_by_lookup(
    conn: Connection, deals: Select[Any], target: str, currencies: list[str], on: Any, source: FromClause
) -> Conversion:
    """The same conversion with each deal looking its rate up (for a rates table too long for a CASE)."""
    dialect = conn.dialect.name
    direct = rate_in_force(source.c.currency, literal(target), on)
    inverse = rate_in_force(literal(target), source.c.currency, on)
    _refuse_missing_rates(
        conn,
        deals.where(source.c.currency != target, direct.is_(None), inverse.is_(None)),
        source.c.currency,
        on,
        target,
    )
    shift = literal(MINOR_UNITS[target]) - exponent_case(
        source.c.currency, {c: MINOR_UNITS[c] for c in [*currencies, target]}
    )

    def converted(same: Any, minor: Any, scale: Any) -> ColumnElement[int]:
        return case(
            (source.c.currency == target, same), else_=convert_minor(dialect, minor, direct, inverse, scale)
        )

    return Conversion(
        target,
        converted(source.c.value_minor, source.c.value_minor, shift),
        converted(
            forecast_minor_expr(source.c.value_minor, source.c.probability),
            source.c.value_minor * source.c.probability,
            shift - 2,
        ),
    )
