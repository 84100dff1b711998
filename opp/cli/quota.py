"""Quota commands: set, list, remove (a target per user and period, for opp report attainment)."""

from __future__ import annotations

from typing import Annotated

import typer

from opp.cli import state
from opp.cli.complete import complete_period, complete_user
from opp.cli.options import RecordFormatOpt
from opp.cli.render import Column, Format, emit

app = typer.Typer(
    help="Quotas: what each user should win in a month, quarter or year (see opp report attainment).",
    no_args_is_help=True,
)

QUOTA_COLUMNS = [
    Column("user", "user"),
    Column("period", "period"),
    Column("amount", "amount"),
    Column("cur", "currency"),
]
HandleArg = Annotated[
    str, typer.Argument(metavar="HANDLE", help="The user's handle.", autocompletion=complete_user)
]
PeriodArg = Annotated[
    str,
    typer.Argument(
        metavar="PERIOD",
        help="A month (2026-11), quarter (2026Q4) or year (2026), or this-quarter, next-month ...",
        autocompletion=complete_period,
    ),
]


@app.command("set")
def set_(
    handle: HandleArg,
    period: PeriodArg,
    amount: Annotated[str, typer.Argument(metavar="AMOUNT", help="The quota, e.g. 250000 or 250k.")],
    currency: Annotated[
        str | None,
        typer.Option("--currency", metavar="C", help="The quota's currency (default: the default currency)."),
    ] = None,
    fmt: RecordFormatOpt = Format.table,
) -> None:
    """Set (or replace) a user's quota for a period."""
    from opp.core.analytics import quotas

    emit(quotas.set_quota(state.context(), handle, period, amount, currency=currency), fmt)


@app.command("list")
def list_(
    user: Annotated[
        str | None,
        typer.Option("--user", metavar="H", help="Only this user's quotas.", autocompletion=complete_user),
    ] = None,
    period: Annotated[
        str | None,
        typer.Option(
            "--period",
            metavar="P",
            help="Only quotas for exactly this period.",
            autocompletion=complete_period,
        ),
    ] = None,
    fmt: RecordFormatOpt = Format.table,
) -> None:
    """List the quotas, by period and user."""
    from opp.core.analytics import quotas

    found = quotas.list_quotas(state.context(), user=user, period=period)
    emit(found, fmt, columns=QUOTA_COLUMNS, of=quotas.Quota, empty="no quotas")


@app.command()
def remove(handle: HandleArg, period: PeriodArg, fmt: RecordFormatOpt = Format.table) -> None:
    """Remove a user's quota for a period."""
    from opp.core.analytics import quotas

    emit(quotas.remove_quota(state.context(), handle, period), fmt)
