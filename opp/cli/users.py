"""User commands: add, edit, list."""

from __future__ import annotations

from typing import Annotated

import typer

from opp.cli import state
from opp.cli.complete import complete_user
from opp.cli.options import FormatOpt, RecordFormatOpt
from opp.cli.render import Column, Format, emit

app = typer.Typer(help="Users: the team members deals are assigned to.", no_args_is_help=True)

USER_COLUMNS = [Column("handle", "handle"), Column("name", "name"), Column("email", "email")]


@app.command()
def add(
    handle: Annotated[str, typer.Argument(metavar="HANDLE", help="Short lower-case handle, e.g. dana.")],
    name: Annotated[str | None, typer.Option("--name", metavar="T", help="Display name.")] = None,
    email: Annotated[str | None, typer.Option("--email", metavar="E", help="Email address.")] = None,
    fmt: RecordFormatOpt = Format.table,
) -> None:
    """Add a user."""
    from opp.core.pipeline import users

    emit(users.add_user(state.context(), handle, name=name, email=email), fmt)


@app.command()
def edit(
    handle: Annotated[
        str, typer.Argument(metavar="HANDLE", help="The user to change.", autocompletion=complete_user)
    ],
    name: Annotated[
        str | None, typer.Option("--name", metavar="T", help="New display name ('' clears it).")
    ] = None,
    email: Annotated[
        str | None, typer.Option("--email", metavar="E", help="New email address ('' clears it).")
    ] = None,
    fmt: RecordFormatOpt = Format.table,
) -> None:
    """Change a user's name or email."""
    from opp.core.pipeline import users

    emit(users.edit_user(state.context(), handle, name=name, email=email), fmt)


@app.command("list")
def list_(fmt: FormatOpt = Format.table) -> None:
    """List users."""
    from opp.core.pipeline import users
    from opp.core.records import User

    emit(users.list_users(state.context()), fmt, columns=USER_COLUMNS, of=User, empty="no users yet")
