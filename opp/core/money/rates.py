"""Dated exchange rates, and converting deals' figures to one currency inside the database.

``opp rate set EUR USD 1.08 --date 2026-01-01`` means 1 EUR = 1.08 USD from that day on, until a later
rate of the same pair. A deal converts at the rate in force on its ``closed_at`` date if closed (so won
revenue stays fixed), else on its expected close, else today; when no direct rate is in force the
inverse pair's rate is inverted, and when neither is, the two legs through the first third currency
(in alphabetical order) that has both are multiplied. Each deal's figure is converted exactly and
rounded half up once to the target currency's minor unit before any sum; a figure or sum beyond a
64-bit integer is refused, naming it.
"""

from __future__ import annotations

import math
import re
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from fractions import Fraction
from typing import Any, NoReturn

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Connection,
    Date,
    FromClause,
    RowMapping,
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
    true,
)
from sqlalchemy.exc import DBAPIError

from opp.core.context import Context, overflowed
from opp.core.dates import format_date, parse_date
from opp.core.errors import Conflict, Invalid, NotFound
from opp.core.money.amounts import format_money, from_minor, normalize_currency
from opp.core.money.currencies import MINOR_UNITS
from opp.core.money.figures import forecast_minor_expr
from opp.core.records import Record
from opp.store import schema
from opp.store.dialect import (
    INTEGER_LIMIT,
    convert_minor,
    convert_minor_through,
    date_of,
    exponent_case,
    ratio_round,
    wide_sum,
)

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
                f"no {source}/{target} rate starting {format_date(valid_from)}", reason="no-rate-period"
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


def _periods(conn: Connection, foreign: list[str], target: str) -> tuple[list[_Period], list[str]]:
    """The rate in force for each foreign currency over time: a direct rate where one is in force,
    else the inverse pair's rate inverted, else the product of two legs through a third currency X
    (FROM→X and X→TO, each direct or inverse), the first such X in alphabetical order; and every such
    X of any of the currencies, in that order."""
    wanted = [*foreign, target]
    rows = conn.execute(
        select(r.c.from_currency, r.c.to_currency, r.c.rate, r.c.valid_from)
        .where(or_(r.c.from_currency.in_(wanted), r.c.to_currency.in_(wanted)))
        .order_by(r.c.valid_from)
    ).all()
    legs = _Legs(rows)
    periods: list[_Period] = []
    thirds: set[str] = set()
    for code in foreign:
        through = sorted((legs.neighbours[code] & legs.neighbours[target]) - {code, target})
        thirds.update(through)
        pairs = {(code, target), *((code, x) for x in through), *((x, target) for x in through)}
        days = sorted({day for pair in pairs for day in legs.starts(*pair)})
        scale = Fraction(10) ** (MINOR_UNITS[target] - MINOR_UNITS[code])
        timeline: list[tuple[date, Fraction]] = []
        for day in days:
            factor = legs.factor(code, target, day, through)
            if factor is not None and (not timeline or timeline[-1][1] != factor):
                timeline.append((day, factor))
        for index, (start, factor) in enumerate(timeline):
            stop = timeline[index + 1][0] if index + 1 < len(timeline) else None
            exact = factor * scale
            periods.append(_Period(code, start, stop, exact.numerator, exact.denominator))
    return periods, sorted(thirds)


class _Legs:
    """Every rate of a set of currencies, to find the factor from one currency to another on a day.

    A rate stays in force until a later one of the same pair, so once a pair (direct, inverse or
    through a third currency) has a rate it has one on every later day: a timeline has no gaps.
    """

    def __init__(self, rows: Sequence[Any]) -> None:
        self.direct: dict[tuple[str, str], list[tuple[date, Fraction]]] = defaultdict(list)
        self.neighbours: dict[str, set[str]] = defaultdict(set)
        for row in rows:  # in order of their first day
            self.direct[row.from_currency, row.to_currency].append((row.valid_from, Fraction(row.rate)))
            self.neighbours[row.from_currency].add(row.to_currency)
            self.neighbours[row.to_currency].add(row.from_currency)

    def starts(self, source: str, target: str) -> list[date]:
        return [day for pair in ((source, target), (target, source)) for day, _ in self.direct.get(pair, [])]

    def _newest(self, source: str, target: str, day: date) -> Fraction | None:
        timeline = self.direct.get((source, target), [])
        index = bisect_right(timeline, day, key=lambda entry: entry[0])
        return timeline[index - 1][1] if index else None

    def leg(self, source: str, target: str, day: date) -> Fraction | None:
        """1 source in target on that day: the direct rate in force, else the inverse one inverted."""
        direct = self._newest(source, target, day)
        if direct is not None:
            return direct
        inverse = self._newest(target, source, day)
        return None if inverse is None else 1 / inverse

    def factor(self, source: str, target: str, day: date, through: list[str]) -> Fraction | None:
        """The direct or inverse rate, else the product of the legs through the first third currency
        (in alphabetical order) with both legs in force: applied exactly, rounded once by the caller."""
        single = self.leg(source, target, day)
        if single is not None:
            return single
        for middle in through:
            first, second = self.leg(source, middle, day), self.leg(middle, target, day)
            if first is not None and second is not None:
                return first * second
        return None


