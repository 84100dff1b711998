"""Reports on how the pipeline performs, and on the deals that need attention.

``win-rate``, ``deal-size``, ``cycle`` and ``lost-reasons`` look at closed deals and date each one by its
``closed_at``: a period keeps the deals closed in it, and ``month``/``quarter`` split on the month or
quarter they closed in (UTC). ``conversion`` reads the stages every deal has been in from history and
dates a deal by its ``created_at``. ``stuck`` and ``overdue`` are lists of open deals, the same records
as ``opp list``.

Every figure is aggregated in SQL (GROUP BY; a window function picks the middle values for a median);
Python only divides the few grouped sums that come back, with Decimal, and rounds once: money half up
to the currency's minor unit, days to one decimal, rates to four.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, Generic, TypeVar

from sqlalchemy import (
    CTE,
    ColumnElement,
    CompoundSelect,
    Connection,
    FromClause,
    RowMapping,
    Select,
    and_,
    case,
    func,
    or_,
    select,
    union_all,
)

from opp.core.analytics.forecast import reporting_measures
from opp.core.analytics.registry import DEFAULT_STUCK_DAYS, GROUPINGS
from opp.core.analytics.shares import count_where, share
from opp.core.context import Context
from opp.core.dates import day_end_exclusive, parse_period, start_of_day_utc
from opp.core.errors import Invalid
from opp.core.money.amounts import ROUNDING, from_minor, minor_unit, round_to_minor
from opp.core.pipeline.deals import (
    DealFilter,
    build_filter,
    iter_deal_ids,
    iter_deals,
    stream_deal_ids,
    stream_deals,
)
from opp.core.pipeline.scope import CLOSED, Dated, Scope
from opp.core.pipeline.stages import load_pipeline
from opp.core.pipeline.users import user_id
from opp.core.records import Opportunity, Record
from opp.store import schema
from opp.store.dialect import date_of, month_key, quarter_key, seconds_between

o = schema.opportunities
h = schema.history
us = schema.users
st = schema.stages

SECONDS_PER_DAY = 86_400
DAY_PLACES = Decimal("0.1")

T = TypeVar("T", bound=Record)


@dataclass(frozen=True)
class Row(Record, Generic[T]):
    """One group of a report split ``by``: the group's key first, then the report's own figures."""

    key: str | None
    figures: T

    def as_dict(self) -> dict[str, Any]:
        return {"key": self.key, **self.figures.as_dict()}


@dataclass(frozen=True)
class WinRate(Record):
    won: int
    lost: int
    win_rate: Decimal | None


@dataclass(frozen=True)
class DealSize(Record):
    currency: str
    count: int
    average: Decimal | None
    median: Decimal | None
    min: Decimal | None
    max: Decimal | None


@dataclass(frozen=True)
class Cycle(Record):
    count: int
    average_days: Decimal | None
    median_days: Decimal | None


@dataclass(frozen=True)
class StageConversion(Record):
    stage: str
    reached: int
    advanced: int
    rate: Decimal | None


@dataclass(frozen=True)
class LostReason(Record):
    reason: str | None
    count: int


# -- building blocks -----------------------------------------------------------------------------------


def _days(seconds: Decimal) -> Decimal:
    return (seconds / SECONDS_PER_DAY).quantize(DAY_PLACES, rounding=ROUNDING)


def _money(exact_minor: Decimal, currency: str) -> Decimal:
    return round_to_minor(exact_minor.scaleb(-minor_unit(currency)), currency)


def _naive(instant: datetime) -> datetime:
    return instant.replace(tzinfo=None)


@dataclass(frozen=True)
class _Split:
    """What a report is split by: the SQL key (None for one overall row) and the table it needs."""

    key: ColumnElement[Any] | None
    joins: Sequence[tuple[FromClause, ColumnElement[bool]]] = ()

    def source(self) -> FromClause:
        joined: FromClause = o
        for table, on in self.joins:
            joined = joined.outerjoin(table, on)
        return joined

    def keyed(self) -> list[ColumnElement[Any]]:
        return [] if self.key is None else [self.key.label("key")]


def _split(conn: Connection, by: str | None, instant: Any) -> _Split:
    """Rows per assignee (handle, null for unassigned), or per month/quarter of ``instant`` (UTC)."""
    if by is None:
        return _Split(None)
    wanted = by.strip().lower()
    dialect = conn.dialect.name
    if wanted == "assignee":
        return _Split(us.c.handle, [(us, us.c.id == o.c.assignee_id)])
    if wanted == "month":
        return _Split(month_key(dialect, date_of(dialect, instant)))
    if wanted == "quarter":
        return _Split(quarter_key(dialect, date_of(dialect, instant)))
    from opp.core.fields import group_key

    found = group_key(conn, wanted, o)
    if found is not None:  # a custom field: a row per value, the unset ones apart (key null)
        return _Split(found[1], found[2])
    raise Invalid(
        f"cannot split a report by {by!r}",
        hint="use " + ", ".join(GROUPINGS) + ", or a custom field's name",
        reason="unknown-grouping",
    )


def _deals(
    conn: Connection,
    ctx: Context,
    *,
    status: str | tuple[str, ...],
    period: str | None,
    assignee: str | None,
    dated: Dated = "closed_at",
    where: Sequence[str] | None = None,
) -> Select[Any]:
    """The ids of the deals a report covers: these statuses, this assignee, dated within the period,
    holding the custom field conditions ``where``."""
    scope = Scope(status=status, period=period, assignee=assignee, dated=dated, where=where or ())
    return scope.resolve(conn, ctx).select(conn).deals


def _grouped(
    conn: Connection,
    deals: Select[Any],
    split: _Split,
    measures: Sequence[ColumnElement[Any]],
    *,
    also_by: Sequence[tuple[str, ColumnElement[Any]]] = (),
) -> list[RowMapping]:
    """One aggregate row per group (exactly one row when the split has no key and nothing else groups)."""
    extra = [expression.label(name) for name, expression in also_by]
    query = deals.with_only_columns(*split.keyed(), *extra, *measures).select_from(split.source())
    groups = [*([] if split.key is None else [split.key]), *(expression for _, expression in also_by)]
    if groups:
        query = query.group_by(*groups)
    return list(conn.execute(query).mappings())


def _medians(
    conn: Connection, deals: Select[Any], split: _Split, measure: ColumnElement[Any]
) -> dict[str | None, Decimal]:
    """The exact median of ``measure`` per group: the middle value, or the mean of the two middle ones.

    A window function numbers each group's values in order and counts them; only the one or two
    middle rows (numbers (n+1)//2 and (n+2)//2) come back, already summed per group.
    """
    values = (
        deals.with_only_columns(*split.keyed(), measure.label("v")).select_from(split.source()).subquery()
    )
    partition = None if split.key is None else [values.c.key]
    keyed = [] if split.key is None else [values.c.key]
    ranked = select(
        *keyed,
        values.c.v,
        func.row_number().over(partition_by=partition, order_by=values.c.v).label("rn"),
        func.count().over(partition_by=partition).label("n"),
    ).subquery()
    query = select(
        *([] if split.key is None else [ranked.c.key]),
        func.sum(ranked.c.v).label("total"),
        func.count().label("middle"),
    ).where(or_(ranked.c.rn == (ranked.c.n + 1) // 2, ranked.c.rn == (ranked.c.n + 2) // 2))
    if split.key is not None:
        query = query.group_by(ranked.c.key)
    return {
        row.get("key"): Decimal(row["total"]) / row["middle"]
        for row in conn.execute(query).mappings()
        if row["middle"]
    }


def _in_key_order(rows: list[Row[T]], conn: Connection | None = None, by: str | None = None) -> list[Row[T]]:
    """Rows in key order (months and quarters chronologically), the null key (unassigned) last; split
    by a custom field (``by``), in its order (numbers by number, choices as defined)."""
    if conn is not None and by is not None and by.strip().lower() not in GROUPINGS:
        from opp.core.fields import find_field, key_order

        field = find_field(conn, by)
        return sorted(rows, key=lambda row: key_order(field, row.key))
    return sorted(rows, key=lambda row: (row.key is None, row.key or ""))


# -- win rate ------------------------------------------------------------------------------------------


def _win_rates(
    conn: Connection,
    ctx: Context,
    by: str | None,
    period: str | None,
    assignee: str | None,
    where: Sequence[str] | None = None,
) -> list[Row[WinRate]]:
    split = _split(conn, by, o.c.closed_at)
    deals = _deals(conn, ctx, status=CLOSED, period=period, assignee=assignee, where=where)
    measures = [
        count_where(o.c.status == "won").label("won"),
        count_where(o.c.status == "lost").label("lost"),
    ]
    return [
        Row(row.get("key"), WinRate(row["won"], row["lost"], share(row["won"], row["won"] + row["lost"])))
        for row in _grouped(conn, deals, split, measures)
    ]


def win_rate(
    ctx: Context,
    *,
    period: str | None = None,
    assignee: str | None = None,
    where: Sequence[str] | None = None,
) -> WinRate:
    """Won / (won + lost) over the deals closed in the period, rounded to 4 decimals; None if none closed."""
    with ctx.reading() as conn:
        return _win_rates(conn, ctx, None, period, assignee, where)[0].figures


def win_rate_by(
    ctx: Context,
    by: str,
    *,
    period: str | None = None,
    assignee: str | None = None,
    where: Sequence[str] | None = None,
) -> list[Row[WinRate]]:
    with ctx.reading() as conn:
        return _in_key_order(_win_rates(conn, ctx, by, period, assignee, where), conn, by)


# -- deal size -----------------------------------------------------------------------------------------


def _deal_sizes(
    conn: Connection,
    ctx: Context,
    by: str | None,
    period: str | None,
    assignee: str | None,
    currency: str | None,
    where: Sequence[str] | None = None,
) -> list[Row[DealSize]]:
    split = _split(conn, by, o.c.closed_at)
    deals = _deals(conn, ctx, status="won", period=period, assignee=assignee, where=where)
    converted = reporting_measures(conn, ctx, deals, currency)
    code, value = converted.currency, converted.value
    measures = [
        func.count().label("count"),
        func.sum(value).label("total"),
        func.min(value).label("smallest"),
        func.max(value).label("largest"),
    ]
    medians = _medians(conn, deals, split, value)
    rows = []
    for row in _grouped(conn, deals, split, measures):
        key, count = row.get("key"), row["count"]
        if count == 0:
            rows.append(Row(key, DealSize(code, 0, None, None, None, None)))
            continue
        rows.append(
            Row(
                key,
                DealSize(
                    currency=code,
                    count=count,
                    average=_money(Decimal(row["total"]) / count, code),
                    median=_money(medians[key], code),
                    min=from_minor(int(row["smallest"]), code),
                    max=from_minor(int(row["largest"]), code),
                ),
            )
        )
    return rows


def deal_size(
    ctx: Context,
    *,
    period: str | None = None,
    assignee: str | None = None,
    currency: str | None = None,
    where: Sequence[str] | None = None,
) -> DealSize:
    """Average, median, smallest and largest value of the deals won in the period, in one currency.

    The currency is chosen as for forecasts (``currency``, else the reporting currency, else the deals'
    one currency); each deal is converted at the rate in force on its close date and rounded once.
    """
    with ctx.reading() as conn:
        return _deal_sizes(conn, ctx, None, period, assignee, currency, where)[0].figures


def deal_size_by(
    ctx: Context,
    by: str,
    *,
    period: str | None = None,
    assignee: str | None = None,
    currency: str | None = None,
    where: Sequence[str] | None = None,
) -> list[Row[DealSize]]:
    with ctx.reading() as conn:
        return _in_key_order(_deal_sizes(conn, ctx, by, period, assignee, currency, where), conn, by)


# -- sales cycle ---------------------------------------------------------------------------------------


def _cycles(
    conn: Connection,
    ctx: Context,
    by: str | None,
    period: str | None,
    assignee: str | None,
    where: Sequence[str] | None = None,
) -> list[Row[Cycle]]:
    split = _split(conn, by, o.c.closed_at)
    deals = _deals(conn, ctx, status="won", period=period, assignee=assignee, where=where)
    seconds = seconds_between(conn.dialect.name, o.c.created_at, o.c.closed_at)
    medians = _medians(conn, deals, split, seconds)
    rows = []
    for row in _grouped(conn, deals, split, [func.count().label("count"), func.sum(seconds).label("total")]):
        key, count = row.get("key"), row["count"]
        if count == 0:
            rows.append(Row(key, Cycle(0, None, None)))
        else:
            rows.append(Row(key, Cycle(count, _days(Decimal(row["total"]) / count), _days(medians[key]))))
    return rows


def cycle(
    ctx: Context,
    *,
    period: str | None = None,
    assignee: str | None = None,
    where: Sequence[str] | None = None,
) -> Cycle:
    """Days from created to closed of the deals won in the period: elapsed time, to one decimal."""
    with ctx.reading() as conn:
        return _cycles(conn, ctx, None, period, assignee, where)[0].figures


def cycle_by(
    ctx: Context,
    by: str,
    *,
    period: str | None = None,
    assignee: str | None = None,
    where: Sequence[str] | None = None,
) -> list[Row[Cycle]]:
    with ctx.reading() as conn:
        return _in_key_order(_cycles(conn, ctx, by, period, assignee, where), conn, by)


# -- lost reasons --------------------------------------------------------------------------------------


def _lost_reasons(
    conn: Connection,
    ctx: Context,
    by: str | None,
    period: str | None,
    assignee: str | None,
    where: Sequence[str] | None = None,
) -> list[Row[LostReason]]:
    split = _split(conn, by, o.c.closed_at)
    deals = _deals(conn, ctx, status="lost", period=period, assignee=assignee, where=where)
    reason = o.c.lost_reason
    rows = [
        Row(row.get("key"), LostReason(row["reason"], row["count"]))
        for row in _grouped(conn, deals, split, [func.count().label("count")], also_by=[("reason", reason)])
    ]
    # Most frequent first within each key; the deals lost without a reason after those with one.
    rows.sort(key=lambda row: (-row.figures.count, row.figures.reason is None, row.figures.reason or ""))
    return rows


def lost_reasons(
    ctx: Context,
    *,
    period: str | None = None,
    assignee: str | None = None,
    where: Sequence[str] | None = None,
) -> list[LostReason]:
    """How many deals lost in the period gave each reason (exactly as typed; null for none given)."""
    with ctx.reading() as conn:
        return [row.figures for row in _lost_reasons(conn, ctx, None, period, assignee, where)]


def lost_reasons_by(
    ctx: Context,
    by: str,
    *,
    period: str | None = None,
    assignee: str | None = None,
    where: Sequence[str] | None = None,
) -> list[Row[LostReason]]:
    with ctx.reading() as conn:
        return _in_key_order(_lost_reasons(conn, ctx, by, period, assignee, where), conn, by)


# -- conversion ----------------------------------------------------------------------------------------


def stages_been_in() -> CompoundSelect[Any]:
    """Every (deal, stage) such that the deal was ever in that stage, from history (a pair may repeat).

    A deal was in the stage it was created in and in every stage a move took it to. Every move writes
    a ``stage`` event (field ``stage``, old → new), so the stages a deal has been in are the old and
    new sides of those events plus its current stage: the first move's ``old`` is the stage it was
    created in, and a deal never moved is still in it. A forced skip records only the stage it
    landed in, so the stages it skipped were never reached.
    """
    moves = h.c.field == "stage"
    return union_all(
        select(o.c.id.label("deal"), o.c.stage.label("stage")),
        select(h.c.opportunity_id, h.c.old).where(moves, h.c.old.is_not(None)),
        select(h.c.opportunity_id, h.c.new).where(moves, h.c.new.is_not(None)),
    )


def stages_reached() -> CTE:
    """Every (deal, stage) pair such that the deal was ever in that stage, each once (see
    :func:`stages_been_in`)."""
    return stages_been_in().subquery("been").select().distinct().cte("reached")


def conversion(
    ctx: Context,
    *,
    period: str | None = None,
    assignee: str | None = None,
    where: Sequence[str] | None = None,
) -> list[StageConversion]:
    """For each open stage in pipeline order: of the deals that were ever in it (``reached``), how
    many were ever in a later one (``advanced``: a later open stage in today's order, or closed-won),
    and advanced / reached rounded to 4 decimals (None when none reached it).

    ``period`` keeps the deals created in it (a cohort); ``assignee`` the deals assigned to that user now.
    """
    with ctx.reading() as conn:
        deals = _deals(
            conn, ctx, status="all", period=period, assignee=assignee, dated="created_at", where=where
        )
        pipeline = load_pipeline(conn)
        opened = pipeline.open_stages
        every = stages_been_in().subquery("every")
        chosen = period is not None or assignee is not None or bool(where)
        been = select(every).where(every.c.deal.in_(deals)).subquery("been") if chosen else every
        # One row per deal: whether it was ever in each open stage, the furthest open stage it was in
        # (its place in today's order) and whether it was ever won; then one aggregate over those rows.
        order = {stage.key: index for index, stage in enumerate(opened)}
        won_keys = [stage.key for stage in pipeline.stages if stage.kind == "won"]
        per_deal = (
            select(
                *(
                    func.max(case((been.c.stage == stage.key, 1), else_=0)).label(f"in_{index}")
                    for index, stage in enumerate(opened)
                ),
                func.max(case(order, value=been.c.stage, else_=-1)).label("furthest"),
                func.max(case((been.c.stage.in_(won_keys), 1), else_=0)).label("won"),
            )
            .group_by(been.c.deal)
            .subquery("per_deal")
        )
        measures: list[ColumnElement[Any]] = []
        for index in range(len(opened)):
            was_in = per_deal.c[f"in_{index}"] == 1
            went_on = or_(per_deal.c.won == 1, per_deal.c.furthest > index)
            measures.append(count_where(was_in).label(f"reached_{index}"))
            measures.append(count_where(and_(was_in, went_on)).label(f"advanced_{index}"))
        figures = conn.execute(select(*measures)).mappings().one() if opened else {}
    result = []
    for index, stage in enumerate(opened):
        reached, advanced = int(figures[f"reached_{index}"] or 0), int(figures[f"advanced_{index}"] or 0)
        result.append(StageConversion(stage.key, reached, advanced, share(advanced, reached)))
    return result


# -- lists ---------------------------------------------------------------------------------------------


def stuck(
    ctx: Context,
    *,
    days: int | None = None,
    assignee: str | None = None,
    limit: int | None = None,
    where: Sequence[str] | None = None,
) -> Iterator[Opportunity]:
    """Open deals whose stage last changed more than ``days`` × 24 hours ago (exactly that is not stuck;
    :data:`~opp.core.analytics.registry.DEFAULT_STUCK_DAYS` unless given),
    longest stuck first (``limit``: only the first that many). A deal never moved counts from its
    creation; edits and notes do not count.

    A generator, as :func:`opp.core.pipeline.deals.stream_deals`: the deals as they are read.
    """
    with ctx.reading() as conn:
        yield from iter_deals(
            conn, stuck_filter(conn, ctx, days=days, assignee=assignee, limit=limit, where=where)
        )


def stuck_ids(
    ctx: Context,
    *,
    days: int | None = None,
    assignee: str | None = None,
    limit: int | None = None,
    where: Sequence[str] | None = None,
) -> Iterator[int]:
    """:func:`stuck`, only the ids (``--format ids``), read without building the deals' records."""
    with ctx.reading() as conn:
        yield from iter_deal_ids(
            conn, stuck_filter(conn, ctx, days=days, assignee=assignee, limit=limit, where=where)
        )


def stuck_filter(
    conn: Connection,
    ctx: Context,
    *,
    days: int | None,
    assignee: str | None = None,
    limit: int | None = None,
    where: Sequence[str] | None = None,
) -> DealFilter:
    """The deals :func:`stuck` lists, as a filter (read in order from the index on open deals' last
    stage change)."""
    if days is None:
        days = DEFAULT_STUCK_DAYS
    if days < 0:
        raise Invalid(
            f"the number of days must be 0 or more, not {days}",
            reason="days-negative",
            details={"value": days},
        )
    try:
        since = _naive(ctx.clock.now() - timedelta(days=days))
    except OverflowError:
        raise Invalid(
            f"{days} days reach back before the year 1", reason="days-too-far", details={"value": days}
        ) from None
    chosen = build_filter(conn, ctx, Scope(status="open", assignee=assignee, where=where or ()), limit=limit)
    return dataclasses.replace(chosen, stage_changed_before=since, sort=[o.c.stage_changed_at])


def overdue(
    ctx: Context, *, assignee: str | None = None, limit: int | None = None, where: Sequence[str] | None = None
) -> Iterator[Opportunity]:
    """Open deals whose expected close is before today (as ``opp list --overdue``), most overdue first
    (``limit``: only the first that many); a generator, as :func:`opp.core.pipeline.deals.stream_deals`."""
    return stream_deals(ctx, assignee=assignee, overdue=True, sort="close", limit=limit, where=where or ())


def overdue_ids(
    ctx: Context, *, assignee: str | None = None, limit: int | None = None, where: Sequence[str] | None = None
) -> Iterator[int]:
    """:func:`overdue`, only the ids (``--format ids``)."""
    return stream_deal_ids(ctx, assignee=assignee, overdue=True, sort="close", limit=limit, where=where or ())


# -- services ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ServiceSales(Record):
    service: str | None
    name: str | None
    currency: str
    lines: int
    quantity: Decimal
    revenue: Decimal


def services(
    ctx: Context, *, period: str | None = None, where: Sequence[str] | None = None
) -> list[ServiceSales]:
    """Quantity and revenue (line amounts before tax) per service and currency, of invoiced lines.

    A line counts once it is invoiced, dated by its invoice's issue date: ``period`` keeps the invoices
    issued in it, ``where`` the lines of the deals whose custom fields hold (as they are now). Revenue
    never mixes currencies (a service sold in two has a row for each); custom items, which have no
    service, come last as one row per currency with ``service`` null.
    """
    from opp.core.billing.billables import quantity_of

    bl, iv, sv = schema.billables, schema.invoices, schema.services
    query = (
        select(
            bl.c.service_code,
            sv.c.name,
            bl.c.currency,
            func.count().label("lines"),
            func.sum(bl.c.quantity_milli).label("quantity"),
            func.sum(bl.c.amount_minor).label("revenue"),
        )
        .select_from(
            bl.join(iv, iv.c.number == bl.c.invoice_number).outerjoin(sv, sv.c.code == bl.c.service_code)
        )
        .group_by(bl.c.service_code, sv.c.name, bl.c.currency)
        .order_by(bl.c.service_code.is_(None), bl.c.service_code, bl.c.currency)
    )
    if period is not None:
        chosen = parse_period(period, ctx.clock.today())
        query = query.where(iv.c.issue_date >= chosen.start, iv.c.issue_date <= chosen.end)
    with ctx.reading() as conn:
        if where:  # each line's deal, probed through the field indexes
            from opp.core.fields import where_sql

            query = query.join(o, o.c.id == bl.c.opportunity_id).where(
                *where_sql(conn, where, ctx.clock.today())
            )
        return [
            ServiceSales(
                service=row.service_code,
                name=row.name,
                currency=row.currency,
                lines=row.lines,
                quantity=quantity_of(row.quantity),
                revenue=from_minor(row.revenue, row.currency),
            )
            for row in conn.execute(query)
        ]


# -- forecast accuracy ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class AccuracyFigures(Record):
    """The forecast made at the start of a period against what was won in it.

    ``expected_count``/``expected_value``/``forecast``: the deals open at the start of the period and
    then expected to close in it, their value and forecast (as they stood then); ``won_count``/``won``:
    the deals won in the period; ``difference`` = won - forecast; ``ratio`` = won / forecast (4
    decimals, null when nothing was forecast).
    """

    expected_count: int
    expected_value: Decimal
    forecast: Decimal
    won_count: int
    won: Decimal
    difference: Decimal
    ratio: Decimal | None


@dataclass(frozen=True)
class Accuracy(Record):
    period: str
    start: date
    end: date
    currency: str
    assignees: list[Row[AccuracyFigures]]
    total: AccuracyFigures

    def as_dict(self) -> dict[str, Any]:
        return {
            **{field.name: getattr(self, field.name) for field in dataclasses.fields(self)},
            "assignees": [row.as_dict() for row in self.assignees],
            "total": self.total.as_dict(),
        }


def _accuracy_figures(expected: tuple[int, int, int], won: tuple[int, int], currency: str) -> AccuracyFigures:
    count, value, forecast = expected
    won_count, won_value = won
    return AccuracyFigures(
        expected_count=count,
        expected_value=from_minor(value, currency),
        forecast=from_minor(forecast, currency),
        won_count=won_count,
        won=from_minor(won_value, currency),
        difference=from_minor(won_value - forecast, currency),
        ratio=share(won_value, forecast),
    )


def accuracy(
    ctx: Context,
    *,
    period: str,
    assignee: str | None = None,
    currency: str | None = None,
    where: Sequence[str] | None = None,
) -> Accuracy:
    """The forecast as it stood at the start of ``period`` against what was actually won in it, per
    assignee and in total, both sides rebuilt from history (:mod:`opp.core.pipeline.asof`).

    The forecast side is the deals open at the start of the period's first day (UTC) whose expected
    close then fell in the period, with the value, probability and assignee they had then, converted
    at the rate on their expected close. The won side is the deals won in the period as they stood at
    its end (now, for a period not yet over), credited to the assignee they had then and converted at
    the rate on their close date. ``assignee`` keeps that user's row; ``where`` keeps the deals whose
    custom fields hold, as they stood at the start (the forecast side) or the end (the won side). Each
    deal is rounded once, before summing, as in ``opp forecast``.
    """
    from opp.core.analytics.forecast import reporting_currency
    from opp.core.money.rates import conversion as converted
    from opp.core.pipeline.asof import deal_source

    chosen = parse_period(period, ctx.clock.today())
    start = _naive(start_of_day_utc(chosen.start))
    end = _naive(day_end_exclusive(chosen.end))
    with ctx.reading() as conn:
        then = deal_source(conn, start)
        after = deal_source(conn, end)
        expected = select(then.c.id).where(
            then.c.status == "open", then.c.expected_close.between(chosen.start, chosen.end)
        )
        won = select(after.c.id).where(
            after.c.status == "won", after.c.closed_at >= start, after.c.closed_at < end
        )
        if assignee is not None:
            wanted = user_id(conn, assignee)
            expected = expected.where(then.c.assignee_id == wanted)
            won = won.where(after.c.assignee_id == wanted)
        if where:
            from opp.core.fields import where_sql

            today = ctx.clock.today()
            expected = expected.where(*where_sql(conn, where, today, as_of=start, source=then))
            won = won.where(*where_sql(conn, where, today, as_of=end, source=after))
        code = reporting_currency(
            conn,
            currency,
            [expected.with_only_columns(then.c.currency), won.with_only_columns(after.c.currency)],
        )
        predicted = converted(conn, expected, code, today=chosen.start, source=then)
        actual = converted(conn, won, code, today=chosen.end, source=after)
        forecast_rows = conn.execute(
            expected.with_only_columns(
                us.c.handle.label("key"),
                func.count().label("count"),
                func.sum(predicted.value).label("value"),
                func.sum(predicted.forecast).label("forecast"),
            )
            .outerjoin(us, us.c.id == then.c.assignee_id)
            .group_by(us.c.handle)
        ).mappings()
        forecast_by: dict[str | None, tuple[int, int, int]] = {
            row["key"]: (row["count"], int(row["value"]), int(row["forecast"])) for row in forecast_rows
        }
        won_rows = conn.execute(
            won.with_only_columns(
                us.c.handle.label("key"), func.count().label("count"), func.sum(actual.value).label("value")
            )
            .outerjoin(us, us.c.id == after.c.assignee_id)
            .group_by(us.c.handle)
        ).mappings()
        won_by: dict[str | None, tuple[int, int]] = {
            row["key"]: (row["count"], int(row["value"])) for row in won_rows
        }
    rows = _in_key_order(
        [
            Row(key, _accuracy_figures(forecast_by.get(key, (0, 0, 0)), won_by.get(key, (0, 0)), code))
            for key in {*forecast_by, *won_by}
        ]
    )
    expected_total = (
        sum(count for count, _, _ in forecast_by.values()),
        sum(value for _, value, _ in forecast_by.values()),
        sum(forecast for _, _, forecast in forecast_by.values()),
    )
    won_total = (sum(count for count, _ in won_by.values()), sum(value for _, value in won_by.values()))
    return Accuracy(
        period=chosen.label,
        start=chosen.start,
        end=chosen.end,
        currency=code,
        assignees=rows,
        total=_accuracy_figures(expected_total, won_total, code),
    )
