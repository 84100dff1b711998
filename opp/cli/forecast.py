"""Forecast and pipeline commands."""

from __future__ import annotations

from typing import Annotated

import typer

from opp.cli import state
from opp.cli.options import FormatOpt
from opp.cli.render import Column, Format, emit

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
AssigneeOpt = Annotated[str | None, typer.Option("--assignee", metavar="H", help="Only this user's deals.")]


def forecast(
    by: Annotated[
        str, typer.Option("--by", metavar="GROUP", help="stage, assignee, customer, month or quarter.")
    ] = "stage",
    period: Annotated[
        str | None,
        typer.Option("--period", metavar="P", help="Expected close in 2026Q4, 2026-11, this-year ..."),
    ] = None,
    close_from: Annotated[
        str | None, typer.Option("--from", metavar="D", help="Expected close on or after.")
    ] = None,
    close_to: Annotated[
        str | None, typer.Option("--to", metavar="D", help="Expected close on or before.")
    ] = None,
    stage: Annotated[
        list[str] | None, typer.Option("--stage", metavar="S", help="Only these stages.")
    ] = None,
    assignee: AssigneeOpt = None,
    currency: CurrencyOpt = None,
    fmt: FormatOpt = Format.table,
) -> None:
    """Forecast revenue of open and won deals: value × probability, per deal rounded, then summed."""
    from opp.core import forecast as service

    result = service.forecast(
        state.context(),
        by=by,
        stages=stage or (),
        assignee=assignee,
        period=period,
        close_from=close_from,
        close_to=close_to,
        currency=currency,
    )
    if fmt is not Format.table:
        emit(result, fmt)
        return
    total = {"key": "total", **result.total.as_dict()}
    emit([*result.groups, total], fmt, columns=[Column(by, "key"), *_figure_columns(result.currency)])


def _bar(value: float, largest: float) -> str:
    return "█" * round(BAR_WIDTH * value / largest) if largest > 0 else ""


def pipeline(
    assignee: AssigneeOpt = None,
    currency: CurrencyOpt = None,
    fmt: FormatOpt = Format.table,
) -> None:
    """The open pipeline per stage: count, value and forecast (with a bar per stage as a table)."""
    from opp.core import forecast as service

    board = service.pipeline_board(state.context(), assignee=assignee, currency=currency)
    if fmt is not Format.table:
        emit(board, fmt)
        return
    largest = float(max((stage.value for stage in board.stages), default=0))
    rows = [{**stage.as_dict(), "bar": _bar(float(stage.value), largest)} for stage in board.stages]
    rows.append({"name": "total", **board.total.as_dict(), "bar": ""})
    emit(rows, fmt, columns=[Column("stage", "name"), *_figure_columns(board.currency), Column("", "bar")])


def register(app: typer.Typer) -> None:
    app.command()(forecast)
    app.command()(pipeline)
