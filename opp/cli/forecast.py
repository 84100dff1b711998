"""Forecast and pipeline commands."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from opp.cli import state
from opp.cli.complete import complete_group
from opp.cli.options import (
    AsOfOpt,
    AssigneeOpt,
    FromOpt,
    PeriodOpt,
    RecordFormatOpt,
    StagesOpt,
    ToOpt,
    WhereOpt,
)
from opp.cli.render import UNSET_GROUP, Column, Format, emit

if TYPE_CHECKING:
    from opp.core.analytics.forecast import Board, Card
    from opp.core.pipeline.scope import Scope

BAR_WIDTH = 30


def _figure_columns(currency: str) -> list[Column]:
    return [
        Column("count", "count"),
        Column(f"value {currency}", "value"),
        Column(f"forecast {currency}", "forecast"),
    ]


CurrencyOpt = Annotated[
    str | None,
    typer.Option("--currency", metavar="C", help="Report in this currency (default: reporting_currency)."),
]
#: Characters of a deal's title shown on its card.
CARD_TITLE = 20


def forecast(
    by: Annotated[
        str | None,
        typer.Option(
            "--by",
            metavar="GROUP",
            help="stage (default), assignee, customer, month, quarter, category (with the rollups), or a "
            "custom field's name.",
            autocompletion=complete_group(("stage", "assignee", "customer", "month", "quarter", "category")),
        ),
    ] = None,
    period: PeriodOpt = None,
    close_from: FromOpt = None,
    close_to: ToOpt = None,
    stage: StagesOpt = None,
    assignee: AssigneeOpt = None,
    currency: CurrencyOpt = None,
    as_of: AsOfOpt = None,
    where: WhereOpt = None,
    spread: Annotated[
        bool,
        typer.Option(
            "--range",
            help="P10/P50/P90 of the revenue, each open deal an independent win at its probability "
            "(exact distribution; a seeded simulation when it is too large).",
        ),
    ] = False,
    fmt: RecordFormatOpt = Format.table,
) -> None:
    """Forecast revenue of open and won deals: value × probability, per deal rounded, then summed."""
    from opp.core.analytics import forecast as service
    from opp.core.pipeline.scope import Scope

    scope = Scope(
        stages=stage or (),
        assignee=assignee,
        period=period,
        close_from=close_from,
        close_to=close_to,
        as_of=as_of,
        where=where or (),
    )
    if spread:
        _forecast_range(scope, by_given=by is not None, currency=currency, fmt=fmt)
        return
    result = service.forecast(state.context(), scope, by=by or "stage", currency=currency)
    group = by or "stage"
    # A group without a key (no assignee, no expected close) needs a name a reader can see in a table.
    none = UNSET_GROUP if fmt is Format.table else None
    rows = [
        {group: none if each.key is None else each.key, "currency": result.currency, **_figures(each)}
        for each in result.groups
    ]
    rows.append({group: "total", "currency": result.currency, **_figures(result.total)})
    if isinstance(result, service.CategoryForecast):
        # The rollups are cumulative forecasts: a row each, its forecast alone (no count or value).
        rollups = result.rollups.as_dict()
        rows += [
            {group: f"rollup {name.replace('_', '-')}", "currency": result.currency, "forecast": figure}
            for name, figure in rollups.items()
        ]
    emit(result, fmt, rows=rows, columns=[Column(group, group), *_figure_columns(result.currency)])


def _figures(figures: Any) -> dict[str, Any]:
    """A group's count, value and forecast (a forecast's group or total, a pipeline's stage)."""
    return {"count": figures.count, "value": figures.value, "forecast": figures.forecast}


def _forecast_range(scope: Scope, *, by_given: bool, currency: str | None, fmt: Format) -> None:
    from opp.core.analytics import ranges
    from opp.core.errors import Invalid

    if by_given:
        raise Invalid("--range gives one range for all the deals and takes no --by")
    result = ranges.forecast_range(state.context(), scope, currency=currency)
    emit(result, fmt)


def _bar(value: float, largest: float) -> str:
    return "█" * round(BAR_WIDTH * value / largest) if largest > 0 else ""


def pipeline(
    assignee: AssigneeOpt = None,
    currency: CurrencyOpt = None,
    as_of: AsOfOpt = None,
    where: WhereOpt = None,
    as_board: Annotated[
        bool,
        typer.Option("--board", help="The deals as cards (id, short title, value) in a column per stage."),
    ] = False,
    cards: Annotated[
        int | None,
        typer.Option(
            "--cards",
            metavar="N",
            help="With --board: the first N deals of each stage, soonest to close first (default 20).",
        ),
    ] = None,
    fmt: RecordFormatOpt = Format.table,
) -> None:
    """The open pipeline per stage: count, value and forecast (with a bar per stage as a table)."""
    from opp.core.analytics import forecast as service

    if cards is not None and not as_board:
        raise typer.BadParameter("applies only with --board", param_hint="'--cards'")
    if as_board:
        ctx = state.context()
        found = service.board(
            ctx, assignee=assignee, currency=currency, as_of=as_of, cards=cards, where=where or ()
        )
        _board(found, fmt)
        return
    board = service.pipeline_board(
        state.context(), assignee=assignee, currency=currency, as_of=as_of, where=where or ()
    )
    largest = float(max((stage.value for stage in board.stages), default=0))
    rows = [
        {"stage": stage.stage, "name": stage.name, "currency": board.currency, **_figures(stage)}
        for stage in board.stages
    ]
    rows.append({"stage": "total", "name": "total", "currency": board.currency, **_figures(board.total)})
    if fmt is Format.table:
        for row in rows[:-1]:
            row["bar"] = _bar(float(row["value"]), largest)
    columns = [Column("stage", "name"), *_figure_columns(board.currency), Column("", "bar")]
    emit(board, fmt, rows=rows, columns=columns)


def _card_text(card: Card) -> str:
    from opp.core.money.amounts import format_money

    title = card.title if len(card.title) <= CARD_TITLE else card.title[: CARD_TITLE - 1] + "…"
    return f"#{card.id} {title} {format_money(card.value)} {card.currency}"


def _board(board: Board, fmt: Format) -> None:
    """As a table, a column per stage headed by its name and count, a card per row, the stage's value
    (in the reporting currency) last; CSV a row per card; JSON the board with its cards."""
    from opp.core.money.amounts import format_money

    if fmt is not Format.table:
        cards = [
            {"stage": column.stage, **card.as_dict()} for column in board.stages for card in column.cards
        ]
        emit(board, fmt, rows=cards)
        return
    depth = max((len(column.cards) for column in board.stages), default=0)
    rows: list[dict[str, str]] = [
        {
            column.stage: _card_text(column.cards[i]) if i < len(column.cards) else ""
            for column in board.stages
        }
        for i in range(depth)
    ]
    if any(column.more for column in board.stages):
        rows.append({column.stage: f"… {column.more} more" if column.more else "" for column in board.stages})
    rows.append({column.stage: f"= {format_money(column.value)} {board.currency}" for column in board.stages})
    emit(
        rows,
        fmt,
        columns=[Column(f"{column.name} ({column.count})", column.stage) for column in board.stages],
    )


def register(app: typer.Typer) -> None:
    app.command()(forecast)
    app.command()(pipeline)
