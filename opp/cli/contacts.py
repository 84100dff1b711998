"""Deal contact commands: add, remove and list the people on a deal."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from opp.cli import complete, state
from opp.cli.options import FormatOpt, IdArg
from opp.cli.render import Column, Format, emit

app = typer.Typer(
    help="The people (individuals) on a deal, with their role in it. Every change is in the deal's "
    "history and undoable.",
    no_args_is_help=True,
)

CONTACT_COLUMNS = [
    Column("id", "customer.id"),
    Column("name", "customer.name", 40),
    Column("role", "role", 40),
]
PersonArg = Annotated[
    str,
    typer.Argument(
        metavar="PERSON_REF",
        help="An individual's customer id or exact name.",
        autocompletion=complete.complete_individual,
    ),
]


def _emit_contacts(contacts: list[Any], fmt: Format) -> None:
    if fmt is Format.ids:  # a contact's id is the person's customer id
        emit(iter([contact.customer.id for contact in contacts]), fmt)
        return
    from opp.core.work.contacts import DealContact

    emit(contacts, fmt, columns=CONTACT_COLUMNS, of=DealContact, empty="no contacts")


@app.command()
def add(
    deal_id: IdArg,
    person: PersonArg,
    role: Annotated[
        str | None,
        typer.Option("--role", metavar="TEXT", help="Their role in the deal, e.g. 'decision maker'."),
    ] = None,
    fmt: FormatOpt = Format.table,
) -> None:
    """Put a person on a deal (again: nothing changes, unless --role gives a new role); prints the
    deal's contacts."""
    from opp.core.work import contacts

    _emit_contacts(contacts.add_contact(state.context(), deal_id, person, role=role), fmt)


@app.command()
def remove(deal_id: IdArg, person: PersonArg, fmt: FormatOpt = Format.table) -> None:
    """Take a person off a deal; prints the deal's contacts."""
    from opp.core.work import contacts

    _emit_contacts(contacts.remove_contact(state.context(), deal_id, person), fmt)


@app.command("list")
def list_(deal_id: IdArg, fmt: FormatOpt = Format.table) -> None:
    """List the people on a deal, in the order they were added."""
    from opp.core.work import contacts

    _emit_contacts(contacts.list_contacts(state.context(), deal_id), fmt)