def conversion(
    conn: Connection,
    deals: Select[Any],
    target: str,
    *,
    today: date,
    source: FromClause = o,
    direct: bool = True,
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

    Deals already in ``target`` need no conversion (converting at a factor of 1 gives the same figure
    to the unit: ``(2·v·1 + 1) // 2 = v`` and ``(2·v·p + 100) // 200`` is the forecast rule itself), so
    with ``direct`` (the default) they are not converted: when every deal is in ``target`` (a look-up
    for a deal in another currency finds none) the measures are the plain columns, with no
    rates read and no dates computed; otherwise the deals in ``target`` take their own figures and only
    the others go through the rates. ``direct=False`` converts every deal as before; a test checks
    that both give the same figures.
    """
    value = source.c.value_minor
    forecast = forecast_minor_expr(source.c.value_minor, source.c.probability)
    dialect = conn.dialect.name
    if direct:
        # Is some deal in another currency? The first one found ends the look-up.
        other = deals.with_only_columns(source.c.currency).where(source.c.currency != target).limit(1)
        if conn.execute(other).first() is None:
            total, count = conn.execute(
                deals.with_only_columns(wide_sum(dialect, source.c.value_minor), func.count())
            ).one()
            _refuse_too_large_sum(conn, deals, target, [(target, None, total, count)], [], value)
            return Conversion(target, value, forecast)
    on = func.coalesce(date_of(dialect, source.c.closed_at), source.c.expected_close, literal(today))
    # Per currency: the largest value and the sum of values (for the overflow checks) and the first and
    # last day converted.
    present = conn.execute(
        deals.with_only_columns(
            source.c.currency,
            func.max(source.c.value_minor),
            wide_sum(dialect, source.c.value_minor),
            func.count(),
            func.min(on),
            func.max(on),
        ).group_by(source.c.currency)
    ).all()
    largest = {row[0]: row[1] for row in present}
    foreign = sorted(code for code in largest if code != target)
    if not foreign:
        _refuse_too_large_sum(conn, deals, target, present, [], value)
        return Conversion(target, value, forecast)
    days = {row[0]: (_day(row[4]), _day(row[5])) for row in present}
    # Only the periods some deal falls in: a quarter's forecast matches a few, not years of rates.
    every_period, through = _periods(conn, foreign, target)
    periods = [
        p
        for p in every_period
        if p.start <= days[p.currency][1] and (p.stop is None or p.stop > days[p.currency][0])
    ]
    # Compared with period starts as instants (a deal closed at 23:30 on the last day of a period is
    # in that period), which spares the database turning every closed_at into a date on every test.
    when = func.coalesce(source.c.closed_at, source.c.expected_close, literal(today, Date))
    _refuse_too_large_deal(conn, deals, target, periods, largest, when, source)
    if len(periods) > MAX_CASE_PERIODS:
        lookup = _conversion_by_lookup(conn, deals, target, foreign, through, on, source)
        _refuse_too_large_sum(conn, deals, target, present, periods, lookup.value)
        return lookup

    # A currency's periods run on without a gap from its first one: a deal has no rate exactly when its
    # currency has none, or its day comes before the first. The first day of each currency's deals is
    # known already, so the earliest deal without a rate is found without reading the deals again.
    first_start = _first_starts(periods)
    missing = [(days[code][0], code) for code in foreign if days[code][0] < first_start.get(code, date.max)]
    if missing:
        day, code = min(missing)
        _no_rate(code, target, day)
    # The periods' rates over one common denominator, where that keeps every product within 64 bits
    # (rates are decimals, so it is usually a power of ten): the same fractions, so the same rounding,
    # with one CASE per deal and measure instead of three, the denominator a constant (a third less
    # time for a forecast at a million deals in five currencies).
    common = math.lcm(*(p.denominator for p in periods))
    worst_common = max(
        [2 * 100 * largest[p.currency] * p.numerator * (common // p.denominator) for p in periods]
        + [2 * 100 * (largest.get(target) or 0) * common]
    )
    if SHARED_DENOMINATOR and worst_common + 200 * common <= INTEGER_LIMIT:
        measures = _converted(dialect, source, target, periods, when, common, direct and target in largest)
    else:
        # value × probability × numerator, doubled, must stay a 64-bit integer (SQLite's, bigint).
        worst = max(2 * 100 * largest[p.currency] * p.numerator + 200 * p.denominator for p in periods)
        measures = _converted(
            dialect, source, target, periods, when, None, direct and target in largest, worst <= INTEGER_LIMIT
        )
    _refuse_too_large_sum(conn, deals, target, present, periods, measures.value)
    return measures


def _first_starts(periods: Sequence[_Period]) -> dict[str, date]:
    """Each currency's first day with a rate: its periods run on from there without a gap."""
    first: dict[str, date] = {}
    for p in periods:
        first[p.currency] = min(p.start, first.get(p.currency, p.start))
    return first


def _rate_factor(
    source: FromClause,
    target: str,
    periods: Sequence[_Period],
    when: ColumnElement[Any],
    part: Callable[[_Period], int],
    unit: int,
) -> ColumnElement[Any]:
    """CASE currency, then the newest period that started by the deal's day, found by halving the
    periods (``unit`` for a deal already in the target currency; null for a deal in a currency without
    periods, or dated before its currency's first)."""
    by_currency: dict[str, Any] = {target: literal(unit, BigInteger)}
    for code in sorted({p.currency for p in periods}):
        newest_first = sorted((p for p in periods if p.currency == code), key=lambda p: p.start, reverse=True)
        by_currency[code] = _newest_started(when, newest_first, part, null())
    return case(by_currency, value=source.c.currency, else_=null())


def _newest_started(
    when: ColumnElement[Any],
    newest_first: Sequence[_Period],
    part: Callable[[_Period], int],
    otherwise: ColumnElement[Any],
) -> ColumnElement[Any]:
    """``part`` of the newest of these periods (newest first) that started by ``when``, else
    ``otherwise``: nested CASEs that halve the periods at each test, so that a deal's day is compared
    with about log2(n) starts, not with every start newer than its own (SQLite evaluates the day's
    expression again at every comparison; years of quarterly rates are tens of periods)."""
    if not newest_first:
        return otherwise
    middle = len(newest_first) // 2
    found = newest_first[middle]
    return case(
        (
            when >= literal(found.start, Date),
            _newest_started(when, newest_first[:middle], part, literal(part(found), BigInteger)),
        ),
        else_=_newest_started(when, newest_first[middle + 1 :], part, otherwise),
    )


def _converted(
    dialect: str,
    source: FromClause,
    target: str,
    periods: Sequence[_Period],
    when: ColumnElement[Any],
    common: int | None,
    in_target_as_they_are: bool,
    fits: bool = True,
) -> Conversion:
    """The deals' measures in ``target`` over these rate periods: over the ``common`` denominator of
    their rates when given (each product known to fit in 64 bits), else each rate over its own
    (``fits``: the products fit in 64 bits). ``in_target_as_they_are``: the deals already in the target
    currency take their own figures (the same to the unit, see :func:`conversion`)."""
    value = source.c.value_minor
    numerator: ColumnElement[Any]
    denominator: ColumnElement[Any]
    if common is not None:
        numerator = _rate_factor(
            source, target, periods, when, lambda p: p.numerator * (common // p.denominator), common
        )
        denominator = literal(common, BigInteger)
    else:
        numerator = _rate_factor(source, target, periods, when, lambda p: p.numerator, 1)
        denominator = _rate_factor(source, target, periods, when, lambda p: p.denominator, 1)
    converted = ratio_round(dialect, value, numerator, denominator, fits_in_64_bits=fits)
    # value × probability is in hundredths of a minor unit: a hundred times the denominator.
    converted_forecast = ratio_round(
        dialect, value * source.c.probability, numerator, denominator * 100, fits_in_64_bits=fits
    )
    if in_target_as_they_are:
        # The deals already in the target currency are summed as they are; only the others convert.
        in_target = source.c.currency == target
        converted = case((in_target, value), else_=converted)
        converted_forecast = case(
            (in_target, forecast_minor_expr(value, source.c.probability)), else_=converted_forecast
        )
    return Conversion(target, converted, converted_forecast)


#: Whether :func:`conversion` puts the rates in play over one common denominator when the products
#: allow (a test turns it off to compare the figures with each rate over its own).
SHARED_DENOMINATOR = True

#: How many of the deals :func:`converted_rows` looks at first for one in another currency: where
#: deals in several currencies are common one turns up among the first few, and the look-up ends.
SAMPLE_ROWS = 1000


def converted_rows(
    conn: Connection,
    deals: Select[Any],
    target: str,
    query_of: Callable[[Conversion], Select[Any]],
    *,
    today: date,
    source: FromClause = o,
    direct: bool = True,
) -> tuple[Conversion, Sequence[RowMapping]]:
    """The measures of :func:`conversion` and the rows of the aggregate ``query_of(measures)``, reading
    the deals once when they are all in ``target``.

    When none of the first :data:`SAMPLE_ROWS` deals is in another currency, the aggregate runs at once
    on the plain columns, with the lowest and highest currency, the sum of values and the count of
    each group beside its figures: if every group holds ``target`` alone and the sum is far from a
    64-bit integer (the bound :func:`conversion` checks first), those are the figures, to the unit
    what converting gives. Otherwise (a deal in another currency further on, or a sum near the limit)
    the aggregate is first tried over every rate known, in one read (:func:`_optimistic_rows`), and
    failing that it goes the way of :func:`conversion`, which converts, or refuses, as always.
    """
    if direct:
        sample = deals.with_only_columns(source.c.currency).limit(SAMPLE_ROWS).subquery()
        foreign = select(sample.c.currency).where(sample.c.currency != target).limit(1)
        if conn.execute(foreign).first() is None:
            value = source.c.value_minor
            plain = Conversion(target, value, forecast_minor_expr(value, source.c.probability))
            rows = _plain_rows(conn, query_of(plain), target, source)
            if rows is not None:
                return plain, rows
    if direct and OPTIMISTIC:
        found = _optimistic_rows(conn, target, query_of, today=today, source=source)
        if found is not None:
            return found
    if direct:
        measures = conversion(conn, deals, target, today=today, source=source)
    else:
        measures = conversion(conn, deals, target, today=today, source=source, direct=False)
    return measures, conn.execute(query_of(measures)).mappings().all()


#: Whether :func:`converted_rows` first tries the aggregate over every rate known (a test turns it
#: off to compare the figures with those of the way that looks at the deals first).
OPTIMISTIC = True

#: The optimistic aggregate is not tried when a deal of a smaller value than this (in minor units: ten
#: million in a currency of cents) could already pass 64 bits in the products over the common
#: denominator: too many deals might be set aside. (At rates of four decimals to a currency of cents,
#: a deal is set aside from about four billion.)
_OPTIMISTIC_LEAST_THRESHOLD = 10**9


def _optimistic_rows(
    conn: Connection,
    target: str,
    query_of: Callable[[Conversion], Select[Any]],
    *,
    today: date,
    source: FromClause,
) -> tuple[Conversion, Sequence[RowMapping]] | None:
    """The aggregate converted in one read of the deals, or None when it cannot be trusted.

    :func:`conversion` first reads the deals in scope for their currencies, largest values and days,
    then converts over the rates those need: two reads of the deals. Here every rate period of every
    currency with a rate (a small table) is folded in at once, over the common denominator, and each
    deal whose conversion could go wrong is counted instead: one in a currency without a rate or
    dated before its first, or of a value large enough that a product could pass 64 bits. The figures
    hold when none was counted, the sums stayed far from a 64-bit integer and nothing overflowed; a
    rate period that no deal falls in changes no figure, and the common denominator none either (the
    arithmetic is exact). Otherwise None, and the caller takes the careful way, which converts or
    refuses as always.
    """
    if not SHARED_DENOMINATOR:
        return None
    held = conn.execute(select(r.c.from_currency).union(select(r.c.to_currency))).scalars().all()
    foreign = sorted(set(held) - {target})
    if not foreign:
        return None
    periods, _through = _periods(conn, foreign, target)
    if not periods or len(periods) > MAX_CASE_PERIODS:
        return None
    common = math.lcm(*(p.denominator for p in periods))
    room = INTEGER_LIMIT - 200 * common
    # 2 × 100 × value × numerator (over the common denominator) + 200 × common within 64 bits.
    largest_allowed: dict[str, int] = {}
    for p in periods:
        scaled = max(1, p.numerator * (common // p.denominator))
        allowed = room // (200 * scaled)
        largest_allowed[p.currency] = min(largest_allowed.get(p.currency, allowed), allowed)
    if min(largest_allowed.values()) < _OPTIMISTIC_LEAST_THRESHOLD:
        return None
    first_start = _first_starts(periods)
    when = func.coalesce(source.c.closed_at, source.c.expected_close, literal(today, Date))
    value = source.c.value_minor
    set_aside = case(
        {
            target: literal(0),
            **{
                code: case(
                    (or_(value > largest_allowed[code], when < literal(first_start[code], Date)), 1), else_=0
                )
                for code in largest_allowed
            },
        },
        value=source.c.currency,
        else_=literal(1),
    )
    measures = _converted(conn.dialect.name, source, target, periods, when, common, True)
    checked = query_of(measures).add_columns(
        func.sum(set_aside).label("check_set_aside"),
        func.sum(value).label("check_value_sum"),
        func.count().label("check_count"),
    )
    rows = _rows_unless_overflow(conn, checked)
    if rows is None or any(row["check_set_aside"] for row in rows):
        return None
    # The converted sums are at most the values' sum times the largest factor (1 for the target).
    factor = max([Fraction(1)] + [Fraction(p.numerator, p.denominator) for p in periods])
    bound = sum(Fraction(int(row["check_value_sum"] or 0)) * factor + row["check_count"] for row in rows)
    return (measures, rows) if bound <= INTEGER_LIMIT // 2 else None


def _plain_rows(
    conn: Connection, query: Select[Any], target: str, source: FromClause
) -> Sequence[RowMapping] | None:
    """The rows of an aggregate on the plain columns, or None when some deal is in another currency
    or the values add up to near a 64-bit integer."""
    checked = query.add_columns(
        func.min(source.c.currency).label("check_lowest_currency"),
        func.max(source.c.currency).label("check_highest_currency"),
        func.sum(source.c.value_minor).label("check_value_sum"),
        func.count().label("check_count"),
    )
    rows = _rows_unless_overflow(conn, checked)
    if rows is None:
        return None  # converting checks the sum first, and refuses it, naming it
    total = 0
    for row in rows:
        if {row["check_lowest_currency"], row["check_highest_currency"]} - {None, target}:
            return None
        total += int(row["check_value_sum"] or 0) + row["check_count"]
    return rows if total <= INTEGER_LIMIT // 2 else None


def _rows_unless_overflow(conn: Connection, query: Select[Any]) -> Sequence[RowMapping] | None:
    """The rows of an aggregate, or None when a sum or a product in it passed a 64-bit integer."""
    try:
        if conn.dialect.name == "sqlite":
            return conn.execute(query).mappings().all()
        with conn.begin_nested():  # a failed statement ends a PostgreSQL transaction, a savepoint's only that
            return conn.execute(query).mappings().all()
    except DBAPIError as error:
        if overflowed(error):
            return None
        raise


def _limit_of(target: str) -> str:
    return f"{format_money(from_minor(INTEGER_LIMIT, target))} {target}"


def _refuse_too_large_deal(
    conn: Connection,
    deals: Select[Any],
    target: str,
    periods: list[_Period],
    largest: dict[str, int],
    when: Any,
    source: FromClause,
) -> None:
    """Refuse (exit 4) a deal whose converted value is beyond a 64-bit integer, naming the deal and the
    figure: no database column or sum could hold it. Reads the deals only when some could be."""
    # round(v × n / d) <= LIMIT exactly when 2·v·n < (2·LIMIT + 1)·d, that is v <= the threshold.
    thresholds = {p: ((2 * INTEGER_LIMIT + 1) * p.denominator - 1) // (2 * p.numerator) for p in periods}
    beyond = [p for p in periods if largest[p.currency] > thresholds[p]]
    if not beyond:
        return
    day_in = [
        and_(
            source.c.currency == p.currency,
            when >= literal(p.start, Date),
            true() if p.stop is None else when < literal(p.stop, Date),
            source.c.value_minor > thresholds[p],
        )
        for p in beyond
    ]
    row = conn.execute(
        deals.with_only_columns(source.c.id, source.c.currency, source.c.value_minor, when.label("on"))
        .where(or_(*day_in))
        .order_by(source.c.value_minor.desc(), source.c.id)
        .limit(1)
    ).first()
    if row is None:
        return
    period = next(p for p in beyond if p.currency == row.currency and _in_period(p, row.on))
    figure = (2 * row.value_minor * period.numerator + period.denominator) // (2 * period.denominator)
    raise Conflict(
        f"deal {row.id}'s value of {format_money(from_minor(row.value_minor, row.currency))} "
        f"{row.currency} is {format_money(from_minor(figure, target))} {target}, more than opp can hold "
        f"(at most {_limit_of(target)})",
        hint="report in a currency of smaller figures",
    )


def _in_period(period: _Period, on: Any) -> bool:
    day = on.date() if isinstance(on, datetime) else _day(str(on)[:10])
    return period.start <= day and (period.stop is None or day < period.stop)


def _refuse_too_large_sum(
    conn: Connection,
    deals: Select[Any],
    target: str,
    present: Sequence[Any],
    periods: list[_Period],
    converted: ColumnElement[int],
) -> None:
    """Refuse (exit 4) when the deals' converted values add up to more than a 64-bit integer, naming
    the sum. The bound from each currency's sum and its largest rate rules it out almost always; only
    beyond it are the converted values summed."""
    factors: dict[str, Fraction] = {target: Fraction(1)}
    for p in periods:
        factors[p.currency] = max(factors.get(p.currency, Fraction(0)), Fraction(p.numerator, p.denominator))
    bound = sum(Fraction(Decimal(row[2] or 0)) * factors.get(row[0], Fraction(0)) + row[3] for row in present)
    if bound <= INTEGER_LIMIT // 2:
        return
    total = conn.execute(deals.with_only_columns(wide_sum(conn.dialect.name, converted))).scalar()
    if total is not None and Decimal(total) > INTEGER_LIMIT:
        raise Conflict(
            f"the deals' value in {target} adds up to about "
            f"{format_money(from_minor(int(Decimal(total)), target))} {target}, more than opp can sum "
            f"(at most {_limit_of(target)})",
            hint="report over fewer deals, or in a currency of smaller figures",
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
        hint=f"add a rate from {currency} to {target} in force on {format_date(day)}",
        reason="no-rate",
        details={"source": currency, "target": target, "day": format_date(day)},
    )


def _conversion_by_lookup(
    conn: Connection,
    deals: Select[Any],
    target: str,
    currencies: list[str],
    through: list[str],
    on: Any,
    source: FromClause,
) -> Conversion:
    """The same conversion with each deal looking its rates up (for a rates table too long for a CASE):
    the direct or inverse pair, else the legs through each third currency in ``through`` in turn."""
    dialect = conn.dialect.name
    currency = source.c.currency

    def legs(start: Any, end: Any) -> tuple[Any, Any]:
        return rate_in_force(start, end, on), rate_in_force(end, start, on)

    def in_force(leg: tuple[Any, Any]) -> ColumnElement[bool]:
        return or_(leg[0].is_not(None), leg[1].is_not(None))

    single = legs(currency, literal(target))
    routes = [(x, legs(currency, literal(x)), legs(literal(x), literal(target))) for x in through]
    available = [in_force(single), *(and_(in_force(first), in_force(second)) for _x, first, second in routes)]
    _refuse_missing_rates(conn, deals.where(currency != target, ~or_(*available)), currency, on, target)
    shift = literal(MINOR_UNITS[target]) - exponent_case(
        currency, {c: MINOR_UNITS[c] for c in [*currencies, target]}
    )

    def converted(same: Any, minor: Any, scale: Any) -> ColumnElement[int]:
        return case(
            (currency == target, same),
            (available[0], convert_minor(dialect, minor, *single, scale)),
            *[
                (condition, convert_minor_through(dialect, minor, first, second, scale))
                for condition, (_x, first, second) in zip(available[1:], routes, strict=True)
            ],
            else_=null(),
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
