"""Config commands: team-wide settings kept in the database (list, get, set)."""

from __future__ import annotations

from typing import Annotated

import typer

from opp.cli import state
from opp.cli.options import FormatOpt, RecordFormatOpt
from opp.cli.render import Column, Format, emit

app = typer.Typer(
    help="Team-wide settings, kept in the database so everyone sharing it agrees.", no_args_is_help=True
)

SETTING_COLUMNS = [Column("key", "key"), Column("value", "value"), Column("description", "description")]
KeyArg = Annotated[str, typer.Argument(metavar="KEY", help="Setting name, e.g. currency.")]


@app.command("list")
def list_(fmt: FormatOpt = Format.table) -> None:
    """List every setting with its value."""
    from opp.core import settings

    emit(settings.list_settings(state.context()), fmt, columns=SETTING_COLUMNS)


@app.command()
def get(key: KeyArg, fmt: RecordFormatOpt = Format.table) -> None:
    """Show one setting."""
    from opp.core import settings

    emit(settings.get_setting(state.context(), key), fmt)


@app.command("set")
def set_(
    key: KeyArg,
    value: Annotated[str, typer.Argument(metavar="VALUE", help="New value; '' returns it to its default.")],
    fmt: RecordFormatOpt = Format.table,
) -> None:
    """Set a setting for everyone using this database."""
    from opp.core import settings

    emit(settings.set_setting(state.context(), key, value), fmt)
