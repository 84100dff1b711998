"""Forecasts and the pipeline board: value × probability, summed in SQL per group.

Each deal's forecast is rounded to its currency's minor unit before summing (see
:func:`opp.core.money.forecast_minor`). Sums never mix currencies: a figure is given in one currency,
the one asked for, the team's reporting currency, or the deals' own when they share one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Connection, Select, func, select

from opp.core import settings
from opp.core.context import Context
from opp.core.dates import parse_date, parse_period
from opp.core.errors import Conflict, Invalid
from opp.core.money import from_minor, normalize_currency
from opp.core.rates import Conversion, conversion
from opp.core.records import Record
from opp.core.stages import load_pipeline
from opp.core.users import user_id
from opp.store import schema
from opp.store.dialect import month_key, quarter_key

o = schema.opportunities
GROUPINGS = ("stage", "assignee", "customer", "month", "quarter")


@dataclass(frozen=True)
class Figures(Record):
    count: int
    value: Decimal
    forecast: Decimal


@dataclass(frozen=True)
class Group(Record):
    key: str | None
    count: int
    value: Decimal
    forecast: Decimal


@dataclass(frozen=True)
class Forecast(Record):
    currency: str
    groups: list[Group]
    total: Figures


@dataclass(frozen=True)
class StageFigures(Record):
    stage: str
    name: str
    count: int
    value: Decimal
    forecast: Decimal


@dataclass(frozen=True)
class PipelineBoard(Record):
    currency: str
    stages: list[StageFigures]
    total: Figures


def reporting_measures(conn: Connection, ctx: Context, deals: Select[Any], asked: str | None) -> Conversion:
    """The currency the figures are in and the per-deal measures converted to it.

    That currency is ``--currency``, else the reporting currency, else the deals' one currency; deals in
    several currencies with neither is refused rather than added up.
    """
    wanted = normalize_currency(asked) if asked else settings.value_of(conn, "reporting_currency")
    if wanted is None:
        present = [
            row[0]
            for row in conn.execute(deals.with_only_columns(o.c.currency).distinct().order_by(o.c.currency))
        ]
        if len(present) > 1:
            raise Conflict(
                "the deals are in several currencies (" + ", ".join(present) + ")",
                hint="choose one with --currency, or set one with opp config set reporting_currency C",
            )
        wanted = present[0] if present else settings.default_currency(conn)
    return conversion(conn, deals, wanted, today=ctx.clock.today())


def _figure_columns(measures: Conversion) -> list[ColumnElement[Any]]:
    return [
        func.count().label("count"),
        func.coalesce(func.sum(measures.value), 0).label("value_minor"),
        func.coalesce(func.sum(measures.forecast), 0).label("forecast_minor"),
    ]


def _filtered(
    conn: Connection,
    ctx: Context,
    base: Select[Any],
    *,
    stages: Sequence[str],
    assignee: str | None,
    period: str | None,
    close_from: str | None,
    close_to: str | None,
) -> Select[Any]:
    pipeline = load_pipeline(conn)
    if stages:
        base = base.where(o.c.stage.in_([pipeline.get(stage).key for stage in stages]))
    if assignee is not None:
        base = base.where(o.c.assignee_id == user_id(conn, assignee))
    today = ctx.clock.today()
    if period is not None:
        if close_from is not None or close_to is not None:
            raise Invalid("give either --period or --from/--to, not both")
        chosen = parse_period(period, today)
        base = base.where(o.c.expected_close.between(chosen.start, chosen.end))
    if close_from is not None:
        base = base.where(o.c.expected_close >= parse_date(close_from, today))
    if close_to is not None:
        base = base.where(o.c.expected_close <= parse_date(close_to, today))
    return base


def _group_key(conn: Connection, by: str) -> tuple[ColumnElement[Any], list[Any]]:
    """The SQL expression to group by, and the joins it needs."""
    dialect = conn.dialect.name
    if by == "stage":
        return o.c.stage, []
    if by == "assignee":
        return schema.users.c.handle, [(schema.users, schema.users.c.id == o.c.assignee_id)]
    if by == "customer":
        return schema.customers.c.name, [(schema.customers, schema.customers.c.id == o.c.customer_id)]
    if by == "month":
        return month_key(dialect, o.c.expected_close), []
    if by == "quarter":
        return quarter_key(dialect, o.c.expected_close), []
    raise Invalid(f"cannot group a forecast by {by!r}", hint="use " + ", ".join(GROUPINGS))


def _figures(
    count: int, value_minor: int, forecast_minor: int, currency: str
) -> tuple[int, Decimal, Decimal]:
    return count, from_minor(value_minor, currency), from_minor(forecast_minor, currency)


def forecast(
    ctx: Context,
    *,
    by: str = "stage",
    stages: Sequence[str] = (),
    assignee: str | None = None,
    period: str | None = None,
    close_from: str | None = None,
    close_to: str | None = None,
    currency: str | None = None,
) -> Forecast:
    """Expected revenue of open and won deals (lost ones are left out), grouped as asked."""
    by = by.strip().lower()
    with ctx.reading() as conn:
        key, joins = _group_key(conn, by)
        base = select(o.c.id).where(o.c.status.in_(["open", "won"]))
        base = _filtered(
            conn,
            ctx,
            base,
            stages=stages,
            assignee=assignee,
            period=period,
            close_from=close_from,
            close_to=close_to,
        )
        measures = reporting_measures(conn, ctx, base, currency)
        code = measures.currency
        query = base.with_only_columns(key.label("key"), *_figure_columns(measures))
        for table, on in joins:
            query = query.outerjoin(table, on)
        rows = conn.execute(query.group_by(key)).mappings().all()
        order = {stage.key: index for index, stage in enumerate(load_pipeline(conn).stages)}
    groups = [
        Group(row["key"], *_figures(row["count"], row["value_minor"], row["forecast_minor"], code))
        for row in rows
    ]
    if by == "stage":
        groups.sort(key=lambda group: order.get(group.key or "", len(order)))
    else:
        groups.sort(key=lambda group: (group.key is None, group.key or ""))
    return Forecast(currency=code, groups=groups, total=_total(groups, code))


def _total(groups: Sequence[Group | StageFigures], currency: str) -> Figures:
    """Totals are the sums of the groups' already rounded figures, so that the table adds up."""
    zero = from_minor(0, currency)
    return Figures(
        count=sum(group.count for group in groups),
        value=sum((group.value for group in groups), zero),
        forecast=sum((group.forecast for group in groups), zero),
    )


def pipeline_board(
    ctx: Context, *, assignee: str | None = None, currency: str | None = None
) -> PipelineBoard:
    """Open deals per open stage, in pipeline order, empty stages included."""
    with ctx.reading() as conn:
        base = select(o.c.id).where(o.c.status == "open")
        base = _filtered(
            conn, ctx, base, stages=(), assignee=assignee, period=None, close_from=None, close_to=None
        )
        measures = reporting_measures(conn, ctx, base, currency)
        code = measures.currency
        query = base.with_only_columns(o.c.stage, *_figure_columns(measures)).group_by(o.c.stage)
        rows = {row["stage"]: row for row in conn.execute(query).mappings()}
        open_stages = load_pipeline(conn).open_stages
    stages = []
    for stage in open_stages:
        row = rows.get(stage.key)
        figures = (
            _figures(row["count"], row["value_minor"], row["forecast_minor"], code)
            if row
            else _figures(0, 0, 0, code)
        )
        stages.append(StageFigures(stage.key, stage.name, *figures))
    return PipelineBoard(currency=code, stages=stages, total=_total(stages, code))
