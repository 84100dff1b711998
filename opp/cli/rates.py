"""Exchange-rate commands: set, list, remove."""

from __future__ import annotations

from typing import Annotated

import typer

from opp.cli import state
from opp.cli.options import RecordFormatOpt
from opp.cli.render import Column, Format, emit

app = typer.Typer(help="Dated exchange rates used to convert forecasts and reports.", no_args_is_help=True)

RATE_COLUMNS = [
    Column("from", "from_currency"),
    Column("to", "to_currency"),
    Column("rate", "rate"),
    Column("from date", "date"),
]
FromArg = Annotated[str, typer.Argument(metavar="FROM", help="Currency converted from, e.g. EUR.")]
ToArg = Annotated[str, typer.Argument(metavar="TO", help="Currency converted to, e.g. USD.")]


@app.command("set")
def set_(
    from_currency: FromArg,
    to_currency: ToArg,
    rate: Annotated[str, typer.Argument(metavar="RATE", help="1 FROM = RATE TO, e.g. 1.0834.")],
    on: Annotated[
        str | None, typer.Option("--date", metavar="D", help="In force from this day (default today).")
    ] = None,
    fmt: RecordFormatOpt = Format.table,
) -> None:
    """Set the rate of a pair from a day on (the inverse pair is derived when needed)."""
    from opp.core.money import rates

    emit(rates.set_rate(state.context(), from_currency, to_currency, rate, on=on), fmt)


@app.command("list")
def list_(
    currency: Annotated[
        str | None, typer.Option("--currency", metavar="C", help="Only pairs with C.")
    ] = None,
    fmt: RecordFormatOpt = Format.table,
) -> None:
    """List the rates, by pair and date."""
    from opp.core.money import rates

    found = rates.list_rates(state.context(), currency=currency)
    emit(found, fmt, columns=RATE_COLUMNS, of=rates.Rate, empty="no rates")


@app.command()
def remove(
    from_currency: FromArg,
    to_currency: ToArg,
    on: Annotated[str, typer.Option("--date", metavar="D", help="The day the rate starts.")],
    fmt: RecordFormatOpt = Format.table,
) -> None:
    """Remove the rate of a pair that starts on a day."""
    from opp.core.money import rates

    emit(rates.remove_rate(state.context(), from_currency, to_currency, on=on), fmt)
