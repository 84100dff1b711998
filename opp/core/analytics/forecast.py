"""Forecasts and the pipeline board: value × probability, summed in SQL per group.

Each deal's forecast is rounded to its currency's minor unit before summing (see
:func:`opp.core.money.amounts.forecast_minor`). Sums never mix currencies: a figure is given in one currency,
the one asked for, the team's reporting currency, or the deals' own when they share one.

With ``as_of`` (a date) every figure is computed from the deals as they stood at the end of that day
(UTC), rebuilt from history (:mod:`opp.core.pipeline.asof`): the same queries run over that state
instead of the opportunities table, and deals convert with "today" taken as that day.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Connection, FromClause, RowMapping, Select, func, literal

from opp.core import settings
from opp.core.context import Context
from opp.core.errors import Conflict, Invalid
from opp.core.money.amounts import from_minor, normalize_currency
from opp.core.money.rates import Conversion, conversion, converted_rows
from opp.core.pipeline.scope import DealScope, Scope, Selection, close_date, scope_of
from opp.core.pipeline.stages import load_pipeline
from opp.core.records import Opportunity, Record
from opp.store import schema
from opp.store.dialect import month_key, quarter_key

o = schema.opportunities
GROUPINGS = ("stage", "assignee", "customer", "month", "quarter", "category")
#: Cards per stage on the pipeline board unless asked otherwise.
BOARD_CARDS = 20


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
class Rollups(Record):
    """The cumulative forecast of a forecast call, from the forecast sums of the categories:
    commit = commit + closed; best_case = best-case + commit + closed; pipeline = pipeline + best-case
    + commit (what is still open, omitted left out)."""

    commit: Decimal
    best_case: Decimal
    pipeline: Decimal


@dataclass(frozen=True)
class CategoryForecast(Forecast):
    """A forecast by category: the five categories in order (empty ones too), and the rollups."""

    rollups: Rollups


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


@dataclass(frozen=True)
class Card(Record):
    """A deal as a card on the board: enough to recognise it, in its own currency."""

    id: int
    title: str
    value: Decimal
    currency: str
    probability: int
    expected_close: date | None
    assignee: str | None


@dataclass(frozen=True)
class BoardColumn(Record):
    stage: str
    name: str
    count: int
    value: Decimal
    forecast: Decimal
    cards: list[Card]
    #: The stage's deals not shown as cards (beyond the board's cards per stage).
    more: int


@dataclass(frozen=True)
class Board(Record):
    currency: str
    stages: list[BoardColumn]
    total: Figures


def chosen_currency(conn: Connection, asked: str | None) -> str | None:
    """The currency figures are given in when it is chosen before looking at the deals: ``--currency``,
    else the reporting currency; None when neither is set."""
    return normalize_currency(asked) if asked else settings.value_of(conn, "reporting_currency")


def reporting_currency(conn: Connection, asked: str | None, deals: Sequence[Select[Any]]) -> str:
    """The currency figures are given in: ``--currency``, else the reporting currency, else the deals'
    one currency (``deals`` select ``currency`` columns); deals in several currencies and neither is
    refused rather than added up."""
    wanted = chosen_currency(conn, asked)
    if wanted is not None:
        return wanted
    present: set[str] = set()
    for query in deals:
        present.update(row[0] for row in conn.execute(query.distinct()))
    if len(present) > 1:
        raise Conflict(
            "the deals are in several currencies (" + ", ".join(sorted(present)) + ")",
            hint="choose one, or set the reporting_currency setting",
            reason="several-currencies",
        )
    return present.pop() if present else settings.default_currency(conn)


def reporting_measures(
    conn: Connection,
    ctx: Context,
    deals: Select[Any],
    asked: str | None,
    *,
    source: FromClause = o,
    today: date | None = None,
) -> Conversion:
    """The currency the figures are in and the per-deal measures converted to it.

    That currency is ``--currency``, else the reporting currency, else the deals' one currency; deals in
    several currencies with neither is refused rather than added up. ``deals`` selects from ``source``.
    """
    wanted = reporting_currency(conn, asked, [deals.with_only_columns(source.c.currency)])
    return conversion(conn, deals, wanted, today=today or ctx.clock.today(), source=source)


def _figure_columns(measures: Conversion) -> list[ColumnElement[Any]]:
    return [
        func.count().label("count"),
        func.coalesce(func.sum(measures.value), 0).label("value_minor"),
        func.coalesce(func.sum(measures.forecast), 0).label("forecast_minor"),
    ]


def forecast_scope(scope: Scope | None = None, **filters: Any) -> Scope:
    """The deals a forecast covers: open and won ones (lost ones are left out), narrowed as asked (a
    :class:`Scope`, or its fields as keywords; its status is the forecast's own)."""
    return replace(scope_of(scope, **filters), status=("open", "won"))


def measures_of(conn: Connection, ctx: Context, chosen: Selection, currency: str | None) -> Conversion:
    """The measures of the deals selected, in the reporting currency (see :func:`reporting_measures`),
    converted as on the day the answer is for (the as-of day, else today)."""
    return reporting_measures(conn, ctx, chosen.deals, currency, source=chosen.source, today=chosen.day)


def measured_rows(
    conn: Connection,
    ctx: Context,
    chosen: Selection,
    currency: str | None,
    query_of: Callable[[Conversion], Select[Any]],
) -> tuple[Conversion, Sequence[RowMapping]]:
    """The measures of the deals selected (as :func:`measures_of` gives them) and the rows of the
    aggregate ``query_of(measures)``: one read of the deals when they are all in the reporting
    currency (see :func:`opp.core.money.rates.converted_rows`)."""
    src = chosen.source
    wanted = reporting_currency(conn, currency, [chosen.deals.with_only_columns(src.c.currency)])
    today = chosen.day or ctx.clock.today()
    return converted_rows(conn, chosen.deals, wanted, query_of, today=today, source=src)


def forecast_selection(
    conn: Connection, ctx: Context, scope: Scope, currency: str | None
) -> tuple[Selection, Conversion]:
    """The deals a forecast covers (see :func:`forecast_scope`) and their measures in the reporting
    currency: what ``opp forecast`` and its ``--range`` both add up."""
    chosen = forecast_scope(scope).resolve(conn, ctx).select(conn)
    return chosen, measures_of(conn, ctx, chosen, currency)


def _group_key(
    conn: Connection, by: str, src: FromClause, as_of: datetime | None = None
) -> tuple[ColumnElement[Any], list[Any]]:
    """The SQL expression to group by, and the joins it needs (a custom field's name groups by its
    value, as it stood at ``as_of`` when given; see opp.core.fields)."""
    dialect = conn.dialect.name
    if by not in GROUPINGS:
        from opp.core.fields import group_key

        found = group_key(conn, by, src, as_of)
        if found is not None:
            return found[1], found[2]
    if by == "stage":
        return src.c.stage, []
    if by == "assignee":
        return schema.users.c.handle, [(schema.users, schema.users.c.id == src.c.assignee_id)]
    if by == "customer":
        # One group per customer (an organization and a person may share a name): the key names it,
        # with its kind when another customer in the answer has the same name (see _named_apart).
        customers = schema.customers
        key = customers.c.kind + literal(KIND_SEPARATOR) + customers.c.name
        return key, [(customers, customers.c.id == src.c.customer_id)]
    if by == "month":  # on the close date: a deal won today is in today's month
        return month_key(dialect, close_date(dialect, src)), []
    if by == "quarter":
        return quarter_key(dialect, close_date(dialect, src)), []
    if by == "category":
        from opp.core.pipeline.categories import category_sql_of_stages

        return category_sql_of_stages(conn, src), []
    raise Invalid(
        f"cannot group a forecast by {by!r}",
        hint="use " + ", ".join(GROUPINGS) + ", or a custom field's name",
        reason="unknown-grouping",
    )


KIND_SEPARATOR = "\x1f"


def _named_apart(kinds_and_names: Sequence[str]) -> list[str]:
    """Customers' group keys: the name, followed by the kind, ``Pat Smith (individual)``, only where
    two customers of the answer share the name."""
    pairs = [text.split(KIND_SEPARATOR, 1) for text in kinds_and_names]
    counts: dict[str, int] = {}
    for _, name in pairs:
        counts[name] = counts.get(name, 0) + 1
    return [name if counts[name] == 1 else f"{name} ({kind})" for kind, name in pairs]


def _figures(
    count: int, value_minor: int, forecast_minor: int, currency: str
) -> tuple[int, Decimal, Decimal]:
    return count, from_minor(value_minor, currency), from_minor(forecast_minor, currency)


def forecast(
    ctx: Context,
    scope: Scope | None = None,
    *,
    by: str = "stage",
    currency: str | None = None,
    **filters: Any,
) -> Forecast:
    """Expected revenue of open and won deals (lost ones are left out) in ``scope`` (or in the scope
    the ``filters`` make, see :func:`forecast_scope`), grouped as asked."""
    by = by.strip().lower()
    with ctx.reading() as conn:
        chosen = forecast_scope(scope_of(scope, **filters)).resolve(conn, ctx).select(conn)
        key, joins = _group_key(conn, by, chosen.source, chosen.as_of)
        custom = None
        if by not in GROUPINGS:
            from opp.core.fields import find_field, key_order

            custom = find_field(conn, by)

        def grouped(measures: Conversion) -> Select[Any]:
            return _grouped(chosen, key, joins, measures, holding=False)

        if custom is not None and custom.record == "deal":
            measures, rows = _by_deal_field(conn, ctx, chosen, currency, key, joins)
        else:
            measures, found = measured_rows(conn, ctx, chosen, currency, grouped)
            rows = [dict(row) for row in found]
        code = measures.currency
        order = {stage.key: index for index, stage in enumerate(load_pipeline(conn).stages)}
    keys = _named_apart([row["key"] for row in rows]) if by == "customer" else [row["key"] for row in rows]
    groups = [
        Group(key, *_figures(row["count"], row["value_minor"], row["forecast_minor"], code))
        for key, row in zip(keys, rows, strict=True)
    ]
    if by == "category":
        return _by_category(groups, code)
    if by == "stage":
        groups.sort(key=lambda group: order.get(group.key or "", len(order)))
    elif custom is not None:
        groups.sort(key=lambda group: key_order(custom, group.key))
    else:
        groups.sort(key=lambda group: (group.key is None, group.key or ""))
    return Forecast(currency=code, groups=groups, total=_total(groups, code))


def _grouped(
    chosen: Selection, key: ColumnElement[Any], joins: list[Any], measures: Conversion, *, holding: bool
) -> Select[Any]:
    """The figures of the deals chosen per ``key``, through ``joins``: every deal (outer joins, deals
    without a key in a group of their own) or, ``holding``, only the deals that have one."""
    query = chosen.deals.with_only_columns(key.label("key"), *_figure_columns(measures))
    for table, on in joins:
        query = query.join(table, on) if holding else query.outerjoin(table, on)
    return query.group_by(key)


def _by_deal_field(
    conn: Connection,
    ctx: Context,
    chosen: Selection,
    currency: str | None,
    key: ColumnElement[Any],
    joins: list[Any],
) -> tuple[Conversion, list[dict[str, Any]]]:
    """The forecast's rows grouped by a deal field's value: the deals holding a value, read from the
    field's values (each deal found by its id), and the deals without one as the whole less those.

    Joining every deal to its value costs a search of the values per deal, where most deals have one;
    reading the values in order and each one's deal costs the same per value but is about twice as
    fast at a million deals (the deal's row, not a second index, answers), and the whole is one pass
    over the aggregates' covering index. Every figure is an integer sum of per-deal rounded amounts,
    so the difference is exact.

    The two are read side by side over one snapshot (:meth:`Context.reading_side_by_side`), each
    converted its own way (:func:`measured_rows`: whichever way a read takes, its figures are the same
    to the unit), so that the answer takes the time of the longer read (the values', about what a
    built-in grouping takes), not of both.
    Deals as they stood at an instant are kept in this transaction's own tables: there, the whole is
    measured first and its conversion holds for the deals with a value, a part of them."""

    def whole(measures: Conversion) -> Select[Any]:
        return chosen.deals.with_only_columns(*_figure_columns(measures))

    def grouped(measures: Conversion) -> Select[Any]:
        return _grouped(chosen, key, joins, measures, holding=True)

    if chosen.as_of is None:
        (measures, totals), (_, found) = ctx.reading_side_by_side(
            lambda one: measured_rows(one, ctx, chosen, currency, whole),
            lambda other: measured_rows(other, ctx, chosen, currency, grouped),
        )
    else:
        measures, totals = measured_rows(conn, ctx, chosen, currency, whole)
        found = conn.execute(grouped(measures)).mappings().all()
    rows = [dict(row) for row in found]
    unset = {
        name: int(totals[0][name] or 0) - sum(int(row[name] or 0) for row in rows)
        for name in ("count", "value_minor", "forecast_minor")
    }
    if unset["count"]:
        rows.append({"key": None, **unset})
    return measures, rows


def _by_category(found: Sequence[Group], currency: str) -> CategoryForecast:
    """The five categories in their order, each listed even when empty, and their rollups."""
    from opp.core.pipeline.categories import CATEGORIES

    by_key = {group.key: group for group in found}
    zero = from_minor(0, currency)
    groups = [by_key.get(name) or Group(name, 0, zero, zero) for name in CATEGORIES]
    sums = {group.key: group.forecast for group in groups}
    rollups = Rollups(
        commit=sums["commit"] + sums["closed"],
        best_case=sums["best-case"] + sums["commit"] + sums["closed"],
        pipeline=sums["pipeline"] + sums["best-case"] + sums["commit"],
    )
    return CategoryForecast(currency=currency, groups=groups, total=_total(groups, currency), rollups=rollups)


def _total(groups: Sequence[Group | StageFigures | BoardColumn], currency: str) -> Figures:
    """Totals are the sums of the groups' already rounded figures, so that the table adds up."""
    zero = from_minor(0, currency)
    return Figures(
        count=sum(group.count for group in groups),
        value=sum((group.value for group in groups), zero),
        forecast=sum((group.forecast for group in groups), zero),
    )


def pipeline_board(
    ctx: Context,
    *,
    assignee: str | None = None,
    currency: str | None = None,
    as_of: str | None = None,
    where: Sequence[str] = (),
) -> PipelineBoard:
    """Open deals per open stage, in pipeline order, empty stages included (``where``: only deals
    whose custom fields hold these conditions, see opp.core.fields)."""
    with ctx.reading() as conn:
        return _pipeline_board(conn, ctx, _open_deals(assignee, as_of, where).resolve(conn, ctx), currency)


def _open_deals(assignee: str | None, as_of: str | None, where: Sequence[str] = ()) -> Scope:
    return Scope(status="open", assignee=assignee, as_of=as_of, where=where)


def _pipeline_board(conn: Connection, ctx: Context, scope: DealScope, currency: str | None) -> PipelineBoard:
    chosen = scope.select(conn)
    src = chosen.source

    def by_stage(measures: Conversion) -> Select[Any]:
        return chosen.deals.with_only_columns(src.c.stage, *_figure_columns(measures)).group_by(src.c.stage)

    measures, found = measured_rows(conn, ctx, chosen, currency, by_stage)
    code = measures.currency
    rows = {row["stage"]: row for row in found}
    stages = []
    for stage in load_pipeline(conn).open_stages:
        row = rows.get(stage.key)
        figures = (
            _figures(row["count"], row["value_minor"], row["forecast_minor"], code)
            if row
            else _figures(0, 0, 0, code)
        )
        stages.append(StageFigures(stage.key, stage.name, *figures))
    return PipelineBoard(currency=code, stages=stages, total=_total(stages, code))


def _card(deal: Opportunity) -> Card:
    return Card(
        id=deal.id,
        title=deal.title,
        value=deal.value,
        currency=deal.currency,
        probability=deal.probability,
        expected_close=deal.expected_close,
        assignee=deal.assignee,
    )


def board(
    ctx: Context,
    *,
    assignee: str | None = None,
    currency: str | None = None,
    as_of: str | None = None,
    cards: int | None = None,
    where: Sequence[str] = (),
) -> Board:
    """The pipeline board with its cards: each open stage's figures and its first ``cards`` deals,
    soonest to close first (deals without an expected close last), as the guide's drag-and-drop
    pipeline view shows (:data:`BOARD_CARDS` unless given); ``more`` counts the stage's other deals."""
    from opp.core.pipeline.deals import DealFilter, query_deals, sort_terms

    cards = BOARD_CARDS if cards is None else cards
    if cards < 1:
        raise Invalid(
            f"the number of cards must be a positive number, not {cards}",
            reason="cards-not-positive",
            details={"value": cards},
        )
    with ctx.reading() as conn:
        scope = _open_deals(assignee, as_of, where).resolve(conn, ctx)
        figures = _pipeline_board(conn, ctx, scope, currency)
        deals = query_deals(conn, DealFilter.of(scope, sort=sort_terms("close"), per_stage=cards))
    shown: dict[str, list[Card]] = {}
    for deal in deals:
        shown.setdefault(deal.stage, []).append(_card(deal))
    columns = [
        BoardColumn(
            stage.stage,
            stage.name,
            stage.count,
            stage.value,
            stage.forecast,
            shown.get(stage.stage, []),
            stage.count - len(shown.get(stage.stage, [])),
        )
        for stage in figures.stages
    ]
    return Board(currency=figures.currency, stages=columns, total=figures.total)
