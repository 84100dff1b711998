"""Database commands: info, upgrade, backup, copy."""

from __future__ import annotations

from typing import Annotated

import typer

from opp.cli import state
from opp.cli.options import RecordFormatOpt
from opp.cli.render import Column, Format, emit

app = typer.Typer(
    help="The database itself: what it holds, upgrading, backing up, moving it.", no_args_is_help=True
)


@app.command()
def info(fmt: RecordFormatOpt = Format.table) -> None:
    """Show where the database is (password masked), its schema version and rows per table."""
    from opp.core import admin

    emit(admin.database_info(state.context()), fmt)


@app.command()
def upgrade(fmt: RecordFormatOpt = Format.table) -> None:
    """Migrate the schema to this opp's latest (opening a database does this too) and say from where."""
    from opp.core import admin

    emit(admin.upgrade_database(state.database(), lock_timeout=state.lock_timeout()), fmt)


@app.command()
def backup(
    file: Annotated[str, typer.Argument(metavar="FILE", help="A new file for the copy (owner-only).")],
    force: Annotated[bool, typer.Option("--force", help="Replace FILE if it exists.")] = False,
    fmt: RecordFormatOpt = Format.table,
) -> None:
    """Copy a SQLite database to FILE consistently, even while others are writing.

    The copy is written beside FILE and renamed into place: an interrupted backup leaves no half file.
    """
    from opp.core import admin

    emit(admin.backup_database(state.context(), file, force=force), fmt)


@app.command()
def copy(
    to: Annotated[str, typer.Option("--to", metavar="URL", help="An empty database: a path or a URL.")],
    fmt: RecordFormatOpt = Format.table,
) -> None:
    """Copy the whole database (ids, history, invoices, sequences) into an empty one, e.g. to PostgreSQL."""
    from opp.core import admin

    result = admin.copy_database(state.context(), to)
    rows = [{"table": name, "rows": count} for name, count in result.counts.items()]
    emit(
        result,
        fmt,
        rows=rows,
        columns=[Column("table", "table"), Column(f"rows copied to {result.to}", "rows")],
    )


def register(parent: typer.Typer) -> None:
    """Add the db command group."""
    parent.add_typer(app, name="db")
