"""Customer commands: add, list, show."""

from __future__ import annotations

from typing import Annotated

import typer

from opp.cli import complete, state
from opp.cli.deals import DEAL_COLUMNS
from opp.cli.options import FormatOpt, RecordFormatOpt
from opp.cli.render import Column, Format, emit

app = typer.Typer(help="Customers: the organizations and individuals deals are for.", no_args_is_help=True)

CUSTOMER_COLUMNS = [
    Column("id", "id"),
    Column("kind", "kind"),
    Column("name", "name", 40),
    Column("email", "email"),
    Column("phone", "phone"),
]
TOTAL_COLUMNS = [
    Column("currency", "currency"),
    Column("open value", "open_value"),
    Column("open forecast", "open_forecast"),
    Column("won value", "won_value"),
    Column("lost value", "lost_value"),
    Column("billed", "billed"),
    Column("unbilled", "unbilled"),
]


@app.command()
def add(
    org: Annotated[str | None, typer.Option("--org", metavar="NAME", help="An organization.")] = None,
    person: Annotated[str | None, typer.Option("--person", metavar="NAME", help="An individual.")] = None,
    email: Annotated[str | None, typer.Option("--email", metavar="E", help="Email address.")] = None,
    phone: Annotated[str | None, typer.Option("--phone", metavar="P", help="Phone number.")] = None,
    set_fields: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            metavar="NAME=VALUE",
            help="Set a custom customer field (repeatable); NAME= clears it. See opp field list.",
            autocompletion=complete.complete_set_customer_field,
        ),
    ] = None,
    fmt: RecordFormatOpt = Format.table,
) -> None:
    """Add a customer: exactly one of --org or --person."""
    from opp.core.errors import Invalid
    from opp.core.pipeline import customers

    if (org is None) == (person is None):
        raise Invalid("give exactly one of --org or --person", hint="for example --org 'Acme Corp'")
    kind, name = ("organization", org) if org is not None else ("individual", person)
    added = customers.add_customer(
        state.context(), kind, name or "", email=email, phone=phone, set_fields=set_fields or ()
    )
    emit(added, fmt)


@app.command("list")
def list_(
    kind: Annotated[
        str | None, typer.Option("--kind", metavar="KIND", help="organization or individual.")
    ] = None,
    search: Annotated[str | None, typer.Option("--search", metavar="TEXT", help="Name contains.")] = None,
    fmt: FormatOpt = Format.table,
) -> None:
    """List customers."""
    from opp.core.pipeline import customers

    found = customers.list_customers(state.context(), kind=kind, search=search)
    from opp.core.records import Customer

    columns = CUSTOMER_COLUMNS
    if fmt is Format.table:  # a column per custom customer field
        from opp.core.fields import field_names

        names = field_names(state.context(), "customer")
        columns = [*CUSTOMER_COLUMNS, *(Column(name, f"fields.{name}", 20) for name in names)]
    emit(found, fmt, columns=columns, of=Customer, empty="no customers match")


@app.command()
def show(
    ref: Annotated[
        str,
        typer.Argument(
            metavar="REF", help="Customer id or exact name.", autocompletion=complete.complete_customer
        ),
    ],
    fmt: RecordFormatOpt = Format.table,
) -> None:
    """Show a customer with all its opportunities and their totals."""
    from opp.core.pipeline import customers

    detail = customers.show_customer(state.context(), ref)
    who = {
        "id": detail.id,
        "kind": detail.kind,
        "name": detail.name,
        "email": detail.email,
        "phone": detail.phone,
        "fields": detail.fields,
    }
    # CSV: a row per currency of the customer's deals (the customer alone when it has none).
    rows = [{**who, **figures} for figures in detail.totals["by_currency"]] or [who]
    emit(
        detail,
        fmt,
        rows=rows,
        extra_tables=[
            ("opportunities", detail.opportunities, DEAL_COLUMNS),
            ("totals", detail.totals["by_currency"], TOTAL_COLUMNS),
        ],
    )
